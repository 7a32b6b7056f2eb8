"""The analytics engine: :func:`cube_for` gives the current copy, :meth:`BoundCube.query` aggregates.

One :class:`~jiaowei.analytics.cube.Cube` per database (SQLAlchemy engine), refreshed from the
change feed at the start of every read, so a value saved is in the very next answer. Every
aggregate in jiaowei is computed here, in one SQL statement per aggregation type.

How a measure aggregates (``AggregationType``, as DHIS2 defines them). A *cell* is one unit's value
for one stored period: its option combos summed (an operand takes its one combo). A unit's latest
cell is the one whose period ends last (of two ending the same day, the one that starts later).

==============================  =========================================================
SUM                             the sum of every value
COUNT                           the number of values
AVERAGE                         the mean of the cells, over units and periods together
AVERAGE_SUM_ORG_UNIT            each unit's mean over its periods, summed over units
LAST                            each unit's latest cell in the period, summed over units
LAST_AVERAGE_ORG_UNIT           each unit's latest cell in the period, averaged over units
MIN, MAX                        the smallest, the largest cell
NONE                            only the value stored at exactly the unit and period
==============================  =========================================================

Periods roll up by containment: a stored period counts in a requested one when it lies inside it
(a month in its quarter, year and school year). Units: a value counts under the ancestors its unit
had on its period's last day (see :mod:`jiaowei.analytics.cube`). The scope is a condition of
the same statement, so nothing outside it is ever read into an answer.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, select

from jiaowei.analytics.cube import LEVELS, Cube
from jiaowei.analytics.model import Cell, CubeQuery, Measure
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.model import AggregationType
from jiaowei.registry import queries as registry
from jiaowei.settings import get_settings

_CUBES: weakref.WeakKeyDictionary[Engine, Cube] = weakref.WeakKeyDictionary()
_CUBES_LOCK = threading.Lock()


def cube_for(conn: Connection) -> BoundCube:
    """The analytics copy of ``conn``'s database, brought up to what ``conn`` sees."""
    with _CUBES_LOCK:
        cube = _CUBES.get(conn.engine)
        if cube is None:
            settings = get_settings()
            cube = _CUBES[conn.engine] = Cube(
                settings.analytics_dir,
                threads=settings.analytics_threads,
                memory_limit=settings.analytics_memory_limit,
            )
    cube.refresh(conn)
    return BoundCube(cube, conn)


def forget(engine: Engine) -> None:
    """Drop the copy of ``engine``'s database (its file goes too); the next read rebuilds it."""
    with _CUBES_LOCK:
        cube = _CUBES.pop(engine, None)
    if cube is not None:
        cube.close()


@dataclass
class _Branch:
    """One SELECT feeding an aggregation: which measures, which units, what ``ou`` each row counts for."""

    measure_filter: str
    coc: str
    ou: str
    unit_filter: str


