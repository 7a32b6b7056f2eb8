"""Indicator values at units and periods, with published facts and targets, for pages and the API.

The values come from the analytics engine (:mod:`jiaowei.analytics`), which computes every
aggregate in jiaowei: numerator and denominator are aggregated first over the unit's subtree
(each value under the ancestors its unit had in the value's own period), following each element's
aggregation type, then divided (:mod:`jiaowei.analytics.indicators`). One call asks the engine
once, the facts once and the targets once, whatever the number of units and periods.

Factors come from the indicator's display (``model.FACTORS``): percent ×100 shown ``86.0%``,
per mille ×1000 shown ``3.2‰``, number ×1, and ratio ×1 shown ``1:N`` with
``N = denominator / numerator`` (辅导员师生比 1:159 is counsellors : students). A denominator
that is zero or has no value gives no value; so does an indicator none of whose references
has data. Published *facts* (``indicator_facts``) and targets are on the same scale as the
value (86.0 for 86%; a 1:159 ratio is 1/159).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select, union

from jiaowei import clock
from jiaowei.analytics.engine import cube_for
from jiaowei.analytics.indicators import IndicatorCell, indicator_cells
from jiaowei.analytics.model import CubeQuery, Measure
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit, scope_paths
from jiaowei.db.among import one_of
from jiaowei.db.kept import kept_rows
from jiaowei.db.memo import per_transaction
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.metadata.catalog import Catalog, kept_across_requests, load_catalog
from jiaowei.indicators.model import AggregationType, Display
from jiaowei.indicators.targets.model import TargetEvaluation
from jiaowei.registry import queries as registry
from jiaowei.registry.model import path_ids

ElementKey = tuple[int, int | None]  # element id, option combo id (None: the element's total)
CodeKey = tuple[str, str | None]


# ---------------------------------------------------------------- aggregation (the analytics engine)


@dataclass
class Aggregated:
    """Aggregated values by (element code, combo code), and whether any value is synthetic."""

    values: dict[CodeKey, float] = field(default_factory=dict)
    synthetic: bool = False


def aggregate(
    conn: Connection, *, elements: set[ElementKey], unit_id: int, period: pe.Period
) -> dict[CodeKey, float]:
    """Values of ``elements`` at the unit (its subtree, as each value's period had it) for the period.

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
    measures = tuple(
        Measure(element_id, coc_id, AggregationType(catalog.elements[element_id].aggregation_type))
        for element_id, coc_id in sorted(elements, key=lambda k: (k[0], k[1] or 0))
        if element_id in catalog.elements
    )
    out = Aggregated()
    for cell in cube_for(conn).query(CubeQuery(measures, (period,), (unit_id,))):
        coc_code = catalog.option_combos[cell.coc_id].code if cell.coc_id is not None else None
        out.values[(catalog.elements[cell.element_id].code, coc_code)] = cell.value
        out.synthetic = out.synthetic or cell.synthetic
    return out


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
    uid: str = ""  # DHIS2's id, by which requests may name it too


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
        raise _bad(N_("not a period"), field, text, N_("a period identifier, e.g. 2020 or 202011")) from error


def load_indicator(conn: Connection, code: str) -> IndicatorDef:
    """The indicator with ``code`` (or that uid); :class:`NotFound` if there is none."""
    found = _definitions(conn)
    definition = found.by_code.get(code) or found.by_uid.get(code)
    if definition is None:
        raise NotFound(M_("No indicator with code {code!r}.", code=code))
    return definition


@dataclass(frozen=True)
class _Definitions:
    ordered: tuple[IndicatorDef, ...]  # by code
    by_code: dict[str, IndicatorDef]
    by_uid: dict[str, IndicatorDef]


def _definitions(conn: Connection) -> _Definitions:
    """Every indicator's definition, read once per transaction: a page asks for them in several places
    (the home page's tiles and charts, each part of a report), each a round trip on PostgreSQL. The
    process keeps them across requests with the metadata catalog (under the same stamp, see
    ``indicators/metadata/catalog.py``), so a request that needs both reads one stamp and nothing else."""
    return per_transaction(conn, "indicators.definitions",
                           lambda: kept_across_requests(conn, "definitions", lambda: _read_definitions(conn)))


def _read_definitions(conn: Connection) -> _Definitions:
    rows = conn.execute(select(store.indicators).order_by(store.indicators.c.code)).all()
    ordered = tuple(_definition(r) for r in rows)
    return _Definitions(ordered, {d.code: d for d in ordered}, {d.uid: d for d in ordered})


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
        row.uid,
    )


