"""The pivot table builder and its chart, on plain values: totals only where they add up, sorting
with missing values last, nested column headers, time on the chart's axis, year on year."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jiaowei.analytics.pivot.chart import chart_spec, earlier_lookup, shifted
from jiaowei.analytics.pivot.table import NO_TOTAL, Fact, Layout, Sort, build, format_number

ORDER = {"dx": ["PUPILS", "RATE"], "pe": ["2019", "2020"], "ou": ["D1", "D2", "D3"]}
NAMES = {"PUPILS": "Pupils", "RATE": "Rate", "D1": "One", "D2": "Two", "D3": "Three"}


def fact(dx: str, pe: str, ou: str, value: float) -> Fact:
    return Fact({"dx": dx, "pe": pe, "ou": ou}, value)


def sums(items: object) -> bool:
    return items["dx"] == "PUPILS"  # type: ignore[index]


def test_totals_add_up_sums_and_refuse_rates() -> None:
    facts = [fact("PUPILS", "2020", "D1", 10), fact("RATE", "2020", "D1", 0.5),
             fact("PUPILS", "2020", "D2", 20), fact("RATE", "2020", "D2", 0.25)]
    pivot = build(facts, layout=Layout(("ou",), ("dx",), ("pe",)), order=ORDER, names=NAMES, summable=sums)
    assert [r.labels for r in pivot.rows] == [("One",), ("Two",)]
    assert [[c.text for c in r.cells] for r in pivot.rows] == [["10", "0.5"], ["20", "0.25"]]
    assert [r.total.text for r in pivot.rows if r.total] == [NO_TOTAL, NO_TOTAL]
    assert [c.text for c in pivot.column_totals or ()] == ["30", NO_TOTAL]
    assert pivot.grand_total is not None and pivot.grand_total.text == NO_TOTAL


def test_missing_cells_add_nothing_and_sort_last() -> None:
    facts = [fact("PUPILS", "2019", "D1", 5), fact("PUPILS", "2020", "D1", 7),
             fact("PUPILS", "2020", "D2", 9), fact("PUPILS", "2019", "D3", 1)]
    layout = Layout(("ou",), ("pe",))
    pivot = build(facts, layout=layout, order=ORDER, names=NAMES, summable=sums,
                  sort=Sort(1, descending=True))
    assert [r.keys for r in pivot.rows] == [("D2",), ("D1",), ("D3",)]  # D3 has no 2020 value: last
    assert [r.total.value if r.total else None for r in pivot.rows] == [9, 12, 1]
    ascending = build(facts, layout=layout, order=ORDER, names=NAMES, summable=sums, sort=Sort(1))
    assert [r.keys for r in ascending.rows] == [("D1",), ("D2",), ("D3",)]
    by_total = build(facts, layout=layout, order=ORDER, names=NAMES, summable=sums, sort=Sort.parse("-total"))
    assert [r.keys for r in by_total.rows] == [("D1",), ("D2",), ("D3",)]
    by_name = build(facts, layout=layout, order=ORDER, names=NAMES, summable=sums, sort=Sort.parse("label"))
    assert [r.labels for r in by_name.rows] == [("One",), ("Three",), ("Two",)]


def test_nested_column_headers_span_their_columns() -> None:
    facts = [fact("PUPILS", p, "D1", 1) for p in ("2019", "2020")] + [fact("RATE", "2020", "D1", 1)]
    pivot = build(facts, layout=Layout(("ou",), ("dx", "pe")), order=ORDER, names=NAMES)
    assert pivot.header_rows == ((("Pupils", 2), ("Rate", 1)), (("2019", 1), ("2020", 1), ("2020", 1)))


def test_sort_reads_what_the_address_says() -> None:
    assert Sort.parse("2") == Sort(2) and Sort.parse("-2") == Sort(2, True)
    assert Sort.parse("-label").param == "-label"
    assert Sort.parse("nonsense") is None and Sort.parse(None) is None


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12))
def test_summed_totals_equal_the_sum_of_every_cell(values: list[int]) -> None:
    facts = [fact("PUPILS", ("2019", "2020")[i % 2], f"U{i // 2}", v) for i, v in enumerate(values)]
    order = {"pe": ["2019", "2020"], "ou": [f"U{i}" for i in range(len(values))]}
    pivot = build(facts, layout=Layout(("ou",), ("pe",)), order=order, names={}, summable=sums)
    if len(pivot.rows) > 1 and len(pivot.column_keys) > 1:
        assert pivot.grand_total is not None and pivot.grand_total.value == sum(values)
    row_totals = [r.total.value for r in pivot.rows if r.total and r.total.value is not None]
    assert not row_totals or sum(row_totals) == sum(values)


def test_numbers_are_shown_grouped_without_trailing_zeros() -> None:
    shown = [format_number(v) for v in (1234567.0, 0.5, 2.25, None, 86.0)]
    assert shown == ["1,234,567", "0.5", "2.25", "", "86"]


def test_charts_put_time_on_the_axis_and_add_a_year_earlier() -> None:
    facts = [fact("PUPILS", "2020", "D1", 10), fact("PUPILS", "2020", "D2", 20)]
    pivot = build(facts, layout=Layout(("ou",), ("pe",)), order=ORDER, names=NAMES)
    line = chart_spec(pivot, "line", label="x")
    assert line is not None and line["categories"] == ["2020"] and [s["name"] for s in line["series"]] == [
        "One", "Two"]
    pie = chart_spec(pivot, "pie", label="x")
    assert pie is not None and pie["categories"] == ["One", "Two"] and len(pie["series"]) == 1
    earlier = {tuple(sorted({"pe": "2019", "ou": "D1"}.items())): 8.0}
    yoy = chart_spec(pivot, "yoy", label="x", earlier=earlier_lookup(earlier, {"2020": "2019"}),
                     earlier_name=lambda name: name + " (2019)")
    assert yoy is not None and [(s["name"], s["data"]) for s in yoy["series"]] == [
        ("One", [10]), ("One (2019)", [8.0]), ("Two", [20]), ("Two (2019)", [None])]
    assert [shifted(p) for p in ("2020", "2020Q3", "202011", "2020SY", "20200229")] == [
        "2019", "2019Q3", "201911", "2019SY", "20190228"]