class BoundCube:
    """A refreshed cube and the store connection that maps breakdowns (categories, groups)."""

    def __init__(self, cube: Cube, conn: Connection) -> None:
        self.cube = cube
        self.conn = conn

    def query(self, q: CubeQuery) -> list[Cell]:
        """Every non-empty cell of the query (see the module docstring)."""
        period_ids = [p.id for p in q.periods]
        cells: list[Cell] = []
        for statement, width in self._statements(q):
            cells += [
                Cell(row[0], row[1], row[2], period_ids[row[3]], float(row[-2]), row[-1], row[4:width])
                for row in self.cube.cursor().execute(statement).fetchall()
            ]
        return cells

    def query_columns(self, q: CubeQuery) -> dict[str, Any]:
        """The same cells as column arrays (NumPy), without a Python object per cell: for large
        answers read by code (exports, charts, the benchmark). Keys: element_id, coc_id (-1 for an
        element's total), unit_id, period (the index of the requested period), value, synthetic, and
        b0, b1, … for the breakdown."""
        parts = [self.cube.cursor().execute(statement).fetchnumpy() for statement, _ in self._statements(q)]
        names = ["element_id", "coc_id", "unit_id", "period"]
        if not parts:
            return {name: np.array([], dtype=np.int64) for name in [*names, "value", "synthetic"]}
        labels = [*names, *(f"b{i}" for i in range(len(parts[0]) - 6)), "value", "synthetic"]
        columns = [list(part.values()) for part in parts]  # by position: the value's name differs by type
        return {
            label: np.concatenate([np.ma.filled(part[n], -1) for part in columns])
            for n, label in enumerate(labels)
        }

    def _statements(self, q: CubeQuery) -> list[tuple[str, int]]:
        """One SQL statement per aggregation type in the query, with the width of its keys."""
        if not q.measures or not q.periods or (not q.units and q.level is None):
            return []
        if q.scope is not None and not q.scope:
            return []
        cur = self.cube.cursor()
        known = self.cube.depths
        depths = {u: known[u] for u in {*q.units, *q.under, *(q.scope or ())} if u in known}
        joins, breakdown = self._breakdown_joins(cur, q)
        by_type: dict[AggregationType, list[Measure]] = defaultdict(list)
        for m in q.measures:
            by_type[m.aggregation].append(m)
        lists = _Lists(cur)
        statements = []
        for kind, measures in by_type.items():
            exact = kind is AggregationType.NONE
            branches = list(_branches(measures, q, depths, lists, own=exact))
            if branches:
                rolled = kind in (AggregationType.SUM, AggregationType.COUNT) and _rolls_up(q, depths)
                period_map = _periods_sql(q.periods, self.cube.stored_periods, exact=exact)
                if period_map is None:  # no stored period lies in a requested one
                    continue
                scope = _scope_filter(q.scope, depths, lists)
                sql = _statement(kind, branches, period_map, joins, breakdown, scope, rolled=rolled)
                statements.append((sql, 4 + len(breakdown)))
        return statements

    def _breakdown_joins(self, cur: Any, q: CubeQuery) -> tuple[str, list[str]]:
        joins, columns = [], []
        if q.categories:
            _register_options(cur, self.conn)
            for n, category in enumerate(q.categories):
                joins.append(
                    f"JOIN coc_options co{n} ON co{n}.coc_id = v.coc_id"
                    f" AND co{n}.category_id = {int(category)}"
                )
                columns.append(f"co{n}.option_id")
        if q.group_sets:
            members = registry.group_set_members(self.conn, q.group_sets)
            cur.register(
                "group_members",
                {
                    name: np.array([m[i] for m in members], dtype=np.int64)
                    for i, name in enumerate(("set_id", "group_id", "unit_id"))
                },
            )
            for n, group_set in enumerate(q.group_sets):
                joins.append(
                    f"JOIN group_members gs{n} ON gs{n}.unit_id = v.unit_id"
                    f" AND gs{n}.set_id = {int(group_set)}"
                )
                columns.append(f"gs{n}.group_id")
        return " ".join(joins), columns


ROLLED_LEVELS = 2  # the roll-up keeps the ancestors at levels 1 and 2 (city, district)


def _rolls_up(q: CubeQuery, depths: dict[int, set[int]]) -> bool:
    """Whether the roll-up answers the query: no unit groups, and every unit, level, ``under`` and
    scope unit at a level it keeps."""
    named = [*q.units, *q.under, *(q.scope or ())]
    shallow = all(d <= ROLLED_LEVELS for unit in named for d in depths.get(unit, ()))
    return not q.group_sets and shallow and (q.level is None or q.level <= ROLLED_LEVELS)


def _ids(values: Iterable[int]) -> str:
    return ", ".join(str(int(v)) for v in sorted(set(values)))


class _Lists:
    """``column IN (…)`` for id lists: short ones written out, long ones (thousands of schools) passed
    as a table, which DuckDB joins in a fraction of the time it takes to parse and test the list."""

    SHORT = 64

    def __init__(self, cur: Any) -> None:
        self.cur = cur
        self.count = 0

    def within(self, column: str, ids: Iterable[int]) -> str:
        wanted = sorted({int(i) for i in ids})
        if len(wanted) <= self.SHORT:
            return f"{column} IN ({_ids(wanted)})"
        self.count += 1
        name = f"wanted_{self.count}"
        self.cur.register(name, {"id": np.array(wanted, dtype=np.int64)})
        return f"{column} IN (SELECT id FROM {name})"