def all_indicators(conn: Connection) -> list[IndicatorDef]:
    """Every indicator, by code (a list of the caller's own)."""
    return list(_definitions(conn).ordered)


def visible_unit(
    conn: Connection, principal: Principal, code: str, day: dt.date, action: Action = Action.VIEW
) -> registry.Unit:
    """The unit named ``code`` as it stood on ``day`` (else last), if the principal may act on it."""
    unit_id = registry.id_of(conn, code)
    if unit_id is None:
        raise NotFound(M_("No unit with code {code!r}.", code=code))
    require_unit(conn, principal, action, unit_id, day, code)
    return registry.unit_on(conn, unit_id, day) or registry.last_known(conn, [unit_id])[unit_id]


def indicator_value(
    conn: Connection, *, principal: Principal, indicator: str, unit: str, period: str
) -> IndicatorValue:
    """The indicator at the unit (with its subtree) for the period, with fact and target."""
    require_action(principal, Action.VIEW)
    p = parse_period(period)
    definition = load_indicator(conn, indicator)
    where = visible_unit(conn, principal, unit, p.end)
    found = compute_values(conn, [definition], [where], [p], load_catalog(conn), scope=view_scope(principal))
    return found[(definition.id, where.id, p.id)]


def view_scope(principal: Principal) -> frozenset[int] | None:
    """The units whose subtrees the principal may read (None: no limit), applied inside every query."""
    return None if principal.unlimited else principal.scope_for(Action.VIEW)


def compute_value(
    conn: Connection, definition: IndicatorDef, unit: registry.Unit, p: pe.Period, catalog: Catalog
) -> IndicatorValue:
    """:func:`indicator_value` once the caller has checked the principal may see the unit."""
    return compute_values(conn, [definition], [unit], [p], catalog)[(definition.id, unit.id, p.id)]


def compute_values(
    conn: Connection,
    definitions: Sequence[IndicatorDef],
    units: Sequence[registry.Unit],
    periods: Sequence[pe.Period],
    catalog: Catalog,
    *,
    scope: frozenset[int] | None = None,
) -> dict[tuple[int, int, str], IndicatorValue]:
    """Every indicator at every unit for every period: one query to the analytics engine, one for
    the published facts and one for the targets. Key (indicator id, unit id, period id)."""
    # Imported here: targets.queries imports this module (a cycle at import time).
    from jiaowei.indicators.targets import queries as targets

    cells = indicator_cells(cube_for(conn), catalog, indicators=definitions, periods=periods,
                            units=[u.id for u in units], scope=scope)
    asked = [(p, p.id) for p in periods]  # a period's id is computed each time it is read
    ids = ([d.id for d in definitions], [u.id for u in units], [pid for _, pid in asked])
    facts = _facts(conn, *ids)
    out: dict[tuple[int, int, str], IndicatorValue] = {}
    for definition in definitions:
        for unit in units:
            for _p, pid in asked:
                key = (definition.id, unit.id, pid)
                out[key] = _value(definition, unit, pid, cells.get(key), facts.get(key))
    found = targets.evaluate_indicators(conn, definitions, {key: value.value for key, value in out.items()})
    for key, evaluation in found.items():
        out[key].target = evaluation
    return out


def numerators(
    conn: Connection, definition: IndicatorDef, unit_ids: Sequence[int], period: pe.Period, catalog: Catalog
) -> dict[int, float]:
    """The indicator's aggregated numerator at each unit that has one (for splitting targets)."""
    cube = cube_for(conn)
    cells = indicator_cells(cube, catalog, indicators=[definition], periods=[period], units=unit_ids)
    return {
        unit_id: cell.numerator
        for (_, unit_id, _), cell in cells.items()
        if cell.numerator is not None
    }


def _value(definition: IndicatorDef, unit: registry.Unit, period: str, cell: IndicatorCell | None,
           fact: Any) -> IndicatorValue:
    computed = cell.value if cell else None
    shown = format_value(computed, definition.display, definition.decimals)
    result = IndicatorValue(
        definition, unit, period, cell.numerator if cell else None, cell.denominator if cell else None,
        computed, shown, "data", computed=computed, computed_formatted=shown,
        synthetic=bool(cell and cell.synthetic),
    )
    if fact is not None:
        result.value, result.source, result.fact_source = float(fact.value), "fact", fact.source
        result.formatted = format_value(result.value, definition.display, definition.decimals)
        result.agrees = None if computed is None else result.formatted == shown
        result.synthetic = False
    return result


