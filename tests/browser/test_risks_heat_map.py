"""The risk register's heat map in a real browser: it is drawn, and clicking a cell lists its risks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.plans.risks import service
from tests.browser.conftest import logged_in, running_server, seed

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")


@pytest.fixture(scope="module")
def risks_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("risks")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    seed(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        for title, likelihood, impact in (("校园踩踏", 4, 5), ("网络舆情", 2, 3), ("食品安全", 2, 3)):
            service.create_risk(
                conn,
                principal=SYSTEM,
                category="campus_safety",
                title=title,
                unit="HP01",
                likelihood=likelihood,
                impact=impact,
                cadence="monthly",
                today=dt.date(2020, 1, 1),
            )
    engine.dispose()
    with running_server(url, home, "browser-risks-" + "x" * 32) as base:
        yield base


def test_clicking_a_cell_of_the_heat_map_lists_its_risks(chromium: Any, risks_server: str) -> None:
    with logged_in(chromium, risks_server, "/plans/risks") as page:
        chart = page.locator("#risk-heat-map")
        expect(chart).to_have_class("chart chart--drawn")
        expect(page.locator("#risk-list tbody tr")).to_have_count(3)
        box = chart.bounding_box()
        assert box is not None
        x, y = page.evaluate(  # the pixel of the cell impact 5 × likelihood 4 (indices 4, 3)
            "() => echarts.getInstanceByDom(document.getElementById('risk-heat-map'))"
            ".convertToPixel({seriesIndex: 0}, [4, 3])"
        )
        page.mouse.click(box["x"] + x, box["y"] + y)
        page.wait_for_url("**/plans/risks?likelihood=4&impact=5")
        expect(page.locator("#risk-list tbody tr")).to_have_count(1)
        expect(page.locator("#risk-list")).to_contain_text("校园踩踏")
        page.locator("#risk-matrix a", has_text="2").click()  # the table's cell likelihood 2 × impact 3
        expect(page.locator("#risk-list tbody tr")).to_have_count(2)
        page.goto("/plans/risks")
        expect(chart).to_have_class("chart chart--drawn")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "risks-register.png"), full_page=True)
