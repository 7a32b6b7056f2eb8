"""One journey per role on the whole Shanghai 2020 demo, in Chromium: each demo login lands on its home
page, finds its work through the navigation and the pickers, and is shown nothing it may not use (every
link of its navigation opens; the pages it may not use are not offered and answer 403).

Screenshots of each home page go to $JIAOWEI_SCREENSHOTS when it is set.

On the same demo (loaded once), axe-core (WCAG 2.0 A and AA) checks the main pages by name in zh-CN at
1280 and 375 px: as the administrator, as district staff (huangpu) and without a login (the login page,
the admissions results and the family lookup). No critical or serious violation may remain; the check
itself is tested in ``test_axe_pages.py``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from jiaowei.demo.shanghai2020 import PASSWORD
from tests.browser.axe import NOT_OURS, Violation, check_at_widths, page_key
from tests.browser.conftest import AXE, form_logins, running_server

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


# ---------------------------------------------------------------- axe on the main pages

UNIT = "310101"  # 黄浦区教育局, in the huangpu login's scope
MORE_PAGES = {  # pages the navigation does not link to, by login
    "admin": ("/", f"/units/{UNIT}", f"/units/{UNIT}/edit", "/units/new", "/groups/new", "/me",
              "/users/huangpu"),
    "huangpu": ("/", f"/units/{UNIT}", "/me", "/me/password"),
}


def _links(page: Page, selector: str) -> list[str]:
    """The same-site paths of the links ``selector`` finds, in order, each once."""
    found: list[str] = []
    for href in page.locator(selector).evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        if href and href.startswith("/") and href not in found and href.split("?")[0] not in NOT_OURS \
                and not href.startswith("/static/"):
            found.append(href)
    return found


def _check(page: Page, paths: list[str]) -> list[Violation]:
    """Open each of ``paths`` in ``page`` and run axe at both widths; it must answer 200."""
    found: list[Violation] = []
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        assert page.locator("html").get_attribute("lang") == "zh-CN", path
        found.extend(check_at_widths(page))
        AXE.checked.add(page_key(page.url))  # checked here: the session's hook need not open it again
        page.set_viewport_size({"width": 1280, "height": 900})
    return found


def _no_violations(found: list[Violation]) -> None:
    assert not found, "\n".join(str(v) for v in found)


@pytest.mark.parametrize("username", ["admin", "huangpu"])
def test_the_main_pages_of_a_login_have_no_serious_violation(chromium: Any, demo_server: str,
                                                             username: str) -> None:
    with form_logins(chromium, demo_server, timeout_ms=30_000) as login:
        page: Page = login(username, password=PASSWORD)
        paths = list(MORE_PAGES[username]) + _links(page, "header nav a")
        assert len(paths) > len(MORE_PAGES[username]), "the navigation offers pages"
        _no_violations(_check(page, paths))


def test_the_public_pages_have_no_serious_violation(chromium: Any, demo_server: str) -> None:
    context = chromium.new_context(base_url=demo_server, locale="zh-CN",
                                   viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        page.goto("/admissions/public")
        campaign = _links(page, "main table a[href$='/results']")[0]
        paths = ["/login", "/admissions/public", campaign, campaign.replace("/results", "/lookup")]
        assert all(urllib.parse.urlsplit(p).path.startswith("/") for p in paths)
        _no_violations(_check(page, paths))
    finally:
        context.close()
