"""Commission staff in a real browser: the indicators and a target, a category combo's preview,
the validation and completeness pages."""

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
from tests.browser.conftest import PASSWORD, running_server, seed
from tests.factories import indicator_metadata

pytestmark = pytest.mark.browser


def _prepare(url: str) -> None:
    """Two schools' 2020 annual forms: 230 + 180 pupils over 15 + 10 teachers (16.4 a teacher); one
    school's 2019 form (20.0)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        indicator_metadata(conn)
        rows = [("HP01", "M", "120"), ("HP01", "F", "110"), ("XH01", "M", "90"), ("XH01", "F", "90")]
        cells = [
            ValueRow(data_element="PUPILS", period="2020", org_unit=u, category_option_combo=c, value=v)
            for u, c, v in rows
        ]
        cells += [
            ValueRow(data_element="TEACHERS", period="2020", org_unit=u, value=v)
            for u, v in (("HP01", "15"), ("XH01", "10"))
        ]
        cells += [  # 2019 too, so the years make a line: 200 pupils over 10 teachers
            ValueRow(data_element=de, period="2019", org_unit="HP01", category_option_combo=c, value=v)
            for de, c, v in (("PUPILS", "M", "100"), ("PUPILS", "F", "100"), ("TEACHERS", None, "10"))
        ]
        values.import_values(conn, principal=SYSTEM, rows=cells, source="test", synthetic=True)
    engine.dispose()


@pytest.fixture(scope="module")
def pages_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("indicator-pages")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    seed(url)
    _prepare(url)
    with running_server(url, home, "browser-indicators-" + "x" * 32) as base:
        yield base


@pytest.fixture
def staff(chromium: Any, pages_server: str) -> Iterator[Any]:
    context = chromium.new_context(
        base_url=pages_server, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/login?next=/indicators")
    page.get_by_label(re.compile("用户名|Username")).fill("admin")
    page.get_by_label(re.compile("密码|Password")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("^(登录|Log in)$")).click()
    page.wait_for_url(lambda url: url.endswith("/indicators"))
    yield page
    context.close()


def test_an_indicator_is_computed_up_the_tree_and_gets_a_target(staff: Any) -> None:
    page = staff
    page.goto("/indicators?ou=SH&pe=2020")
    row = page.get_by_role("row").filter(has_text="PTR")
    expect(row).to_contain_text("16.4")  # (230 + 180) / (15 + 10): a ratio of sums
    expect(row).to_contain_text("合成数据")
    row.get_by_role("link").first.click()
    expect(page.get_by_role("row").filter(has_text="HP")).to_contain_text("15.3")
    page.get_by_label("目标值").fill("16")
    page.get_by_role("button", name="保存目标").click()
    expect(page.get_by_role("row").filter(has_text="SH").first).to_contain_text("已达成")


def test_a_category_combo_shows_its_combinations_before_it_is_saved(staff: Any) -> None:
    page = staff
    page.goto("/metadata/categoryCombos/new")
    page.get_by_label(re.compile("SEX")).check()
    page.get_by_role("button", name="预览组合数").click()
    expect(page.get_by_text("此类别组合将有 2 种组合。").first).to_be_visible()


def test_validation_and_completeness_pages_answer(staff: Any) -> None:
    page = staff
    page.goto("/quality/validation?ou=SH&start=2020-01-01&end=2020-12-31")
    expect(page.get_by_role("status")).to_contain_text("没有校验问题")  # no rules are defined here
    page.goto("/data/completeness?ds=SCHOOL_Y&pe=2020&ou=SH")
    expect(page.locator("main")).to_contain_text("HP")


def test_the_indicator_page_charts_the_units_below_from_the_server_alone(
    staff: Any, pages_server: str
) -> None:
    page = staff
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto("/indicators/PTR?ou=SH&pe=2020")
    page.get_by_label("目标值").fill("16")
    page.get_by_role("button", name="保存目标").click()
    chart = page.locator("#children-chart")
    expect(chart).to_have_attribute("role", "img")
    expect(chart).to_have_attribute("aria-label", re.compile("15.3.*16"))  # lowest, highest, the target
    expect(chart.locator("canvas")).to_have_count(1)
    expect(page.locator("#trajectory-chart canvas")).to_have_count(1)
    box = chart.bounding_box()
    assert box and box["width"] > 600 and box["height"] > 200
    page.wait_for_timeout(300)  # let the canvas paint before the screenshot
    chart.scroll_into_view_if_needed()
    page.screenshot(path="/tmp/jiaowei-indicator-chart.png", full_page=True)
    page.locator("#trajectory-chart").screenshot(path="/tmp/jiaowei-indicator-years.png")
    assert not errors, errors
    assert requests and all(url.startswith(pages_server) for url in requests), requests
    assert any(url.startswith(pages_server + "/static/vendor/echarts/echarts.min.js") for url in requests)
