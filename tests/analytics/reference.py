"""A plain reference for analytics aggregation, to check the engine against.

Written from the issue's rules, not from the engine: plain Python over the values and the tree a
test generated, in codes. Nothing here reads the database or jiaowei's compute code; only the
period identifiers' dates come from ``jiaowei.indicators.periods``.

The rules, as the issue and the engine's interface state them:

- A value counts under the ancestors its unit had on the last day of the value's own period.
- A requested period holds every stored period inside it (a month in its quarter, year and
  school year).
- A measure is an element's total (its option combos summed) or one option combo (an operand).
  Option combos are first summed per unit and stored period (COUNT counts the values instead),
  then: SUM sums; AVERAGE is the mean over units and periods together; AVERAGE_SUM_ORG_UNIT the
  mean over periods for each unit, summed over units; LAST each unit's latest stored period,
  summed over units; LAST_AVERAGE_ORG_UNIT the same averaged over units; MIN and MAX; COUNT the
  number of values; NONE only the value stored at exactly the unit and the requested period.
- A cell is synthetic when any value that contributes to it is synthetic (for LAST and
  LAST_AVERAGE_ORG_UNIT, the values of each unit's latest period; else every value counted);
  a cell is absent when no value counts.
- Scope keeps only values under one of its units; a breakdown by categories groups the values
  by their options in those categories.
- An indicator divides its aggregated numerator by its aggregated denominator, times a factor;
  a term without data counts as 0, no term with data or a zero denominator gives no value.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from statistics import fmean

from jiaowei.indicators import periods as pe

AGGREGATIONS = (
    "SUM",
    "AVERAGE",
    "AVERAGE_SUM_ORG_UNIT",
    "LAST",
    "LAST_AVERAGE_ORG_UNIT",
    "MIN",
    "MAX",
    "COUNT",
    "NONE",
)


@lru_cache(maxsize=4096)
def parsed(text: str) -> pe.Period:
    return pe.parse(text)


@dataclass(frozen=True)
class Value:
    """One stored value: its unit, period, element and option combo codes, the number, the flag."""

    unit: str
    period: str
    element: str
    coc: str  # option codes joined by "_", in the combo's category order
    number: float
    synthetic: bool = False


@dataclass
class Tree:
    """Each unit's parent over time: ``(from this day, parent code or None)``, oldest first."""

    parents: dict[str, list[tuple[dt.date, str | None]]] = field(default_factory=dict)
    _chains: dict[tuple[str, dt.date], tuple[str, ...]] = field(default_factory=dict, repr=False)

    def add(self, code: str, parent: str | None, opened: dt.date = dt.date(2000, 1, 1)) -> None:
        self.parents[code] = [(opened, parent)]
        self._chains.clear()

    def move(self, code: str, parent: str, effective: dt.date) -> None:
        kept = [(day, p) for day, p in self.parents[code] if day < effective]
        self.parents[code] = [*kept, (effective, parent)]
        self._chains.clear()

    def parent_on(self, code: str, day: dt.date) -> str | None:
        found = [p for since, p in self.parents[code] if since <= day]
        assert found, f"{code} not open on {day}"
        return found[-1]

    def chain(self, code: str, day: dt.date) -> tuple[str, ...]:
        """The unit's ancestors on ``day``, root first, ending with the unit itself."""
        if (code, day) not in self._chains:
            out = [code]
            while (parent := self.parent_on(out[-1], day)) is not None:
                out.append(parent)
            self._chains[(code, day)] = tuple(reversed(out))
        return self._chains[(code, day)]


@dataclass(frozen=True)
class Ask:
    """One question, in codes: a measure, a requested period and where to look.

    ``units`` asks for each unit's subtree; ``level`` (with ``under``) asks for each value's
    ancestor at that level. ``categories`` are category codes to break down by.
    """

    element: str
    coc: str | None
    aggregation: str
    period: str
    units: tuple[str, ...] = ()
    level: int | None = None
    under: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    scope: frozenset[str] | None = None


Key = tuple[str, tuple[str, ...]]  # unit code, breakdown option codes
Expected = dict[Key, tuple[float, bool]]  # the value and whether it is synthetic


