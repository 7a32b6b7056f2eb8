"""Reads of targets: a unit's targets for an indicator, and how a value stands against its target.

:func:`status` compares a value with a target: ``met``, ``at_risk``, ``missed`` or ``no_data``,
mirrored when lower is better. :func:`evaluate` compares values as shown (rounded to the
indicator's decimals), so 85.96 shown as 86.0% meets a target of 86. :func:`reporting_children`
tells which children of a unit report an indicator (the units a cascade may give a target to).
Setting targets is in ``service``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from jiaowei import clock
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.db.among import one_of
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.expressions import parse, references
from jiaowei.indicators.metadata.catalog import Catalog
from jiaowei.indicators.model import Display
from jiaowei.indicators.targets.compute import (
    IndicatorDef,
    format_value,
    load_indicator,
    parse_period,
    visible_unit,
)
from jiaowei.indicators.targets.model import Target, TargetEvaluation
from jiaowei.registry import queries as registry
from jiaowei.registry.model import path_ids

STATUSES = ("met", "at_risk", "missed", "no_data")


# ---------------------------------------------------------------- status (pure)


def status(
    value: float | None, target: float, *, at_risk_margin: float = 0.0, higher_is_better: bool = True
) -> str:
    """``met`` if the value reaches the target, ``at_risk`` if it falls short by at most the
    margin, else ``missed``; ``no_data`` without a value. Lower-is-better mirrors it."""
    if value is None:
        return "no_data"
    shortfall = (target - value) if higher_is_better else (value - target)
    if shortfall <= 1e-12:
        return "met"
    return "at_risk" if shortfall <= at_risk_margin + 1e-12 else "missed"


def meets(value: float | None, benchmark: float | None, higher_is_better: bool = True) -> bool | None:
    """Whether the value is at least (lower is better: at most) the benchmark."""
    if value is None or benchmark is None:
        return None
    return value >= benchmark - 1e-12 if higher_is_better else value <= benchmark + 1e-12


# ---------------------------------------------------------------- reading


def target_rows(conn: Connection, **where: Any) -> list[Any]:
    t, periods, units = store.targets, store.periods, registry.unit_codes()
    parent = store.targets.alias("parent")
    parent_unit = registry.unit_codes("parent_unit")
    query = (
        select(
            t,
            periods.c.code.label("period"),
            periods.c.start_date,
            units.c.code.label("unit_code"),
            parent_unit.c.code.label("parent_code"),
        )
        .join(periods, periods.c.id == t.c.period_id)
        .join(units, units.c.id == t.c.unit_id)
        .outerjoin(parent, parent.c.id == t.c.cascaded_from)
        .outerjoin(parent_unit, parent_unit.c.id == parent.c.unit_id)
    )
    for name, value in where.items():
        column = periods.c.code if name == "period" else t.c[name]
        query = query.where(column == value)
    return list(conn.execute(query.order_by(periods.c.start_date, units.c.code)))


def cascaded_from(
    conn: Connection, *, unit_id: int, indicator_ids: Sequence[int], periods: Sequence[str]
) -> set[tuple[int, str]]:
    """(indicator id, period id) of each of the unit's targets that was cascaded to the units below it,
    among the indicators and periods: one query, not one per indicator."""
    if not indicator_ids or not periods:
        return set()
    t, p = store.targets, store.periods
    parent = store.targets.alias("parent")
    rows = conn.execute(
        select(t.c.indicator_id, p.c.code).distinct()
        .join(p, p.c.id == t.c.period_id)
        .join(parent, parent.c.id == t.c.cascaded_from)
        .where(parent.c.unit_id == unit_id, one_of(conn, t.c.indicator_id, indicator_ids),
               p.c.code.in_(sorted(set(periods))))
    )
    return {(r.indicator_id, r.code) for r in rows}


def evaluate(
    conn: Connection, definition: IndicatorDef, unit_id: int, period: pe.Period, value: float | None
) -> TargetEvaluation | None:
    """The value against the unit's target for the period, or None when it has none."""
    return evaluate_many(conn, definition, {(unit_id, period.id): value}).get((unit_id, period.id))


def evaluate_many(
    conn: Connection, definition: IndicatorDef, values: dict[tuple[int, str], float | None]
) -> dict[tuple[int, str], TargetEvaluation]:
    """Each (unit id, period id)'s value against its target, for those that have one (one query)."""
    keyed = {(definition.id, unit_id, period): value for (unit_id, period), value in values.items()}
    found = evaluate_indicators(conn, [definition], keyed)
    return {(unit_id, period): evaluation for (_, unit_id, period), evaluation in found.items()}


