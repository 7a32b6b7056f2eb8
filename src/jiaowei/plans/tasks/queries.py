"""Reads of key tasks: the years, a year's board, a task's page, "my tasks" and reminders.

A task is visible when its lead unit or one of its supporting units lies within the principal's view
scope (administrators see everything); anything else answers "not found". Status is computed on the
``today`` the caller passes (:func:`jiaowei.plans.tasks.model.compute_status`), from the task's
milestones, its checkpoint reports, its deadline and its linked indicators' values against their
targets, which the analytics engine computes (:func:`jiaowei.indicators.targets.compute.compute_values`).
A linked indicator's value is the same for every reader, so its status is; only its figures are left
out for a reader who may not see the unit it is measured at.

A page asks for the same things in several places (the board, "my tasks" and the reminders of
``/plans`` read the same year's tasks): the plans, a year's tasks as they stood on a day and the units
below a scope's unit are read once per transaction (:func:`jiaowei.db.memo.per_transaction`; each
statement is a round trip on PostgreSQL, issue 17). A read-only request (a GET) takes the plans and
every item with what hangs from it from what the process keeps under the ``plans`` stamp (:func:`_kept`,
decision 0023).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, select, true

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.db import memo
from jiaowei.db.among import one_of
from jiaowei.db.engine import is_read_only
from jiaowei.db.kept import kept, kept_rows
from jiaowei.errors import M_, NotFound
from jiaowei.plans.evidence import queries as evidence_queries
from jiaowei.plans.tasks import model
from jiaowei.plans.tasks.links import known_units, link_views
from jiaowei.plans.tasks.model import Kind, Stage, Status
from jiaowei.plans.tasks.store import (
    plan_checkpoints,
    plan_item_units,
    plan_items,
    plan_links,
    plan_milestones,
    plan_reports,
    plans,
)
from jiaowei.plans.tasks.views import (
    Board,
    CheckpointView,
    DueItem,
    LinkView,
    MilestoneView,
    Override,
    PlanRef,
    Reminder,
    ReportView,
    Tally,
    TaskDetail,
    TaskSummary,
    UnitRef,
)
from jiaowei.registry import queries as registry

OWNER_KIND = "task_report"


# ---------------------------------------------------------------- plans and scope


def _plans(conn: Connection) -> tuple[PlanRef, ...]:
    """Every plan, newest first: read once per transaction (a page names the years and its plan), and
    kept per process for read-only requests under the plans' stamp (see :func:`_kept`)."""

    def read() -> tuple[PlanRef, ...]:
        rows = kept_rows(conn, "plans", "plans.tasks.plans", select(plans).order_by(plans.c.year.desc()))
        return tuple(PlanRef(r.uid, int(r.year), r.title_zh, r.title_en) for r in rows)

    return memo.per_transaction(conn, "plans.tasks.plans", read)


def years(conn: Connection) -> list[int]:
    """The years that have a plan, newest first."""
    return [p.year for p in _plans(conn)]


def plan_refs(conn: Connection) -> list[PlanRef]:
    """Every plan, newest first."""
    return list(_plans(conn))


def plan_of_year(conn: Connection, year: int) -> PlanRef:
    found = next((p for p in _plans(conn) if p.year == year), None)
    if found is None:
        raise NotFound(M_("No plan for the year {year}.", year=year))
    return found


def visible_units(
    conn: Connection, principal: Principal, day: dt.date, action: Action = Action.VIEW
) -> set[int] | None:
    """Ids of the units within the principal's scope for ``action`` on ``day`` (None: no limit)."""
    if principal.unlimited:
        return None
    out: set[int] = set()
    for unit_id in principal.scope_for(action):
        out.update(_subtree(conn, unit_id, day) or [unit_id])
    return out


def _subtree(conn: Connection, unit_id: int, day: dt.date) -> list[int]:
    """The unit's subtree on ``day``, read once per transaction (the board, "my tasks" and the reminders
    each ask for the reader's scopes)."""
    key = f"plans.tasks.subtree:{unit_id}:{day.isoformat()}"
    return memo.per_transaction(conn, key, lambda: registry.subtree_ids(conn, unit_id, day))


