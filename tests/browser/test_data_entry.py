"""A school enters its annual form, sees a validation problem, uploads the XLSX template, marks
the form complete; its district approves it, and the form is locked."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import expect

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.indicators.metadata import service as metadata
from tests.browser.conftest import PASSWORD, running_server, seed
from tests.factories import indicator_metadata

pytestmark = pytest.mark.browser

SECRET = "browser-entry-" + "x" * 32
SHOTS = os.environ.get("JIAOWEI_SCREENSHOTS")
FORM = "/data/entry?ds=SCHOOL_Y&pe=2020&ou=HP01"


def _prepare(url: str) -> None:
    """The school annual form for primary schools, a pupils-per-teacher rule, a reporter, a district."""
    engine = make_engine(url)
    with engine.begin() as conn:
        indicator_metadata(conn)
        metadata.save_validation_rule(
            conn,
            principal=SYSTEM,
            code="PTR_MAX",
            name_zh="生师比不超过40",
            name_en="At most 40 pupils a teacher",
            left="#{PUPILS}",
            operator="less_than_or_equal_to",
            right="#{TEACHERS} * 40",
            importance="HIGH",
        )
        auth.create_user(
            conn,
            principal=SYSTEM,
            username="hp01",
            password=PASSWORD,
            role="unit_reporter",
            capture_scope=["HP01"],
        )
        auth.create_user(
            conn,
            principal=SYSTEM,
            username="hpstaff",
            password=PASSWORD,
            role="district_staff",
            capture_scope=["HP"],
        )
    engine.dispose()


@pytest.fixture(scope="module")
def entry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("entry-server")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    seed(url)
    _prepare(url)
    with running_server(url, home, SECRET) as base:
        yield base


@pytest.fixture
def browser_for(chromium: Any, entry_server: str) -> Iterator[Any]:
    contexts = []

    def login(username: str, next_url: str) -> Any:
        context = chromium.new_context(
            base_url=entry_server,
            locale="zh-CN",
            accept_downloads=True,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"/login?next={next_url}")
        page.get_by_label(re.compile("用户名|Username")).fill(username)
        page.get_by_label(re.compile("密码|Password")).fill(PASSWORD)
        page.get_by_role("button", name=re.compile("^(登录|Log in)$")).click()
        page.wait_for_url(lambda url: "/login" not in url)
        return page

    yield login
    for context in contexts:
        context.close()


def cell(page: Any, label: str) -> Any:
    return page.get_by_label(label, exact=True)


def enter(page: Any, label: str, value: str) -> None:
    """Type a value and leave the cell with Enter, as a keyboard user does; wait for the save."""
    target = cell(page, label)
    target.fill(value)
    target.press("Enter")
    expect(target.locator("xpath=..").locator(".cell-status")).not_to_have_text(re.compile("^$|正在保存"))


def test_a_school_enters_uploads_completes_and_its_district_approves(
    browser_for: Any, tmp_path: Path
) -> None:
    page = browser_for("hp01", FORM.replace("&", "%26"))
    page.goto(FORM)
    expect(page.get_by_role("heading", name=re.compile("学校年报"))).to_be_visible()
    enter(page, "在校学生数 男", "120")
    expect(cell(page, "在校学生数 女")).to_be_focused()  # Enter moved to the next cell
    enter(page, "在校学生数 女", "110")
    enter(page, "专任教师数", "2")
    violations = page.locator("#violations")
    expect(violations).to_contain_text("生师比不超过40")
    expect(violations).to_contain_text("230")
    enter(page, "达标率", "120")
    status = cell(page, "达标率").locator("xpath=..").locator(".cell-status")
    expect(status).to_contain_text("百分比必须在 0 到 100 之间（0 到 100 之间的数字，如 86.2）")  # zh-CN
    expect(cell(page, "达标率")).to_have_attribute("aria-invalid", "true")
    enter(page, "专任教师数", "15")
    expect(violations).to_contain_text("没有")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/data-entry.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("下载预填的 XLSX 模板")).click()
    template = tmp_path / "template.xlsx"
    download.value.save_as(template)
    book = openpyxl.load_workbook(template)
    filled = 0
    for row in book.active.iter_rows():
        texts = [str(c.value) for c in row]
        if "RATE" in texts:
            row[texts.index("RATE") + 4].value = 91
            filled += 1
    assert filled == 1
    upload = tmp_path / "school.xlsx"
    book.save(upload)
    page.get_by_label(re.compile("填好的模板")).set_input_files(str(upload))
    page.get_by_role("button", name="上传").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f]+$"))  # the upload is a job: its page shows the result
    summary = page.locator("#import-summary")
    expect(summary).to_contain_text("导入完成")  # Import complete
    expect(summary.locator("dt", has_text="新增").locator("xpath=following-sibling::dd")).to_have_text("1")
    page.get_by_role("link", name="返回导入页面").click()  # back to the form
    page.wait_for_url("**" + FORM)
    expect(cell(page, "达标率")).to_have_value("91")
    expect(cell(page, "专任教师数")).to_have_value("15")

    page.get_by_role("button", name="标记表单已完成").click()
    expect(page.locator("#complete-status")).to_contain_text("已标记完成")

    district = browser_for("hpstaff", "/data/approval")
    district.goto("/data/approval?ds=SCHOOL_Y&pe=2020&ou=HP")
    row = district.get_by_role("row").filter(has_text="HP01")
    row.get_by_role("button", name="审核通过").click()
    expect(district.get_by_role("row").filter(has_text="HP01")).to_contain_text("已审核")
    if SHOTS:
        district.screenshot(path=f"{SHOTS}/approval.png", full_page=True)

    page.goto(FORM)
    expect(page.locator("#lock-reason")).to_contain_text("此表单只读：数据集 SCHOOL_Y 在 2020 期已审核并锁定")
    expect(cell(page, "专任教师数")).to_be_disabled()


def test_the_template_of_an_empty_form_lists_every_cell(browser_for: Any) -> None:
    page = browser_for("hp01", "/data/entry")
    response = page.request.get(
        "/api/dataValueSets/template?dataSet=SCHOOL_Y&period=2021&orgUnit=HP01&language=en"
    )
    assert response.ok
    book = openpyxl.load_workbook(io.BytesIO(response.body()))
    codes = [
        str(row[0].value) for row in book.active.iter_rows() if row[0].value in ("PUPILS", "TEACHERS", "RATE")
    ]
    assert sorted(codes) == ["PUPILS", "PUPILS", "RATE", "TEACHERS"]
