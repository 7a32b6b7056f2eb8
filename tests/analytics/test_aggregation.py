"""Aggregation correctness: the analytics engine against a plain reference, on both databases.

The data is built through jiaowei's services (units, moves, metadata, values). Small worlds with
numbers worked out by hand pin the rules down; a generated world (:func:`standard_world`, about
1,800 values) is asked every aggregation type, period and unit selection, and each answer must
equal :func:`reference.expected`'s.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import Connection

from jiaowei.analytics.engine import cube_for
from jiaowei.auth.model import SYSTEM
from jiaowei.errors import ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators.metadata import bundle
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.model import DEFAULT, AggregationType
from jiaowei.indicators.values import service as values_service
from jiaowei.registry import service as registry_service
from tests.analytics.aggregation_fixtures import (
    COMBO_CATEGORIES,
    ELEMENTS,
    MOVES,
    SCHOOLS,
    TEACHERS,
    IndicatorSpec,
    World,
    answer,
    ask_engine,
    assert_same_indicators,
    check,
    cube_query,
    engine_indicators,
    load_ids,
    make_metadata,
    make_tree,
    move_unit,
    reference_indicators,
    save_values,
    standard_world,
)
from tests.analytics.reference import AGGREGATIONS, Ask, Term, Tree, Value, expected

PERIODS = ("2020", "2020Q1", "2020Q3", "2020S2", "202008", "2020SY", "2021")
UNITS = ("SH", "D1", "D2", "S1", "S3", "S5")


def small_world(conn: Connection, values: list[Value], moves: bool = True) -> World:
    """Metadata and the standard tree (with its moves unless told not to), and ``values``."""
    make_metadata(conn)
    tree = make_tree(conn, SCHOOLS, MOVES if moves else ())
    save_values(conn, values)
    return World(tree, tuple(values), load_ids(conn, tree.parents))


def teachers(unit: str, period: str, number: float, synthetic: bool = False) -> Value:
    return Value(unit, period, TEACHERS, DEFAULT, number, synthetic)


def by_unit(got: dict[tuple[str, tuple[str, ...]], tuple[float, bool]]) -> dict[str, float]:
    return {unit: value for (unit, _), (value, _) in got.items()}


# ---------------------------------------------------------------- every aggregation type, by hand

# D1 in 2020Q1: S1 has January 1, February 2, March 3; S2 has January 10, February 20; D1 itself
# has 99 for the quarter. Each aggregation type worked out by hand.
BY_HAND = {
    "SUM": 135.0,
    "AVERAGE": 135 / 6,  # over units and periods together
    "AVERAGE_SUM_ORG_UNIT": 2 + 15 + 99,  # each unit's mean over periods, summed
    "LAST": 3 + 20 + 99,  # each unit's latest period, summed
    "LAST_AVERAGE_ORG_UNIT": (3 + 20 + 99) / 3,
    "MIN": 1.0,
    "MAX": 99.0,
    "COUNT": 6.0,
    "NONE": 99.0,  # only D1's own value for exactly 2020Q1
}
BY_HAND_VALUES = [
    teachers("S1", "202001", 1),
    teachers("S1", "202002", 2),
    teachers("S1", "202003", 3),
    teachers("S2", "202001", 10),
    teachers("S2", "202002", 20),
    teachers("D1", "2020Q1", 99),
]


@pytest.mark.parametrize("kind", AGGREGATIONS)
def test_each_aggregation_type_by_hand(conn: Connection, kind: str) -> None:
    world = small_world(conn, BY_HAND_VALUES, moves=False)
    ask = Ask(TEACHERS, None, kind, "2020Q1", units=("D1", "S1"))
    got = by_unit(check(conn, world, ask))
    assert got["D1"] == pytest.approx(BY_HAND[kind])
    if kind == "NONE":
        assert "S1" not in got  # S1 stored months, not the quarter
        assert by_unit(check(conn, world, Ask(TEACHERS, None, kind, "202002", units=("S1", "D1")))) == {
            "S1": 2.0
        }


def test_option_combos_are_summed_per_unit_and_period_before_min_and_count(conn: Connection) -> None:
    cells = [("S1", "M_URBAN", 1), ("S1", "M_RURAL", 2), ("S1", "F_URBAN", 4), ("S2", "F_RURAL", 8)]
    values = [Value(unit, "202001", "E_SUM", coc, n) for unit, coc, n in cells]
    world = small_world(conn, values)
    expectations = {"SUM": 15.0, "MIN": 7.0, "MAX": 8.0, "COUNT": 4.0, "AVERAGE": 7.5}
    for kind, want in expectations.items():
        got = by_unit(check(conn, world, Ask("E_SUM", None, kind, "2020", units=("D1",))))
        assert got == {"D1": want}, kind


# ---------------------------------------------------------------- the versioned hierarchy


def test_a_school_that_moves_mid_year_splits_its_year(conn: Connection) -> None:
    """S3 moves D1 → D2 on 1 July, S5 moves D2 → D1 on 15 August (August counts under D1)."""
    world = small_world(
        conn, [teachers("S3", f"2020{m:02d}", 10) for m in range(1, 13)]
        + [teachers("S5", f"2020{m:02d}", 1) for m in range(1, 13)]
    )
    year = by_unit(check(conn, world, Ask(TEACHERS, None, "SUM", "2020", units=("SH", "D1", "D2"))))
    assert year == {"SH": 132.0, "D1": 60 + 5, "D2": 60 + 7}
    q3 = by_unit(check(conn, world, Ask(TEACHERS, None, "SUM", "2020Q3", units=("D1", "D2"))))
    assert q3 == {"D1": 2.0, "D2": 31.0}
    august = by_unit(check(conn, world, Ask(TEACHERS, None, "SUM", "202008", units=("D1", "D2"))))
    assert august == {"D1": 1.0, "D2": 10.0}
    last = by_unit(check(conn, world, Ask(TEACHERS, None, "LAST", "2020", units=("D1", "D2"))))
    assert last == {"D1": 10 + 1, "D2": 10 + 1}  # S3 in June and S5 in December; S5 in July, S3 in December


def test_a_value_whose_period_spans_a_move_counts_under_the_parent_on_its_last_day(conn: Connection) -> None:
    world = small_world(
        conn, [teachers("S5", "2020Q2", 50), teachers("S5", "2020Q3", 100), teachers("S3", "2020", 7)]
    )
    sums = {
        period: by_unit(check(conn, world, Ask(TEACHERS, None, "SUM", period, units=("D1", "D2"))))
        for period in ("2020Q2", "2020Q3", "2020")
    }
    assert sums == {"2020Q2": {"D2": 50.0}, "2020Q3": {"D1": 100.0}, "2020": {"D1": 100.0, "D2": 57.0}}


def test_a_unit_closed_before_the_periods_end_counts_under_its_last_parent(conn: Connection) -> None:
    """S3 moves to D2 on 1 July and closes on 1 October: its 2020 value counts under D2."""
    values = [teachers("S3", "2020", 5), teachers("S3", "202003", 1), teachers("S3", "202009", 2)]
    world = small_world(conn, values)
    registry_service.close_unit(conn, principal=SYSTEM, code="S3", effective=dt.date(2020, 10, 1))
    got = by_unit(check(conn, world, Ask(TEACHERS, None, "SUM", "2020", units=("SH", "D1", "D2"))))
    assert got == {"SH": 8.0, "D1": 1.0, "D2": 7.0}


def test_level_under_a_unit_follows_each_values_period(conn: Connection) -> None:
    world = small_world(conn, [teachers("S3", f"2020{m:02d}", 10) for m in range(1, 13)])
    districts = by_unit(check(conn, world, Ask(TEACHERS, None, "SUM", "2020", level=2, under=("SH",))))
    assert districts == {"D1": 60.0, "D2": 60.0}
    for period, where in (("2020Q1", "D1"), ("2020Q3", "D2")):
        for district in ("D1", "D2"):
            got = by_unit(check(conn, world, Ask(TEACHERS, None, "SUM", period, level=3, under=(district,))))
            assert got == ({"S3": 30.0} if district == where else {}), (period, district)


# ---------------------------------------------------------------- periods


def test_months_roll_up_into_quarter_half_year_year_and_school_year(conn: Connection) -> None:
    months = [f"2020{m:02d}" for m in range(1, 13)] + [f"2021{m:02d}" for m in range(1, 9)]
    world = small_world(conn, [teachers("S1", month, i) for i, month in enumerate(months, 1)])
    school_year = pe.parse("2020SY")
    assert (school_year.start, school_year.end) == (dt.date(2020, 9, 1), dt.date(2021, 8, 31))
    sums = {"2020Q1": 6, "2020S2": 57, "2020": 78, "2020SY": sum(range(9, 21)), "2021": sum(range(13, 21)),
            "202105": 17}
    for period, want in sums.items():
        assert by_unit(check(conn, world, Ask(TEACHERS, None, "SUM", period, units=("D1",)))) == {"D1": want}
    others = {("AVERAGE", "2020Q1"): 2.0, ("LAST", "2020"): 12.0, ("LAST", "2020SY"): 20.0,
              ("MIN", "2020SY"): 9.0, ("MAX", "2020S2"): 12.0, ("COUNT", "2020SY"): 12.0}
    for (kind, period), want in others.items():
        got = by_unit(check(conn, world, Ask(TEACHERS, None, kind, period, units=("D1",))))
        assert got == {"D1": want}, (kind, period)


def test_a_month_and_a_quarter_are_two_cells_and_the_latest_ends_last(conn: Connection) -> None:
    """An element reported monthly and quarterly: 202007, 2020Q3 and 202009 are three cells of S1.

    202007 and 2020Q3 begin the same day; 202009 and 2020Q3 end the same day, and the month, which
    begins later, is the latest.
    """
    values = [teachers("S1", "202007", 40), teachers("S1", "2020Q3", 48), teachers("S1", "202009", 30),
              teachers("S2", "202008", 6)]
    world = small_world(conn, values, moves=False)
    want = {"SUM": 124.0, "AVERAGE": 31.0, "MIN": 6.0, "MAX": 48.0, "COUNT": 4.0,
            "AVERAGE_SUM_ORG_UNIT": 118 / 3 + 6, "LAST": 30 + 6, "LAST_AVERAGE_ORG_UNIT": 18.0}
    for kind, value in want.items():
        got = by_unit(check(conn, world, Ask(TEACHERS, None, kind, "2020", units=("D1",))))
        assert got == {"D1": pytest.approx(value)}, kind


def test_several_requested_periods_in_one_query(conn: Connection) -> None:
    world = small_world(conn, [teachers("S1", f"2020{m:02d}", m) for m in range(1, 13)])
    ask = Ask(TEACHERS, None, "SUM", "2020", units=("D1",))
    cells = cube_for(conn).query(cube_query(ask, world.ids, periods=["2020", "2020Q1", "2020Q4", "2019"]))
    assert {c.period: c.value for c in cells} == {"2020": 78.0, "2020Q1": 6.0, "2020Q4": 33.0}
    assert answer(cells, ask, world.ids) == {("D1", ()): (78.0, False)}


# ---------------------------------------------------------------- the generated world


@pytest.fixture
def world(conn: Connection) -> World:
    return standard_world(conn)


@pytest.mark.parametrize("kind", AGGREGATIONS)
def test_every_aggregation_type_on_a_generated_tree(conn: Connection, world: World, kind: str) -> None:
    element = f"E_{kind}"
    assert ELEMENTS[element] == kind
    answers = 0
    for period in PERIODS:
        got = check(conn, world, Ask(element, None, kind, period, units=UNITS))
        answers += len(got)
    assert answers > 0


def test_an_operand_on_a_generated_tree(conn: Connection, world: World) -> None:
    for kind in AGGREGATIONS:
        for coc in ("M_URBAN", "F_RURAL"):
            check(conn, world, Ask("E_SUM", coc, kind, "2020", units=UNITS))
    total = check(conn, world, Ask("E_SUM", None, "SUM", "2020", units=("SH",)))
    parts = [check(conn, world, Ask("E_SUM", coc, "SUM", "2020", units=("SH",)))
             for coc in ("M_URBAN", "M_RURAL", "F_URBAN", "F_RURAL")]
    assert sum(p[("SH", ())][0] for p in parts) == pytest.approx(total[("SH", ())][0])


@pytest.mark.parametrize("kind", ["SUM", "AVERAGE", "LAST", "COUNT", "NONE"])
def test_unit_level_n_on_a_generated_tree(conn: Connection, world: World, kind: str) -> None:
    element = f"E_{kind}"
    for period in ("2020", "2020Q1", "2020Q3", "2020SY"):
        check(conn, world, Ask(element, None, kind, period, level=2, under=("SH",)))
        check(conn, world, Ask(element, None, kind, period, level=3, under=("D1",)))
        check(conn, world, Ask(element, None, kind, period, level=3, under=("D2", "S1")))
    third = check(conn, world, Ask(element, None, kind, "2020Q3", level=3, under=("D2",)))
    if kind != "NONE":
        assert "S3" in {unit for unit, _ in third}  # moved in on 1 July


def test_scope_counts_only_values_under_the_scope(conn: Connection, world: World) -> None:
    for kind in ("SUM", "MAX", "LAST_AVERAGE_ORG_UNIT"):
        element = f"E_{kind}"
        scoped = check(conn, world, Ask(element, None, kind, "2020", units=("SH", "D1", "D2", "S4"),
                                        scope=frozenset({"D1"})))
        plain = check(conn, world, Ask(element, None, kind, "2020", units=("D1",)))
        assert scoped[("SH", ())] == pytest.approx(plain[("D1", ())])  # the city holds D1's values only
        assert ("D2", ()) not in scoped and ("S4", ()) not in scoped
        levels = check(conn, world, Ask(element, None, kind, "2020", level=2, under=("SH",),
                                        scope=frozenset({"D2"})))
        assert {unit for unit, _ in levels} == {"D2"}
        check(conn, world, Ask(element, None, kind, "2020Q3", level=3, under=("SH",),
                               scope=frozenset({"S3", "S5"})))


def test_a_category_breakdown(conn: Connection, world: World) -> None:
    for kind in ("SUM", "AVERAGE_SUM_ORG_UNIT", "MIN", "COUNT"):
        element = f"E_{kind}"
        by_sex = check(conn, world, Ask(element, None, kind, "2020", units=("SH", "D2"), categories=("SEX",)))
        assert {options for _, options in by_sex} == {("M",), ("F",)}
        check(conn, world, Ask(element, None, kind, "2020Q3", units=("D1",), categories=("AREA", "SEX")))
        check(conn, world, Ask(element, None, kind, "2020", level=2, under=("SH",), categories=("AREA",)))
        check(conn, world, Ask(element, "M_URBAN", kind, "2020", units=("SH",), categories=("SEX",)))
    total = check(conn, world, Ask("E_SUM", None, "SUM", "2020", units=("SH",)))[("SH", ())][0]
    split = check(conn, world, Ask("E_SUM", None, "SUM", "2020", units=("SH",), categories=COMBO_CATEGORIES))
    assert len(split) == 4 and sum(v for v, _ in split.values()) == pytest.approx(total)


def test_a_cell_is_synthetic_when_a_synthetic_value_counts_in_it(conn: Connection) -> None:
    world = small_world(conn, [teachers("S1", "202001", 1), teachers("S4", "202001", 2, synthetic=True)],
                        moves=False)
    got = check(conn, world, Ask(TEACHERS, None, "SUM", "2020", units=("SH", "D1", "D2")))
    assert got == {("SH", ()): (3.0, True), ("D1", ()): (1.0, False), ("D2", ()): (2.0, True)}


def test_the_reference_follows_moves() -> None:
    """The reference itself, on a move on a month's first day and one inside a quarter."""
    tree = Tree()
    tree.add("SH", None)
    for district in ("D1", "D2"):
        tree.add(district, "SH")
    for school, district in SCHOOLS.items():
        tree.add(school, district)
    for school, day, district in MOVES:
        tree.move(school, district, day)
    assert tree.chain("S3", dt.date(2020, 6, 30)) == ("SH", "D1", "S3")
    assert tree.chain("S3", dt.date(2020, 7, 1)) == ("SH", "D2", "S3")
    values = [Value("S3", "202006", "E_SUM", "M_URBAN", 1), Value("S3", "202007", "E_SUM", "F_URBAN", 2),
              Value("S5", "2020Q3", "E_SUM", "M_RURAL", 4)]
    ask = Ask("E_SUM", None, "SUM", "2020", units=("SH", "D1", "D2"))
    got = expected(ask, values, tree, COMBO_CATEGORIES)
    assert got == {("SH", ()): (7.0, False), ("D1", ()): (5.0, False), ("D2", ()): (2.0, False)}


