"""What the analytics engine is asked and what it answers: plain values, no database.

A :class:`CubeQuery` names measures (an element's total or one of its option combos, with the
aggregation to apply), requested periods, and the units to aggregate under; the engine answers
with :class:`Cell` s, one per measure, unit, requested period (and breakdown item) that has data.
A missing cell means no value contributed, never zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

from jiaowei.indicators import periods as pe
from jiaowei.indicators.model import AggregationType

MAX_LEVEL = 8
"""The deepest level a value's ancestors are recorded at (the root is level 1)."""

# Aggregations that sum over units in the last step, and those that need each unit's series first.
SUM_OVER_UNITS = frozenset(
    {
        AggregationType.SUM,
        AggregationType.COUNT,
        AggregationType.LAST,
        AggregationType.AVERAGE_SUM_ORG_UNIT,
    }
)
PER_UNIT_FIRST = frozenset(
    {
        AggregationType.AVERAGE_SUM_ORG_UNIT,
        AggregationType.LAST,
        AggregationType.LAST_AVERAGE_ORG_UNIT,
    }
)


@dataclass(frozen=True)
class Measure:
    """An element's total (``coc_id`` None: its option combos summed) or one option combo's values."""

    element_id: int
    coc_id: int | None
    aggregation: AggregationType


@dataclass(frozen=True)
class CubeQuery:
    """Measures × requested periods × units.

    Units are either ``units`` (each one's subtree as of each value's period; for ``NONE`` its own
    value) or ``level`` (each value's ancestor at that level), optionally only ``under`` some units.
    ``categories`` and ``group_sets`` break the cells down by option and by unit group.
    ``scope`` limits the values counted to those under one of its units (None: no limit).
    """

    measures: tuple[Measure, ...]
    periods: tuple[pe.Period, ...]
    units: tuple[int, ...] = ()
    level: int | None = None
    under: tuple[int, ...] = ()
    categories: tuple[int, ...] = ()
    group_sets: tuple[int, ...] = ()
    scope: frozenset[int] | None = None


class Cell(NamedTuple):
    """One aggregated value: a measure at a unit for a requested period (and breakdown items).

    A named tuple, not a dataclass: a query may answer with tens of thousands of them.
    """

    element_id: int
    coc_id: int | None
    unit_id: int
    period: str
    value: float
    synthetic: bool
    breakdown: tuple[int, ...] = ()

    @property
    def key(self) -> tuple[int, int | None, int, str, tuple[int, ...]]:
        return (self.element_id, self.coc_id, self.unit_id, self.period, self.breakdown)


class Engine(Protocol):
    """The seam between analytics and its engine: everything above it asks only this.

    :class:`jiaowei.analytics.engine.BoundCube` (DuckDB's copy of the store, SQLite or PostgreSQL)
    is the one engine today; a ClickHouse or Citus engine for a national ministry would answer the
    same queries (decision 0014), and the aggregation tests would run on it unchanged.
    """

    def query(self, q: CubeQuery) -> list[Cell]: ...