def evaluate_indicators(
    conn: Connection, definitions: Sequence[IndicatorDef], values: dict[tuple[int, int, str], float | None]
) -> dict[tuple[int, int, str], TargetEvaluation]:
    """Each (indicator id, unit id, period id)'s value against its target, for those that have one: one
    query for every indicator, not one per indicator."""
    if not values:
        return {}
    by_id = {d.id: d for d in definitions}
    t, periods = store.targets, store.periods
    parent = store.targets.alias("parent")
    parent_unit = registry.unit_codes("parent_unit")
    rows = conn.execute(
        select(t, periods.c.code.label("period"), parent_unit.c.code.label("parent_code"))
        .join(periods, periods.c.id == t.c.period_id)
        .outerjoin(parent, parent.c.id == t.c.cascaded_from)
        .outerjoin(parent_unit, parent_unit.c.id == parent.c.unit_id)
        .where(one_of(conn, t.c.indicator_id, sorted({i for i, _, _ in values})),
               one_of(conn, t.c.unit_id, sorted({u for _, u, _ in values})),
               periods.c.code.in_(sorted({p for _, _, p in values})))
    )
    found = {}
    for row in rows:
        place = (row.indicator_id, row.unit_id, row.period)
        if place in values and row.indicator_id in by_id:
            found[place] = _evaluation(row, by_id[row.indicator_id], values[place])
    return found


def _evaluation(row: Any, definition: IndicatorDef, value: float | None) -> TargetEvaluation:
    compared = value
    if value is not None and definition.display != Display.RATIO:
        compared = round(value, definition.decimals)
    better = definition.higher_is_better

    def shown(number: float) -> str:
        return format_value(number, definition.display, definition.decimals)

    return TargetEvaluation(
        value=row.value,
        formatted=shown(row.value),
        at_risk_margin=row.at_risk_margin,
        status=status(compared, row.value, at_risk_margin=row.at_risk_margin, higher_is_better=better),
        benchmark=row.benchmark,
        benchmark_formatted=shown(row.benchmark) if row.benchmark is not None else None,
        benchmark_label=row.benchmark_label,
        meets_benchmark=meets(compared, row.benchmark, better),
        cascaded_from=row.parent_code,
        note=row.note,
    )


def as_target(row: Any, definition: IndicatorDef, unit: registry.Unit) -> Target:
    return Target(
        definition.code,
        unit.code,
        unit.name_zh,
        unit.name_en,
        row.period,
        row.value,
        format_value(row.value, definition.display, definition.decimals),
        row.at_risk_margin,
        row.benchmark,
        row.benchmark_label,
        row.parent_code,
        row.note,
        row.set_by,
        row.set_at.isoformat(),
    )


def targets_of(
    conn: Connection, *, principal: Principal, indicator: str, unit: str, period: str | None = None
) -> list[Target]:
    """The unit's targets for the indicator: one period's, or every period's (its trajectory)."""
    require_action(principal, Action.VIEW)
    definition = load_indicator(conn, indicator)
    day = parse_period(period).end if period else clock.today()
    where = visible_unit(conn, principal, unit, day)
    filters: dict[str, Any] = {"indicator_id": definition.id, "unit_id": where.id}
    if period:
        filters["period"] = parse_period(period).id
    return [as_target(r, definition, where) for r in target_rows(conn, **filters)]


# ---------------------------------------------------------------- who reports an indicator


def reporting_children(
    conn: Connection, definition: IndicatorDef, parent: registry.Unit, children: list[registry.Unit],
    day: dt.date, catalog: Catalog,
) -> list[registry.Unit]:
    """The ``children`` of ``parent`` that report the indicator on ``day``.

    A unit reports an indicator when it, or a unit below it, reports a data set (by its unit type or
    as an assigned unit, as completeness counts it) that collects a data element the numerator or
    denominator refers to: a district whose schools report pupils does, a hospital does not. An
    indicator whose elements no data set collects is taken to be reported by every child.
    """
    element_ids = {element.id for text in (definition.numerator, definition.denominator)
                   for ref in references(parse(text)) if (element := catalog.element(ref.element))}
    data_sets = [ds for ds in catalog.data_sets.values() if element_ids.intersection(ds.element_ids)]
    if not data_sets:
        return children
    types = sorted({t for ds in data_sets for t in ds.unit_types})
    ids = sorted({i for ds in data_sets for i in ds.unit_ids})
    path = registry.path_on(conn, parent.id, day)
    if path is None:
        return []
    kinds, listed = set(types), set(ids)
    depth = len(path_ids(path))
    below = {ids_[depth] for unit in registry.units_under(conn, day, [path])
             if (unit.type in kinds or unit.id in listed) and len(ids_ := path_ids(unit.path)) > depth}
    return [child for child in children if child.id in below]
