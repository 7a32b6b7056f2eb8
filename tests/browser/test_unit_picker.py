"""The unit picker in Chromium: a district's staff types pinyin initials on the data entry page,
chooses the school offered, and the school's form opens; on the completeness page they browse the
tree instead of typing. A reporter with one unit lands on their own form without choosing."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from tests.browser.conftest import PASSWORD, form_logins, seeded_server
from tests.factories import indicator_metadata

pytestmark = pytest.mark.browser

SECRET = "browser-picker-" + "x" * 32
SHOTS = os.environ.get("JIAOWEI_SCREENSHOTS")


def _prepare(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        indicator_metadata(conn)
        auth.create_user(conn, principal=SYSTEM, username="hpstaff", password=PASSWORD, role="district_staff",
                         capture_scope=["HP"])
        auth.create_user(conn, principal=SYSTEM, username="hp01", password=PASSWORD, role="unit_reporter",
                         capture_scope=["HP01"])
    engine.dispose()


@pytest.fixture(scope="module")
def picker_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with seeded_server(tmp_path_factory, "picker-server", SECRET, _prepare) as base:
        yield base


@pytest.fixture
def logged_in_as(chromium: Any, picker_server: str) -> Iterator[Any]:
    with form_logins(chromium, picker_server) as login:
        yield login


def test_typing_pinyin_initials_and_choosing_opens_the_form(logged_in_as: Any) -> None:
    page = logged_in_as("hpstaff", "/data/entry")
    unit = page.get_by_role("combobox", name="单位")
    expect(page.locator("#pe")).not_to_have_value("")  # the current period is filled in
    unit.press_sequentially("hpqsf", delay=40)  # 黄浦区示范…: both model schools of 黄浦
    options = page.locator("#ou-options").get_by_role("option")
    expect(options).to_have_count(2)
    expect(options.first).to_contain_text("黄浦区示范")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/unit-picker.png")
    unit.press_sequentially("d", delay=40)  # 黄浦区示范第一小学 only
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("HP01")
    unit.press("ArrowDown")
    unit.press("Enter")  # chosen: the form is sent and the school's form opens
    page.wait_for_url(re.compile(r"ou=HP01"))
    expect(page.get_by_role("heading", name=re.compile("学校年报 · 黄浦区示范第一小学"))).to_be_visible()
    expect(page.get_by_label("专任教师数", exact=True)).to_be_editable()


def test_the_scope_limits_what_is_offered_and_browsing_walks_the_tree(logged_in_as: Any) -> None:
    page = logged_in_as("hpstaff", "/data/completeness")
    unit = page.get_by_role("combobox", name="单位")
    unit.fill("")
    unit.press_sequentially("xhq", delay=40)  # 徐汇区… lies outside 黄浦
    expect(page.locator(".unit-picker__options")).to_contain_text("没有相符的单位")
    unit.fill("")
    page.get_by_role("button", name="浏览").click()
    tree = page.get_by_role("group", name="浏览单位")
    expect(tree).to_contain_text("黄浦区教育局")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/unit-picker-browse.png")
    tree.get_by_role("button", name=re.compile("下级单位")).click()
    tree.get_by_role("button", name=re.compile("选择 黄浦区示范中学")).click()
    page.wait_for_url(re.compile(r"ou=HP02"))
    expect(unit).to_have_value("HP02")


def test_a_reporter_lands_on_their_own_form(logged_in_as: Any) -> None:
    page = logged_in_as("hp01", "/data/entry")
    page.wait_for_url(re.compile(r"ds=SCHOOL_Y.*ou=HP01"))
    expect(page.get_by_role("heading", name=re.compile("黄浦区示范第一小学"))).to_be_visible()
