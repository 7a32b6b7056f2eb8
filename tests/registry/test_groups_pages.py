"""The unit group pages through the test client, on both databases."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.registry import groups
from jiaowei.registry.groups_pages import unit_codes
from tests.factories import login, make_user, small_tree


def members(conn: Connection, code: str) -> list[str]:
    return [m.code for m in groups.get_group(conn, principal=SYSTEM, code=code).members]


def test_unit_codes_are_read_one_a_line_or_comma_separated() -> None:
    assert unit_codes("S1\nS2, S3，S4、S1\n\n") == ["S1", "S2", "S3", "S4"]
    assert unit_codes(None) == []


def test_create_a_group_list_it_and_open_it(browser: TestClient, conn: Connection) -> None:
    small_tree(conn)
    make_user(conn, "wang")
    csrf = login(browser, "wang")
    assert browser.get("/groups/new?lang=zh_CN").status_code == 200
    created = browser.post("/groups/new", follow_redirects=False, data={
        "csrf_token": csrf, "code": "SF", "name_zh": "示范校", "name_en": "Model schools",
        "members": "S1\nS2", "note": "试点"})
    assert created.status_code == 303 and created.headers["location"] == "/groups/SF"
    assert members(conn, "SF") == ["S1", "S2"]
    listed = browser.get("/groups?lang=zh_CN&as_of=2020-01-01")
    assert listed.status_code == 200 and "示范校" in listed.text
    assert 'href="/groups/SF?as_of=2020-01-01"' in listed.text
    assert 'aria-current="page">单位分组' in listed.text
    one = browser.get("/groups/SF?lang=en")
    assert one.status_code == 200 and "Model schools" in one.text
    assert "/units/S1?as_of=" in one.text and "/units/S2?as_of=" in one.text
    assert "/audit?entity=unit_group&amp;key=SF" in one.text


def test_add_and_remove_members_through_the_form(browser: TestClient, conn: Connection) -> None:
    small_tree(conn)
    groups.create_group(conn, principal=SYSTEM, code="G1", name_zh="组", name_en="Group", members=["S1"])
    make_user(conn, "wang")
    csrf = login(browser, "wang")
    changed = browser.post("/groups/G1/members", follow_redirects=False,
                           data={"csrf_token": csrf, "add": "S2, D1", "remove": "S1"})
    assert changed.status_code == 303 and members(conn, "G1") == ["D1", "S2"]


def test_a_bad_code_is_shown_again_and_nothing_is_written(browser: TestClient, conn: Connection) -> None:
    small_tree(conn)
    groups.create_group(conn, principal=SYSTEM, code="G1", name_zh="组", name_en="Group", members=["S1"])
    make_user(conn, "wang")
    csrf = login(browser, "wang")
    bad = browser.post("/groups/new", data={"csrf_token": csrf, "code": "G2", "name_zh": "组二",
                                             "name_en": "Two", "members": "S1, NOPE"})
    assert bad.status_code == 422 and "NOPE" in bad.text and 'value="G2"' in bad.text
    assert [g.code for g in groups.list_groups(conn, principal=SYSTEM)] == ["G1"]
    again = browser.post("/groups/new", data={"csrf_token": csrf, "code": "G1", "name_zh": "x",
                                               "name_en": "x"})
    assert again.status_code == 409 and "G1" in again.text
    nothing = browser.post("/groups/G1/members", data={"csrf_token": csrf, "add": "S2 NOPE"})
    assert nothing.status_code == 422 and "NOPE" in nothing.text and members(conn, "G1") == ["S1"]
    empty = browser.post("/groups/G1/members", data={"csrf_token": csrf, "add": "", "remove": ""})
    assert empty.status_code == 422


def test_a_district_user_sees_only_members_in_scope_and_cannot_change_others(
    browser: TestClient, conn: Connection
) -> None:
    small_tree(conn)
    groups.create_group(conn, principal=SYSTEM, code="G1", name_zh="组", name_en="Group", members=["S1",
                                                                                                  "S2"])
    make_user(conn, "district", role="district_staff", capture=["D1"])
    csrf = login(browser, "district")
    page = browser.get("/groups/G1")
    assert "/units/S1?" in page.text and "/units/S2?" not in page.text
    assert "/audit" not in page.text  # the link and the nav entry are for audit readers only
    refused = browser.post("/groups/new", data={"csrf_token": csrf, "code": "G2", "name_zh": "组二",
                                                 "name_en": "Two", "members": "S1\nS2"})
    assert refused.status_code == 403
    assert browser.post("/groups/G1/members", data={"csrf_token": csrf, "remove": "S1"}).status_code == 403
    assert members(conn, "G1") == ["S1", "S2"]
    fine = browser.post("/groups/new", follow_redirects=False, data={
        "csrf_token": csrf, "code": "G3", "name_zh": "区组", "name_en": "District", "members": "S1"})
    assert fine.status_code == 303 and members(conn, "G3") == ["S1"]


def test_a_form_without_the_csrf_token_is_refused(browser: TestClient, conn: Connection) -> None:
    small_tree(conn)
    make_user(conn, "wang")
    login(browser, "wang")
    response = browser.post("/groups/new", data={"code": "G1", "name_zh": "x", "name_en": "x"})
    assert response.status_code == 403 and groups.list_groups(conn, principal=SYSTEM) == []
