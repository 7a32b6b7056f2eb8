"""Completeness, approval and lock routes and pages, through the test client on both databases."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Connection, Table, func, select

from jiaowei import clock
from jiaowei.auth.model import SYSTEM
from jiaowei.i18n import catalog
from jiaowei.indicators import store
from jiaowei.indicators.approval import completeness
from jiaowei.indicators.metadata import service as metadata
from tests.factories import indicator_setup, login, make_user, token_for

Q = {"ds": "SCHOOL_Y", "pe": "2020"}
SRC = Path(__file__).resolve().parents[3] / "src" / "jiaowei" / "indicators"


def registration(unit: str, completed: bool = True) -> dict[str, object]:
    return {"dataSet": "SCHOOL_Y", "period": "2020", "organisationUnit": unit, "completed": completed}


@dataclass(frozen=True)
class Heads:
    """Request headers with a bearer token for each of the people of these tests."""

    district: dict[str, str]  # D1's staff
    commission: dict[str, str]  # SH's staff
    admin: dict[str, str]


@pytest.fixture
def heads(conn: Connection) -> Heads:
    indicator_setup(conn)
    return Heads(
        district=token_for(conn, make_user(conn, "d1staff", role="district_staff", capture=["D1"])),
        commission=token_for(conn, make_user(conn, "shstaff", role="commission_staff", capture=["SH"])),
        admin=token_for(conn, make_user(conn, "admin")),
    )


def rows_of(conn: Connection, table: Table) -> int:
    return conn.scalar(select(func.count()).select_from(table)) or 0


REGISTRATIONS = "/api/completeDataSetRegistrations"


def register(client: TestClient, heads: Heads, *items: dict[str, object]) -> Response:
    """D1's staff post complete data set registrations."""
    return client.post(
        REGISTRATIONS, headers=heads.district, json={"completeDataSetRegistrations": list(items)}
    )


def test_a_registration_is_posted_in_dhis2_shape(client: TestClient, heads: Heads) -> None:
    posted = register(client, heads, registration("S1"))
    assert posted.status_code == 200, posted.text
    assert posted.json()["status"] == "SUCCESS" and posted.json()["importCount"]["imported"] == 1


def test_a_registration_outside_the_scope_is_a_problem(client: TestClient, heads: Heads) -> None:
    outside = register(client, heads, registration("S2"))
    assert outside.status_code == 409 and outside.headers["content-type"] == "application/problem+json"
    assert outside.json()["importSummary"]["status"] == "ERROR"
    assert outside.json()["problems"] == [{"message": "No unit with code 'S2'.", "row": 1, "value": "S2"}]


def test_registrations_are_listed_for_a_unit_and_its_children(client: TestClient, heads: Heads) -> None:
    register(client, heads, registration("S1"))
    listed = client.get(REGISTRATIONS, headers=heads.district, params={**Q, "ou": "D1", "children": "true"})
    found = listed.json()["completeDataSetRegistrations"]
    assert [(r["organisationUnit"], r["completed"], r["storedBy"]) for r in found] == [
        ("S1", True, "d1staff")
    ]


def test_registrations_of_another_district_are_not_found(client: TestClient, heads: Heads) -> None:
    assert client.get(REGISTRATIONS, headers=heads.district, params={**Q, "ou": "D2"}).status_code == 404


def test_a_registration_is_deleted_once(client: TestClient, heads: Heads) -> None:
    register(client, heads, registration("S1"))
    assert client.delete(REGISTRATIONS, headers=heads.district, params={**Q, "ou": "S1"}).status_code == 204
    assert client.delete(REGISTRATIONS, headers=heads.district, params={**Q, "ou": "S1"}).status_code == 404


def test_a_registration_with_an_attribute_option_combo_is_refused(
    client: TestClient, conn: Connection, heads: Heads
) -> None:
    assert register(client, heads, {**registration("S1"), "attributeOptionCombo": "X"}).status_code == 422
    assert rows_of(conn, store.completions) == 0


APPROVALS = "/api/dataApprovals"


