"""Key tasks' linked indicators: their values at their units for their periods, against their targets.

The analytics engine computes the values (:func:`jiaowei.indicators.targets.compute.compute_values`, one
call per period); a link's target is its own, else the Indicators module's target for that unit and
period. A value is compared as shown (rounded to the indicator's decimals), as the Indicators module
compares it. A link measured at a unit outside the reader's scope keeps its value for the status
(``LinkView.state``) but shows no figures.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

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
    indicators = {d.id: d for d in compute.all_indicators(conn)}
    unit_ids = {k.unit_id or item.row.lead_unit_id for item, k in links} - {None}
    units = registry.last_known(conn, unit_ids)
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
    catalog = load_catalog(conn)
    out: dict[tuple[int, int, str], compute.IndicatorValue] = {}
    for period, pairs in wanted.items():
        try:
            p = pe.parse(period)
        except Exception:
            continue
        definitions = [indicators[i] for i in sorted({i for i, _ in pairs})]
        places = [units[u] for u in sorted({u for _, u in pairs})]
        for (i, u, _pid), value in compute.compute_values(conn, definitions, places, [p], catalog).items():
            out[(i, u, period)] = value
    return out


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
