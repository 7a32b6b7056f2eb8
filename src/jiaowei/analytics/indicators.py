"""Indicators over the analytics engine: numerator and denominator aggregated first, then divided.

A district's pupil-teacher ratio is the sum of its schools' pupils over the sum of their teachers,
never the mean of the schools' ratios: every reference ``#{DE}`` / ``#{DE.COC}`` in either
expression becomes a :class:`~jiaowei.analytics.model.Measure` with its element's aggregation
type, the engine aggregates them all in one query per type, and each expression is evaluated per
unit and period. The value is ``numerator / denominator × factor`` (the display's factor); a zero
or missing denominator, or an indicator none of whose references has data, gives no value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from jiaowei.analytics.model import Cell, CubeQuery, Engine, Measure
from jiaowei.indicators import expressions
from jiaowei.indicators import periods as pe
from jiaowei.indicators.metadata.catalog import Catalog
from jiaowei.indicators.model import FACTORS, AggregationType, Display

RefKey = tuple[str, str | None]  # element code, option combo code (None: the element's total)


class IndicatorLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def numerator(self) -> str: ...
    @property
    def denominator(self) -> str: ...
    @property
    def display(self) -> str: ...


@dataclass(frozen=True)
class IndicatorCell:
    """An indicator's value at a unit for a period, with what it was computed from."""

    value: float | None
    numerator: float | None
    denominator: float | None
    synthetic: bool


@lru_cache(maxsize=4096)
def _parsed(text: str) -> expressions.Expr:
    """Expressions are parsed once (a parsed expression is immutable)."""
    return expressions.parse(text)


def measures_of(
    catalog: Catalog, texts: Sequence[str], aggregation: AggregationType | None = None
) -> dict[RefKey, Measure]:
    """The measure behind every element reference in the expressions (unknown ones are left out)."""
    found: dict[RefKey, Measure] = {}
    for text in texts:
        for ref in expressions.references(_parsed(text)):
            element = catalog.element(ref.element)
            if element is None:
                continue
            coc = catalog.option_combo(element, ref.combo) if ref.combo else None
            if ref.combo is not None and coc is None:
                continue
            kind = aggregation or AggregationType(element.aggregation_type)
            found[ref.key] = Measure(element.id, coc.id if coc else None, kind)
    return found


def indicator_cells(
    cube: Engine,
    catalog: Catalog,
    *,
    indicators: Sequence[IndicatorLike],
    periods: Sequence[pe.Period],
    units: Sequence[int] = (),
    level: int | None = None,
    under: Sequence[int] = (),
    scope: frozenset[int] | None = None,
    aggregation: AggregationType | None = None,
) -> dict[tuple[int, int, str], IndicatorCell]:
    """Each indicator at each unit and period that has a value: key (indicator id, unit id, period id)."""
    texts = [t for i in indicators for t in (i.numerator, i.denominator)]
    measures = measures_of(catalog, texts, aggregation)
    uses = {
        i.id: set(measures_of(catalog, [i.numerator, i.denominator], aggregation).values())
        for i in indicators
    }
    query = CubeQuery(
        tuple(dict.fromkeys(measures.values())),
        tuple(periods),
        tuple(units),
        level,
        tuple(under),
        scope=scope,
    )
    by_place: dict[tuple[int, str], dict[Measure, Cell]] = {}
    for cell in cube.query(query):
        for measure in query.measures:
            if (measure.element_id, measure.coc_id) == (cell.element_id, cell.coc_id):
                by_place.setdefault((cell.unit_id, cell.period), {})[measure] = cell
    out: dict[tuple[int, int, str], IndicatorCell] = {}
    for (unit_id, period), cells in by_place.items():
        values = {key: cells[m].value for key, m in measures.items() if m in cells}
        for indicator in indicators:
            synthetic = any(cells[m].synthetic for m in uses[indicator.id] if m in cells)
            result = evaluate(indicator, values, any_synthetic=synthetic)
            if result is not None:
                out[(indicator.id, unit_id, period)] = result
    return out


def evaluate(
    indicator: IndicatorLike, values: dict[RefKey, float], *, any_synthetic: bool
) -> IndicatorCell | None:
    """The indicator from aggregated reference values; None when no reference has data."""
    numerator, num_present = _value(_parsed(indicator.numerator), values)
    denominator, den_present = _value(_parsed(indicator.denominator), values)
    if not num_present and not den_present:
        return None
    value = None
    if numerator is not None and denominator:
        value = numerator / denominator * FACTORS[Display(indicator.display)]
        value = value if math.isfinite(value) else None
    return IndicatorCell(
        value,
        numerator if num_present else None,
        denominator if den_present else None,
        any_synthetic and value is not None,
    )


def _value(expr: expressions.Expr, values: dict[RefKey, float]) -> tuple[float | None, bool]:
    """(value, whether any reference has a value); a lone reference is read without the evaluator."""
    if isinstance(expr, expressions.Ref):
        found = values.get(expr.key)
        return (0.0, False) if found is None else (found, True)  # missing counts as 0, as evaluate has it
    evaluation = expressions.evaluate(expr, values)
    return evaluation.value, bool(evaluation.present)
