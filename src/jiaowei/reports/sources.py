"""What the report templates read besides figures: the year's plan (sections, key tasks and their
outcomes), the tasks a unit leads, and a unit's targets. Plain values, in the report's language.

The plan comes through the key tasks' reads (:mod:`jiaowei.plans.tasks.queries`): the same items, the
same visibility (a task is shown when its lead or a supporting unit lies in the reader's view scope)
and the same status on ``today`` as the plan's board. Targets come through the indicators' target reads.
A template sees these as ``sections``, ``tasks`` and ``targets`` (see docs/reports.md).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from jiaowei.auth.model import Principal
from jiaowei.errors import NotFound
from jiaowei.i18n import translate
from jiaowei.indicators.targets import compute
from jiaowei.indicators.targets import queries as targets
from jiaowei.plans.tasks import queries as tasks
from jiaowei.plans.tasks.links import link_views
from jiaowei.plans.tasks.model import STATUS_LABELS, Kind
from jiaowei.plans.tasks.store import plans  # only to name the year in tasks.load's clause, as board() does
from jiaowei.plans.tasks.views import LinkView, UnitRef
from jiaowei.registry import queries as registry

DISTRICT = "district_bureau"


@dataclass(frozen=True)
class TaskView:
    """A key task (or sub-task) as a report tells it."""

    number: str  # as printed: 1, (1)
    title: str
    outcome: str  # the outcome the plan records (as written, in Chinese)
    status: str  # on_track | at_risk | late | done
    status_label: str  # in the report's language
    lead_units: tuple[str, ...]  # the lead unit's name
    indicators: tuple[str, ...]  # the codes of the linked indicators
    subtasks: tuple[TaskView, ...] = ()


@dataclass(frozen=True)
class SectionView:
    """A section of the plan (一、二、三 …) with its tasks."""

    number: str
    title: str
    tasks: tuple[TaskView, ...]
    sections: tuple[SectionView, ...] = ()  # sections under it, should a plan have them


@dataclass(frozen=True)
class TargetView:
    """One of a unit's targets for the year: what ``vs_target(indicator, period=period)`` compares with."""

    indicator: str
    name: str
    period: str
    formatted: str  # the target as shown: 85.0%
    benchmark_label: str


def gettext_language(language: str) -> str:
    """The catalog's language for a report's (``zh`` → ``zh_CN``)."""
    return "en" if language.startswith("en") else "zh_CN"


def _in(language: str, zh: str, en: str) -> str:
    return en if language.startswith("en") and en else zh


def _day_of(year: int, today: dt.date) -> dt.date:
    """The day scopes are read on for the year (as the plan's board reads them)."""
    return min(max(today, dt.date(year, 1, 1)), dt.date(year, 12, 31))


@dataclass
class _Plan:
    items: list[tasks.Loaded]
    shown: set[int]  # ids of the tasks the reader sees
    units: dict[int, UnitRef]
    links: dict[int, LinkView]


def _load(conn: Connection, principal: Principal, year: int, today: dt.date) -> _Plan | None:
    try:
        tasks.plan_of_year(conn, year)
    except NotFound:
        return None
    items = tasks.load(conn, plans.c.year == year, today)
    visible = tasks.visible_units(conn, principal, _day_of(year, today))
    shown = {i.row.id for i in items if i.row.kind != Kind.SECTION and tasks.is_visible(i, visible)}
    units = tasks.unit_refs(conn, {u for i in items for u in i.units})
    links = link_views(conn, [i for i in items if i.row.id in shown], visible)
    return _Plan(items, shown, units, links)


def _task(plan: _Plan, item: tasks.Loaded, language: str, today: dt.date,
          subtasks: tuple[TaskView, ...] = ()) -> TaskView:
    r = item.row
    own = [plan.links[k.id] for k in item.links if k.id in plan.links]
    status, _computed, _causes = tasks.status_of(item, own, today)
    lead = plan.units.get(r.lead_unit_id) if r.lead_unit_id else None
    return TaskView(r.number, _in(language, r.title_zh, r.title_en), r.outcome or "", status.value,
                    translate(gettext_language(language), STATUS_LABELS[status]),
                    (_in(language, lead.name_zh, lead.name_en),) if lead else (),
                    tuple(dict.fromkeys(k.indicator for k in own)), subtasks)


