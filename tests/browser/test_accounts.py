"""Creating a user from the Users page in headless Chromium: the one-time password shown once leads
the new user to the change of password."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser


def test_an_administrator_creates_a_reporter_who_must_change_the_one_time_password(
        new_page: Callable[..., Page]) -> None:
    page = new_page()
    log_in(page, "/users")
    form = page.locator("#new-user-form")
    form.locator("#new-username").fill("hp01.reporter")
    form.locator("#new-role").select_option("unit_reporter")
    form.locator('input[name="capture"]').first.fill("HP01")
    form.get_by_role("button", name="创建用户").click()
    expect(page.locator("#one-time-password")).to_be_visible()
    one_time = page.locator("#one-time-password code.secret").inner_text()
    assert re.fullmatch(r"[0-9a-f]{6}(-[0-9a-f]{6}){3}", one_time)
    expect(page.locator('input[name="capture"]').first).to_have_value("HP01")

    reporter = new_page()
    reporter.goto("/login")
    reporter.get_by_label(re.compile("用户名|Username")).fill("hp01.reporter")
    reporter.get_by_label(re.compile("密码|Password")).fill(one_time)
    reporter.get_by_role("button", name=re.compile("^(登录|Log in)$")).click()
    reporter.wait_for_url(re.compile(r"/me/password"))
    expect(reporter.locator("main")).to_contain_text("修改密码")