def _under(unit_ids: Iterable[int], depths: dict[int, set[int]], lists: _Lists) -> str | None:
    """A condition: the row counts under one of the units (None when none of them has a path)."""
    by_depth: dict[int, list[int]] = defaultdict(list)
    for unit_id in unit_ids:
        for depth in depths.get(unit_id, ()):
            if depth <= len(LEVELS):
                by_depth[depth].append(unit_id)
    if not by_depth:
        return None
    return "(" + " OR ".join(lists.within(f"v.l{d}", ids) for d, ids in sorted(by_depth.items())) + ")"


def _scope_filter(scope: frozenset[int] | None, depths: dict[int, set[int]], lists: _Lists) -> str:
    if scope is None:
        return "TRUE"
    return _under(scope, depths, lists) or "FALSE"


def _measure_filters(measures: Sequence[Measure]) -> list[tuple[str, str]]:
    totals = [m.element_id for m in measures if m.coc_id is None]
    operands = [(m.element_id, m.coc_id) for m in measures if m.coc_id is not None]
    out = []
    if totals:
        out.append((f"v.element_id IN ({_ids(totals)})", "CAST(NULL AS INTEGER)"))
    if operands:
        pairs = ", ".join(f"({int(e)}, {int(c)})" for e, c in sorted(set(operands)))  # type: ignore[arg-type]
        out.append((f"(v.element_id, v.coc_id) IN ({pairs})", "v.coc_id"))
    return out


def _branches(
    measures: Sequence[Measure], q: CubeQuery, depths: dict[int, set[int]], lists: _Lists, *, own: bool
) -> Iterable[_Branch]:
    units: list[tuple[str, str]] = []  # (ou expression, condition)
    if q.units and own:
        units.append(("v.unit_id", lists.within("v.unit_id", q.units)))
    elif q.units:
        by_depth: dict[int, list[int]] = defaultdict(list)
        for unit_id in q.units:
            for depth in depths.get(unit_id, ()):
                by_depth[depth].append(unit_id)
        units += [
            (f"v.l{d}", lists.within(f"v.l{d}", ids))
            for d, ids in sorted(by_depth.items())
            if d <= len(LEVELS)
        ]
    if q.level is not None and 1 <= q.level <= len(LEVELS):
        where = f"v.depth = {int(q.level)}" if own else f"v.l{int(q.level)} IS NOT NULL"
        if q.under:
            within = _under(q.under, depths, lists)
            where = f"{where} AND {within}" if within else "FALSE"
        units.append(("v.unit_id" if own else f"v.l{int(q.level)}", where))
    for measure_filter, coc in _measure_filters(measures):
        for ou, condition in units:
            yield _Branch(measure_filter, coc, ou, condition)


@dataclass(frozen=True)
class _PeriodSql:
    """How a statement maps each row's stored period to the index of the requested one."""

    head: str  # a WITH clause, or nothing
    column: str
    join: str
    where: str


def _periods_sql(
    periods: Sequence[pe.Period], stored: dict[int, tuple[dt.date, dt.date]], *, exact: bool
) -> _PeriodSql | None:
    """A CASE over the few stored periods when each rolls up into one requested period (the common
    case, and a third faster), else a join to the (stored, requested) pairs; None when none does."""
    pairs: dict[int, list[int]] = defaultdict(list)
    for stored_id, (start, end) in stored.items():
        for index, p in enumerate(periods):
            if (start == p.start and end == p.end) if exact else (start >= p.start and end <= p.end):
                pairs[stored_id].append(index)
    if not pairs:
        return None
    if len(pairs) <= _Lists.SHORT and all(len(i) == 1 for i in pairs.values()):
        case = " ".join(f"WHEN {int(s)} THEN {i[0]}" for s, i in sorted(pairs.items()))
        return _PeriodSql("", f"CASE v.period_id {case} END", "", f"v.period_id IN ({_ids(pairs)}) AND ")
    rows = ", ".join(f"({int(s)}, {i})" for s, indexes in sorted(pairs.items()) for i in indexes)
    return _PeriodSql(
        f"pm(period_id, pe) AS (VALUES {rows}), ", "pm.pe", "JOIN pm ON pm.period_id = v.period_id", ""
    )


