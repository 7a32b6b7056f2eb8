"""Indicator values, computed up the unit tree from aggregated numerators and denominators.

An indicator's value is ``numerator / denominator × factor``, where numerator and denominator
are expressions over data elements *aggregated first*: a district's pupil-teacher ratio is the
sum of its schools' pupils over the sum of their teachers, never the average of the schools'
ratios. A unit's value includes its descendants as the tree stood on the last day of the period.

Aggregation rules (per data element, by its ``AggregationType``), applied to the values stored
for the unit's subtree in every stored period that lies inside the requested period (a yearly
request over monthly data aggregates the months):

1. A reference ``#{DE}`` (the element's total) first sums the element's option combos for each
   unit and stored period; ``#{DE.COC}`` takes that one combo. COUNT counts the values instead.
2. Over time, for each unit, within the requested period:

   ==========================  ==============================================
   SUM, COUNT                  the sum of the periods
   AVERAGE                     the mean of the periods that have a value
   AVERAGE_SUM_ORG_UNIT        the mean of the periods (as DHIS2 does)
   LAST                        the latest period's value (stocks: enrolment)
   MIN, MAX                    the smallest, the largest
   NONE                        only a value stored for exactly the requested period
   ==========================  ==============================================

3. Over units (the subtree):

   ==========================================  ======================================
   SUM, COUNT, LAST, AVERAGE_SUM_ORG_UNIT      the sum over units
   AVERAGE                                     the mean over units that have a value
   MIN, MAX                                    the smallest, the largest
   NONE                                        only the unit's own value
   ==========================================  ======================================

Factors come from the indicator's display (``model.FACTORS``): percent ×100 shown ``86.0%``,
per mille ×1000 shown ``3.2‰``, number ×1, and ratio ×1 shown ``1:N`` with
``N = denominator / numerator`` (辅导员师生比 1:159 is counsellors : students). A denominator
that is zero or has no value gives no value; so does an indicator none of whose references
has data. Published *facts* (``indicator_facts``) and targets are on the same scale as the
value (86.0 for 86%; a 1:159 ratio is 1/159).

This module is simple and correct rather than fast: one query per unit and indicator.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from sqlalchemy import Connection, func, select, union

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit, scope_paths
from jiaowei.errors import NotFound, Problem, ValidationError
from jiaowei.indicators import expressions, store
from jiaowei.indicators import periods as pe
from jiaowei.indicators.metadata.catalog import Catalog, load_catalog
from jiaowei.indicators.model import FACTORS, AggregationType, Display, numeric
from jiaowei.indicators.targets.model import TargetEvaluation
from jiaowei.registry import queries as registry
from jiaowei.registry.model import path_ids

ElementKey = tuple[int, int | None]  # element id, option combo id (None: the element's total)
CodeKey = tuple[str, str | None]

_OVER_UNITS_SUM = {
    AggregationType.SUM,
    AggregationType.COUNT,
    AggregationType.LAST,
    AggregationType.AVERAGE_SUM_ORG_UNIT,
}


# ---------------------------------------------------------------- aggregation


@dataclass
class Aggregated:
    """Aggregated values by (element code, combo code), and whether any value is synthetic."""

    values: dict[CodeKey, float] = field(default_factory=dict)
    synthetic: bool = False


def aggregate(
    conn: Connection, *, elements: set[ElementKey], unit_id: int, period: pe.Period
) -> dict[CodeKey, float]:
    """Values of ``elements`` at the unit (with its subtree on the period's last day) for the period.

    Keys are (element code, option combo code or None for the total); a key without any stored
    value is absent, so an expression sees it as missing.
    """
    return aggregate_with_flags(conn, elements=elements, unit_id=unit_id, period=period).values


def aggregate_with_flags(
    conn: Connection,
    *,
    elements: set[ElementKey],
    unit_id: int,
    period: pe.Period,
    catalog: Catalog | None = None,
) -> Aggregated:
    """:func:`aggregate`, also telling whether any contributing value is synthetic."""
    catalog = catalog or load_catalog(conn)
    out = Aggregated()
    if not elements:
        return out
    rows = _stored_rows(conn, {e for e, _ in elements}, unit_id, period)
    for element_id, coc_id in elements:
        element = catalog.elements.get(element_id)
        if element is None:
            continue
        mine = [r for r in rows if r.data_element_id == element_id and coc_id in (None, r.coc_id)]
        if element.aggregation_type is AggregationType.NONE:
            mine = [
                r
                for r in mine
                if r.unit_id == unit_id and r.start_date == period.start and r.end_date == period.end
            ]
        value = _aggregate_element(element.aggregation_type, element.value_type, mine)
        if value is not None:
            coc_code = catalog.option_combos[coc_id].code if coc_id is not None else None
            out.values[(element.code, coc_code)] = value
            out.synthetic = out.synthetic or any(r.synthetic for r in mine)
    return out


def _stored_rows(conn: Connection, element_ids: set[int], unit_id: int, period: pe.Period) -> list[Any]:
    day = period.end
    path = registry.path_on(conn, unit_id, day)
    if path is None:
        return []
    subtree = registry.unit_ids_on_select(day).where(registry.in_paths([path]))
    dv, periods = store.data_values, store.periods
    query = (
        select(
            dv.c.unit_id,
            dv.c.data_element_id,
            dv.c.coc_id,
            dv.c.value,
            dv.c.synthetic,
            periods.c.start_date,
            periods.c.end_date,
        )
        .join(periods, periods.c.id == dv.c.period_id)
        .where(
            periods.c.start_date >= period.start,
            periods.c.end_date <= period.end,
            dv.c.data_element_id.in_(sorted(element_ids)),
            dv.c.unit_id.in_(subtree),
        )
    )
    return list(conn.execute(query))


def _aggregate_element(kind: AggregationType, value_type: str, rows: list[Any]) -> float | None:
    """Combos per unit and period, then time per unit, then units (see the module docstring)."""
    cells: dict[tuple[int, dt.date], float] = defaultdict(float)
    for r in rows:
        number = numeric(value_type, r.value)
        if number is None:
            continue
        cells[(r.unit_id, r.start_date)] += 1.0 if kind is AggregationType.COUNT else number
    by_unit: dict[int, list[tuple[dt.date, float]]] = defaultdict(list)
    for (unit, start), number in cells.items():
        by_unit[unit].append((start, number))
    over_time = [_over_time(kind, sorted(series)) for series in by_unit.values()]
    return _over_units(kind, over_time) if over_time else None


def _over_time(kind: AggregationType, series: list[tuple[dt.date, float]]) -> float:
    numbers = [n for _, n in series]
    if kind in (AggregationType.AVERAGE, AggregationType.AVERAGE_SUM_ORG_UNIT):
        return fmean(numbers)
    if kind in (AggregationType.LAST, AggregationType.NONE):
        return numbers[-1]
    if kind is AggregationType.MIN:
        return min(numbers)
    if kind is AggregationType.MAX:
        return max(numbers)
    return math.fsum(numbers)


def _over_units(kind: AggregationType, numbers: list[float]) -> float:
    if kind in _OVER_UNITS_SUM:
        return math.fsum(numbers)
    if kind is AggregationType.AVERAGE:
        return fmean(numbers)
    if kind is AggregationType.MIN:
        return min(numbers)
    if kind is AggregationType.MAX:
        return max(numbers)
    return numbers[0]  # NONE: only the unit's own value was kept


# ---------------------------------------------------------------- formatting


def format_value(value: float | None, display: str, decimals: int) -> str:
    """``86.0%``, ``3.2‰``, ``1:159`` or ``1,234.5``; an en dash when there is no value."""
    if value is None:
        return "–"
    shown = Display(display)
    if shown is Display.PERCENT:
        return f"{value:.{decimals}f}%"
    if shown is Display.PER_MILLE:
        return f"{value:.{decimals}f}‰"
    if shown is Display.RATIO:
        return "1:∞" if value == 0 else f"1:{1 / value:,.{decimals}f}"
    return f"{value:,.{decimals}f}"


# ---------------------------------------------------------------- indicator values


@dataclass(frozen=True)
class IndicatorDef:
    id: int
    code: str
    name_zh: str
    name_en: str
    description: str
    numerator: str
    numerator_description: str
    denominator: str
    denominator_description: str
    display: str
    decimals: int
    higher_is_better: bool


@dataclass
class IndicatorValue:
    """An indicator at a unit for a period: its value, where it came from, and its target."""

    indicator: IndicatorDef
    unit: registry.Unit
    period: str
    numerator: float | None
    denominator: float | None
    value: float | None
    formatted: str
    source: str  # "data" | "fact"
    fact_source: str | None = None
    computed: float | None = None  # the value computed from data, also when a fact stands for it
    computed_formatted: str = "–"
    agrees: bool | None = None  # whether fact and computed value agree as shown
    synthetic: bool = False
    target: TargetEvaluation | None = None

    def as_dict(self) -> dict[str, Any]:
        target = self.target
        return {
            "indicator": self.indicator.code,
            "indicatorName_zh": self.indicator.name_zh,
            "indicatorName_en": self.indicator.name_en,
            "orgUnit": self.unit.code,
            "orgUnitName_zh": self.unit.name_zh,
            "orgUnitName_en": self.unit.name_en,
            "period": self.period,
            "value": self.value,
            "formatted": self.formatted,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "source": self.source,
            "factSource": self.fact_source,
            "computedValue": self.computed,
            "computedFormatted": self.computed_formatted,
            "agrees": self.agrees,
            "synthetic": self.synthetic,
            "target": target.as_dict() if target else None,
            "status": target.status if target else None,
            "benchmark": target.benchmark_dict() if target else None,
        }


def _bad(message: str, field: str, value: Any, expected: str) -> ValidationError:
    return ValidationError(message, [Problem(message, field=field, value=value, expected=expected)])


def parse_period(text: str, field: str = "pe") -> pe.Period:
    try:
        return pe.parse(text)
    except ValidationError as error:
        raise _bad("not a period", field, text, "a period identifier, e.g. 2020 or 202011") from error


def load_indicator(conn: Connection, code: str) -> IndicatorDef:
    t = store.indicators
    row = conn.execute(select(t).where((t.c.code == code) | (t.c.uid == code))).first()
    if row is None:
        raise NotFound(f"No indicator with code {code!r}.")
    return _definition(row)


def _definition(row: Any) -> IndicatorDef:
    return IndicatorDef(
        row.id,
        row.code,
        row.name_zh,
        row.name_en,
        row.description,
        row.numerator,
        row.numerator_description,
        row.denominator,
        row.denominator_description,
        row.display,
        int(row.decimals),
        bool(row.higher_is_better),
    )


def all_indicators(conn: Connection) -> list[IndicatorDef]:
    return [_definition(r) for r in conn.execute(select(store.indicators).order_by(store.indicators.c.code))]


def visible_unit(
    conn: Connection, principal: Principal, code: str, day: dt.date, action: Action = Action.VIEW
) -> registry.Unit:
    """The unit named ``code`` as it stood on ``day`` (else last), if the principal may act on it."""
    unit_id = registry.id_of(conn, code)
    if unit_id is None:
        raise NotFound(f"No unit with code {code!r}.")
    require_unit(conn, principal, action, unit_id, day, code)
    return registry.unit_on(conn, unit_id, day) or registry.last_known(conn, [unit_id])[unit_id]


def expression_value(
    conn: Connection, catalog: Catalog, text: str, unit_id: int, period: pe.Period
) -> tuple[float | None, bool, bool]:
    """(value, any reference present, any value synthetic) of an expression at the unit."""
    parsed = expressions.parse(text)
    wanted: dict[tuple[str, str | None], ElementKey] = {}
    for ref in expressions.references(parsed):
        element = catalog.element(ref.element)
        coc = catalog.option_combo(element, ref.combo) if element and ref.combo else None
        if element is not None and (ref.combo is None or coc is not None):
            wanted[ref.key] = (element.id, coc.id if coc else None)
    got = aggregate_with_flags(
        conn, elements=set(wanted.values()), unit_id=unit_id, period=period, catalog=catalog
    )
    by_ref: dict[tuple[str, str | None], float] = {}
    for key, (element_id, coc_id) in wanted.items():
        code = catalog.elements[element_id].code
        coc_code = catalog.option_combos[coc_id].code if coc_id is not None else None
        if (code, coc_code) in got.values:
            by_ref[key] = got.values[(code, coc_code)]
    evaluation = expressions.evaluate(parsed, by_ref)
    return evaluation.value, bool(evaluation.present), got.synthetic


def indicator_value(
    conn: Connection, *, principal: Principal, indicator: str, unit: str, period: str
) -> IndicatorValue:
    """The indicator at the unit (with its subtree) for the period, with fact and target."""
    require_action(principal, Action.VIEW)
    p = parse_period(period)
    definition = load_indicator(conn, indicator)
    where = visible_unit(conn, principal, unit, p.end)
    return compute_value(conn, definition, where, p, load_catalog(conn))


def compute_value(
    conn: Connection, definition: IndicatorDef, unit: registry.Unit, p: pe.Period, catalog: Catalog
) -> IndicatorValue:
    """:func:`indicator_value` once the caller has checked the principal may see the unit."""
    # Imported here: targets.queries imports this module (a cycle at import time).
    from jiaowei.indicators.targets import queries as targets

    numerator, num_present, num_synthetic = expression_value(conn, catalog, definition.numerator, unit.id, p)
    denominator, den_present, den_synthetic = expression_value(
        conn, catalog, definition.denominator, unit.id, p
    )
    computed = None
    if (num_present or den_present) and numerator is not None and denominator:
        computed = numerator / denominator * FACTORS[Display(definition.display)]
        computed = computed if math.isfinite(computed) else None
    shown = format_value(computed, definition.display, definition.decimals)
    result = IndicatorValue(
        definition,
        unit,
        p.id,
        numerator if num_present else None,
        denominator if den_present else None,
        computed,
        shown,
        "data",
        computed=computed,
        computed_formatted=shown,
        synthetic=(num_synthetic or den_synthetic) and computed is not None,
    )
    fact = _fact(conn, definition.id, unit.id, p.id)
    if fact is not None:
        result.value, result.source, result.fact_source = float(fact.value), "fact", fact.source
        result.formatted = format_value(result.value, definition.display, definition.decimals)
        result.agrees = None if computed is None else result.formatted == shown
        result.synthetic = False
    result.target = targets.evaluate(conn, definition, unit.id, p, result.value)
    return result


def _fact(conn: Connection, indicator_id: int, unit_id: int, period: str) -> Any:
    f, periods = store.indicator_facts, store.periods
    return conn.execute(
        select(f.c.value, f.c.source)
        .join(periods, periods.c.id == f.c.period_id)
        .where(f.c.indicator_id == indicator_id, f.c.unit_id == unit_id, periods.c.code == period)
    ).first()


def indicator_table(
    conn: Connection, *, principal: Principal, indicator: str, unit: str, period: str, children: bool = True
) -> list[IndicatorValue]:
    """The unit's value, then (``children``) each direct child's as of the period's last day."""
    require_action(principal, Action.VIEW)
    p = parse_period(period)
    definition = load_indicator(conn, indicator)
    where = visible_unit(conn, principal, unit, p.end)
    catalog = load_catalog(conn)
    units = [where, *(registry.units_on(conn, p.end, parent_id=where.id) if children else [])]
    return [compute_value(conn, definition, u, p, catalog) for u in units]


def unit_values(conn: Connection, *, principal: Principal, unit: str, period: str) -> list[IndicatorValue]:
    """Every indicator's value at one unit for the period.

    For a year, an indicator with no value in the calendar year is shown for the school year
    that begins in it (2020 → 2020SY), since school data is often collected per school year.
    """
    require_action(principal, Action.VIEW)
    p = parse_period(period)
    where = visible_unit(conn, principal, unit, p.end)
    catalog = load_catalog(conn)
    school_year = parse_period(f"{p.id}SY") if p.type is pe.PeriodType.YEARLY else None
    found = []
    for definition in all_indicators(conn):
        value = compute_value(conn, definition, where, p, catalog)
        if value.value is None and school_year is not None:  # collected per school year (学年)
            in_school_year = compute_value(conn, definition, where, school_year, catalog)
            value = in_school_year if in_school_year.value is not None else value
        found.append(value)
    return found


# ---------------------------------------------------------------- defaults for pages and the API


def default_unit(conn: Connection, principal: Principal, day: dt.date) -> str | None:
    """The highest unit the principal can see on ``day`` (the commission for city staff)."""
    if principal.unlimited:
        rows = registry.units_on(conn, day, top_level=True)
        ranked = sorted(rows, key=lambda r: (r.type != "commission", r.code))
        return ranked[0].code if ranked else None
    paths = sorted(scope_paths(conn, principal, Action.VIEW, day), key=lambda p: (p.count("/"), p))
    for path in paths:
        found = registry.unit_on(conn, path_ids(path)[-1], day)
        if found:
            return found.code
    return None


def default_period(conn: Connection, today: dt.date | None = None) -> str:
    """The latest year in which a period with data values or published facts begins (else last year).

    A school year counts in the year it begins: data for 2020SY makes 2020 the default, not 2021.
    """
    periods = store.periods
    used = union(select(store.data_values.c.period_id), select(store.indicator_facts.c.period_id)).subquery()
    latest = conn.execute(
        select(func.max(periods.c.start_date)).where(periods.c.id.in_(select(used.c.period_id)))
    ).scalar()
    if latest is None:
        return str((today or dt.date.today()).year - 1)
    return str(min(latest.year, pe.LAST_YEAR))


def years_around(period: str, count: int = 6) -> list[str]:
    """Yearly periods ending with the year of ``period`` (for trajectories)."""
    year = parse_period(period).start.year
    return [str(y) for y in range(max(pe.FIRST_YEAR, year - count + 1), year + 1)]