def _day_of(year: int, today: dt.date | None) -> dt.date:
    """The day scopes are read on for a plan's year: today kept within the year (None: its last day)."""
    last = dt.date(year, 12, 31)
    return last if today is None else min(max(today, dt.date(year, 1, 1)), last)


# ---------------------------------------------------------------- loading


@dataclass
class Loaded:
    """An item's row with everything hanging from it."""

    row: Any
    year: int
    supporting: list[int] = field(default_factory=list)
    milestones: list[Any] = field(default_factory=list)
    links: list[Any] = field(default_factory=list)
    checkpoints: list[Any] = field(default_factory=list)
    reports: dict[int, list[Any]] = field(default_factory=dict)  # checkpoint id -> reports, oldest first

    @property
    def units(self) -> set[int]:
        lead = self.row.lead_unit_id
        return set(self.supporting) | ({lead} if lead is not None else set())

    @property
    def plan(self) -> PlanRef:
        """The plan the item belongs to (read with it)."""
        r = self.row
        return PlanRef(r.plan_uid, self.year, r.plan_title_zh, r.plan_title_en)


@dataclass(frozen=True)
class Checkpoint:
    """One of an item's checkpoints (a ``plan_checkpoints`` row, read with its reports)."""

    id: int
    item_id: int
    stage: str
    due: dt.date


@dataclass(frozen=True)
class _Rows:
    """Items with their plan's columns (by plan year, position and id) and the rows hanging from them:
    supporting units, milestones and links (by position), and each checkpoint with its reports (a row
    per report, oldest first, and one with no report for a checkpoint that has none)."""

    items: tuple[Any, ...]
    units: tuple[Any, ...]
    milestones: tuple[Any, ...]
    links: tuple[Any, ...]
    checkpoints: tuple[Any, ...]


def _read(conn: Connection, where: Any, *, every: bool = False) -> _Rows:
    """The items matching ``where`` and what hangs from them: five statements however many items (each
    is a round trip on PostgreSQL, issue 17), what hangs read by the items' ids as one parameter
    (:func:`jiaowei.db.among.one_of`), or, with ``every``, for every item."""
    items = tuple(conn.execute(
        select(plan_items, plans.c.year, plans.c.uid.label("plan_uid"),
               plans.c.title_zh.label("plan_title_zh"), plans.c.title_en.label("plan_title_en"))
        .join(plans, plans.c.id == plan_items.c.plan_id)
        .where(where)
        .order_by(plans.c.year, plan_items.c.position, plan_items.c.id)))
    if not items:
        return _Rows((), (), (), (), ())
    ids = sorted(r.id for r in items)

    def among(column: Any) -> Any:
        return true() if every else one_of(conn, column, ids)

    checkpoints = (
        select(plan_reports, plan_checkpoints.c.id.label("checkpoint"),
               plan_checkpoints.c.item_id.label("checkpoint_item"),
               plan_checkpoints.c.stage.label("checkpoint_stage"),
               plan_checkpoints.c.due.label("checkpoint_due"))
        .select_from(
            plan_checkpoints.outerjoin(plan_reports, plan_reports.c.checkpoint_id == plan_checkpoints.c.id))
        .where(among(plan_checkpoints.c.item_id))
        .order_by(plan_reports.c.reported_at, plan_reports.c.id))
    return _Rows(
        items,
        tuple(conn.execute(select(plan_item_units).where(among(plan_item_units.c.item_id)))),
        tuple(conn.execute(select(plan_milestones).where(among(plan_milestones.c.item_id))
                           .order_by(plan_milestones.c.position))),
        tuple(conn.execute(select(plan_links).where(among(plan_links.c.item_id)).order_by(plan_links.c.position))),
        tuple(conn.execute(checkpoints)))


