"""Defaults from the user: a reporter opens their unit's current form directly, and the approval,
completeness and data quality pages start from the user's own unit and the current period. Through
the pages, on both databases, on a fixed day (JIAOWEI_TODAY 2021-03-15)."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import BoundDatabase
from jiaowei.indicators import defaults
from jiaowei.indicators.approval import service as approval
from jiaowei.indicators.values import service as values
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.factories import indicator_setup, login, make_user

TODAY = dt.date(2021, 3, 15)


@pytest.fixture
def client(db: BoundDatabase, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path, secret_key="test-secret-" + "x" * 32, today=TODAY)
    with TestClient(create_app(settings, database=db), raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def tree(conn: Connection) -> None:
    """SH → D1, D2 → S1, S2 with the yearly school form SCHOOL_Y (primary schools, never expires)."""
    indicator_setup(conn)


def value_of(page: str, field: str) -> str:
    found = re.search(rf'<input id="{field}" name="{field}" value="([^"]*)"', page)
    assert found, f"no input {field}"
    return html.unescape(found.group(1))


def test_a_reporter_with_one_unit_opens_the_current_form_directly(
    client: TestClient, conn: Connection, tree: None
) -> None:
    make_user(conn, "s1rep", role="unit_reporter", capture=["S1"])
    login(client, "s1rep")
    answer = client.get("/data/entry", follow_redirects=False)
    assert answer.status_code == 303
    assert parse_qs(urlsplit(answer.headers["location"]).query) == {
        "ds": ["SCHOOL_Y"], "pe": ["2021"], "ou": ["S1"]}
    form = client.get("/data/entry").text  # following it: the grid of S1's form
    assert 'data-ou="S1"' in form and 'data-de="PUPILS" data-co="M"' in form


def test_a_locked_current_period_sends_the_reporter_to_the_latest_open_one(
    client: TestClient, conn: Connection, tree: None
) -> None:
    reporter = make_user(conn, "s1rep", role="unit_reporter", capture=["S1"])
    approval.approve(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2021", unit="S1")
    chosen = defaults.entry_form(conn, principal=reporter, today=TODAY)
    assert chosen == defaults.FormChoice("SCHOOL_Y", "2020", "S1")
    login(client, "s1rep")
    answer = client.get("/data/entry", follow_redirects=False)
    assert parse_qs(urlsplit(answer.headers["location"]).query)["pe"] == ["2020"]


def test_a_chosen_form_and_users_of_several_units_are_not_redirected(
    client: TestClient, conn: Connection, tree: None
) -> None:
    make_user(conn, "s1rep", role="unit_reporter", capture=["S1"])
    make_user(conn, "twounits", role="unit_reporter", capture=["S1", "S2"])
    make_user(conn, "d1staff", role="district_staff", capture=["D1"])
    login(client, "s1rep")
    chosen = client.get("/data/entry", params={"ds": "SCHOOL_Y", "pe": "2019", "ou": "S1"},
                        follow_redirects=False)
    assert chosen.status_code == 200 and 'data-pe="2019"' in chosen.text
    for username in ("twounits", "d1staff"):
        client.cookies.clear()
        login(client, username)
        page = client.get("/data/entry", follow_redirects=False)
        assert page.status_code == 200, username
        assert 'class="entry"' not in page.text  # no form opened for them
        assert value_of(page.text, "pe") == "2021"  # the current period is filled in
        assert value_of(page.text, "ou") == ""


def test_the_current_period_is_the_latest_with_values(conn: Connection, tree: None) -> None:
    assert defaults.current_period(conn, "SCHOOL_Y", TODAY) == "2021"
    values.save_value(conn, principal=SYSTEM, data_element="TEACHERS", period="2019", org_unit="S1",
                      value="12")
    assert defaults.current_period(conn, "SCHOOL_Y", TODAY) == "2019"
    assert defaults.current_period(conn, "SCHOOL_Y", dt.date(2018, 6, 1)) == "2018"  # none begun by then
    assert defaults.current_period(conn, "NO_SUCH", TODAY) == ""


@pytest.mark.parametrize("path", ["/data/approval", "/data/completeness"])
def test_approval_and_completeness_start_from_your_unit_and_the_current_period(
    client: TestClient, conn: Connection, tree: None, path: str
) -> None:
    make_user(conn, "d1staff", role="district_staff", capture=["D1"])
    login(client, "d1staff")
    page = client.get(path).text
    assert value_of(page, "ou") == "D1" and value_of(page, "pe") == "2021"
    assert '<option value="SCHOOL_Y" data-period-type="Yearly" selected>' in page
    assert 'id="own-title"' in page if path == "/data/approval" else 'id="completeness"' in page
    chosen = client.get(path, params={"ds": "SCHOOL_Y", "pe": "2020", "ou": "S1"}).text
    assert value_of(chosen, "ou") == "S1" and value_of(chosen, "pe") == "2020"


@pytest.mark.parametrize("path", ["/quality/validation", "/quality/outliers"])
def test_data_quality_starts_from_your_own_unit(
    client: TestClient, conn: Connection, tree: None, path: str
) -> None:
    make_user(conn, "s2rep", role="unit_reporter", capture=["S2"])
    make_user(conn, "viewer", role="viewer", view=["D2"])
    for username, unit in (("s2rep", "S2"), ("viewer", "D2")):
        client.cookies.clear()
        login(client, username)
        page = client.get(path).text
        assert value_of(page, "ou") == unit, username
        ran = 'id="validation-scope"' if path.endswith("validation") else "未发现异常值。"
        assert ran in page and 'class="alert alert--error"' not in page, username  # it ran for that unit


def test_the_pickers_are_on_the_filter_forms(client: TestClient, conn: Connection, tree: None) -> None:
    make_user(conn, "admin")
    login(client, "admin")
    for path in ("/data/entry", "/data/approval", "/data/completeness", "/quality/validation",
                 "/quality/outliers", "/indicators"):
        page = client.get(path).text
        assert "data-unit-picker" in page and "/static/picker.js" in page, path
    page = client.get("/data/approval").text
    assert 'list="pe-periods-Yearly"' in page
    offered = re.search(r'<datalist id="pe-periods-Yearly">(.*?)</datalist>', page, re.S)
    assert offered and re.findall(r'<option value="(\d+)"', offered.group(1))[:3] == ["2021", "2020", "2019"]
