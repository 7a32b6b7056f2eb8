"""Aggregation up the tree and indicator values, on both databases."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, insert, select, update

from jiaowei.auth.model import SYSTEM
from jiaowei.errors import NotFound, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.metadata import queries
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.targets import compute
from jiaowei.indicators.values import service as values
from jiaowei.registry.store import unit_id_for
from tests.factories import indicator_setup, make_unit, make_user

SCHOOLS = {"D1": ["S1", "S3", "S5"], "D2": ["S2", "S4"]}


def load(conn: Connection, *items: tuple[str, str, str | None, str], period: str = "2020") -> None:
    rows = [
        ValueRow(data_element=de, period=period, org_unit=ou, category_option_combo=coc, value=v, row=i)
        for i, (de, ou, coc, v) in enumerate(items, 1)
    ]
    summary = values.import_values(conn, principal=SYSTEM, rows=rows, source="dhis2-json")
    assert summary.status == "SUCCESS", summary.as_dict()


def element_keys(conn: Connection, *codes: str) -> set[tuple[int, int | None]]:
    catalog = queries.load_catalog(conn)
    keys: set[tuple[int, int | None]] = set()
    for code in codes:
        element = catalog.element(code)
        assert element is not None, code
        keys.add((element.id, None))
    return keys


def unit_id(conn: Connection, code: str) -> int:
    found = unit_id_for(conn, code)
    assert found is not None, code
    return found


def total(conn: Connection, unit: str, code: str, period: str = "2020") -> float | None:
    got = compute.aggregate(
        conn, elements=element_keys(conn, code), unit_id=unit_id(conn, unit), period=pe.parse(period)
    )
    return got.get((code, None))


def test_aggregation_over_the_tree_adds_up(conn: Connection) -> None:
    """Property: the commission's SUM is the districts' sum, each the sum of its schools."""
    indicator_setup(conn)
    for district, schools in SCHOOLS.items():
        for school in schools[1:]:
            make_unit(conn, school, parent=district)

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.lists(st.integers(min_value=0, max_value=100_000), min_size=5, max_size=5))
    def check(numbers: list[int]) -> None:
        with conn.begin_nested() as savepoint:
            schools = [s for group in SCHOOLS.values() for s in group]
            load(conn, *[("TEACHERS", s, None, str(n)) for s, n in zip(schools, numbers, strict=True)])
            by_school = dict(zip(schools, numbers, strict=True))
            for district, group in SCHOOLS.items():
                assert total(conn, district, "TEACHERS") == sum(by_school[s] for s in group)
            districts = sum(total(conn, d, "TEACHERS") or 0 for d in SCHOOLS)
            assert total(conn, "SH", "TEACHERS") == districts == sum(numbers)
            assert total(conn, "S3", "TEACHERS") == by_school["S3"]
            savepoint.rollback()

    check()


def test_element_totals_sum_option_combos_and_a_combo_stands_alone(conn: Connection) -> None:
    indicator_setup(conn)
    load(conn, ("PUPILS", "S1", "M", "120"), ("PUPILS", "S1", "F", "110"), ("PUPILS", "S2", "M", "80"))
    catalog = queries.load_catalog(conn)
    pupils = catalog.element("PUPILS")
    assert pupils is not None
    male = catalog.option_combo(pupils, "M")
    assert male is not None
    got = compute.aggregate(
        conn,
        elements={(pupils.id, None), (pupils.id, male.id)},
        unit_id=unit_id(conn, "SH"),
        period=pe.parse("2020"),
    )
    assert got == {("PUPILS", None): 310.0, ("PUPILS", "M"): 200.0}


def test_an_indicator_is_the_ratio_of_sums_not_the_average_of_ratios(conn: Connection) -> None:
    indicator_setup(conn)
    # S1: 200 pupils / 10 teachers = 20; S2: 30 pupils / 1 teacher = 30. Average of ratios 25;
    # ratio of sums 230 / 11 = 20.9.
    load(
        conn,
        ("PUPILS", "S1", "M", "200"),
        ("TEACHERS", "S1", None, "10"),
        ("PUPILS", "S2", "F", "30"),
        ("TEACHERS", "S2", None, "1"),
    )
    city = compute.indicator_value(conn, principal=SYSTEM, indicator="PTR", unit="SH", period="2020")
    assert city.numerator == 230 and city.denominator == 11
    assert city.value == pytest.approx(230 / 11) and city.formatted == "20.9"
    assert city.source == "data" and city.target is None and not city.synthetic
    rows = compute.indicator_table(conn, principal=SYSTEM, indicator="PTR", unit="SH", period="2020")
    assert [(r.unit.code, r.formatted) for r in rows] == [("SH", "20.9"), ("D1", "20.0"), ("D2", "30.0")]


def test_no_value_without_data_or_with_a_zero_denominator(conn: Connection) -> None:
    indicator_setup(conn)
    empty = compute.indicator_value(conn, principal=SYSTEM, indicator="PTR", unit="SH", period="2020")
    assert empty.value is None and empty.formatted == "–" and empty.numerator is None
    load(conn, ("PUPILS", "S1", "M", "5"), ("TEACHERS", "S1", None, "0"))
    zero = compute.indicator_value(conn, principal=SYSTEM, indicator="PTR", unit="D1", period="2020")
    assert zero.value is None and zero.numerator == 5 and zero.denominator == 0


def monthly_setup(conn: Connection) -> None:
    indicator_setup(conn)
    metadata.save_data_element(
        conn,
        principal=SYSTEM,
        code="ENROLLED",
        name_zh="在籍学生",
        name_en="Enrolled",
        aggregation_type="LAST",
    )
    metadata.save_data_element(
        conn, principal=SYSTEM, code="VISITS", name_zh="家访", name_en="Home visits", aggregation_type="SUM"
    )
    metadata.save_data_element(
        conn,
        principal=SYSTEM,
        code="SCORE",
        name_zh="评分",
        name_en="Score",
        value_type="NUMBER",
        aggregation_type="AVERAGE",
    )
    metadata.save_data_element(
        conn, principal=SYSTEM, code="PEAK", name_zh="峰值", name_en="Peak", aggregation_type="MAX"
    )
    metadata.save_data_set(
        conn,
        principal=SYSTEM,
        code="SCHOOL_M",
        name_zh="月报",
        name_en="Monthly",
        period_type="Monthly",
        elements=["ENROLLED", "VISITS", "SCORE", "PEAK"],
        unit_types=["primary_school"],
    )


def test_a_stock_takes_the_last_month_and_a_flow_sums_the_months(conn: Connection) -> None:
    monthly_setup(conn)
    for month, (s1, s2) in {"202009": (100, 50), "202010": (104, 52), "202012": (110, 49)}.items():
        load(
            conn,
            ("ENROLLED", "S1", None, str(s1)),
            ("ENROLLED", "S2", None, str(s2)),
            ("VISITS", "S1", None, "3"),
            ("SCORE", "S1", None, str(s1 / 10)),
            ("PEAK", "S2", None, str(s2)),
            period=month,
        )
    assert total(conn, "SH", "ENROLLED") == 110 + 49  # each school's December, summed over schools
    assert total(conn, "SH", "ENROLLED", "2020Q4") == 159
    assert total(conn, "SH", "ENROLLED", "2020Q3") == 150  # September only
    assert total(conn, "SH", "VISITS") == 9
    assert total(conn, "S1", "SCORE") == pytest.approx((10 + 10.4 + 11) / 3)
    assert total(conn, "SH", "PEAK") == 52
    assert total(conn, "SH", "ENROLLED", "2019") is None


def test_average_elements_average_over_units(conn: Connection) -> None:
    indicator_setup(conn)
    load(conn, ("RATE", "S1", None, "90"), ("RATE", "S2", None, "70"))
    assert total(conn, "SH", "RATE") == 80


def test_a_unit_closed_during_the_period_counts_under_its_last_parent(conn: Connection) -> None:
    """Each value counts under the ancestors its unit had during the value's period (issue 10):
    a school closed on 1 July still reported for the year, under the district it was in."""
    import datetime as dt

    from jiaowei.registry import service as registry

    indicator_setup(conn)
    make_unit(conn, "S3", parent="D1")
    make_unit(conn, "S6", parent="D1")
    load(conn, ("TEACHERS", "S1", None, "10"), ("TEACHERS", "S3", None, "5"))
    assert total(conn, "D1", "TEACHERS") == 15
    registry.close_unit(conn, principal=SYSTEM, code="S3", effective=dt.date(2020, 7, 1))
    assert total(conn, "D1", "TEACHERS") == 15
    assert total(conn, "SH", "TEACHERS") == 15
    # Closed before the period began, a unit has no value in it to count.
    registry.close_unit(conn, principal=SYSTEM, code="S6", effective=dt.date(2020, 1, 1))
    load(conn, ("TEACHERS", "S1", None, "12"), period="2021")
    assert total(conn, "D1", "TEACHERS", "2021") == 12


@pytest.mark.parametrize(
    ("display", "decimals", "numbers", "shown"),
    [
        ("ratio", 0, ("1", "159"), "1:159"),
        ("percent", 1, ("86", "100"), "86.0%"),
        ("per_mille", 1, ("32", "10000"), "3.2‰"),
        ("number", 2, ("2469", "2"), "1,234.50"),
    ],
)
def test_formats_by_display(
    conn: Connection, display: str, decimals: int, numbers: tuple[str, str], shown: str
) -> None:
    indicator_setup(conn)
    metadata.save_indicator(
        conn,
        principal=SYSTEM,
        code="IND",
        name_zh="指标",
        name_en="Indicator",
        numerator="#{TEACHERS}",
        denominator="#{PUPILS}",
        display=display,
        decimals=decimals,
    )
    load(conn, ("TEACHERS", "S1", None, numbers[0]), ("PUPILS", "S1", "M", numbers[1]))
    found = compute.indicator_value(conn, principal=SYSTEM, indicator="IND", unit="S1", period="2020")
    assert found.formatted == shown


def test_a_published_fact_stands_for_the_value_with_the_computed_one_alongside(conn: Connection) -> None:
    indicator_setup(conn)
    load(conn, ("PUPILS", "S1", "M", "200"), ("TEACHERS", "S1", None, "10"))
    period_id = values.ensure_periods(conn, ["2020"])["2020"]
    indicator_id = conn.execute(
        select(store.indicators.c.id).where(store.indicators.c.code == "PTR")
    ).scalar()
    conn.execute(
        insert(store.indicator_facts).values(
            indicator_id=indicator_id,
            unit_id=unit_id(conn, "SH"),
            period_id=period_id,
            value=20.0,
            source="2020 年报 p.3",
        )
    )
    found = compute.indicator_value(conn, principal=SYSTEM, indicator="PTR", unit="SH", period="2020")
    assert (found.source, found.value, found.fact_source, found.computed, found.agrees) == (
        "fact",
        20.0,
        "2020 年报 p.3",
        20.0,
        True,
    )
    conn.execute(update(store.indicator_facts).values(value=18.5))
    again = compute.indicator_value(conn, principal=SYSTEM, indicator="PTR", unit="SH", period="2020")
    assert again.formatted == "18.5" and again.computed_formatted == "20.0" and again.agrees is False
    district = compute.indicator_value(conn, principal=SYSTEM, indicator="PTR", unit="D1", period="2020")
    assert district.source == "data" and district.fact_source is None


def test_values_from_synthetic_data_are_labelled(conn: Connection) -> None:
    indicator_setup(conn)
    load(conn, ("PUPILS", "S1", "M", "200"), ("TEACHERS", "S1", None, "10"), ("TEACHERS", "S2", None, "4"))
    s2 = unit_id(conn, "S2")
    conn.execute(update(store.data_values).where(store.data_values.c.unit_id == s2).values(synthetic=True))
    rows = compute.indicator_table(conn, principal=SYSTEM, indicator="PTR", unit="SH", period="2020")
    assert [(r.unit.code, r.synthetic) for r in rows] == [("SH", True), ("D1", False), ("D2", True)]


def test_a_district_user_cannot_read_another_district(conn: Connection) -> None:
    indicator_setup(conn)
    load(conn, ("PUPILS", "S2", "M", "200"), ("TEACHERS", "S2", None, "10"))
    user = make_user(conn, role="district_staff", capture=["D1"])
    for unit in ("D2", "S2", "SH"):
        with pytest.raises(NotFound):
            compute.indicator_value(conn, principal=user, indicator="PTR", unit=unit, period="2020")
    rows = compute.indicator_table(conn, principal=user, indicator="PTR", unit="D1", period="2020")
    assert [r.unit.code for r in rows] == ["D1", "S1"]
    assert compute.default_unit(conn, user, pe.parse("2020").end) == "D1"
    assert compute.default_unit(conn, SYSTEM, pe.parse("2020").end) == "SH"


def test_bad_parameters_name_the_field(conn: Connection) -> None:
    indicator_setup(conn)
    with pytest.raises(ValidationError) as error:
        compute.indicator_value(conn, principal=SYSTEM, indicator="PTR", unit="SH", period="2020-13")
    assert error.value.problems[0].field == "pe"
    with pytest.raises(NotFound):
        compute.indicator_value(conn, principal=SYSTEM, indicator="NOPE", unit="SH", period="2020")
    with pytest.raises(NotFound):
        compute.indicator_value(conn, principal=SYSTEM, indicator="PTR", unit="NOPE", period="2020")


def test_the_default_period_is_the_latest_year_with_data(conn: Connection) -> None:
    indicator_setup(conn)
    assert compute.default_period(conn, today=pe.parse("2024").start) == "2023"
    load(conn, ("TEACHERS", "S1", None, "1"), period="2019")
    load(conn, ("TEACHERS", "S1", None, "1"), period="2020")
    assert compute.default_period(conn) == "2020"
