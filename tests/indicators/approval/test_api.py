"""Completeness, approval and lock routes and pages, through the test client on both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from sqlalchemy import func, select

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


@pytest.fixture
def heads(conn):  # type: ignore[no-untyped-def]
    indicator_setup(conn)
    return {
        "district": token_for(conn, make_user(conn, "d1staff", role="district_staff", capture=["D1"])),
        "commission": token_for(conn, make_user(conn, "shstaff", role="commission_staff", capture=["SH"])),
        "admin": token_for(conn, make_user(conn, "admin")),
    }


def rows_of(conn, table) -> int:  # type: ignore[no-untyped-def]
    return conn.scalar(select(func.count()).select_from(table))


def test_registrations_in_dhis2_shapes(client, conn, heads) -> None:  # type: ignore[no-untyped-def]
    url, district = "/api/completeDataSetRegistrations", heads["district"]
    posted = client.post(url, headers=district, json={"completeDataSetRegistrations": [registration("S1")]})
    assert posted.status_code == 200, posted.text
    assert posted.json()["status"] == "SUCCESS" and posted.json()["importCount"]["imported"] == 1
    outside = client.post(url, headers=district, json={"completeDataSetRegistrations": [registration("S2")]})
    assert outside.status_code == 409 and outside.headers["content-type"] == "application/problem+json"
    assert outside.json()["importSummary"]["status"] == "ERROR"
    assert outside.json()["problems"] == [{"message": "No unit with code 'S2'.", "row": 1, "value": "S2"}]
    listed = client.get(url, headers=district, params={**Q, "ou": "D1", "children": "true"})
    found = listed.json()["completeDataSetRegistrations"]
    assert [(r["organisationUnit"], r["completed"], r["storedBy"]) for r in found] == [
        ("S1", True, "d1staff")
    ]
    assert client.get(url, headers=district, params={**Q, "ou": "D2"}).status_code == 404
    assert client.delete(url, headers=district, params={**Q, "ou": "S1"}).status_code == 204
    assert client.delete(url, headers=district, params={**Q, "ou": "S1"}).status_code == 404
    assert (
        client.post(
            url,
            headers=district,
            json={"completeDataSetRegistrations": [{**registration("S1"), "attributeOptionCombo": "X"}]},
        ).status_code
        == 422
    )
    assert rows_of(conn, store.completions) == 0


def test_approval_routes_follow_the_tree(client, conn, heads) -> None:  # type: ignore[no-untyped-def]
    completeness.complete(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S1")
    url, district, commission = "/api/dataApprovals", heads["district"], heads["commission"]
    status = client.get(url, headers=district, params={**Q, "ou": "S1"}).json()
    assert status["state"] == "unapproved" and status["may_approve"] and status["lock"]["state"] == "open"
    assert client.post(url, headers=district, params={**Q, "ou": "D1"}).status_code == 403
    assert client.post(url, headers=district, params={**Q, "ou": "S2"}).status_code == 404
    assert client.post(url, headers=commission, params={**Q, "ou": "D1"}).status_code == 409  # S1 first
    approved = client.post(url, headers=district, params={**Q, "ou": "S1"})
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert client.post(url, headers=commission, params={**Q, "ou": "D1"}).json()["state"] == "approved"
    no_reason = client.delete(url, headers=district, params={**Q, "ou": "S1"})
    assert no_reason.status_code == 422 and no_reason.json()["problems"][0]["field"] == "reason"
    assert (
        client.delete(url, headers=district, params={**Q, "ou": "S1", "reason": "recount"}).status_code == 409
    )
    locked = client.post(
        "/api/dataValues",
        headers=district,
        json={"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S1", "value": "12"},
    )
    assert locked.status_code >= 400 and "approved" in locked.text
    gone = client.delete(url, headers=commission, params={**Q, "ou": "D1", "reason": "S1 recounts"})
    assert gone.status_code == 200 and gone.json()["history"][0]["reason"] == "S1 recounts"
    assert (
        client.delete(url, headers=district, params={**Q, "ou": "S1", "reason": "recount"}).status_code == 200
    )
    assert rows_of(conn, store.approvals) == 0 and rows_of(conn, store.approval_events) == 4


def test_the_completeness_report_route(client, conn, heads) -> None:  # type: ignore[no-untyped-def]
    completeness.complete(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S1")
    report = client.get("/api/completeness", headers=heads["commission"], params={**Q, "ou": "SH"})
    assert report.status_code == 200
    assert [(r["unit"], r["expected"], r["received"]) for r in report.json()["rows"]] == [
        ("SH", 2, 1),
        ("D1", 1, 1),
        ("D2", 1, 0),
    ]
    mine = client.get("/api/completeness", headers=heads["district"], params={**Q, "ou": "SH"})
    assert mine.status_code == 404
    bad = client.get(
        "/api/completeness", headers=heads["district"], params={"ds": "SCHOOL_Y", "pe": "2020Q1", "ou": "D1"}
    )
    assert bad.status_code == 422


def test_lock_exception_routes_are_for_administrators(client, conn, heads) -> None:  # type: ignore[no-untyped-def]
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
    url = "/api/lockExceptions"
    until = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    grant = {**Q, "ou": "S1", "until": until, "reason": "flood"}
    assert client.post(url, headers=heads["district"], params=grant).status_code == 403
    assert client.post(url, headers=heads["admin"], params={**grant, "until": "soon"}).status_code == 422
    granted = client.post(url, headers=heads["admin"], params=grant)
    assert granted.status_code == 201 and granted.json()["until"] == until
    status = client.get("/api/dataApprovals", headers=heads["district"], params={**Q, "ou": "S1"}).json()
    assert status["lock"]["state"] == "exception" and status["lock"]["until"] == until
    assert [x["unit"] for x in client.get(url, headers=heads["district"]).json()["lockExceptions"]] == ["S1"]
    assert client.delete(url, headers=heads["district"], params={**Q, "ou": "S1"}).status_code == 403
    assert client.delete(url, headers=heads["admin"], params={**Q, "ou": "S1"}).status_code == 204
    assert client.get(url, headers=heads["admin"]).json() == {"lockExceptions": []}


# ---------------------------------------------------------------- pages


@pytest.fixture
def browser(client, conn):  # type: ignore[no-untyped-def]
    indicator_setup(conn)
    completeness.complete(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S1")
    make_user(conn, "d1staff", role="district_staff", capture=["D1"])
    client.headers["accept"] = "text/html"
    client.csrf = login(client, "d1staff")
    return client


@pytest.mark.parametrize(
    "lang, words",
    [("zh_CN", ("数据审核", "未审核", "审核")), ("en", ("Data approval", "Not approved", "Approve"))],
)
def test_the_approval_page_in_both_languages(browser, lang, words) -> None:  # type: ignore[no-untyped-def]
    page = browser.get("/data/approval", params={**Q, "ou": "D1", "lang": lang})
    assert page.status_code == 200
    assert all(w in page.text for w in words) and "S1" in page.text
    assert 'action="/data/approval/approve"' in page.text
    report = browser.get("/data/completeness", params={**Q, "ou": "D1", "lang": lang})
    assert report.status_code == 200 and "100.0%" in report.text


def test_approve_and_unapprove_through_the_page(browser, conn) -> None:  # type: ignore[no-untyped-def]
    form = {**Q, "ou": "S1", "back": "D1", "csrf_token": browser.csrf}
    done = browser.post("/data/approval/approve", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/data/approval?ds=SCHOOL_Y&pe=2020&ou=D1"
    assert rows_of(conn, store.approvals) == 1
    refused = browser.post("/data/approval/unapprove", data=form, params={"lang": "en"})
    assert refused.status_code == 422 and "a reason is needed" in refused.text
    assert (
        browser.post(
            "/data/approval/unapprove", data={**form, "reason": "recount"}, follow_redirects=False
        ).status_code
        == 303
    )
    assert rows_of(conn, store.approvals) == 0
    own = browser.post("/data/approval/approve", data={**form, "ou": "D1"})
    assert own.status_code == 403 and rows_of(conn, store.approvals) == 0
    choose = browser.get("/data/approval")
    assert choose.status_code == 200 and 'name="ds"' in choose.text


def test_every_string_of_these_pages_has_a_chinese_translation() -> None:
    zh = catalog("zh_CN")
    method_map = [("templates/**.html", "jinja2"), ("approval/pages.py", "python")]
    mine = ("approval", "completeness")
    found = [m[2] for m in extract_from_dir(SRC, method_map) if Path(m[0]).name.startswith(mine)]
    assert len(found) > 30
    assert sorted({m for m in found if isinstance(m, str) and m not in zh}) == []