def expected(
    ask: Ask, values: Iterable[Value], tree: Tree, combo_categories: Sequence[str]
) -> Expected:
    """What the engine should answer to ``ask`` over ``values`` (cells by unit and breakdown)."""
    wanted = parsed(ask.period)
    positions = [combo_categories.index(c) for c in ask.categories]
    groups: dict[Key, list[Value]] = defaultdict(list)
    for v in values:
        stored = parsed(v.period)
        if v.element != ask.element or (ask.coc is not None and v.coc != ask.coc):
            continue
        if not (wanted.start <= stored.start and stored.end <= wanted.end):
            continue
        chain = tree.chain(v.unit, stored.end)
        if ask.scope is not None and not ask.scope.intersection(chain):
            continue
        options = v.coc.split("_")
        breakdown = tuple(options[i] for i in positions)
        for target in _targets(ask, v, chain, exact=stored == wanted):
            groups[(target, breakdown)].append(v)
    return {key: (aggregate(ask.aggregation, group), synthetic(ask.aggregation, group))
            for key, group in groups.items()}


def _targets(ask: Ask, v: Value, chain: tuple[str, ...], *, exact: bool) -> list[str]:
    """The requested units a value counts under (NONE: only its own unit, for the exact period)."""
    if ask.level is not None:
        if len(chain) < ask.level or (ask.under and not set(ask.under).intersection(chain)):
            return []
        candidates = [chain[ask.level - 1]]
    else:
        candidates = [u for u in ask.units if u in chain]
    if ask.aggregation == "NONE":
        return [u for u in candidates if u == v.unit and exact]
    return candidates


def aggregate(aggregation: str, group: Sequence[Value]) -> float:
    """One cell's value from the values counted in it."""
    if aggregation == "COUNT":
        return float(len(group))
    cells: dict[tuple[str, pe.Period], float] = defaultdict(float)  # combos summed per unit and period
    for v in group:
        cells[(v.unit, parsed(v.period))] += v.number
    numbers = list(cells.values())
    if aggregation in ("SUM", "NONE"):
        return sum(numbers)
    if aggregation == "AVERAGE":
        return fmean(numbers)
    if aggregation == "MIN":
        return min(numbers)
    if aggregation == "MAX":
        return max(numbers)
    series: dict[str, list[tuple[pe.Period, float]]] = defaultdict(list)
    for (unit, period), number in cells.items():
        series[unit].append((period, number))
    if aggregation == "AVERAGE_SUM_ORG_UNIT":
        return sum(fmean(n for _, n in s) for s in series.values())
    latest = [max(s, key=lambda item: (item[0].end, item[0].start))[1] for s in series.values()]
    if aggregation == "LAST":
        return sum(latest)
    if aggregation == "LAST_AVERAGE_ORG_UNIT":
        return fmean(latest)
    raise AssertionError(f"unknown aggregation {aggregation}")


def synthetic(aggregation: str, group: Sequence[Value]) -> bool:
    """Whether a synthetic value contributes: for the LAST types, one of a unit's latest period."""
    if aggregation not in ("LAST", "LAST_AVERAGE_ORG_UNIT"):
        return any(v.synthetic for v in group)
    latest: dict[str, pe.Period] = {}
    for v in group:
        period = parsed(v.period)
        if v.unit not in latest or (period.end, period.start) > (latest[v.unit].end, latest[v.unit].start):
            latest[v.unit] = period
    return any(v.synthetic for v in group if parsed(v.period) == latest[v.unit])


@dataclass(frozen=True)
class Term:
    """One reference in an indicator's sum: ``#{ELEMENT}`` or ``#{ELEMENT.COC}``."""

    element: str
    coc: str | None = None


def indicator(
    numerator: Sequence[Term],
    denominator: Sequence[Term],
    factor: float,
    *,
    aggregations: Mapping[str, str],
    values: Sequence[Value],
    tree: Tree,
    period: str,
    unit: str,
    scope: frozenset[str] | None = None,
) -> tuple[float | None, bool] | None:
    """A sum-over-sum indicator at one unit: (value, synthetic); None when no term has data.

    The value is None when the denominator is zero (a term without data counts as 0).
    """
    found: list[tuple[float, bool]] = []

    def total(terms: Sequence[Term]) -> float:
        out = 0.0
        for term in terms:
            ask = Ask(term.element, term.coc, aggregations[term.element], period, units=(unit,), scope=scope)
            cell = expected(ask, values, tree, ()).get((unit, ()))
            if cell is not None:
                found.append(cell)
                out += cell[0]
        return out

    top, bottom = total(numerator), total(denominator)
    if not found:
        return None
    if bottom == 0:
        return None, False
    return top / bottom * factor, any(synthetic for _, synthetic in found)
