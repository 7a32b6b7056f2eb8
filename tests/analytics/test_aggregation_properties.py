"""Property: on any small tree with moves and any values, the engine answers as the reference does.

Each example builds, inside a savepoint rolled back afterwards, a commission with two districts and
two to four schools (some moving to the other district on any day of 2020–2021), random monthly
values of a disaggregated element, quarterly values of a plain one, and values of mixed period
types (a month and a quarter beginning or ending the same day) at every level. Then, for each
aggregation type in turn, it asks one query of two measures over several periods, explicit units
or ``UNIT;LEVEL-n``, a scope and a category breakdown, and compares every cell with
:func:`reference.expected`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection

from jiaowei.analytics.engine import cube_for
from jiaowei.indicators.model import DEFAULT
from tests.analytics.aggregation_fixtures import (
    COCS,
    COMBO_CATEGORIES,
    MONTHS,
    ROOT,
    TEACHERS,
    Ids,
    answer,
    assert_same,
    cube_query,
    load_ids,
    make_metadata,
    make_tree,
    save_values,
)
from tests.analytics.reference import AGGREGATIONS, Ask, Tree, Value, expected

QUARTERS = ("2020Q1", "2020Q2", "2020Q3", "2020Q4", "2021Q1", "2021Q2", "2021Q3")
ASKED = ("2020", "2020Q1", "2020Q3", "2021Q1", "202003", "202007", "202008", "2020S1", "2020S2", "2020SY",
         "2021")
MIXED = ("2020", "2020SY", "2020Q3", "202007", "202009", "2021")  # Q3 begins with July, ends with September
DISTRICTS = ("D1", "D2")


@dataclasses.dataclass(frozen=True)
class Example:
    schools: dict[str, str]
    moves: tuple[tuple[str, dt.date, str], ...]
    values: tuple[Value, ...]
    asks: tuple[Ask, Ask]  # one per measure, sharing everything else
    periods: tuple[str, ...]

    @property
    def units(self) -> tuple[str, ...]:
        return (ROOT, *DISTRICTS, *self.schools)


numbers = st.integers(min_value=0, max_value=100).map(float)


@st.composite
def examples(draw: st.DrawFn) -> Example:
    count = draw(st.integers(min_value=2, max_value=4))
    schools = {f"S{i}": DISTRICTS[(i + draw(st.integers(0, 1))) % 2] for i in range(1, count + 1)}
    days = st.dates(dt.date(2020, 1, 2), dt.date(2021, 8, 31))
    moves = tuple(
        (school, draw(days), "D2" if district == "D1" else "D1")
        for school, district in schools.items()
        if draw(st.booleans())
    )
    units = (ROOT, *DISTRICTS, *schools)
    flags = st.booleans() if draw(st.booleans()) else st.just(False)
    values = [
        *draw(st.lists(st.builds(Value, st.sampled_from(list(schools)), st.sampled_from(MONTHS),
                                 st.just("E_SUM"), st.sampled_from(COCS), numbers, flags),
                       min_size=15, max_size=50, unique_by=lambda v: (v.unit, v.period, v.coc))),
        *draw(st.lists(st.builds(Value, st.sampled_from(list(schools)), st.sampled_from(QUARTERS),
                                 st.just(TEACHERS), st.just(DEFAULT), numbers, flags),
                       min_size=4, max_size=12, unique_by=lambda v: (v.unit, v.period))),
        *draw(st.lists(st.builds(Value, st.sampled_from(units), st.sampled_from(MIXED),
                                 st.just("E_NONE"), st.sampled_from(COCS), numbers, flags),
                       min_size=4, max_size=12, unique_by=lambda v: (v.unit, v.period, v.coc))),
    ]
    return Example(schools, moves, tuple(values), draw(asks(units)),
                   tuple(draw(st.lists(st.sampled_from(ASKED), min_size=1, max_size=4, unique=True))))


@st.composite
def asks(draw: st.DrawFn, units: tuple[str, ...]) -> tuple[Ask, Ask]:
    """Two measures' questions sharing units, scope and breakdown; the aggregation is set later."""
    subsets = st.lists(st.sampled_from(units), min_size=1, max_size=3, unique=True).map(tuple)
    if draw(st.booleans()):
        where: dict[str, object] = {"units": draw(subsets)}
    else:
        where = {"level": draw(st.sampled_from((2, 3))), "under": draw(st.just(()) | subsets)}
    scope = draw(st.none() | subsets.map(frozenset))
    categories = draw(st.sampled_from(((), (), ("SEX",), ("AREA", "SEX"))))
    first = Ask(draw(st.sampled_from(("E_SUM", "E_SUM", "E_NONE"))), draw(st.none() | st.sampled_from(COCS)),
                "", "", scope=scope, categories=categories, **where)  # type: ignore[arg-type]
    if categories:  # the plain element has no categories to break down by: ask the other combo instead
        second = dataclasses.replace(first, element="E_SUM" if first.element == "E_NONE" else "E_NONE")
    else:
        second = dataclasses.replace(first, element=TEACHERS, coc=None)
    return first, second


def test_the_engine_answers_as_the_reference_does(conn: Connection) -> None:
    make_metadata(conn)
    answered: list[int] = []  # cells per example: the examples must not all be empty

    # No shrinking: every example builds its tree through the services, so shrinking a failure takes
    # minutes; the failure names the question and the cell, and Hypothesis prints the whole example.
    @settings(max_examples=20, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(examples())
    def check(example: Example) -> None:
        savepoint = conn.begin_nested()
        try:
            tree = make_tree(conn, example.schools, example.moves, DISTRICTS)
            save_values(conn, example.values)
            ids = load_ids(conn, example.units)
            count = 0
            for first, second in zip(AGGREGATIONS, AGGREGATIONS[3:] + AGGREGATIONS[:3], strict=True):
                asks = (dataclasses.replace(example.asks[0], aggregation=first),
                        dataclasses.replace(example.asks[1], aggregation=second))
                count += compare(conn, example, ids, tree, asks)
            answered.append(count)
        finally:
            savepoint.rollback()

    check()
    assert sum(1 for n in answered if n) >= len(answered) // 2, answered


def compare(conn: Connection, example: Example, ids: Ids, tree: Tree, asks: tuple[Ask, Ask]) -> int:
    """One query of both measures over all the example's periods, checked cell by cell."""
    queries = [cube_query(ask, ids, periods=example.periods) for ask in asks]
    query = dataclasses.replace(queries[0], measures=(*queries[0].measures, *queries[1].measures))
    cells = cube_for(conn).query(query)
    assert {c.period for c in cells} <= set(example.periods)
    for ask in asks:
        for period in example.periods:
            asked = dataclasses.replace(ask, period=period)
            want = expected(asked, example.values, tree, COMBO_CATEGORIES)
            assert_same(answer(cells, asked, ids), want, asked)
    return len(cells)
