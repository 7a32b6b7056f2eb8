"""Times a script shows (a cell's history on the data entry page) and the audit log follow the zone
set in ``JIAOWEI_TIME_ZONE``, here Europe/Berlin, not the browser's and not UTC."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.indicators.store import data_imports
from jiaowei.indicators.values import service as values
from tests.browser.conftest import PASSWORD, running_server, seed
from tests.factories import indicator_metadata

pytestmark = pytest.mark.browser

SECRET = "browser-times-" + "x" * 32
FORM = "/data/entry?ds=SCHOOL_Y&pe=2020&ou=HP01"
SAVED_AT = dt.datetime(2020, 3, 1, 16, 30, tzinfo=dt.UTC)  # 17:30 in Berlin, 00:30 next day in Shanghai


@pytest.fixture(scope="module")
def berlin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("times-server")
    url = f"sqlite:///{home / 'jiaowei.sqlite3'}"
    seed(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        indicator_metadata(conn)
        values.save_value(conn, principal=SYSTEM, data_element="TEACHERS", period="2020", org_unit="HP01",
                          value="15")
        conn.execute(update(data_imports).values(at=SAVED_AT))
    engine.dispose()
    before = os.environ.get("JIAOWEI_TIME_ZONE")
    os.environ["JIAOWEI_TIME_ZONE"] = "Europe/Berlin"
    try:
        with running_server(url, home, SECRET) as base:
            yield base
    finally:
        if before is None:
            os.environ.pop("JIAOWEI_TIME_ZONE", None)
        else:
            os.environ["JIAOWEI_TIME_ZONE"] = before


def test_the_cell_history_and_the_audit_log_are_in_the_zone(chromium: Any, berlin_server: str) -> None:
    context = chromium.new_context(base_url=berlin_server, locale="en-GB", timezone_id="Asia/Tokyo")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(f"/login?next={FORM.replace('&', '%26')}&lang=en")
        page.get_by_label(re.compile("用户名|Username")).fill("admin")
        page.get_by_label(re.compile("密码|Password")).fill(PASSWORD)
        page.get_by_role("button", name=re.compile("^(登录|Log in)$")).click()
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(FORM)
        page.get_by_label(re.compile("^(专任教师数|Teachers)$")).focus()
        history = page.locator("#cell-history")
        expect(history).to_contain_text("2020-03-01 17:30")  # Berlin; the browser is in Tokyo
        page.goto("/audit?lang=en")
        expect(page.locator("table.audit thead")).to_contain_text("When (Europe/Berlin)")
    finally:
        context.close()
