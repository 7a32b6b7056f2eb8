"""Charts as SVG (pure): bars and lines, value labels, the title and axis label in the given font, a
gap for a missing value, long category labels turned; any text makes well-formed SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from jiaowei.reports.document import Chart, ChartKind, Series
from jiaowei.reports.outputs.charts import svg

NS = {"svg": "http://www.w3.org/2000/svg"}


def parsed(chart: Chart, language: str = "zh") -> ET.Element:
    return ET.fromstring(svg(chart, font_family="WenQuanYi Micro Hei", language=language))


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iterfind(".//svg:text", NS)]


def bars(root: ET.Element) -> list[ET.Element]:
    """The bars: filled rectangles other than the white background and the legend's keys."""
    return [r for r in root.iterfind("svg:rect", NS) if r.get("fill") != "#ffffff" and r.get("width") != "10"]


BAR = Chart(1, ChartKind.BAR, "各区学校数", ("黄浦区", "徐汇区", "长宁区"),
            (Series("2020", (120.0, None, 377000.0)),), value_label="所")


def test_a_bar_chart_has_a_bar_and_a_label_per_value_and_a_gap_for_none():
    root = parsed(BAR)
    assert root.get("font-family") == "WenQuanYi Micro Hei" and root.get("width") == "640"
    drawn = bars(root)
    assert len(drawn) == 2
    assert float(drawn[0].get("x") or 0) < float(drawn[1].get("x") or 0)
    assert float(drawn[1].get("height") or 0) > 100 * float(drawn[0].get("height") or 0)
    shown = texts(root)
    assert shown[0] == "各区学校数" and {"120", "37.7万", "所", "黄浦区", "徐汇区", "长宁区"} <= set(shown)
    assert root.find("svg:title", NS) is not None


def test_long_category_labels_are_turned_short_ones_are_not():
    names = tuple(f"浦东新区第{i}教育集团" for i in range(8))
    long = Chart(1, ChartKind.BAR, "t", names, (Series("s", (1.0,) * 8),))
    turned = [t for t in parsed(long).iterfind("svg:text", NS)
              if (t.get("transform") or "").startswith("rotate(-40")]
    assert len(turned) == 8
    assert not [t for t in parsed(BAR).iterfind("svg:text", NS) if "rotate(-40" in (t.get("transform") or "")]


def test_a_line_breaks_where_a_value_is_missing():
    line = Chart(2, ChartKind.LINE, "Schools by year", ("2016", "2017", "2018", "2019", "2020"),
                 (Series("Schools", (800.0, 810.0, None, 831.0, 845.0)),), value_label="schools")
    root = parsed(line, language="en")
    polylines = root.findall("svg:polyline", NS)
    assert [len((p.get("points") or "").split()) for p in polylines] == [2, 2]
    assert len(root.findall("svg:circle", NS)) == 4
    assert {"800", "810", "831", "845", "schools", "Schools by year"} <= set(texts(root))


def test_several_series_get_a_legend_and_their_own_colours():
    chart = Chart(1, ChartKind.BAR, "t", ("a", "b"), (Series("2019", (1.0, 2.0)), Series("2020", (3.0, 4.0))))
    root = parsed(chart)
    assert {"2019", "2020"} <= set(texts(root))
    assert len({r.get("fill") for r in bars(root)}) == 2 and len(bars(root)) == 4


def _labels(values: tuple[float, ...], language: str) -> tuple[list[str], list[str]]:
    """A bar chart's (value labels, value axis labels)."""
    chart = Chart(1, ChartKind.BAR, "t", tuple(f"c{i}" for i in range(len(values))), (Series("s", values),))
    root = parsed(chart, language)
    shown = [t.text or "" for t in root.iterfind("svg:text", NS) if t.get("font-size") == "10"]
    axis = [t.text or "" for t in root.iterfind("svg:text", NS) if t.get("text-anchor") == "end"
            and t.get("fill") == "#555555"]
    return shown, axis


def test_value_and_axis_labels_are_numbers_as_the_report_writes_them():
    assert _labels((86, 92.51, 377000, 186600, 1.2e8), "zh")[0] == [
        "86", "92.51", "37.7万", "18.66万", "1.2亿"]
    assert _labels((86, 92.51, 377000, 0.5), "en")[0] == ["86", "92.51", "377,000", "0.5"]
    assert _labels((120, 377000), "zh")[1] == ["0", "10万", "20万", "30万", "40万", "50万"]
    assert _labels((120, 377000), "en")[1] == ["0", "100,000", "200,000", "300,000", "400,000", "500,000"]
    assert _labels((-0.3, 0.5), "zh")[1] == ["-0.4", "-0.2", "0", "0.2", "0.4", "0.6"]
    assert _labels((-0.001, -1.5), "zh")[0] == ["0", "-1.5"]  # no "-0"


text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(ChartKind), title=text, categories=st.lists(text, max_size=6),
       values=st.lists(st.one_of(st.none(), st.floats(-1e9, 1e9), st.just(5e-324)), max_size=6), label=text)
def test_any_text_and_values_make_well_formed_svg_with_a_mark_per_value(kind, title, categories, values,
                                                                         label):
    chart = Chart(1, kind, title, tuple(categories), (Series("s", tuple(values)),), value_label=label)
    root = parsed(chart)
    shown = [v for v in values[: len(categories)] if v is not None]
    if kind is ChartKind.BAR:
        assert len(bars(root)) == len(shown)
    else:
        assert len(root.findall("svg:circle", NS)) == len(shown)
