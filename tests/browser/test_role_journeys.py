"""One journey per role on the whole Shanghai 2020 demo, in Chromium: each demo login lands on its home
page, finds its work through the navigation and the pickers, and is shown nothing it may not use (every
link of its navigation opens; the pages it may not use are not offered and answer 403).

Screenshots of each home page go to $JIAOWEI_SCREENSHOTS when it is set."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from jiaowei.demo.shanghai2020 import PASSWORD
from tests.browser.conftest import form_logins, running_server

pytestmark = pytest.mark.browser

SECRET = "browser-roles-" + "x" * 32
SHOTS = os.environ.get("JIAOWEI_SCREENSHOTS")
SCHOOL = "310101-PS-001"  # the school reporter's unit, 黄浦区第一小学（合成）
REGISTRY_WRITE = ("/units/new", "/units/import", "/groups/new")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`jiaowei demo` into a fresh home, served as `make demo` serves it."""
    home = tmp_path_factory.mktemp("roles-demo")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIAOWEI_")}
    env.update(JIAOWEI_HOME=str(home), JIAOWEI_DATABASE_URL=url, JIAOWEI_SECRET_KEY=SECRET)
    loaded = subprocess.run([sys.executable, "-m", "jiaowei", "demo"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert loaded.returncode == 0, loaded.stderr
    with running_server(url, home, SECRET) as base:
        yield base


@pytest.fixture
def as_user(chromium: Any, demo_server: str) -> Iterator[Any]:
    with form_logins(chromium, demo_server, timeout_ms=20_000) as login:

        def home(username: str) -> Page:
            page: Page = login(username, password=PASSWORD)
            page.wait_for_url(lambda url: url.rstrip("/") == demo_server)  # the home page
            expect(page.get_by_role("heading", level=1)).to_have_text("上海市教委工作平台")
            if SHOTS:
                page.screenshot(path=f"{SHOTS}/home-{username}.png", full_page=True)
            return page

        yield home


def _navigation(page: Page) -> dict[str, str]:
    links = page.locator("header nav a")
    return {links.nth(i).inner_text().strip(): links.nth(i).get_attribute("href") or ""
            for i in range(links.count())}


def _every_link_opens(page: Page, navigation: dict[str, str]) -> None:
    for title, href in navigation.items():
        response = page.goto(href)
        assert response is not None and response.status == 200, (title, href)


def _refused(page: Page, paths: tuple[str, ...]) -> None:
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.locator("main")).to_contain_text("无权修改单位名录")  # the refusal, in Chinese


def _pick_and_show(page: Page, typed: str, code: str, name: str) -> None:
    """Type ``typed`` into the unit picker, choose the unit ``code`` offered, and show its page."""
    unit = page.get_by_role("combobox", name="单位")
    unit.fill("")
    unit.press_sequentially(typed, delay=40)
    option = page.locator(f'.unit-picker__options [role=option][data-code="{code}"]')
    expect(option).to_contain_text(name)
    option.click()
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(rf"ou={re.escape(code)}(&|$)"))
    expect(page.locator("main")).to_contain_text(name)


def test_the_administrator_has_everything_and_adds_a_unit(as_user: Any) -> None:
    page = as_user("admin")
    navigation = _navigation(page)
    assert {"单位名录", "导入", "单位分组", "数据质量", "审核", "审计记录", "用户"} <= set(navigation)
    _every_link_opens(page, navigation)
    page.goto("/units")
    page.get_by_role("link", name="新增单位").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("新增单位")


def test_commission_staff_pick_a_district_by_pinyin_and_open_its_form(as_user: Any) -> None:
    page = as_user("commission")
    navigation = _navigation(page)
    assert {"数据填报", "审核", "重点工作", "招生入学", "审计记录"} <= set(navigation)
    assert "用户" not in navigation
    _every_link_opens(page, navigation)
    page.get_by_role("link", name="审核", exact=True).click()
    _pick_and_show(page, "hpq", "310101", "黄浦区教育局")  # 黄浦区: pinyin initials


def test_district_staff_land_on_their_district_and_pick_one_of_its_schools(as_user: Any) -> None:
    page = as_user("huangpu")
    navigation = _navigation(page)
    assert {"导入", "数据填报", "审核", "数据质量"} <= set(navigation)
    _every_link_opens(page, navigation)
    page.get_by_role("link", name="审核", exact=True).click()
    unit = page.get_by_role("combobox", name="单位")
    expect(unit).to_have_value("310101")  # defaults to the user's own unit
    unit.fill("")
    unit.press_sequentially("xhq", delay=40)  # 徐汇区 is outside the user's scope: not offered
    expect(page.locator(".unit-picker__options")).to_contain_text("没有相符的单位")
    _pick_and_show(page, "hpqdyxx", SCHOOL, "黄浦区第一小学")  # 黄浦区第一小学（合成）


def test_a_school_reporter_opens_its_own_form_and_sees_no_registry_work(as_user: Any) -> None:
    page = as_user("school")
    navigation = _navigation(page)
    assert {"我的报表", "数据填报"} <= set(navigation)
    assert not {"导入", "单位分组", "审核", "数据质量", "审计记录", "用户"} & set(navigation)
    _every_link_opens(page, navigation)
    page.get_by_role("link", name="数据填报", exact=True).click()
    page.wait_for_url(re.compile(rf"ou={SCHOOL}"))  # straight to its own current form
    expect(page.locator("#form-title")).to_contain_text("黄浦区第一小学")
    page.get_by_role("link", name="我的报表", exact=True).click()
    rows = page.locator("main table tbody tr")
    expect(rows.first).to_be_visible()
    rows.first.get_by_role("link").first.click()
    page.wait_for_url(re.compile(rf"/data/(entry|approval)\?.*ou={SCHOOL}"))
    _refused(page, REGISTRY_WRITE)


def test_a_viewer_reads_and_is_offered_nothing_to_change(as_user: Any) -> None:
    page = as_user("viewer")
    navigation = _navigation(page)
    assert {"单位名录", "统计分析", "仪表板", "重点工作"} <= set(navigation)
    assert not {"导入", "单位分组", "我的报表", "审核", "数据质量", "审计记录", "用户"} & set(navigation)
    _every_link_opens(page, navigation)
    page.goto("/units")
    expect(page.locator('main a[href="/units/new"], main a[href="/units/import"]')).to_have_count(0)
    _refused(page, REGISTRY_WRITE)
