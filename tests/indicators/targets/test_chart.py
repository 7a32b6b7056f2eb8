"""The indicator page's charts: the page embeds, as JSON for web/static/charts.js, the very numbers its
tables show (the units below as bars with their targets, the years as a line), in the page's language."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.i18n import catalog
from jiaowei.indicators.targets import chart
from jiaowei.indicators.targets import service as targets
from tests.factories import login, make_user
from tests.indicators.targets.test_service import coverage_setup, load


def _charts(page: str) -> dict[str, dict[str, Any]]:
    pattern = r'<div class="chart" id="([^"]+)" role="img" aria-label="([^"]*)" data-chart=\'([^\']*)\''
    found = re.findall(pattern, page)
    charts = {}
    for chart_id, label, data in found:
        spec = json.loads(html.unescape(data))
        assert spec["label"] == html.unescape(label)
        charts[chart_id] = spec
    return charts


def _table_rows(page: str, section: str) -> list[list[str]]:
    """The cells of the first table in the section, as text."""
    part = page.split(f'aria-labelledby="{section}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", part, re.S)
    cells = [[re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.unescape(c))).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows]
    return [row for row in cells if row]  # the header row has no <td>


@pytest.mark.parametrize(("lang", "names", "value"), [
    ("zh_CN", ["单位D1", "单位D2"], "值"),
    ("en", ["Unit D1", "Unit D2"], "Value"),
])
def test_the_indicator_page_embeds_the_table_numbers_as_chart_data(
    browser: TestClient, conn: Connection, lang: str, names: list[str], value: str
) -> None:
    coverage_setup(conn)
    load(conn, ("INCLUSIVE", "S1", None, "70"), ("CHILDREN", "S1", None, "100"), period="2018")
    targets.set_target(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH", period="2020", value=86)
    targets.set_target(conn, principal=SYSTEM, indicator="COVERAGE", unit="D2", period="2020", value=85)
    make_user(conn, "wang")
    login(browser, "wang")
    browser.cookies.set("jiaowei_lang", lang)
    page = browser.get("/indicators/COVERAGE", params={"ou": "SH", "pe": "2020"}).text
    charts = _charts(page)
    assert set(charts) == {"children-chart", "trajectory-chart"}
    bars = charts["children-chart"]
    children = _table_rows(page, "children-title")[1:]  # the first row is the unit itself
    assert len(bars["categories"]) == len(children) == 2
    assert bars["categories"] == names and [row[0] for row in children] == [f"{n} {n[-2:]}" for n in names]
    values, goals = bars["series"]
    assert values["name"] == value and values["kind"] == "bar"
    assert values["labels"] == [row[3] for row in children] == ["90.0%", "82.0%"]
    assert values["data"] == [90.0, 82.0]
    assert goals["kind"] == "target" and goals["data"][1] == 85.0 and goals["labels"][1] == children[1][4]
    assert bars["line"]["value"] == 86.0 and bars["line"]["label"] == "86.0%"
    assert "90.0%" in bars["label"] and "82.0%" in bars["label"] and "86.0%" in bars["label"]
    years = charts["trajectory-chart"]
    trajectory = {row[0]: row[1] for row in _table_rows(page, "trajectory-title")}
    shown = dict(zip(years["categories"], years["series"][0]["labels"], strict=True))
    assert shown == {p: v for p, v in trajectory.items() if p in shown}
    assert shown == {"2018": "70.0%", "2020": "86.0%"} and years["series"][0]["data"] == [70.0, 86.0]
    assert years["series"][1] == {"name": "Target" if lang == "en" else "目标", "kind": "dashed",
                                  "data": [None, 86.0], "labels": ["–", "86.0%"]}
    assert '<script src="/static/vendor/echarts/echarts.min.js' in page and "/static/charts.js" in page


def test_no_chart_without_values_below(browser: TestClient, conn: Connection) -> None:
    coverage_setup(conn)
    make_user(conn, "wang")
    login(browser, "wang")
    page = browser.get("/indicators/COVERAGE", params={"ou": "S1", "pe": "2020"}).text
    assert "data-chart" not in page and "echarts" not in page  # no units below; one year: no line


def test_a_ratio_is_charted_as_its_n() -> None:
    assert chart.plotted(0.005, "ratio", 1) == 200.0
    assert chart.plotted(0.0, "ratio", 1) is None
    assert chart.plotted(86.04, "percent", 1) == 86.0


def test_the_chart_strings_have_chinese_translations() -> None:
    source = Path(chart.__file__).read_text(encoding="utf-8")
    messages = re.findall(r'_\(\s*"((?:[^"\\]|"\s*")+)"', source)
    zh = catalog("zh_CN")
    assert len(messages) >= 5
    for message in messages:
        joined = re.sub(r'"\s*"', "", message)
        assert joined in zh, joined