def _assemble(rows: _Rows, until: dt.date | None,
              wanted: Callable[[Any], bool] | None = None) -> list[Loaded]:
    """The items of ``rows`` (those ``wanted``) as :class:`Loaded`, new objects on every call; with
    ``until``, as they stood that day: the progress reports made after it are left out."""
    loaded = {r.id: Loaded(r, r.year) for r in rows.items if wanted is None or wanted(r)}
    for r in rows.units:
        if r.item_id in loaded:
            loaded[r.item_id].supporting.append(r.unit_id)
    for r in rows.milestones:
        if r.item_id in loaded:
            loaded[r.item_id].milestones.append(r)
    for r in rows.links:
        if r.item_id in loaded:
            loaded[r.item_id].links.append(r)
    seen: set[int] = set()
    for r in rows.checkpoints:
        item = loaded.get(r.checkpoint_item)
        if item is None:
            continue
        if r.checkpoint not in seen:
            seen.add(r.checkpoint)
            item.checkpoints.append(Checkpoint(r.checkpoint, r.checkpoint_item, r.checkpoint_stage,
                                               r.checkpoint_due))
        if r.id is not None and (until is None or r.reported_on <= until):
            item.reports.setdefault(r.checkpoint, []).append(r)
    order = list(Stage)
    for found in loaded.values():
        found.checkpoints.sort(key=lambda c: order.index(Stage(c.stage)))
    return [loaded[r.id] for r in rows.items if r.id in loaded]


def load(conn: Connection, where: Any, until: dt.date | None = None) -> list[Loaded]:
    """Items matching ``where`` (a clause on ``plan_items`` or ``plans``), by plan, parent and position;
    with ``until``, as they stood that day: the progress reports made after it are left out. Five
    statements however many items (:func:`_read`)."""
    return _assemble(_read(conn, where), until)


def _kept(conn: Connection) -> _Rows | None:
    """Every plan item and what hangs from it, kept per process under the ``plans`` stamp (migration
    0021), which every write to the plans' tables changes: in a read-only unit (a GET), the board, a
    task's page and "my tasks" read none of them again until the next change (issue 17, decision
    0023). None in a unit that may write, which must read its own writes."""
    if not is_read_only(conn):
        return None
    return kept(conn, "plans", "plans.tasks.items", lambda: _read(conn, true(), every=True))


def _loaded(conn: Connection, where: Any, wanted: Callable[[Any], bool],
            until: dt.date | None) -> list[Loaded]:
    """:func:`load` of ``where``, or, in a read-only unit, the items ``wanted`` (the same test in Python)
    of those kept (:func:`_kept`)."""
    rows = _kept(conn)
    return load(conn, where, until) if rows is None else _assemble(rows, until, wanted)


def of_years(conn: Connection, wanted: Iterable[int], until: dt.date | None) -> list[Loaded]:
    """The items of the plans of the ``wanted`` years as :func:`load` gives them (by year, parent and
    position), each year's read once per transaction and day: the board, "my tasks" and the reminders
    of a page share them. Callers must not change what they get."""
    kept: dict[tuple[int, dt.date | None], list[Loaded]] = memo.per_transaction(
        conn, "plans.tasks.years", dict
    )
    asked = sorted(set(wanted) & set(years(conn)))
    missing = [y for y in asked if (y, until) not in kept]
    if missing:
        found = _loaded(conn, plans.c.year.in_(missing), lambda r: r.year in missing, until)
        for year in missing:
            kept[(year, until)] = [i for i in found if i.year == year]
    return [i for year in asked for i in kept[(year, until)]]


def is_visible(item: Loaded, visible: set[int] | None) -> bool:
    """Whether a reader whose scope is ``visible`` sees the item: a task or sub-task when its lead or a
    supporting unit is within it; a section (a heading, with no unit) always."""
    return visible is None or item.row.kind == Kind.SECTION.value or bool(item.units & visible)


def item_for(conn: Connection, principal: Principal, uid: str, today: dt.date | None) -> Loaded:
    """The item with ``uid`` if the principal may see it; NotFound otherwise."""
    require_action(principal, Action.VIEW)
    found = _loaded(conn, plan_items.c.uid == uid, lambda r: r.uid == uid, today)
    return _visible(conn, principal, uid, found, today)


def _visible(
    conn: Connection, principal: Principal, uid: str, found: Sequence[Loaded], today: dt.date | None
) -> Loaded:
    """The item with ``uid`` among ``found`` if the principal may see it; NotFound otherwise."""
    item = next((i for i in found if i.row.uid == uid), None)
    if item is None or not is_visible(item, visible_units(conn, principal, _day_of(item.year, today))):
        raise NotFound(M_("No task with id {uid!r}.", uid=uid))
    return item