# ---------------------------------------------------------------- indicators

PTR = IndicatorSpec("PTR", (Term("E_SUM"),), (Term(TEACHERS),))
URBAN = IndicatorSpec("URBAN", (Term("E_SUM", "M_URBAN"), Term("E_SUM", "F_URBAN")), (Term("E_SUM"),),
                      "percent")


def test_an_indicator_divides_summed_numerator_by_summed_denominator(conn: Connection) -> None:
    # S1: 200 pupils / 10 teachers = 20; S2: 30 / 1 = 30. The mean of the ratios would be 25.
    values = [Value("S1", "202001", "E_SUM", "M_URBAN", 200), teachers("S1", "202001", 10),
              Value("S2", "202001", "E_SUM", "F_RURAL", 30), teachers("S2", "202001", 1)]
    world = small_world(conn, values, moves=False)
    for spec in (PTR, URBAN):
        spec.save(conn)
    got = engine_indicators(conn, world, [PTR, URBAN], ["2020", "2020Q1"], ["SH", "D1", "S2", "S4"])
    assert got[("PTR", "D1", "2020")][0] == pytest.approx(230 / 11)
    assert got[("URBAN", "SH", "2020Q1")][0] == pytest.approx(200 / 230 * 100)
    assert got[("URBAN", "S2", "2020")][0] == pytest.approx(0.0)
    assert ("PTR", "S4", "2020") not in got  # no data
    assert_same_indicators(got, reference_indicators(world, [PTR, URBAN], ["2020", "2020Q1"],
                                                     ["SH", "D1", "S2", "S4"]))


