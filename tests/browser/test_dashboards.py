"""The issue's journey in a real browser: build a pivot, switch it to a chart, drill down, save it to
a dashboard and see it on the home page; then arrange the home page. Screenshots go to /tmp/shots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.targets import service as targets
from jiaowei.indicators.values import service as values
from tests.browser.conftest import logged_in, running_server, seed
from tests.factories import indicator_metadata

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")


def _prepare(url: str) -> None:
    """2020 annual forms of a Huangpu and a Xuhui primary school (230 and 180 pupils, 15 and 10
    teachers: 16.4 pupils a teacher in the city), and a city target of 16 for that ratio."""
    engine = make_engine(url)
    with engine.begin() as conn:
        indicator_metadata(conn)
        cells = [ValueRow(data_element="PUPILS", period="2020", org_unit=u, category_option_combo=c, value=v)
                 for u, c, v in (("HP01", "M", "120"), ("HP01", "F", "110"), ("XH01", "M", "90"),
                                 ("XH01", "F", "90"))]
        cells += [ValueRow(data_element="TEACHERS", period="2020", org_unit=u, value=v)
                  for u, v in (("HP01", "15"), ("XH01", "10"))]
        values.import_values(conn, principal=SYSTEM, rows=cells, source="test", synthetic=True)
        targets.set_target(conn, principal=SYSTEM, indicator="PTR", unit="SH", period="2020", value=16.0)
    engine.dispose()


@pytest.fixture(scope="module")
def dashboard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("dashboards")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    seed(url)
    _prepare(url)
    with running_server(url, home, "browser-dashboards-" + "x" * 32) as base:
        yield base


@pytest.fixture
def staff(chromium: Any, dashboard_server: str) -> Iterator[Any]:
    with logged_in(chromium, dashboard_server, "/analytics") as page:
        yield page


def _shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # let the canvas paint
    page.screenshot(path=str(SHOTS / f"dashboards_{name}.png"), full_page=True)


def test_a_pivot_is_built_charted_drilled_saved_and_shown_on_the_home_page(staff: Any) -> None:
    page = staff
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.locator("#dx").select_option(["PUPILS"])
    page.locator("#pe").select_option(["2020"])
    page.locator("#ou").select_option(["SH"])
    page.locator("#level").select_option("2")
    page.locator("#dx_on").select_option("columns")
    page.locator("#pe_on").select_option("filter")
    page.locator("#ou_on").select_option("rows")
    page.get_by_role("button", name="显示透视表").click()
    expect(page.locator("#pivot-table").get_by_role("row").filter(has_text="黄浦区教育局")).to_contain_text("230")

    page.get_by_role("link", name="柱状图", exact=True).click()
    expect(page.locator("#pivot-chart canvas")).to_have_count(1)
    page.locator("#pivot-table").get_by_role("row").filter(has_text="黄浦区教育局").get_by_role("link").first.click()
    expect(page.locator("#pivot-table")).to_contain_text("黄浦区示范第一小学")
    expect(page.locator("#pivot-table")).not_to_contain_text("徐汇")
    _shoot(page, "drilled")

    page.get_by_label("标题").fill("黄浦区各校在校学生")
    page.get_by_role("button", name="保存到我的仪表板").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/")  # saved to the home page, and shown there
    saved = page.locator("article.dash-item").filter(has_text="黄浦区各校在校学生")
    expect(saved).to_have_count(1)
    expect(saved).to_contain_text("图表")
    expect(saved.locator("canvas")).to_have_count(1)
    expect(saved.get_by_role("img")).to_have_attribute("aria-label", re.compile(".+"))
    expect(page.locator(".tile").filter(has_text="生师比")).to_contain_text("16.4")
    expect(page.locator(".tile").filter(has_text="生师比")).to_contain_text("已达成")
    expect(page.get_by_text("即将推出")).to_have_count(0)
    _shoot(page, "home")
    assert errors == []


def test_home_page_items_are_arranged_and_removed(staff: Any) -> None:
    page = staff
    for title in ("甲：学生数", "乙：学生数"):
        page.goto("/analytics?dimension=dx:PUPILS&dimension=ou:SH;HP;XH&filter=pe:2020")
        page.get_by_label("标题").fill(title)
        page.get_by_role("button", name="保存到我的仪表板").click()
    page.goto("/")
    titles = page.locator("article.dash-item h3")
    expect(titles.filter(has_text="乙：学生数")).to_have_count(1)
    order = titles.all_inner_texts()
    assert order.index("甲：学生数") < order.index("乙：学生数")
    page.locator("article.dash-item").filter(has_text="乙：学生数").get_by_role("button", name="上移").click()
    order = page.locator("article.dash-item h3").all_inner_texts()
    assert order.index("乙：学生数") < order.index("甲：学生数")
    table = page.locator("article.dash-item").filter(has_text="乙：学生数").locator("table")
    expect(table).to_contain_text("410")  # 230 + 180 pupils in the city
    _shoot(page, "arranged")
    second = page.locator("article.dash-item").filter(has_text="乙：学生数")
    second.get_by_role("button", name="从仪表板移除").click()
    expect(page.locator("article.dash-item").filter(has_text="乙：学生数")).to_have_count(0)
    expect(page.locator("article.dash-item").filter(has_text="甲：学生数")).to_have_count(1)
