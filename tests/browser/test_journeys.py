"""The main journeys through the pages, in headless Chromium against a real server."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.browser


def log_in(page: Page, next_path: str = "/units") -> None:
    page.goto("/login?" + urlencode({"next": next_path}))
    page.get_by_label(re.compile("用户名|Username")).fill("admin")
    page.get_by_label(re.compile("密码|Password")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("^(登录|Log in)$")).click()
    page.wait_for_url(lambda url: url.endswith(next_path))
    if page.locator("html").get_attribute("lang") != "zh-CN":  # the account remembers a language
        page.get_by_role("button", name="中文").click()
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def test_log_in_and_browse_the_tree_to_a_school(new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.goto("/units")
    assert "/login?next=/units" in page.url
    log_in(page)
    page.get_by_role("link", name="展开黄浦区教育局的下级单位").click()
    expect(page.get_by_role("link", name="黄浦区示范第一小学")).to_be_visible()
    page.get_by_role("link", name="黄浦区示范第一小学").click()
    page.wait_for_url("**/units/HP01?as_of=*")
    assert page.get_by_role("heading", level=1).inner_text().startswith("黄浦区示范第一小学")
    assert page.get_by_text("合成数据").first.is_visible()
    breadcrumb = page.get_by_role("navigation", name="当前位置")
    assert "上海市教育委员会" in breadcrumb.inner_text() and "黄浦区教育局" in breadcrumb.inner_text()
    page.screenshot(path="/tmp/jiaowei-unit-zh.png", full_page=True)


def test_changing_the_as_of_date_hides_a_closed_unit(new_page: Callable[..., Page]) -> None:
    page = new_page(locale="en-GB")
    log_in(page, "/units?as_of=2021-06-30")
    page.get_by_role("button", name="English").click()
    page.get_by_role("link", name="Show units below Xuhui District Education Bureau").click()
    kindergarten = page.get_by_role("link", name="Xuhui Model Kindergarten")
    expect(kindergarten).to_be_visible()
    page.get_by_label("As of").fill("2021-07-01")
    page.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_url("**as_of=2021-07-01**")
    expect(page.get_by_role("link", name="Xuhui Model Primary School No. 1")).to_be_visible()
    expect(kindergarten).to_have_count(0)
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("link", name="徐汇区示范第一小学")).to_be_visible()


def test_an_import_with_a_bad_row_shows_the_row_and_imports_nothing(new_page: Callable[..., Page]) -> None:
    page = new_page()
    log_in(page, "/units/import")
    csv = ("code,name_zh,name_en,type,parent,valid_from\n"
           "HP03,黄浦区新建小学,Huangpu New Primary,primary_school,HP,2022-09-01\n"
           "HP04,黄浦区城堡,Huangpu Castle,castle,HP,2022-09-01\n")
    page.get_by_label("文件", exact=True).set_input_files(
        files=[FilePayload(name="units.csv", mimeType="text/csv", buffer=csv.encode())])
    page.get_by_label(re.compile("试运行")).uncheck()
    page.get_by_role("button", name="导入", exact=True).click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert").filter(has=page.get_by_role("table"))
    row = alert.get_by_role("row").filter(has_text="castle")
    expect(row).to_be_visible()  # the import is a job: its page shows the problems once it has run
    cells = row.get_by_role("cell").all_inner_texts()
    assert cells[0] == "3" and "type" in cells[1] and cells[2] == "castle", cells
    expect(page.get_by_text("未导入任何数据").first).to_be_visible()
    page.goto("/units?q=HP03&as_of=2023-01-01")
    expect(page.get_by_text("该日期没有与“HP03”匹配的单位。")).to_be_visible()


def test_screens_on_a_laptop_and_a_phone(new_page: Callable[..., Page]) -> None:
    laptop = new_page()
    log_in(laptop, "/units?as_of=2021-06-30&open=SH,HP,XH")
    laptop.screenshot(path="/tmp/jiaowei-tree-zh.png", full_page=True)
    phone = new_page(width=390, height=844)
    log_in(phone, "/units?as_of=2021-06-30&open=SH,HP,XH")
    phone.screenshot(path="/tmp/jiaowei-tree-phone.png", full_page=True)
    phone.goto("/units/XH02?as_of=2021-06-30")
    phone.screenshot(path="/tmp/jiaowei-unit-phone.png", full_page=True)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    laptop.keyboard.press("Tab")
    assert laptop.evaluate("document.activeElement.className") == "skip-link"


def test_create_a_group_of_two_schools_and_find_it_in_the_audit_log(new_page: Callable[..., Page]) -> None:
    page = new_page()
    log_in(page, "/")
    page.get_by_role("navigation", name="模块").get_by_role("link", name="单位分组").click()
    page.wait_for_url("**/groups")
    page.get_by_role("link", name="新建分组").click()
    page.get_by_label("代码").fill("SHIFAN")
    page.get_by_label("中文名称").fill("示范学校")
    page.get_by_label("英文名称").fill("Model schools")
    page.get_by_label("成员单位").fill("HP01\nXH01")
    page.get_by_role("button", name="创建分组").click()
    page.wait_for_url("**/groups/SHIFAN")
    members = page.get_by_role("table")
    expect(members.get_by_role("link", name="黄浦区示范第一小学")).to_be_visible()
    expect(members.get_by_role("link", name="徐汇区示范第一小学")).to_be_visible()
    page.get_by_role("link", name="单位分组").first.click()
    row = page.get_by_role("row").filter(has_text="SHIFAN")
    expect(row.get_by_role("link", name="示范学校")).to_be_visible()
    assert row.get_by_role("cell").nth(2).inner_text() == "2"
    page.screenshot(path="/tmp/jiaowei-groups-zh.png", full_page=True)
    page.get_by_role("link", name="审计记录").click()
    page.wait_for_url("**/audit")
    expect(page.locator("#chain-status")).to_contain_text("审计链完整")
    entry = page.get_by_role("row").filter(has_text="unit_group.create")
    expect(entry).to_contain_text("SHIFAN")
    expect(entry).to_contain_text("HP01")
    page.screenshot(path="/tmp/jiaowei-audit-zh.png", full_page=True)