def test_a_zero_denominator_gives_no_value(conn: Connection) -> None:
    world = small_world(conn, [Value("S1", "202001", "E_SUM", "M_URBAN", 5), teachers("S1", "202001", 0)])
    PTR.save(conn)
    got = engine_indicators(conn, world, [PTR], ["2020"], ["D1"])
    assert got == {("PTR", "D1", "2020"): (None, False)}


GENERATED_INDICATORS = (
    IndicatorSpec("I_SUM_COUNT", (Term("E_SUM"),), (Term("E_COUNT"),)),
    IndicatorSpec("I_MIXED", (Term("E_LAST", "M_URBAN"), Term("E_MAX")), (Term("E_AVERAGE_SUM_ORG_UNIT"),),
                  "percent"),
    IndicatorSpec("I_NONE", (Term("E_NONE"),), (Term("E_MIN"), Term("E_AVERAGE", "F_RURAL")), "per_mille"),
    IndicatorSpec("I_LAST_AVG", (Term("E_LAST_AVERAGE_ORG_UNIT", "F_URBAN"),), (Term("E_SUM", "F_URBAN"),)),
)


def test_indicators_on_a_generated_tree(conn: Connection, world: World) -> None:
    for spec in GENERATED_INDICATORS:
        spec.save(conn)
    got = engine_indicators(conn, world, GENERATED_INDICATORS, PERIODS, UNITS)
    assert len(got) > 20
    assert_same_indicators(got, reference_indicators(world, GENERATED_INDICATORS, PERIODS, UNITS))
    scope = frozenset({"D2"})
    got = engine_indicators(conn, world, GENERATED_INDICATORS, ["2020", "2020Q3"], UNITS, scope)
    assert_same_indicators(got, reference_indicators(world, GENERATED_INDICATORS, ["2020", "2020Q3"], UNITS,
                                                     scope))
    schools = engine_indicators(conn, world, GENERATED_INDICATORS, ["2020Q3"], level=3, under=("D2",))
    assert {unit for _, unit, _ in schools} == {"S3", "S4", "S5"}  # S5 leaves D2 on 15 August
    assert_same_indicators(schools, reference_indicators(world, GENERATED_INDICATORS, ["2020Q3"],
                                                         ["S3", "S4", "S5"], frozenset({"D2"})))


