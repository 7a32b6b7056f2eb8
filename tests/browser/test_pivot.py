"""Commission staff build a pivot table in a real browser, switch it to a chart, drill down from a
district to a school and to the values stored there; the Chinese page has no English left over.
Screenshots go to /tmp/shots (the directory is made if missing)."""

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
from jiaowei.indicators.values import service as values
from tests.browser.conftest import logged_in, running_server, seed
from tests.factories import indicator_metadata

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")
# Words a Chinese page may show in Latin letters: file formats, keys, the other language's name.
LATIN_ALLOWED = {"CSV", "XLSX", "JSON", "Ctrl", "Mac", "jiaowei", "English"}  # "English": the language switch


def _prepare(url: str) -> None:
    """2020 annual forms of a Huangpu and a Xuhui primary school (pupils by sex, teachers)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        indicator_metadata(conn)
        cells = [ValueRow(data_element="PUPILS", period="2020", org_unit=u, category_option_combo=c, value=v)
                 for u, c, v in (("HP01", "M", "120"), ("HP01", "F", "110"), ("XH01", "M", "90"),
                                 ("XH01", "F", "90"))]
        cells += [ValueRow(data_element="TEACHERS", period="2020", org_unit=u, value=v)
                  for u, v in (("HP01", "15"), ("XH01", "10"))]
        summary = values.import_values(conn, principal=SYSTEM, rows=cells, source="test", synthetic=True)
        assert summary.imported == len(cells), summary
    engine.dispose()


@pytest.fixture(scope="module")
def pivot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("pivot-pages")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    seed(url)
    _prepare(url)
    with running_server(url, home, "browser-pivot-" + "x" * 32) as base:
        yield base


@pytest.fixture
def staff(chromium: Any, pivot_server: str) -> Iterator[Any]:
    with logged_in(chromium, pivot_server, "/analytics") as page:
        yield page


def _shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"pivot_{name}.png"), full_page=True)


def _latin_words(page: Any) -> set[str]:
    """Latin words in the page's visible text outside code elements."""
    text = page.evaluate("""() => {
        const copy = document.body.cloneNode(true);
        copy.querySelectorAll('code, script, .brand__en').forEach(e => e.remove());
        return copy.innerText;
    }""")
    return set(re.findall(r"[A-Za-z]{2,}", text)) - LATIN_ALLOWED


def test_a_pivot_is_built_charted_and_drilled_into(staff: Any) -> None:
    page = staff
    page.locator("#dx").select_option(["PUPILS", "TEACHERS"])
    page.locator("#pe").select_option(["2020"])
    page.locator("#ou").select_option(["SH"])
    page.locator("#level").select_option("2")
    page.locator("#dx_on").select_option("columns")
    page.locator("#pe_on").select_option("filter")
    page.locator("#ou_on").select_option("rows")
    page.get_by_role("button", name="显示透视表").click()
    table = page.locator("#pivot-table")
    expect(table).to_contain_text("合计")
    huangpu = table.get_by_role("row").filter(has_text="黄浦区教育局")
    expect(huangpu).to_contain_text("230")  # pupils
    expect(huangpu).to_contain_text("245")  # and 15 teachers: the row total
    expect(table.locator("tfoot")).to_contain_text("410")  # 230 + 180 pupils
    assert _latin_words(page) == set(), _latin_words(page)
    _shoot(page, "table")

    page.get_by_role("link", name="柱状图", exact=True).click()
    expect(page.locator("#pivot-chart canvas")).to_have_count(1)
    _shoot(page, "bar")
    page.get_by_role("link", name="同比", exact=True).click()
    expect(page.locator("#pivot-chart canvas")).to_have_count(1)

    page.get_by_role("link", name="数据表", exact=True).click()
    page.locator("#pivot-table").get_by_role("row").filter(has_text="黄浦区教育局").get_by_role("link").first.click()
    schools = page.locator("#pivot-table")
    expect(schools).to_contain_text("黄浦区示范第一小学")
    expect(schools).not_to_contain_text("徐汇")
    _shoot(page, "drilled")
    schools.get_by_role("row").filter(has_text="黄浦区示范第一小学").get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("数字背后的存储数值")
    rows = page.locator(".values-table tbody tr")
    expect(rows).to_have_count(2)  # pupils: boys and girls
    expect(page.locator(".values-table")).to_contain_text("合成数据")
    rows.first.locator("summary").click()
    expect(rows.first.locator(".history")).to_contain_text("新增数值")
    _shoot(page, "values")


def test_a_chart_is_saved_to_the_home_dashboard(staff: Any) -> None:
    page = staff
    page.goto("/analytics?dimension=dx:PUPILS&filter=pe:2020&dimension=ou:SH;LEVEL-2&rows=ou&columns=dx"
              "&chart=bar")
    expect(page.locator("#pivot-chart canvas")).to_have_count(1)
    page.get_by_label("标题").fill("各区在校学生数")
    page.get_by_role("button", name="保存到我的仪表板").click()
    page.wait_for_url(lambda url: not urlsplit(url).path.startswith("/analytics"))
    page.goto("/")
    saved = page.locator("main").get_by_text("各区在校学生数")
    expect(saved.first).to_be_visible()
    _shoot(page, "saved_home")
