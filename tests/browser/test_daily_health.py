"""The campus daily health page in a real browser: the rate, the school not reported, the alert,
the 30-day chart drawn from server-side data, and a zh-CN page without English left in it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import service as values
from tests.browser.conftest import logged_in, running_server, seed
from tests.indicators.test_daily_health import daily_metadata

pytestmark = pytest.mark.browser

REPORTS = [  # unit, day, cases: HP02 does not report on 2 December, HP01 has a case that day
    ("HP01", "20201201", 0), ("HP02", "20201201", 0), ("XH01", "20201201", 0),
    ("HP01", "20201202", 1), ("XH01", "20201202", 0),
]  # fmt: skip


def _prepare(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        daily_metadata(conn, unit_types=("primary_school", "secondary_school"))
        rows = [
            ValueRow(data_element=element, period=day, org_unit=unit, value=str(value))
            for unit, day, cases in REPORTS
            for element, value in (("ABSENT_ILL", 4), ("FEVER", 1), ("CASES", cases))
        ]
        assert not values.import_values(conn, principal=SYSTEM, rows=rows, source="test").conflicts
    engine.dispose()


@pytest.fixture(scope="module")
def daily_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("daily-health")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    seed(url)
    _prepare(url)
    with running_server(url, home, "browser-daily-" + "x" * 32) as base:
        yield base


@pytest.fixture
def staff(chromium: Any, daily_server: str) -> Iterator[Any]:
    with logged_in(chromium, daily_server, "/data/daily") as page:
        yield page


ENGLISH_LEFT = """() => {
  const main = document.querySelector("main").cloneNode(true);
  main.querySelectorAll("code, .chart").forEach((e) => e.remove());
  return main.textContent;
}"""


def test_the_daily_page_shows_the_day_the_missing_school_the_alert_and_the_trend(
    staff: Any, daily_server: str
) -> None:
    page = staff
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("校园每日健康报告")
    expect(page.get_by_label("日期")).to_have_value("2020-12-02")  # the latest day with reports
    expect(page.locator("#daily-rate")).to_have_text("66.7%")
    missing = page.locator("#daily-missing")
    expect(missing).to_contain_text("黄浦区示范中学")
    expect(missing.get_by_role("link")).to_have_attribute(
        "href", "/data/entry?ds=DAILY_H&pe=20201202&ou=HP02"
    )
    alert = page.locator("#daily-alerts")
    expect(alert).to_contain_text("黄浦区示范第一小学")
    expect(alert).to_contain_text("病例数应为零")
    chart = page.locator("#daily-trend")
    expect(chart).to_have_attribute("role", "img")
    expect(chart.locator("canvas")).to_have_count(1)
    box = chart.bounding_box()
    assert box and box["width"] > 600 and box["height"] > 200
    leftover = re.findall(r"[A-Za-z]{2,}", page.evaluate(ENGLISH_LEFT))
    assert not leftover, leftover
    page.wait_for_timeout(300)  # let the canvas paint before the screenshot
    page.screenshot(path="/tmp/jiaowei-daily-health.png", full_page=True)
    missing.get_by_role("link").click()
    page.wait_for_url("**/data/entry?ds=DAILY_H&pe=20201202&ou=HP02")
    assert not errors, errors
    assert all(url.startswith(daily_server) for url in requests), requests


def test_another_day_and_unit_are_chosen_in_the_form(staff: Any) -> None:
    page = staff
    page.get_by_label("日期").fill("2020-12-01")
    page.get_by_label("单位", exact=True).select_option("HP")  # a picker, not a typed code
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r"day=2020-12-01.*ou=HP"))
    expect(page.locator("#daily-rate")).to_have_text("100.0%")
    expect(page.get_by_text("当天应报单位均已报送。")).to_be_visible()
    expect(page.get_by_text("当天没有违反规则的情况。")).to_be_visible()
