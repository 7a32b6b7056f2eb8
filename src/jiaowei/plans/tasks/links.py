"""Key tasks' linked indicators: their values at their units for their periods, against their targets.

The analytics engine computes the values (:func:`jiaowei.indicators.targets.compute.compute_values`, one
call per period); a link's target is its own, else the Indicators module's target for that unit and
period. A value is compared as shown (rounded to the indicator's decimals), as the Indicators module
compares it. A link measured at a unit outside the reader's scope keeps its value for the status
(``LinkView.state``) but shows no figures.

The indicators' definitions, the units and the values computed are kept for the transaction
(:func:`jiaowei.db.memo.per_transaction`): the board and "my tasks" of a page show the same links, and
each statement is a round trip on PostgreSQL (issue 17).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from jiaowei.db import memo
from jiaowei.indicators import periods as pe
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.targets import compute
from jiaowei.plans.tasks import model
from jiaowei.plans.tasks.views import LinkView, SeriesPoint, UnitRef
from jiaowei.registry import queries as registry

SERIES_YEARS = 5


def period_end(period: str) -> dt.date | None:
    try:
        return pe.parse(period).end
    except Exception:  # a period stored before its type was known; no end, no "missed"
        return None


def link_views(
    conn: Connection, items: Sequence[Any], visible: set[int] | None, *, series: bool = False
) -> dict[int, LinkView]:
    """Each link's value and target by link id, computed by the analytics engine in one call per period."""
    links = [(item, k) for item in items for k in item.links]
    if not links:
        return {}
    indicators = {d.id: d for d in compute.all_indicators(conn)}  # read once per transaction there
    units = known_units(conn, {k.unit_id or item.row.lead_unit_id for item, k in links})
    wanted: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for item, k in links:
        where = k.unit_id or item.row.lead_unit_id
        if where in units:
            for period in _periods_of(k.period, series):
                wanted[period].add((k.indicator_id, where))
    values = _values(conn, indicators, units, wanted)
    out = {}
    for item, k in links:
        where = k.unit_id or item.row.lead_unit_id
        if where in units:
            out[k.id] = _link_view(
                k,
                indicators[k.indicator_id],
                units[where],
                values,
                hidden=visible is not None and where not in visible,
                series=series,
            )
    return out


def known_units(conn: Connection, ids: Iterable[int | None]) -> dict[int, Any]:
    """Each unit as it stood last (:func:`jiaowei.registry.queries.last_known`), by id: read once per
    transaction, the units the page has not read yet."""
    kept: dict[int, Any] = memo.per_transaction(conn, "plans.tasks.units", dict)
    wanted = {i for i in ids if i is not None}
    missing = wanted - kept.keys()
    if missing:
        found = registry.last_known(conn, missing)
        kept.update({i: found.get(i) for i in missing})  # None: no such unit
    return {i: kept[i] for i in wanted if kept[i] is not None}


def _periods_of(period: str, series: bool) -> list[str]:
    if not series:
        return [period]
    try:
        start = pe.parse(period).start.year
    except Exception:
        return [period]
    earlier = [str(y) for y in range(max(pe.FIRST_YEAR, start - SERIES_YEARS + 1), start)]
    return [*earlier, period]