def report_readable(conn: Connection, principal: Principal, report_id: int, day: dt.date) -> bool:
    """Whether the principal may see the task a progress report belongs to (for its evidence files)."""
    uid = conn.execute(
        select(plan_items.c.uid)
        .join(plan_checkpoints, plan_checkpoints.c.item_id == plan_items.c.id)
        .join(plan_reports, plan_reports.c.checkpoint_id == plan_checkpoints.c.id)
        .where(plan_reports.c.id == report_id)
    ).scalar()
    if uid is None:
        return False
    try:
        item_for(conn, principal, uid, day)
    except NotFound:
        return False
    return True


def report_row(conn: Connection, uid: str) -> Any:
    row = conn.execute(
        select(plan_reports, plan_checkpoints.c.stage, plan_items.c.uid.label("task_uid"))
        .join(plan_checkpoints, plan_checkpoints.c.id == plan_reports.c.checkpoint_id)
        .join(plan_items, plan_items.c.id == plan_checkpoints.c.item_id)
        .where(plan_reports.c.uid == uid)
    ).first()
    if row is None:
        raise NotFound(M_("No progress report with id {uid!r}.", uid=uid))
    return row


# ---------------------------------------------------------------- status


def latest_percent(item: Loaded) -> int | None:
    """The percent of the latest report that the commission did not return."""
    reports = [r for rs in item.reports.values() for r in rs if r.review != model.Review.RETURNED]
    if not reports:
        return None
    return int(max(reports, key=lambda r: (r.reported_at, r.id)).percent)


def checkpoint_states(item: Loaded) -> list[model.CheckpointState]:
    out = []
    for c in item.checkpoints:
        latest = item.reports.get(c.id, [])[-1:] or [None]
        report = latest[0]
        out.append(
            model.CheckpointState(
                Stage(c.stage),
                c.due,
                model.Review(report.review) if report else None,
                int(report.percent) if report else None,
            )
        )
    return out


def status_of(
    item: Loaded, links: Sequence[LinkView], today: dt.date
) -> tuple[Status, Status, tuple[model.Cause, ...]]:
    """(shown status, computed status, causes) of a task on ``today``."""
    states = [k.state for k in links if k.state is not None]
    milestones = [model.Milestone(m.title, m.due, m.done_on) for m in item.milestones]
    computed, causes = model.compute_status(
        today=today,
        deadline=item.row.deadline,
        milestones=milestones,
        links=states,
        checkpoints=checkpoint_states(item),
        latest_percent=latest_percent(item),
        start=dt.date(item.year, 1, 1),
    )
    shown, causes = model.effective_status(
        computed,
        causes,
        override=item.row.status_override,
        reason=item.row.override_reason or "",
        by=item.row.override_by or "",
    )
    return shown, computed, _redacted(causes, {k.indicator for k in links if k.hidden})


def _redacted(causes: tuple[model.Cause, ...], hidden: set[str]) -> tuple[model.Cause, ...]:
    """The causes with the figures of indicators measured outside the reader's scope left out."""
    if not hidden:
        return causes
    return tuple(
        replace(c, params={**c.params, "value": "–"}) if c.params.get("indicator") in hidden else c
        for c in causes
    )


def _status_links(item: Loaded, views: dict[int, LinkView]) -> list[LinkView]:
    """The item's links for the status: with values even where the reader may not see them."""
    return [views[k.id] for k in item.links if k.id in views]


# ---------------------------------------------------------------- summaries


def unit_refs(conn: Connection, ids: Iterable[int | None]) -> dict[int, UnitRef]:
    found = known_units(conn, ids)
    return {i: UnitRef(u.code, u.name_zh, u.name_en) for i, u in found.items()}


