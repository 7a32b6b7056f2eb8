"""Reading DHIS2's analytics parameters (pure: no database), relative periods on a fixed clock."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiaowei.analytics.request import (
    RELATIVE,
    AnalyticsRequest,
    Dimension,
    IdScheme,
    QueryError,
    parse,
    resolve_period,
)
from jiaowei.analytics.response import Grid, Header, pivot
from jiaowei.indicators import periods as pe
from jiaowei.indicators.model import AggregationType


def ids(item: str, today: dt.date) -> list[str]:
    return [p.id for p in resolve_period(item, today)]


def test_dimensions_filters_and_options() -> None:
    request = parse(
        [
            ("dimension", "dx:PUPILS;PTR;PUPILS.M,ou:SH;LEVEL-2"),
            ("dimension", "SEX"),
            ("filter", "pe:2020;THIS_YEAR"),
            ("aggregationType", "average"),
            ("skipRounding", "true"),
            ("includeNumDen", "false"),
            ("outputIdScheme", "uid"),
            ("columns", "dx"),
            ("rows", "ou;SEX"),
            ("relativePeriodDate", "2021-03-01"),
            ("locale", "en-GB"),
            ("skipMeta", "false"),
            ("approvalLevel", "ignored"),  # parameters jiaowei does not use are left alone, as DHIS2 does
        ]
    )
    assert request.dimensions == (
        Dimension("dx", ("PUPILS", "PTR", "PUPILS.M")),
        Dimension("ou", ("SH", "LEVEL-2")),
        Dimension("SEX", ()),
    )
    assert request.filters == (Dimension("pe", ("2020", "THIS_YEAR")),)
    assert (request.aggregation_type, request.skip_rounding, request.include_num_den) == (
        AggregationType.AVERAGE,
        True,
        False,
    )
    assert (request.output_id_scheme, request.columns, request.rows) == (IdScheme.UID, ("dx",), ("ou", "SEX"))
    assert (request.language, request.day(dt.date(2030, 1, 1))) == ("en", dt.date(2021, 3, 1))
    assert request.get("pe") == Dimension("pe", ("2020", "THIS_YEAR")) and request.is_filter("pe")
    assert request.get("co") is None


def test_a_mapping_of_lists_reads_as_repeated_parameters() -> None:
    request = parse({"dimension": ["dx:A", "pe:2020"], "filter": "ou:SH", "outputIdScheme": None})
    assert [d.name for d in request.dimensions] == ["dx", "pe"] and request.filters == (
        Dimension("ou", ("SH",)),
    )
    assert request.output_id_scheme is IdScheme.CODE and request.day(dt.date(2020, 5, 1)) == dt.date(
        2020, 5, 1
    )


def test_repeated_items_are_kept_once_in_order() -> None:
    assert parse([("dimension", "dx:B;A;B; ;A")]).dimensions == (Dimension("dx", ("B", "A")),)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ([("dimension", "pe:2020")], "dimension"),  # no data
        ([("filter", "dx:A")], "dimension"),  # no dimension, only filters
        ([("dimension", "dx:A"), ("filter", "dx:B")], "dimension"),  # dx twice
        ([("dimension", "dx")], "dimension"),  # dx without items
        ([("dimension", ":A")], "dimension"),
        ([("dimension", "dx:A"), ("filter", "pe")], "filter"),
        ([("dimension", "dx:A"), ("aggregationType", "MEDIAN")], "aggregationType"),
        ([("dimension", "dx:A"), ("skipRounding", "yes")], "skipRounding"),
        ([("dimension", "dx:A"), ("includeNumDen", "1")], "includeNumDen"),
        ([("dimension", "dx:A"), ("outputIdScheme", "ID")], "outputIdScheme"),
        ([("dimension", "dx:A"), ("displayProperty", "TITLE")], "displayProperty"),
        ([("dimension", "dx:A"), ("relativePeriodDate", "2020-02-30")], "relativePeriodDate"),
        ([("dimension", "dx:A"), ("locale", "fr")], "locale"),
        ([("dimension", "dx:A"), ("columns", "pe")], "columns"),  # not a dimension of the request
        ([("dimension", "dx:A"), ("filter", "pe:2020"), ("rows", "pe")], "rows"),  # a filter is not a row
        ([("dimension", "dx:" + ";".join(f"E{i}" for i in range(1001)))], "dimension"),
    ],
)
def test_bad_parameters_name_themselves(params: list[tuple[str, str]], field: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse(params)
    assert raised.value.status == 409 and raised.value.problems[0].field == field


def test_relative_periods_count_from_the_day_given() -> None:
    day = dt.date(2022, 1, 1)
    assert ids("THIS_YEAR", day) == ["2022"] and ids("LAST_YEAR", day) == ["2021"]
    assert ids("LAST_5_YEARS", day) == ["2017", "2018", "2019", "2020", "2021"]
    assert ids("THIS_MONTH", day) == ["202201"]
    assert ids("LAST_12_MONTHS", day) == [f"2021{m:02d}" for m in range(1, 13)]
    assert ids("THIS_QUARTER", dt.date(2020, 8, 15)) == ["2020Q3"]
    assert ids("LAST_4_QUARTERS", dt.date(2020, 8, 15)) == ["2019Q3", "2019Q4", "2020Q1", "2020Q2"]
    assert ids("THIS_SCHOOL_YEAR", dt.date(2020, 8, 31)) == ["2019SY"]
    assert ids("THIS_SCHOOL_YEAR", dt.date(2020, 9, 1)) == ["2020SY"]
    assert ids("LAST_5_SCHOOL_YEARS", dt.date(2020, 9, 1)) == [
        "2015SY",
        "2016SY",
        "2017SY",
        "2018SY",
        "2019SY",
    ]
    assert ids("TODAY", day) == ["20220101"] and ids("LAST_7_DAYS", day)[-1] == "20211231"
    assert ids("2020Q3", day) == ["2020Q3"] and ids("2020SY", day) == ["2020SY"]


@given(st.dates(dt.date(1950, 1, 1), dt.date(2150, 12, 31)), st.sampled_from(sorted(RELATIVE)))
def test_relative_periods_end_where_they_should(day: dt.date, name: str) -> None:
    rule = RELATIVE[name]
    found = resolve_period(name, day)
    assert len(found) == rule.count and all(p.type == rule.type for p in found)
    assert all(pe.next_period(a) == b for a, b in zip(found, found[1:], strict=False))
    current = pe.containing(rule.type, day)
    assert (found[-1] == current) if rule.first == 0 else (pe.next_period(found[-1]) == current)


@pytest.mark.parametrize("item", ["LAST_7_YEARS", "2020Q5", "this_year", "", "2020-01"])
def test_an_unknown_period_names_pe(item: str) -> None:
    with pytest.raises(QueryError) as raised:
        resolve_period(item, dt.date(2020, 1, 1))
    assert raised.value.problems[0].field == "pe" and raised.value.problems[0].value == item


def test_the_grid_and_its_pivot() -> None:
    headers = [
        Header("dx", "Data"),
        Header("pe", "Period"),
        Header("ou", "Unit"),
        Header.number("value", "Value"),
    ]
    grid = Grid(
        headers,
        [["A", "2020", "SH", "10"], ["A", "2021", "SH", "12.5"], ["B", "2020", "D1", "3"]],
        items={"A": {"name": "甲"}, "B": {"name": "乙"}, "SH": {"name": "市"}, "D1": {"name": "区"}},
        dimensions={"dx": ["A", "B"], "pe": ["2020", "2021"], "ou": ["SH", "D1"], "co": []},
    )
    body = grid.as_dict()
    assert (body["height"], body["width"], body["headerWidth"]) == (3, 4, 4)
    assert body["headers"][3] == {
        "name": "value",
        "column": "Value",
        "valueType": "NUMBER",
        "type": "java.lang.Double",
        "hidden": False,
        "meta": False,
    }
    assert grid.as_csv().splitlines()[:2] == ["Data,Period,Unit,Value", "A,2020,SH,10"]
    table = pivot(grid)  # periods across, the other dimensions down
    assert table.column_keys == [("2020",), ("2021",)]
    assert table.row_keys == [("A", "SH"), ("B", "D1")]
    assert table.value(("A", "SH"), ("2021",)) == 12.5 and table.text(("B", "D1"), ("2021",)) == ""
    assert table.label(("A", "SH")) == "甲 / 市"
    turned = pivot(grid, rows=["pe"], columns=["dx"])
    assert turned.row_keys == [("2020",), ("2021",)] and turned.column_keys == [("A",), ("B",)]


def test_an_empty_request_object_is_harmless() -> None:
    assert AnalyticsRequest(dimensions=()).get("dx") is None