def _values(
    conn: Connection,
    indicators: dict[int, compute.IndicatorDef],
    units: dict[int, Any],
    wanted: dict[str, set[tuple[int, int]]],
) -> dict[tuple[int, int, str], compute.IndicatorValue]:
    """The values by (indicator id, unit id, period) of each period's (indicator, unit) pairs: those not
    computed yet in the transaction, by one call to the analytics engine for the periods that ask for the
    same indicators at the same units (each call costs two statements whatever its periods), or by one
    call for them all when that computes at most twice the values asked for (a value does not depend
    on the others computed with it)."""
    kept: dict[tuple[int, int, str], compute.IndicatorValue] = memo.per_transaction(
        conn, "plans.tasks.values", dict
    )
    calls: dict[tuple[tuple[int, ...], tuple[int, ...]], dict[str, list[str]]] = defaultdict(dict)
    for period, pairs in wanted.items():
        todo = {(i, u) for i, u in pairs if (i, u, period) not in kept}
        if not todo:
            continue
        try:
            p = pe.parse(period)
        except Exception:
            continue
        asked = (tuple(sorted({i for i, _ in todo})), tuple(sorted({u for _, u in todo})))
        calls[asked].setdefault(p.id, []).append(period)
    if calls:
        catalog = load_catalog(conn)
        for (indicator_ids, unit_ids), named in _merged(calls).items():
            definitions = [indicators[i] for i in indicator_ids]
            places = [units[u] for u in unit_ids]
            periods = [pe.parse(names[0]) for names in named.values()]
            found = compute.compute_values(conn, definitions, places, periods, catalog)
            for (i, u, pid), value in found.items():
                for period in named.get(pid, []):
                    kept[(i, u, period)] = value
    keys = [(i, u, period) for period, pairs in wanted.items() for i, u in pairs]
    return {key: kept[key] for key in keys if key in kept}


def _merged(
    calls: dict[tuple[tuple[int, ...], tuple[int, ...]], dict[str, list[str]]],
) -> dict[tuple[tuple[int, ...], tuple[int, ...]], dict[str, list[str]]]:
    """The calls (indicators, units → period id → periods named so), as one call if that one computes at
    most twice the values the calls compute."""
    if len(calls) < 2:
        return calls
    indicator_ids = tuple(sorted({i for ids, _ in calls for i in ids}))
    unit_ids = tuple(sorted({u for _, ids in calls for u in ids}))
    named: dict[str, list[str]] = {}
    for periods in calls.values():
        for pid, names in periods.items():
            named.setdefault(pid, []).extend(names)
    asked = sum(len(i) * len(u) * len(periods) for (i, u), periods in calls.items())
    if len(indicator_ids) * len(unit_ids) * len(named) > 2 * asked:
        return calls
    return {(indicator_ids, unit_ids): named}


def _link_view(
    k: Any,
    definition: compute.IndicatorDef,
    unit: Any,
    values: dict[tuple[int, int, str], compute.IndicatorValue],
    *,
    hidden: bool,
    series: bool,
) -> LinkView:
    found = values.get((definition.id, unit.id, k.period))
    value = _compared(found.value if found else None, definition)
    target, source = _target(k.target, found)
    state = model.LinkState(
        definition.code, k.period, value, target, definition.higher_is_better, period_end(k.period)
    )
    points: list[SeriesPoint] = []
    if series and not hidden:
        for period in _periods_of(k.period, True):
            at = values.get((definition.id, unit.id, period))
            goal = (
                k.target
                if period == k.period and k.target is not None
                else (at.target.value if at and at.target else None)
            )
            points.append(SeriesPoint(period, at.value if at else None, at.formatted if at else "–", goal))
    return LinkView(
        definition.code,
        definition.name_zh,
        definition.name_en,
        UnitRef(unit.code, unit.name_zh, unit.name_en),
        k.period,
        None if hidden else value,
        "–" if hidden or not found else found.formatted,
        target,
        compute.format_value(target, definition.display, definition.decimals) if target is not None else "–",
        source,
        model.link_met(state),
        definition.higher_is_better,
        hidden,
        tuple(points),
        state,
    )


def _compared(value: float | None, definition: compute.IndicatorDef) -> float | None:
    """The value as shown (rounded to the indicator's decimals), as the Indicators module compares it."""
    if value is None or definition.display == "ratio":
        return value
    return round(value, definition.decimals)


def _target(own: float | None, found: compute.IndicatorValue | None) -> tuple[float | None, str]:
    if own is not None:
        return own, "task"
    if found is not None and found.target is not None:
        return found.target.value, "indicators"
    return None, "none"