def next_due(item: Loaded, today: dt.date) -> DueItem | None:
    """The earliest checkpoint without a live report, or milestone not done, due on or after the earliest
    overdue one."""
    due: list[DueItem] = []
    for c in item.checkpoints:
        latest = item.reports.get(c.id, [])[-1:]
        if not latest or latest[0].review == model.Review.RETURNED:
            due.append(DueItem("checkpoint", c.due, Stage(c.stage)))
    due += [
        DueItem("milestone", m.due, None, m.title) for m in item.milestones if m.done_on is None and m.due
    ]
    return min(due, key=lambda d: d.due) if due else None


def summary(
    item: Loaded,
    units: dict[int, UnitRef],
    links: dict[int, LinkView],
    today: dt.date,
    children: tuple[TaskSummary, ...] = (),
) -> TaskSummary:
    r = item.row
    supporting = tuple(units[u] for u in item.supporting if u in units)
    lead = units.get(r.lead_unit_id) if r.lead_unit_id else None
    if r.kind == Kind.SECTION:
        percents = [c.percent for c in children]
        return TaskSummary(
            r.uid,
            r.kind,
            r.number,
            r.title_zh,
            r.title_en,
            lead,
            supporting,
            r.owner,
            r.deadline,
            None,
            None,
            (),
            model.rolled_up_percent(percents),
            None,
            None,
            children,
        )
    shown, computed, causes = status_of(item, _status_links(item, links), today)
    override = (
        Override(Status(r.status_override), r.override_reason or "", r.override_by or "", r.override_at)
        if r.status_override
        else None
    )
    return TaskSummary(
        r.uid,
        r.kind,
        r.number,
        r.title_zh,
        r.title_en,
        lead,
        supporting,
        r.owner,
        r.deadline,
        shown,
        computed,
        causes,
        latest_percent(item),
        override,
        next_due(item, today),
        children,
    )


def _tree(
    items: Sequence[Loaded],
    units: dict[int, UnitRef],
    links: dict[int, LinkView],
    today: dt.date,
    shown: set[int],
) -> tuple[TaskSummary, ...]:
    """The items as a tree (only those in ``shown``, and the sections above them)."""
    by_parent: dict[int | None, list[Loaded]] = defaultdict(list)
    for item in items:
        by_parent[item.row.parent_id].append(item)

    def build(parent: int | None) -> tuple[TaskSummary, ...]:
        out = []
        for item in by_parent.get(parent, []):
            children = build(item.row.id)
            if item.row.id in shown or children:
                out.append(summary(item, units, links, today, children))
        return tuple(out)

    return build(None)


# ---------------------------------------------------------------- the board


def board(conn: Connection, *, principal: Principal, year: int, today: dt.date) -> Board:
    """A year's plan as its reader may see it: sections → tasks → sub-tasks with status and progress, and
    the counts by status, by section and by lead unit for the charts."""
    require_action(principal, Action.VIEW)
    plan = plan_of_year(conn, year)
    items = of_years(conn, [year], today)
    visible = visible_units(conn, principal, _day_of(year, today))
    shown = {i.row.id for i in items if i.row.kind != Kind.SECTION and is_visible(i, visible)}
    units = unit_refs(conn, {u for i in items for u in i.units})
    links = link_views(conn, [i for i in items if i.row.id in shown], visible)
    sections = _tree(items, units, links, today, shown)
    board_ = Board(plan, sections, {}, (), (), today)
    tasks = board_.tasks
    return Board(plan, sections, _counts(tasks), _by_section(sections), _by_unit(tasks), today)


def _counts(tasks: Sequence[TaskSummary]) -> dict[str, int]:
    counts = {s.value: 0 for s in Status}
    for t in tasks:
        if t.status:
            counts[t.status.value] += 1
    return counts


def _tally(key: str, zh: str, en: str, tasks: Sequence[TaskSummary]) -> Tally:
    return Tally(key, zh, en, _counts(tasks), model.rolled_up_percent([t.percent for t in tasks]))


def _by_section(sections: Sequence[TaskSummary]) -> tuple[Tally, ...]:
    out = []
    for s in sections:
        inner = Board(PlanRef("", 0, "", ""), (s,), {}, (), (), dt.date.min).tasks
        out.append(
            _tally(
                s.uid,
                f"{s.number} {s.title_zh}".strip(),
                f"{s.number} {s.title_en or s.title_zh}".strip(),
                inner,
            )
        )
    return tuple(out)