def test_an_indicator_is_synthetic_only_when_its_own_references_are(conn: Connection) -> None:
    values = [Value("S1", "202001", "E_SUM", "M_URBAN", 200, synthetic=True), teachers("S1", "202001", 10),
              Value("S1", "202001", "E_COUNT", "M_URBAN", 3)]
    world = small_world(conn, values, moves=False)
    own = IndicatorSpec("OWN", (Term("E_COUNT"),), (Term(TEACHERS),))
    for spec in (PTR, own):
        spec.save(conn)
    got = engine_indicators(conn, world, [PTR, own], ["2020"], ["D1"])
    assert got == {("PTR", "D1", "2020"): (pytest.approx(20.0), True), ("OWN", "D1", "2020"): (0.1, False)}


# ---------------------------------------------------------------- freshness and metadata


def test_a_saved_value_is_in_the_next_query_within_a_second(conn: Connection) -> None:
    world = small_world(conn, [teachers("S1", "202001", 1)], moves=False)
    ask = Ask(TEACHERS, None, "SUM", "2020", units=("D1", "S2"))
    assert by_unit(ask_engine(conn, ask, world.ids)) == {"D1": 1.0}
    for value, want in (("5", {"D1": 6.0, "S2": 5.0}), ("7", {"D1": 8.0, "S2": 7.0})):
        values_service.save_value(conn, principal=SYSTEM, data_element=TEACHERS, period="202002",
                                  org_unit="S2", value=value)
        started = time.perf_counter()
        got = by_unit(ask_engine(conn, ask, world.ids))
        assert time.perf_counter() - started < 1.0
        assert got == want
    values_service.delete_value(conn, principal=SYSTEM, data_element=TEACHERS, period="202002", org_unit="S2")
    assert by_unit(ask_engine(conn, ask, world.ids)) == {"D1": 1.0}