def _statement(
    kind: AggregationType,
    branches: Sequence[_Branch],
    period_map: _PeriodSql,
    joins: str,
    breakdown: Sequence[str],
    scope: str,
    *,
    rolled: bool = False,
) -> str:
    """The SQL of one aggregation type; ``rolled`` reads the roll-up (SUM and COUNT, levels 1–2)."""
    if rolled:  # the roll-up's rows are sums and counts already: a count adds its counts up
        source, count = "roll", "sum(num)"
        row = f"NULL AS u, NULL AS sd, v.{'cnt' if kind is AggregationType.COUNT else 'num'} AS num"
    else:
        # a cell is a unit's value in one stored period; the latest is the one that ends last (then
        # starts last): a month and the quarter it begins are two cells, the month not the latest
        source, count = "vals", "count(num)"
        row = "v.unit_id AS u, (v.end_date, v.start_date, v.period_id) AS sd, v.num AS num"
    b_select = "".join(f", {column} AS b{n}" for n, column in enumerate(breakdown))
    b_names = "".join(f", b{n}" for n in range(len(breakdown)))
    selects = [
        f"SELECT v.element_id AS e, {b.coc} AS c, {b.ou} AS ou, {period_map.column} AS pe{b_select},"
        f" {row}, v.synthetic AS syn"
        f" FROM {source} v {period_map.join} {joins}"
        f" WHERE {period_map.where}{b.measure_filter} AND {b.unit_filter} AND {scope}"
        for b in branches
    ]
    keys = f"e, c, ou, pe{b_names}"
    head = f"WITH {period_map.head}base AS ({' UNION ALL '.join(selects)})"
    if kind in (AggregationType.SUM, AggregationType.NONE):
        return f"{head} SELECT {keys}, sum(num), bool_or(syn) FROM base GROUP BY {keys}"
    if kind is AggregationType.COUNT:
        return f"{head} SELECT {keys}, {count}, bool_or(syn) FROM base GROUP BY {keys}"
    cells = (
        f"{head}, cells AS (SELECT {keys}, u, sd, sum(num) AS cell, bool_or(syn) AS syn"
        f" FROM base GROUP BY {keys}, u, sd)"
    )
    if kind in (AggregationType.AVERAGE, AggregationType.MIN, AggregationType.MAX):
        function = {AggregationType.AVERAGE: "avg", AggregationType.MIN: "min", AggregationType.MAX: "max"}[
            kind
        ]
        return f"{cells} SELECT {keys}, {function}(cell), bool_or(syn) FROM cells GROUP BY {keys}"
    per_unit = "avg(cell)" if kind is AggregationType.AVERAGE_SUM_ORG_UNIT else "arg_max(cell, sd)"
    over_units = "avg" if kind is AggregationType.LAST_AVERAGE_ORG_UNIT else "sum"
    syn = "bool_or(syn)" if kind is AggregationType.AVERAGE_SUM_ORG_UNIT else "arg_max(syn, sd)"
    return (
        f"{cells}, units AS (SELECT {keys}, u, {per_unit} AS x, {syn} AS syn FROM cells GROUP BY {keys}, u)"
        f" SELECT {keys}, {over_units}(x), bool_or(syn) FROM units GROUP BY {keys}"
    )


def _register_options(cur: Any, conn: Connection) -> None:
    """``coc_options``: each option combo's option in each of its categories."""
    coc, ccc, co = store.category_option_combos, store.category_combo_categories, store.category_options
    categories: dict[int, list[int]] = defaultdict(list)
    for row in conn.execute(
        select(ccc.c.combo_id, ccc.c.category_id).order_by(ccc.c.combo_id, ccc.c.position)
    ):
        categories[int(row.combo_id)].append(int(row.category_id))
    option_ids = {
        (int(r.category_id), r.code): int(r.id)
        for r in conn.execute(select(co.c.id, co.c.category_id, co.c.code))
    }
    out: dict[str, list[int]] = {"coc_id": [], "category_id": [], "option_id": []}
    for combo in conn.execute(select(coc.c.id, coc.c.combo_id, coc.c.options)):
        for category_id, code in zip(
            categories.get(int(combo.combo_id), []), combo.options or [], strict=False
        ):
            option_id = option_ids.get((category_id, code))
            if option_id is not None:
                out["coc_id"].append(int(combo.id))
                out["category_id"].append(category_id)
                out["option_id"].append(option_id)
    cur.register("coc_options", {name: np.array(column, dtype=np.int64) for name, column in out.items()})