def _facts(
    conn: Connection, indicator_ids: list[int], unit_ids: list[int], periods: list[str]
) -> dict[Any, Any]:
    f, p = store.indicator_facts, store.periods
    rows = conn.execute(
        select(f.c.indicator_id, f.c.unit_id, p.c.code, f.c.value, f.c.source)
        .join(p, p.c.id == f.c.period_id)
        .where(one_of(conn, f.c.indicator_id, indicator_ids), one_of(conn, f.c.unit_id, unit_ids),
               p.c.code.in_(periods))
    )
    return {(r.indicator_id, r.unit_id, r.code): r for r in rows}



def indicator_table(
    conn: Connection, *, principal: Principal, indicator: str, unit: str, period: str, children: bool = True
) -> list[IndicatorValue]:
    """The unit's value, then (``children``) each direct child's as of the period's last day.

    Each value counts the values of the child's subtree as it stood in each value's own period
    (a school that moved in July counts for its old district until June).
    """
    require_action(principal, Action.VIEW)
    p = parse_period(period)
    definition = load_indicator(conn, indicator)
    where = visible_unit(conn, principal, unit, p.end)
    below = _children(conn, where.id, p.end) if children else []
    units = [where, *below]
    found = compute_values(conn, [definition], units, [p], load_catalog(conn), scope=view_scope(principal))
    return [found[(definition.id, u.id, p.id)] for u in units]


def _children(conn: Connection, unit_id: int, day: dt.date) -> list[registry.Unit]:
    """The units right below the unit on ``day``, read once per transaction (the home page's charts
    each show the same unit's children)."""
    return list(per_transaction(conn, f"registry.children:{unit_id}@{day.isoformat()}", lambda: tuple(
        registry.units_on(conn, day, parent_id=unit_id, attributes=False))))


def unit_values(conn: Connection, *, principal: Principal, unit: str, period: str) -> list[IndicatorValue]:
    """Every indicator's value at one unit for the period.

    For a year, an indicator with no value in the calendar year is shown for the school year
    that begins in it (2020 → 2020SY), since school data is often collected per school year.
    """
    require_action(principal, Action.VIEW)
    p = parse_period(period)
    return values_at(conn, principal=principal, where=visible_unit(conn, principal, unit, p.end), period=p)


def values_at(
    conn: Connection, *, principal: Principal, where: registry.Unit, period: pe.Period
) -> list[IndicatorValue]:
    """:func:`unit_values` at a unit the caller has checked the principal may view on the period's last
    day (:func:`visible_unit`): the home page, which shows that unit, does not read it again."""
    require_action(principal, Action.VIEW)
    p = period
    school_year = parse_period(f"{p.id}SY") if p.type is pe.PeriodType.YEARLY else None
    definitions = all_indicators(conn)
    asked = [p, school_year] if school_year else [p]
    found = compute_values(conn, definitions, [where], asked, load_catalog(conn), scope=view_scope(principal))
    shown = []
    for definition in definitions:
        value = found[(definition.id, where.id, p.id)]
        if value.value is None and school_year is not None:  # collected per school year (学年)
            in_school_year = found[(definition.id, where.id, school_year.id)]
            value = in_school_year if in_school_year.value is not None else value
        shown.append(value)
    return shown


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

    A school year counts in the year it begins: data for 2020SY makes 2020 the default, not 2021. A GET
    takes it from what the process keeps under the ``imports`` stamp, which values and facts change
    (decision 0023).
    """
    periods = store.periods
    used = union(select(store.data_values.c.period_id), select(store.indicator_facts.c.period_id)).subquery()
    found = kept_rows(conn, "imports", "targets.latest_period_start",
                      select(func.max(periods.c.start_date)).where(periods.c.id.in_(select(used.c.period_id))))
    latest = found[0][0] if found else None
    if latest is None:
        return str((today or clock.today()).year - 1)
    return str(min(latest.year, pe.LAST_YEAR))


def years_around(period: str, count: int = 6) -> list[str]:
    """Yearly periods ending with the year of ``period`` (for trajectories)."""
    year = parse_period(period).start.year
    return [str(y) for y in range(max(pe.FIRST_YEAR, year - count + 1), year + 1)]
