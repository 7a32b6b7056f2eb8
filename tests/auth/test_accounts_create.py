"""Creating users through the API and the New user form, on both databases (issue 9, item 5): who
may create whom (administrators anyone; district staff unit reporters inside their district; nobody
else), a password of one's own or a one-time password shown once and changed at first login, 409
for a taken name, 422 naming field and value, errors in the page's language, and every creation
audited so that the reconciliation with the audit chain stays clean."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from jiaowei.audit import reconcile
from jiaowei.audit import service as audit
from jiaowei.auth.queries import password_digest
from tests.factories import login, login_token, make_user, small_tree, token_for
from tests.pages_helpers import visible_text

PROBLEM = "application/problem+json"
OWN_PASSWORD = "a sturdy passphrase 7"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def world(conn: Connection) -> dict[str, dict[str, str]]:
    """SH → D1, D2 → S1, S2; a token for an administrator, district staff of D1, a reporter, a viewer."""
    small_tree(conn)
    people = {"boss": ("administrator", [], []), "d1staff": ("district_staff", ["D1"], []),
              "commission": ("commission_staff", ["SH"], []), "rep-in": ("unit_reporter", ["S1"], []),
              "viewer-in": ("viewer", [], ["S1"])}
    return {name: token_for(conn, make_user(conn, name, role=role, capture=capture, view=view))
            for name, (role, capture, view) in people.items()}


def new_user(username: str = "newbie", **fields: Any) -> dict[str, Any]:
    return {"username": username, "role": "unit_reporter", "capture": ["S1"], **fields}


def _row(conn: Connection, username: str) -> Any:
    return conn.execute(text("SELECT role, must_change_password, display_name, language FROM users "
                             "WHERE username = :u"), {"u": username}).first()


# ---------------------------------------------------------------- the API


def test_an_administrator_creates_any_user_with_their_own_password(client, conn, world):
    body = new_user("chen.jing", role="district_staff", capture=["D2"], view=["D1", "D1"],
                    display_name="陈静", language="en", password=OWN_PASSWORD)
    response = client.post("/api/users", json=body, headers=world["boss"])
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/users/chen.jing"
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    shown = client.get(response.headers["location"], headers=world["boss"]).json()
    assert created == {**shown, "one_time_password": None}
    assert (shown["role"], shown["capture"], shown["view"], shown["display_name"]) == (
        "district_staff", ["D2"], ["D1"], "陈静")
    assert shown["must_change_password"] is False and _row(conn, "chen.jing").language == "en"
    session = TestClient(client.app)
    assert login(session, "chen.jing", OWN_PASSWORD)
    assert session.get("/api/units/D2").status_code == 200


def test_without_a_password_a_one_time_password_is_answered_once_and_must_be_changed(client, conn, world):
    response = client.post("/api/users", json=new_user(), headers=world["boss"])
    assert response.status_code == 201, response.text
    one_time = response.json()["one_time_password"]
    assert re.fullmatch(r"[0-9a-f]{6}(-[0-9a-f]{6}){3}", one_time)
    assert response.json()["must_change_password"] is True
    assert "one_time_password" not in client.get("/api/users/newbie", headers=world["boss"]).json()
    assert one_time not in str(audit.history(conn, entity="user", entity_key="newbie", limit=5))
    session = TestClient(client.app)
    page = session.post("/login", data={**login_token(session), "username": "newbie", "password": one_time},
                        follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/me/password?next=/"
    assert session.get("/api/units").status_code == 403
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', session.get("/me/password").text).group(1)  # type: ignore[union-attr]
    changed = session.post("/api/me/password", json={"old_password": one_time, "new_password": NEW_PASSWORD},
                           headers={"x-csrf-token": csrf})
    assert changed.status_code == 204
    assert session.get("/api/units").status_code == 200


def test_a_taken_username_is_a_conflict(client, conn, world):
    body = new_user("rep-in", password=OWN_PASSWORD)
    response = client.post("/api/users", json=body, headers=world["boss"])
    assert response.status_code == 409 and response.headers["content-type"] == PROBLEM
    assert response.json()["problems"] == [{"message": "username taken", "field": "username",
                                            "value": "rep-in", "expected": "a username no other user has"}]
    assert _row(conn, "rep-in").role == "unit_reporter"


@pytest.mark.parametrize(("change", "field", "value"), [
    ({"username": "no spaces please"}, "username", "no spaces please"),
    ({"role": "king"}, "role", "king"),
    ({"capture": ["S1", "NOPE"]}, "capture", "NOPE"),
    ({"view": ["GONE"]}, "view", "GONE"),
    ({"language": "fr"}, "language", "fr"),
    ({"display_name": "bad\u0000name"}, "display_name", "bad\\x00name"),
    ({"password": "Qz7!kp"}, "password", None),
    ({"password": "newbie-is-my-name"}, "password", None),
    ({"password": "password123"}, "password", None),
    ({"username": "x" * 65}, "username", "x" * 65),
])
def test_bad_input_is_refused_naming_field_and_value(client, conn, world, change, field, value):
    response = client.post("/api/users", json=new_user(**change), headers=world["boss"])
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM, response.text
    problems = [p for p in response.json()["problems"] if p.get("field") == field]
    assert problems and problems[0].get("value") == value, response.json()
    if field == "password":
        assert change["password"] not in response.text
    assert _row(conn, new_user(**change)["username"]) is None


def test_unknown_fields_are_refused(client, world):
    response = client.post("/api/users", json=new_user(must_change_password=False), headers=world["boss"])
    assert response.status_code == 422


# ---------------------------------------------------------------- who may create whom

CASES = [  # (actor, body, status)
    ("boss", new_user(role="administrator", capture=[]), 201),
    ("boss", new_user(role="viewer", capture=[], view=["D2"]), 201),
    ("d1staff", new_user(), 201),
    ("d1staff", new_user(capture=["D1"], view=["S1"]), 201),
    ("d1staff", new_user(capture=["S2"]), 403),
    ("d1staff", new_user(capture=["SH"]), 403),
    ("d1staff", new_user(capture=["S1", "D2"]), 403),
    ("d1staff", new_user(view=["S2"]), 403),
    ("d1staff", new_user(capture=[]), 403),
    ("d1staff", new_user(role="viewer", capture=[], view=["S1"]), 403),
    ("d1staff", new_user(role="district_staff", capture=["D1"]), 403),
    ("d1staff", new_user(role="administrator"), 403),
    ("d1staff", new_user("rep-in"), 409),
    ("commission", new_user(), 403),
    ("rep-in", new_user(), 403),
    ("viewer-in", new_user(), 403),
    (None, new_user(), 401),
]


@pytest.mark.parametrize(("actor", "body", "status"), CASES)
def test_who_may_create_whom(client, conn, world, actor, body, status):
    before = conn.execute(text("SELECT count(*) FROM users")).scalar_one()
    response = client.post("/api/users", json=body, headers=world[actor] if actor else {})
    assert response.status_code == status, response.text
    after = conn.execute(text("SELECT count(*) FROM users")).scalar_one()
    assert after == before + (1 if status == 201 else 0)
    if status != 201:
        assert response.headers["content-type"] == PROBLEM
    if actor == "d1staff" and status == 201:  # and the district staff member manages the new reporter
        assert client.get("/api/users/newbie", headers=world["d1staff"]).status_code == 200


def test_a_district_refusal_names_the_unit_outside(client, world):
    response = client.post("/api/users", json=new_user(capture=["S1", "S2"]), headers=world["d1staff"])
    assert response.status_code == 403
    assert response.json()["problems"] == [{"message": "unit outside your district", "field": "capture",
                                            "value": "S2", "expected": "units inside your district"}]


def test_district_staff_keep_a_reporter_without_view_scope(client, world):
    """Before, any change by district staff that left the view scope empty was refused (403)."""
    change = {"capture": ["S1"], "view": []}
    response = client.patch("/api/users/rep-in", json=change, headers=world["d1staff"])
    assert response.status_code == 200, response.text


# ---------------------------------------------------------------- the audit chain


def test_a_creation_is_audited_with_the_full_state_and_reconciles(client, conn, world):
    assert reconcile.reconcile(conn) == []
    own = new_user("own", password=OWN_PASSWORD, view=["D1"])
    assert client.post("/api/users", json=own, headers=world["d1staff"]).status_code == 201
    generated = new_user("generated", role="viewer", capture=[])
    assert client.post("/api/users", json=generated, headers=world["boss"]).status_code == 201
    for username, must_change in (("own", False), ("generated", True)):
        entry = audit.history(conn, entity="user", entity_key=username, limit=5)[0]
        hashed = conn.execute(text("SELECT password_hash FROM users WHERE username = :u"),
                              {"u": username}).scalar_one()
        mine = username == "own"
        assert entry.action == "user.create" and entry.actor == ("d1staff" if mine else "boss")
        assert entry.after == {"role": "unit_reporter" if mine else "viewer", "active": True,
                               "must_change_password": must_change, "capture": ["S1"] if mine else [],
                               "view": ["D1"] if mine else [], "password": password_digest(hashed)}
    assert reconcile.reconcile(conn) == []
    conn.execute(text("UPDATE users SET must_change_password = false WHERE username = 'generated'"))
    found = [str(m) for m in reconcile.reconcile(conn)]
    assert any("users generated: must_change_password is false" in line for line in found), found


# ---------------------------------------------------------------- the New user form


@pytest.fixture
def managers(conn: Connection) -> None:
    small_tree(conn)
    make_user(conn, "boss", role="administrator")
    make_user(conn, "d1staff", role="district_staff", capture=["D1"])
    make_user(conn, "rep-in", role="unit_reporter", capture=["S1"])


def form(csrf: str, **fields: Any) -> dict[str, Any]:
    return {"csrf_token": csrf, "username": "newbie", "display_name": "", "role": "unit_reporter",
            "capture": ["S1", "", ""], "view": ["", "", ""], "language": "", "password": "",
            "repeat_password": "", **fields}


def test_the_form_offers_the_roles_the_visitor_may_give_and_the_unit_picker(browser, conn, managers):
    login(browser, "boss")
    page = browser.get("/users")
    assert 'action="/users"' in page.text and 'name="csrf_token"' in page.text
    roles = re.findall(r'<option value="([a-z_]+)"', page.text.split('id="new-user-form"')[1])
    assert {"administrator", "viewer", "unit_reporter"} <= set(roles)
    district = TestClient(browser.app, headers={"accept": "text/html"})
    login(district, "d1staff")
    new_form = district.get("/users").text.split('id="new-user-form"')[1]
    assert re.findall(r'<option value="([A-Za-z_]+)"', new_form) == ["unit_reporter", "zh_CN", "en"]
    assert 'name="capture" value="" size="16" list="unit-choices"' in new_form


def test_a_one_time_password_is_shown_once_after_creation(browser, conn, managers):
    csrf = login(browser, "d1staff")
    shown = browser.post("/users", data=form(csrf, display_name="小王", view=["S1"]))
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    one_time = re.search(r'<code class="secret">([^<]+)</code>', shown.text).group(1)  # type: ignore[union-attr]
    assert 'name="capture" value="S1"' in shown.text and 'name="view" value="S1"' in shown.text
    assert one_time not in browser.get("/users/newbie").text
    assert _row(conn, "newbie").must_change_password
    user = TestClient(browser.app)
    response = user.post("/login", data={**login_token(user), "username": "newbie", "password": one_time},
                         follow_redirects=False)
    assert response.headers["location"] == "/me/password?next=/"
    assert reconcile.reconcile(conn) == []


def test_a_chosen_password_leads_to_the_users_page(browser, conn, managers):
    csrf = login(browser, "boss")
    done = browser.post("/users", data=form(csrf, role="viewer", capture=[""], view=["D2"], language="en",
                                            password=OWN_PASSWORD, repeat_password=OWN_PASSWORD),
                        follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/users/newbie?created=1"
    assert (_row(conn, "newbie").role, _row(conn, "newbie").must_change_password) == ("viewer", False)
    browser.cookies.set("jiaowei_lang", "en")
    assert "The user was created." in visible_text(browser.get("/users/newbie?created=1").text)


def test_the_form_needs_its_csrf_token_and_a_manager(browser, conn, managers):
    csrf = login(browser, "boss")
    without = {k: v for k, v in form(csrf).items() if k != "csrf_token"}
    assert browser.post("/users", data=without).status_code == 403
    reporter = TestClient(browser.app, headers={"accept": "text/html"})
    reporter_csrf = login(reporter, "rep-in")
    assert reporter.post("/users", data=form(reporter_csrf)).status_code == 403
    assert _row(conn, "newbie") is None


@pytest.mark.parametrize(("lang", "fields", "status", "words"), [
    ("zh_CN", {"password": OWN_PASSWORD, "repeat_password": "other"}, 422, ["两次输入的密码不一致"]),
    ("zh_CN", {"password": "short", "repeat_password": "short"}, 422, ["无法创建该用户。", "密码过短",
                                                                     "至少 10 个字符"]),
    ("zh_CN", {"username": "rep-in"}, 409, ["用户名已被占用", "rep-in"]),
    ("zh_CN", {"capture": ["S2"]}, 403, ["单位不在本区内", "S2"]),
    ("zh_CN", {"capture": ["NOPE"]}, 422, ["没有这个单位", "现有单位的代码", "NOPE"]),
    ("zh_CN", {"role": "viewer"}, 403, ["不允许授予该角色"]),
    ("en", {"capture": ["S2"]}, 403, ["unit outside your district", "S2"]),
    ("en", {"username": "a b"}, 422, ["invalid username", "2-64 letters"]),
])
def test_refusals_are_shown_in_the_form_in_the_pages_language(browser, conn, managers, lang, fields, status,
                                                              words):
    csrf = login(browser, "d1staff")
    browser.cookies.set("jiaowei_lang", lang)
    shown = browser.post("/users", data=form(csrf, display_name="小王", **fields))
    assert shown.status_code == status, shown.text
    section = visible_text(shown.text.split('id="new-user"')[1])
    for word in words:
        assert word in section, section
    assert 'value="小王"' in shown.text and OWN_PASSWORD not in shown.text
    assert conn.execute(text("SELECT count(*) FROM users WHERE display_name = '小王'")).scalar_one() == 0