def _by_unit(tasks: Sequence[TaskSummary]) -> tuple[Tally, ...]:
    groups: dict[str, list[TaskSummary]] = defaultdict(list)
    names: dict[str, UnitRef] = {}
    for t in tasks:
        if t.lead_unit:
            groups[t.lead_unit.code].append(t)
            names[t.lead_unit.code] = t.lead_unit
    return tuple(
        _tally(code, names[code].name_zh, names[code].name_en, groups[code]) for code in sorted(groups)
    )


# ---------------------------------------------------------------- a task's page


def task_detail(conn: Connection, *, principal: Principal, uid: str, today: dt.date) -> TaskDetail:
    """Everything the task's page shows: status and causes, checkpoints with their reports and evidence,
    milestones, and the linked indicators with their values, targets and recent years."""
    require_action(principal, Action.VIEW)
    me = plan_items.alias("me")
    near = (  # the item, its children and its parent, read together
        (plan_items.c.uid == uid)
        | plan_items.c.parent_id.in_(select(me.c.id).where(me.c.uid == uid))
        | plan_items.c.id.in_(select(me.c.parent_id).where(me.c.uid == uid))
    )
    rows = _kept(conn)
    if rows is None:
        found = load(conn, near, today)
    else:
        me_row = next((r for r in rows.items if r.uid == uid), None)
        found = [] if me_row is None else _assemble(rows, today, lambda r: me_row.id in (r.id, r.parent_id)
                                                     or r.id == me_row.parent_id)
    item = _visible(conn, principal, uid, found, today)
    family = [i for i in found if i is not item]
    visible = visible_units(conn, principal, _day_of(item.year, today))
    plan = item.plan
    children = [c for c in family if c.row.parent_id == item.row.id and is_visible(c, visible)]
    parent = next((p for p in family if p.row.id == item.row.parent_id), None)
    units = unit_refs(conn, {u for i in [item, *family] for u in i.units})
    links = link_views(conn, [item], visible, series=True)
    child_links = link_views(conn, children, visible)
    kids = tuple(summary(c, units, child_links, today) for c in children)
    head = summary(item, units, links, today, kids)
    return TaskDetail(
        plan,
        head,
        item.row.description,
        item.row.outcome,
        summary(parent, units, {}, today) if parent else None,
        tuple(
            MilestoneView(
                m.title, m.due, m.done_on, m.done_on is None and m.due is not None and m.due < today
            )
            for m in item.milestones
        ),
        tuple(links[k.id] for k in item.links if k.id in links),
        _checkpoints(conn, item, today),
        item.row.version,
        may_report(conn, principal, item, today),
        principal.may(Action.PLANS_MANAGE) and item.row.kind != Kind.SECTION,
        today,
    )


def _checkpoints(conn: Connection, item: Loaded, today: dt.date) -> tuple[CheckpointView, ...]:
    report_ids = [r.id for rs in item.reports.values() for r in rs]
    files = evidence_queries.attachments(conn, owner_kind=OWNER_KIND, owner_ids=report_ids)
    out = []
    for c in item.checkpoints:
        reports = tuple(
            ReportView(
                r.uid,
                Stage(c.stage),
                int(r.percent),
                r.narrative,
                r.reported_by,
                r.reported_at,
                r.reported_on,
                r.review,
                r.review_comment,
                r.reviewed_by,
                r.reviewed_at,
                tuple(files.get(r.id, [])),
            )
            for r in item.reports.get(c.id, [])
        )
        live = bool(reports) and reports[-1].review != model.Review.RETURNED
        out.append(CheckpointView(Stage(c.stage), c.due, c.due < today and not live, reports))
    return tuple(out)


def may_report(conn: Connection, principal: Principal, item: Loaded, today: dt.date) -> bool:
    """Whether the principal may report progress on the item: its lead unit is in their capture scope."""
    if (
        item.row.kind == Kind.SECTION
        or item.row.lead_unit_id is None
        or not principal.may(Action.PLANS_REPORT)
    ):
        return False
    capture = visible_units(conn, principal, _day_of(item.year, today), Action.PLANS_REPORT)
    return capture is None or item.row.lead_unit_id in capture


