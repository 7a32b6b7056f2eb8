"""The audit log page and /api/audit, on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, update

from jiaowei.audit.store import audit_log
from jiaowei.auth.model import SYSTEM
from jiaowei.registry import service as registry
from tests.factories import login, make_unit, make_user, mentions, small_tree, token_for


def test_the_page_lists_entries_newest_first_with_the_chain_check(
    browser: TestClient, conn: Connection
) -> None:
    small_tree(conn)
    registry.change_unit(conn, principal=SYSTEM, code="S1", effective=dt.date(2020, 1, 1),
                         changes={"name_zh": "一号学校"})
    make_user(conn, "wang", role="commission_staff", capture=["SH"])
    login(browser, "wang")
    page = browser.get("/audit?lang=zh_CN")
    assert page.status_code == 200
    assert "审计链完整" in page.text and 'aria-current="page">审计记录' in page.text
    assert page.text.index("unit.change") < page.text.index("unit.open")
    assert "一号学校" in page.text  # the after value, as readable JSON
    one = browser.get("/audit", params={"entity": "unit", "key": "S1", "lang": "en"})
    assert "unit.change" in one.text and "user.create" not in one.text
    assert 'href="/units/S1"' in one.text
    by_actor = browser.get("/audit", params={"actor": "nobody", "lang": "en"})
    assert "No entries match these filters." in by_actor.text


def test_the_page_pages(browser: TestClient, conn: Connection) -> None:
    for n in range(55):
        make_unit(conn, f"P{n:02d}")
    make_user(conn, "wang")
    login(browser, "wang")
    first = browser.get("/audit?entity=unit&lang=en")
    assert "P54" in first.text and not mentions(first.text, "P04")
    assert "offset=50" in first.text and ">Older<" in first.text
    second = browser.get("/audit?entity=unit&offset=50&lang=en")
    assert "P04" in second.text and not mentions(second.text, "P54") and ">Newer<" in second.text


def test_a_broken_chain_is_shown(browser: TestClient, conn: Connection) -> None:
    small_tree(conn)
    conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(actor="mallory"))
    make_user(conn, "wang")
    login(browser, "wang")
    page = browser.get("/audit?lang=en")
    assert "Chain broken" in page.text and "No. 2" in page.text


def test_the_unit_page_links_to_its_audit_log_for_audit_readers_only(
    browser: TestClient, conn: Connection
) -> None:
    small_tree(conn)
    make_user(conn, "wang", role="commission_staff", capture=["SH"])
    make_user(conn, "district", role="district_staff", capture=["D1"])
    login(browser, "wang")
    assert "/audit?entity=unit&amp;key=S1" in browser.get("/units/S1").text
    browser.cookies.clear()
    login(browser, "district")
    assert "/audit?" not in browser.get("/units/S1").text


@pytest.mark.parametrize("role", ["district_staff", "unit_reporter", "viewer"])
def test_other_roles_may_not_read_the_audit_log(browser: TestClient, conn: Connection, role: str) -> None:
    small_tree(conn)
    user = make_user(conn, "someone", role=role, capture=["D1"])
    login(browser, "someone")
    assert browser.get("/audit").status_code == 403
    headers = token_for(conn, user)
    for path in ("/api/audit", "/api/audit/verify"):
        response = browser.get(path, headers=headers)
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("application/problem+json")


def test_the_api_filters_pages_and_verifies(client: TestClient, conn: Connection) -> None:
    small_tree(conn)
    headers = token_for(conn, make_user(conn, "wang", role="commission_staff", capture=["SH"]))
    listed = client.get("/api/audit", headers=headers, params={"entity": "unit", "limit": 2})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total"] == 5 and body["limit"] == 2 and len(body["items"]) == 2
    assert [e["entity_key"] for e in body["items"]] == ["S2", "S1"]
    assert body["items"][0]["after"]["parent"] == "D2" and body["items"][0]["before"] is None
    one = client.get("/api/audit", headers=headers, params={"key": "D1", "actor": "system"}).json()
    assert [e["action"] for e in one["items"]] == ["unit.open"]
    verify = client.get("/api/audit/verify", headers=headers).json()
    assert verify["ok"] and verify["first_bad_seq"] is None and verify["entries"] >= 6
    assert client.get("/api/audit", headers=headers, params={"limit": 0}).status_code == 422
    assert client.get("/api/audit").status_code == 401


def test_why_the_chain_is_broken_is_said_in_the_page_language(browser: TestClient, conn: Connection) -> None:
    small_tree(conn)
    conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(note="edited"))
    make_user(conn, "wang")
    login(browser, "wang")
    assert "该记录写入后被改动过" in browser.get("/audit?lang=zh_CN").text
    assert "the entry was changed after it was written" in browser.get("/audit?lang=en").text