@pytest.fixture
def completed(conn: Connection, heads: Heads) -> Heads:
    """S1 has completed SCHOOL_Y 2020; nothing is approved."""
    completeness.complete(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S1")
    return heads


def approve_school_and_district(client: TestClient, heads: Heads) -> list[Response]:
    """D1's staff approve S1, then the commission approves D1."""
    return [
        client.post(APPROVALS, headers=heads.district, params={**Q, "ou": "S1"}),
        client.post(APPROVALS, headers=heads.commission, params={**Q, "ou": "D1"}),
    ]


@pytest.fixture
def approved(client: TestClient, completed: Heads) -> Heads:
    approve_school_and_district(client, completed)
    return completed


def test_the_approval_status_route(client: TestClient, completed: Heads) -> None:
    status = client.get(APPROVALS, headers=completed.district, params={**Q, "ou": "S1"}).json()
    assert status["state"] == "unapproved" and status["may_approve"] and status["lock"]["state"] == "open"


def test_a_district_may_not_approve_itself_through_the_api(client: TestClient, completed: Heads) -> None:
    assert client.post(APPROVALS, headers=completed.district, params={**Q, "ou": "D1"}).status_code == 403


def test_a_district_does_not_see_another_districts_school_through_the_api(
    client: TestClient, completed: Heads
) -> None:
    assert client.post(APPROVALS, headers=completed.district, params={**Q, "ou": "S2"}).status_code == 404


def test_a_district_waits_for_its_schools_through_the_api(client: TestClient, completed: Heads) -> None:
    assert client.post(APPROVALS, headers=completed.commission, params={**Q, "ou": "D1"}).status_code == 409


def test_approvals_go_up_the_tree_through_the_api(client: TestClient, completed: Heads) -> None:
    school, district = approve_school_and_district(client, completed)
    assert school.status_code == 200 and school.json()["state"] == "approved"
    assert district.json()["state"] == "approved"


def test_unapproving_through_the_api_needs_a_reason(client: TestClient, approved: Heads) -> None:
    no_reason = client.delete(APPROVALS, headers=approved.district, params={**Q, "ou": "S1"})
    assert no_reason.status_code == 422 and no_reason.json()["problems"][0]["field"] == "reason"


def test_a_school_under_an_approved_district_is_not_unapproved_through_the_api(
    client: TestClient, approved: Heads
) -> None:
    params = {**Q, "ou": "S1", "reason": "recount"}
    assert client.delete(APPROVALS, headers=approved.district, params=params).status_code == 409


def test_approved_data_refuses_a_value_through_the_api(client: TestClient, approved: Heads) -> None:
    locked = client.post(
        "/api/dataValues",
        headers=approved.district,
        json={"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S1", "value": "12"},
    )
    assert locked.status_code >= 400 and "approved" in locked.text


def test_unapproving_from_the_top_down_through_the_api(
    client: TestClient, conn: Connection, approved: Heads
) -> None:
    gone = client.delete(
        APPROVALS, headers=approved.commission, params={**Q, "ou": "D1", "reason": "S1 recounts"}
    )
    assert gone.status_code == 200 and gone.json()["history"][0]["reason"] == "S1 recounts"
    params = {**Q, "ou": "S1", "reason": "recount"}
    assert client.delete(APPROVALS, headers=approved.district, params=params).status_code == 200
    assert rows_of(conn, store.approvals) == 0 and rows_of(conn, store.approval_events) == 4


COMPLETENESS = "/api/completeness"


def test_the_completeness_report_route(client: TestClient, completed: Heads) -> None:
    report = client.get(COMPLETENESS, headers=completed.commission, params={**Q, "ou": "SH"})
    assert report.status_code == 200
    assert [(r["unit"], r["expected"], r["received"]) for r in report.json()["rows"]] == [
        ("SH", 2, 1),
        ("D1", 1, 1),
        ("D2", 1, 0),
    ]


def test_the_completeness_report_is_not_found_outside_the_scope(client: TestClient, completed: Heads) -> None:
    mine = client.get(COMPLETENESS, headers=completed.district, params={**Q, "ou": "SH"})
    assert mine.status_code == 404


def test_the_completeness_report_refuses_a_period_of_another_type(
    client: TestClient, completed: Heads
) -> None:
    params = {"ds": "SCHOOL_Y", "pe": "2020Q1", "ou": "D1"}
    assert client.get(COMPLETENESS, headers=completed.district, params=params).status_code == 422


EXCEPTIONS = "/api/lockExceptions"
UNTIL = (clock.today() + dt.timedelta(days=3)).isoformat()
GRANT = {**Q, "ou": "S1", "until": UNTIL, "reason": "flood"}


@pytest.fixture
def expiring(conn: Connection, heads: Heads) -> Heads:
    """SCHOOL_Y 2020 closed ten days after the year ended."""
    metadata.save_data_set(
        conn,
        principal=SYSTEM,
        code="SCHOOL_Y",
        name_zh="学校年报",
        name_en="School annual",
        period_type="Yearly",
        elements=["PUPILS", "TEACHERS", "RATE"],
        unit_types=["primary_school"],
        expiry_days=10,
    )
    return heads


@pytest.fixture
def excepted(client: TestClient, expiring: Heads) -> Heads:
    """As expiring, with an administrator's lock exception for S1 until three days from today."""
    client.post(EXCEPTIONS, headers=expiring.admin, params=GRANT)
    return expiring


def test_only_administrators_grant_lock_exceptions(client: TestClient, expiring: Heads) -> None:
    assert client.post(EXCEPTIONS, headers=expiring.district, params=GRANT).status_code == 403


def test_a_lock_exception_needs_a_date(client: TestClient, expiring: Heads) -> None:
    assert (
        client.post(EXCEPTIONS, headers=expiring.admin, params={**GRANT, "until": "soon"}).status_code == 422
    )


def test_a_granted_lock_exception_shows_in_the_approval_status(client: TestClient, expiring: Heads) -> None:
    granted = client.post(EXCEPTIONS, headers=expiring.admin, params=GRANT)
    assert granted.status_code == 201 and granted.json()["until"] == UNTIL
    status = client.get(APPROVALS, headers=expiring.district, params={**Q, "ou": "S1"}).json()
    assert status["lock"]["state"] == "exception" and status["lock"]["until"] == UNTIL


def test_a_district_lists_the_lock_exceptions_in_its_scope(client: TestClient, excepted: Heads) -> None:
    listed = client.get(EXCEPTIONS, headers=excepted.district).json()["lockExceptions"]
    assert [x["unit"] for x in listed] == ["S1"]


def test_only_administrators_revoke_lock_exceptions(client: TestClient, excepted: Heads) -> None:
    assert client.delete(EXCEPTIONS, headers=excepted.district, params={**Q, "ou": "S1"}).status_code == 403
    assert client.delete(EXCEPTIONS, headers=excepted.admin, params={**Q, "ou": "S1"}).status_code == 204
    assert client.get(EXCEPTIONS, headers=excepted.admin).json() == {"lockExceptions": []}


# ---------------------------------------------------------------- pages


@dataclass(frozen=True)
class Browser:
    """A test client asking for HTML, logged in as D1's staff, and the session's CSRF token."""

    client: TestClient
    csrf: str


@pytest.fixture
def browser(client: TestClient, conn: Connection) -> Browser:
    indicator_setup(conn)
    completeness.complete(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S1")
    make_user(conn, "d1staff", role="district_staff", capture=["D1"])
    client.headers["accept"] = "text/html"
    return Browser(client=client, csrf=login(client, "d1staff"))


@pytest.mark.parametrize(
    "lang, words",
    [("zh_CN", ("数据审核", "未审核", "审核")), ("en", ("Data approval", "Not approved", "Approve"))],
)
def test_the_approval_page_in_both_languages(browser: Browser, lang: str, words: tuple[str, ...]) -> None:
    page = browser.client.get("/data/approval", params={**Q, "ou": "D1", "lang": lang})
    assert page.status_code == 200
    assert all(w in page.text for w in words) and "S1" in page.text
    assert 'action="/data/approval/approve"' in page.text
    report = browser.client.get("/data/completeness", params={**Q, "ou": "D1", "lang": lang})
    assert report.status_code == 200 and "100.0%" in report.text


def approval_form(browser: Browser, unit: str = "S1") -> dict[str, str]:
    return {**Q, "ou": unit, "back": "D1", "csrf_token": browser.csrf}


def approve_through_the_page(browser: Browser) -> Response:
    return browser.client.post("/data/approval/approve", data=approval_form(browser), follow_redirects=False)


def test_a_school_is_approved_through_the_page(browser: Browser, conn: Connection) -> None:
    done = approve_through_the_page(browser)
    assert done.status_code == 303 and done.headers["location"] == "/data/approval?ds=SCHOOL_Y&pe=2020&ou=D1"
    assert rows_of(conn, store.approvals) == 1


def test_unapproving_through_the_page_needs_a_reason(browser: Browser) -> None:
    approve_through_the_page(browser)
    refused = browser.client.post(
        "/data/approval/unapprove", data=approval_form(browser), params={"lang": "en"}
    )
    assert refused.status_code == 422 and "a reason is needed" in refused.text


def test_a_school_is_unapproved_through_the_page(browser: Browser, conn: Connection) -> None:
    approve_through_the_page(browser)
    form = {**approval_form(browser), "reason": "recount"}
    assert (
        browser.client.post("/data/approval/unapprove", data=form, follow_redirects=False).status_code == 303
    )
    assert rows_of(conn, store.approvals) == 0


def test_a_district_may_not_approve_itself_through_the_page(browser: Browser, conn: Connection) -> None:
    own = browser.client.post("/data/approval/approve", data=approval_form(browser, "D1"))
    assert own.status_code == 403 and rows_of(conn, store.approvals) == 0


def test_the_approval_page_asks_for_the_data_set_first(browser: Browser) -> None:
    choose = browser.client.get("/data/approval")
    assert choose.status_code == 200 and 'name="ds"' in choose.text


def test_every_string_of_these_pages_has_a_chinese_translation() -> None:
    zh = catalog("zh_CN")
    method_map = [("templates/**.html", "jinja2"), ("approval/pages.py", "python")]
    mine = ("approval", "completeness")
    found = [m[2] for m in extract_from_dir(SRC, method_map) if Path(m[0]).name.startswith(mine)]
    assert len(found) > 30
    assert sorted({m for m in found if isinstance(m, str) and m not in zh}) == []
