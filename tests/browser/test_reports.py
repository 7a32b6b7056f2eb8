"""Commission staff generate the 2020 annual report in Chromium, in zh-CN: the report in the page has no
English left, a figure's link opens its pivot, and the PDF is made by a job whose page shows the progress
and then the file to download. The editor shows a broken template's line. Screenshots: /tmp/shots14/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from jiaowei.db.engine import make_engine
from jiaowei.demo import shanghai2020
from jiaowei.indicators import demo as indicators_demo
from jiaowei.plans import demo as plans_demo
from jiaowei.settings import Settings, using
from tests.browser.conftest import form_logins, running_server
from tests.i18n.test_zh_pages import ALLOWED, BILINGUAL, CODES, PATHS, PROSE, text_nodes

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots14")
SECRET = "browser-reports-" + "x" * 32


@pytest.fixture(scope="module")
def report_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo's registry, indicators and 2020 plan, served as `make demo` serves them."""
    home = tmp_path_factory.mktemp("reports-demo")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    engine = make_engine(url)
    from jiaowei.db.migrate import upgrade

    upgrade(engine)
    with using(Settings(home=home)), engine.begin() as conn:
        shanghai2020.load(conn)
        indicators_demo.load(conn)
        plans_demo.load(conn)
    engine.dispose()
    with running_server(url, home, SECRET) as base:
        yield base


@pytest.fixture
def staff(chromium: Any, report_server: str) -> Iterator[Page]:
    with form_logins(chromium, report_server, timeout_ms=30_000) as login:
        yield login("commission", "/reports", password=shanghai2020.PASSWORD)


def _shoot(page: Page, name: str) -> None:
    """The whole page, and what the window shows first."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.screenshot(path=str(SHOTS / f"{name}_top.png"))


def _english(page: Page) -> list[str]:
    """English prose in the page's text (the house check of tests/i18n/test_zh_pages.py)."""
    found = []
    for text in text_nodes(page.content()):
        text = CODES.sub(" ", PATHS.sub(" ", BILINGUAL.sub(r"\1", text)))
        for phrase in ALLOWED:
            text = text.replace(phrase, " ")
        found += [m.group() for m in PROSE.finditer(text)]
    return found


def test_the_annual_report_is_generated_in_chinese_and_its_figures_open_their_pivot(staff: Page) -> None:
    page = staff
    page.wait_for_url(re.compile(r"/reports$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("报告")
    _shoot(page, "reports")
    page.locator("#template").select_option("annual")
    page.get_by_label("年份", exact=True).fill("2020")
    page.get_by_label("报告语言").select_option("zh")
    page.get_by_label("格式").select_option("html")
    page.get_by_role("button", name="生成", exact=True).click()
    page.wait_for_url(re.compile(r"/reports/view\?"))
    report = page.locator("#report article.report")
    expect(report.get_by_role("heading", level=1)).to_contain_text("2020年度工作情况报告")
    for figure in ("86%", "37.7万", "92.51%", "18.66万", "1:159", "97.1%"):
        expect(report.locator("a.figure", has_text=figure).first).to_be_visible()
    expect(report.locator(".synthetic-note")).to_contain_text("合成")
    assert _english(page) == []
    _shoot(page, "report_view")
    report.locator("a.figure", has_text="92.51%").first.click()
    page.wait_for_url(re.compile(r"/analytics\?"))
    dimensions = parse_qs(urlsplit(page.url).query)["dimension"]
    assert "pe:2020" in dimensions and "ou:310000" in dimensions
    expect(page.locator("table").first).to_contain_text("92.51")
    _shoot(page, "figure_pivot")


def test_a_pdf_is_made_by_a_job_and_downloaded(staff: Page) -> None:
    page = staff
    page.goto("/reports/view?template=annual&year=2020&lang=zh")
    page.get_by_role("button", name="下载 PDF").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]+$"))
    _shoot(page, "pdf_job")
    download_link = page.locator("#job-download")
    expect(download_link).to_be_visible(timeout=120_000)  # the page polled, then showed the file
    expect(page.get_by_role("status")).to_contain_text("文件已生成")
    _shoot(page, "pdf_job_done")
    with page.expect_download() as made:
        download_link.click()
    path = made.value.path()
    assert made.value.suggested_filename == "annual-2020-zh.pdf"
    assert Path(path).read_bytes().startswith(b"%PDF")
    page.get_by_role("link", name="返回报告").click()
    page.wait_for_url(re.compile(r"/reports$"))


def test_the_editor_names_the_line_of_a_broken_template(staff: Page) -> None:
    page = staff
    page.goto("/reports/templates/annual")
    _shoot(page, "editor")
    editor = page.get_by_label("模板正文")
    editor.fill("<h1>{{ year }}</h1>\n<p>一</p>\n<p>{{ fig('KG_INCLUSIVE_COVERAGE' }}</p>\n")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator("#body-error")).to_contain_text("第 3 行")
    expect(editor).to_have_value(re.compile(r"fig\('KG_INCLUSIVE_COVERAGE' \}\}"))  # the text is kept
    _shoot(page, "editor_error")
    editor.fill("<h1>预览 {{ year }}</h1>\n"
                "<p>普惠性学前教育覆盖率{{ fig('KG_INCLUSIVE_COVERAGE', decimals=0) }}</p>")
    page.get_by_role("button", name="预览", exact=True).click()
    expect(page.locator("#preview")).to_contain_text("86%")
    _shoot(page, "editor_preview")