def plan_sections(conn: Connection, *, principal: Principal, year: int, language: str,
                  today: dt.date) -> list[SectionView]:
    """The year's plan as the reader may see it: its sections, each with its tasks and their sub-tasks
    (status on ``today``); sections without a visible task are left out. No plan: an empty list."""
    plan = _load(conn, principal, year, today)
    if plan is None:
        return []
    by_parent: dict[int | None, list[tasks.Loaded]] = defaultdict(list)
    for item in plan.items:
        by_parent[item.row.parent_id].append(item)

    def task_views(parent: int) -> tuple[TaskView, ...]:
        return tuple(_task(plan, i, language, today, task_views(i.row.id)) for i in by_parent.get(parent, [])
                     if i.row.kind != Kind.SECTION and i.row.id in plan.shown)

    def section_views(parent: int | None) -> list[SectionView]:
        out = []
        for item in by_parent.get(parent, []):
            if item.row.kind == Kind.SECTION:
                view = SectionView(item.row.number, _in(language, item.row.title_zh, item.row.title_en),
                                   task_views(item.row.id), tuple(section_views(item.row.id)))
                if view.tasks or view.sections:
                    out.append(view)
        return out

    return section_views(None)


def tasks_led_by(conn: Connection, *, principal: Principal, year: int, unit_code: str, language: str,
                 today: dt.date) -> list[TaskView]:
    """The tasks and sub-tasks of the year's plan led by the unit or a unit under it, as the reader may
    see them, in the plan's order (each on its own, without its sub-tasks)."""
    plan = _load(conn, principal, year, today)
    unit_id = registry.id_of(conn, unit_code)
    if plan is None or unit_id is None:
        return []
    under = set(registry.subtree_ids(conn, unit_id, _day_of(year, today)) or [unit_id])
    return [_task(plan, i, language, today) for i in plan.items
            if i.row.id in plan.shown and i.row.lead_unit_id in under]


def unit_targets(conn: Connection, *, principal: Principal, year: int, unit_code: str,
                 language: str) -> list[TargetView]:
    """The unit's targets for the periods that begin in the year (2020, 2020SY …), by indicator code.
    NotFound for a unit outside the principal's view scope."""
    where = compute.visible_unit(conn, principal, unit_code, dt.date(year, 12, 31))
    definitions = {d.id: d for d in compute.all_indicators(conn)}
    rows = [r for r in targets.target_rows(conn, unit_id=where.id) if r.start_date.year == year]
    found = [_target_view(r, definitions[r.indicator_id], language) for r in rows]
    return sorted(found, key=lambda t: (t.indicator, t.period))


def _target_view(row: Any, definition: compute.IndicatorDef, language: str) -> TargetView:
    return TargetView(definition.code, _in(language, definition.name_zh, definition.name_en), row.period,
                      compute.format_value(row.value, definition.display, definition.decimals),
                      row.benchmark_label or "")


def districts_under(conn: Connection, *, unit_code: str, year: int) -> list[str]:
    """The codes of the districts directly under the unit at the end of the year (a chart's bars)."""
    day = dt.date(year, 12, 31)
    parent = registry.id_of(conn, unit_code)
    return [u.code for u in registry.units_on(conn, day, types=[DISTRICT]) if u.parent_id == parent]


def flat(sections: Sequence[SectionView]) -> list[TaskView]:
    """Every task and sub-task of the sections, depth first."""
    out: list[TaskView] = []

    def walk(items: Sequence[TaskView]) -> None:
        for t in items:
            out.append(t)
            walk(t.subtasks)

    for s in sections:
        walk(s.tasks)
        out.extend(flat(s.sections))
    return out