# ---------------------------------------------------------------- my tasks and reminders


def _scopes(
    conn: Connection, principal: Principal, today: dt.date, action: Action = Action.VIEW
) -> Callable[[int], set[int] | None]:
    """The principal's units for ``action`` in a plan's year, read once per year."""
    cache: dict[int, set[int] | None] = {}

    def of(year: int) -> set[int] | None:
        if year not in cache:
            cache[year] = visible_units(conn, principal, _day_of(year, today), action)
        return cache[year]

    return of


def _own(conn: Connection, principal: Principal, today: dt.date, year: int | None) -> list[Loaded]:
    """Tasks (not sections) led or supported by a unit within the principal's own (capture) scope."""
    items = of_years(conn, years(conn) if year is None else [year], today)
    scopes = _scopes(conn, principal, today, Action.PLANS_REPORT)
    return [i for i in items if i.row.kind != Kind.SECTION and is_visible(i, scopes(i.year))]


def my_tasks(
    conn: Connection, *, principal: Principal, today: dt.date, year: int | None = None
) -> list[TaskSummary]:
    """The tasks the principal's own units lead or support (administrators: every task), the plan's year
    (default: the latest plan's) first by what is due next."""
    require_action(principal, Action.VIEW)
    if year is None:
        found = years(conn)
        year = found[0] if found else today.year
    items = _own(conn, principal, today, year)
    units = unit_refs(conn, {u for i in items for u in i.units})
    links = link_views(conn, items, visible_units(conn, principal, _day_of(year, today)))
    made = [(summary(i, units, links, today), i.row.id) for i in items]
    made.sort(key=lambda pair: (pair[0].next_due.due if pair[0].next_due else dt.date.max, pair[1]))
    return [t for t, _ in made]


def reminders(
    conn: Connection, *, principal: Principal, today: dt.date, within_days: int = 14, unit: str | None = None
) -> list[Reminder]:
    """Checkpoints without a live report, milestones not done and deadlines of unfinished tasks that are
    overdue or due within ``within_days`` of ``today``, for the tasks the principal may see (``unit``: only
    those the unit leads), overdue first. Only plans of the year of ``today`` and later, and of the year
    before (what a new year still owes of the last): older plans are history, not reminders."""
    require_action(principal, Action.VIEW)
    recent = [y for y in years(conn) if y >= today.year - 1]
    scopes = _scopes(conn, principal, today)
    items = [
        i
        for i in of_years(conn, recent, today)
        if i.row.kind != Kind.SECTION and is_visible(i, scopes(i.year))
    ]
    if unit is not None:
        unit_id = registry.id_of(conn, unit)
        items = [i for i in items if i.row.lead_unit_id == unit_id]
    units = unit_refs(conn, {i.row.lead_unit_id for i in items})
    links = link_views(conn, items, None)
    horizon = today + dt.timedelta(days=within_days)
    out: list[Reminder] = []
    for item in items:
        status, _, _ = status_of(item, _status_links(item, links), today)
        out += _reminders_of(item, units.get(item.row.lead_unit_id), status, today, horizon)
    return sorted(out, key=lambda r: (r.due, r.unit.code if r.unit else "", r.number, r.kind))


def _reminders_of(
    item: Loaded, lead: UnitRef | None, status: Status, today: dt.date, horizon: dt.date
) -> list[Reminder]:
    if status == Status.DONE:
        return []
    r = item.row

    def make(kind: str, due: dt.date, stage: Stage | None = None, title: str = "") -> Reminder:
        return Reminder(
            kind, r.uid, r.number, r.title_zh, r.title_en, lead, due, (due - today).days, stage, title
        )

    out = []
    for c in item.checkpoints:
        latest = item.reports.get(c.id, [])[-1:]
        if c.due <= horizon and (not latest or latest[0].review == model.Review.RETURNED):
            out.append(make("checkpoint", c.due, Stage(c.stage)))
    out += [
        make("milestone", m.due, None, m.title)
        for m in item.milestones
        if m.done_on is None and m.due is not None and m.due <= horizon
    ]
    if r.deadline is not None and r.deadline <= horizon:
        out.append(make("deadline", r.deadline))
    return out