def test_a_move_saved_after_a_query_is_in_the_next_query(conn: Connection) -> None:
    world = small_world(conn, [teachers("S1", "202009", 4)], moves=False)
    ask = Ask(TEACHERS, None, "SUM", "2020", units=("D1", "D2"))
    assert by_unit(ask_engine(conn, ask, world.ids)) == {"D1": 4.0}
    move_unit(conn, world.tree, "S1", "D2", dt.date(2020, 9, 30))
    assert by_unit(ask_engine(conn, ask, world.ids)) == {"D2": 4.0}


def test_metadata_accepts_last_average_org_unit(conn: Connection) -> None:
    document = {"dataElements": [{"id": "DeLastAvg01", "code": "STOCK", "name": "Stock", "shortName": "Stock",
                                  "domainType": "AGGREGATE", "valueType": "INTEGER",
                                  "aggregationType": "LAST_AVERAGE_ORG_UNIT"}]}
    bundle.import_bundle(conn, principal=SYSTEM, bundle=document)
    element = load_catalog(conn).element("STOCK")
    assert element is not None and element.aggregation_type is AggregationType.LAST_AVERAGE_ORG_UNIT
    document["dataElements"][0]["aggregationType"] = "LAST_AVG"
    with pytest.raises(ValidationError):
        bundle.import_bundle(conn, principal=SYSTEM, bundle=document)
