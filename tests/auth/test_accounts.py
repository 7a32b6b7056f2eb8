"""User administration through the API, on both databases: search, role and scopes, disable and
enable, password resets and the change they force, tokens with expiry, and who may manage whom."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, text, update

from jiaowei.audit import service as audit
from jiaowei.auth import admin
from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM
from jiaowei.auth.queries import password_digest
from jiaowei.auth.store import api_tokens, sessions, users
from jiaowei.errors import ValidationError
from tests.factories import PASSWORD, login, make_user, small_tree, token_for

PROBLEM = "application/problem+json"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def world(conn: Connection) -> dict[str, dict[str, str]]:
    """SH → D1, D2 → S1, S2; an administrator and users around D1 and D2, with a token each."""
    small_tree(conn)
    people = {
        "boss": ("administrator", ["SH"], []),
        "d1staff": ("district_staff", ["D1"], []),
        "d1other": ("district_staff", ["D1"], []),
        "commission": ("commission_staff", ["SH"], []),
        "rep-in": ("unit_reporter", ["S1"], []),
        "rep-d1": ("unit_reporter", ["D1"], []),
        "rep-out": ("unit_reporter", ["S2"], []),
        "rep-mixed": ("unit_reporter", ["S1", "S2"], []),
        "rep-none": ("unit_reporter", [], []),
        "viewer-in": ("viewer", [], ["S1"]),
    }
    return {name: token_for(conn, make_user(conn, name, role=role, capture=capture, view=view))
            for name, (role, capture, view) in people.items()}


def test_an_administrator_searches_users_by_name_role_unit_and_status(client, conn, world):
    boss = world["boss"]
    names = lambda **params: [u["username"] for u in client.get("/api/users", params=params,  # noqa: E731
                                                                  headers=boss).json()["items"]]
    assert names(q="rep-") == ["rep-d1", "rep-in", "rep-mixed", "rep-none", "rep-out"]
    assert names(role="district_staff") == ["d1other", "d1staff"]
    assert names(unit="S1") == ["rep-in", "rep-mixed", "viewer-in"]
    client.post("/api/users/rep-out/disable", headers=boss)
    assert names(active="false") == ["rep-out"]
    page = client.get("/api/users", params={"limit": 2, "offset": 2}, headers=boss).json()
    assert page["total"] == 10 and len(page["items"]) == 2
    bad = client.get("/api/users", params={"role": "king"}, headers=boss)
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM


def test_changing_role_and_scopes_is_audited_with_the_full_state(client, conn, world):
    response = client.patch("/api/users/viewer-in", json={"role": "unit_reporter", "capture": ["S1", "D1"],
                                                          "view": []}, headers=world["boss"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["role"], body["capture"], body["view"]) == ("unit_reporter", ["D1", "S1"], [])
    entry = audit.history(conn, entity="user", entity_key="viewer-in", limit=1)[0]
    hashed = conn.scalar(select(users.c.password_hash).where(users.c.username == "viewer-in"))
    assert entry.action == "user.update" and entry.actor == "boss"
    assert entry.after == {"role": "unit_reporter", "active": True, "must_change_password": False,
                           "capture": ["D1", "S1"], "view": [], "password": password_digest(hashed)}
    assert entry.before["role"] == "viewer" and hashed not in json.dumps(entry.after)
    unknown = client.patch("/api/users/viewer-in", json={"capture": ["NOPE"]}, headers=world["boss"])
    assert unknown.status_code == 422 and "NOPE" in unknown.text


def test_a_disabled_users_session_and_token_stop_at_once(client, conn, world):
    session = TestClient(client.app)
    login(session, "rep-in")
    assert session.get("/api/units").status_code == 200
    assert client.get("/api/units", headers=world["rep-in"]).status_code == 200
    disabled = client.post("/api/users/rep-in/disable", json={"note": "left"}, headers=world["boss"])
    assert disabled.status_code == 200
    assert session.get("/api/units").status_code == 401
    refused = client.get("/api/units", headers=world["rep-in"])
    assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM
    user_id = conn.scalar(select(users.c.id).where(users.c.username == "rep-in"))
    assert conn.scalar(select(sessions.c.id).where(sessions.c.user_id == user_id)) is None
    assert client.post("/api/users/rep-in/disable", headers=world["boss"]).status_code == 409
    assert client.post("/api/users/rep-in/enable", headers=world["boss"]).status_code == 200
    assert client.get("/api/units", headers=world["rep-in"]).status_code == 200


def test_an_expired_token_is_refused(client, conn, world):
    user_id = conn.scalar(select(users.c.id).where(users.c.username == "rep-in"))
    conn.execute(update(api_tokens).where(api_tokens.c.user_id == user_id)
                 .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    response = client.get("/api/units", headers=world["rep-in"])
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_a_token_gets_the_expiry_asked_for_or_the_setting(client, conn, world):
    made = client.post("/api/tokens", json={"label": "ci", "days": 7}, headers=world["rep-in"])
    assert made.status_code == 201, made.text
    expires = dt.datetime.fromisoformat(made.json()["expires_at"])
    assert dt.timedelta(days=6, hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=7)
    bearer = {"Authorization": f"Bearer {made.json()['token']}"}
    assert client.get("/api/units", headers=bearer).status_code == 200
    default = client.post("/api/tokens", json={}, headers=world["rep-in"]).json()
    left = dt.datetime.fromisoformat(default["expires_at"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=89) < left <= dt.timedelta(days=90)
    assert client.post("/api/tokens", json={"days": 0}, headers=world["rep-in"]).status_code == 422
    assert client.post("/api/tokens", json={"user": "boss"}, headers=world["rep-in"]).status_code == 403


def test_tokens_are_listed_all_for_administrators_own_for_others_and_revoked(client, conn, world):
    everyone = client.get("/api/tokens", headers=world["boss"]).json()["items"]
    assert {t["username"] for t in everyone} == set(world)
    mine = client.get("/api/tokens", headers=world["rep-in"]).json()["items"]
    assert [t["username"] for t in mine] == ["rep-in"] and "token" not in mine[0]
    other = next(t["id"] for t in everyone if t["username"] == "rep-out")
    assert client.delete(f"/api/tokens/{other}", headers=world["rep-in"]).status_code == 404
    revoked = client.delete(f"/api/tokens/{mine[0]['id']}", headers=world["boss"])
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == "boss"
    assert client.get("/api/units", headers=world["rep-in"]).status_code == 401
    again = client.delete(f"/api/tokens/{mine[0]['id']}", headers=world["boss"])
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM


def test_a_reset_password_must_be_changed_before_anything_else(client, conn, world):
    reset = client.post("/api/users/rep-in/reset-password", headers=world["boss"])
    assert reset.status_code == 200
    one_time = reset.json()["one_time_password"]
    assert client.get("/api/units", headers=world["rep-in"]).status_code == 403  # its token too
    session = TestClient(client.app)
    session.cookies.set("jiaowei_lang", "zh_CN")
    csrf = login_with(session, "rep-in", one_time, expect="/me/password?next=/")
    closed = session.get("/api/units")
    assert closed.status_code == 403 and "请先修改密码" in closed.json()["detail"]
    assert "请先修改密码" in session.get("/units", headers={"accept": "text/html"}).text
    assert session.get("/api/me").json()["must_change_password"] is True
    weak = session.post("/api/me/password", json={"old_password": one_time, "new_password": "rep-in-1234567"},
                        headers={"x-csrf-token": csrf})
    # the session's cookie names Chinese, so the API answers in it
    assert weak.status_code == 422 and "包含用户名" in weak.json()["problems"][0]["message"]
    changed = session.post("/api/me/password", json={"old_password": one_time, "new_password": NEW_PASSWORD},
                           headers={"x-csrf-token": csrf})
    assert changed.status_code == 204
    assert session.get("/api/units").status_code == 200
    actions = [e.action for e in audit.history(conn, entity="user", entity_key="rep-in", limit=2)]
    assert actions == ["user.password_change", "user.password_reset"]


def login_with(client: TestClient, username: str, password: str, *, expect: str) -> str:
    from tests.factories import login_token

    response = client.post("/login", data={**login_token(client), "username": username, "password": password},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == expect, response.text
    page = client.get("/me/password")
    marker = 'name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def test_changing_ones_password_needs_the_current_one(client, conn, world):
    wrong = client.post("/api/me/password", headers=world["rep-in"],
                        json={"old_password": "not it at all", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 422 and wrong.json()["problems"][0]["field"] == "old_password"
    same = client.post("/api/me/password", json={"old_password": PASSWORD, "new_password": PASSWORD},
                       headers=world["rep-in"])
    assert same.status_code == 422
    assert client.post("/api/me/password", json={"old_password": PASSWORD, "new_password": NEW_PASSWORD},
                       headers=world["rep-in"]).status_code == 204
    with pytest.raises(ValidationError):
        admin.change_own_password(conn, principal=auth.principal_for(conn, user_id=_id(conn, "rep-in")),
                                  old_password=PASSWORD, new_password="another new passphrase")


def _id(conn: Connection, username: str) -> int:
    return int(conn.scalar(select(users.c.id).where(users.c.username == username)))


def test_nobody_disables_or_demotes_themselves(client, world):
    assert client.post("/api/users/boss/disable", headers=world["boss"]).status_code == 409
    assert client.patch("/api/users/boss", json={"role": "viewer"}, headers=world["boss"]).status_code == 409


# ---------------------------------------------------------------- who may manage whom

ACTORS = ("boss", "d1staff", "commission", "rep-in", "viewer-in")
TARGETS = ("rep-in", "rep-d1", "rep-out", "rep-mixed", "rep-none", "viewer-in", "d1other", "commission")
DISTRICT_MANAGES = {"rep-in", "rep-d1"}  # reporters whose every scope lies inside D1


def expected(actor: str, target: str) -> int:
    if actor == "boss":
        return 200
    if actor == "d1staff":
        return 200 if target in DISTRICT_MANAGES else 404
    return 403


OPERATIONS = {
    "read": ("GET", "/api/users/{t}", None),
    "scope": ("PATCH", "/api/users/{t}", {"capture": ["S1"]}),
    "disable": ("POST", "/api/users/{t}/disable", None),
    "reset": ("POST", "/api/users/{t}/reset-password", None),
    "tokens": ("GET", "/api/tokens?user={t}", None),
}


@pytest.mark.parametrize("actor", ACTORS)
def test_who_may_manage_whom(client, conn, world, actor):
    wrong = []
    for target in TARGETS:
        if target == actor:
            continue
        for name, (method, path, body) in OPERATIONS.items():
            with conn.begin_nested() as nested:
                response = client.request(method, path.format(t=target), json=body, headers=world[actor])
                nested.rollback()
            if response.status_code != expected(actor, target):
                wrong.append(f"{actor} {name} {target}: {response.status_code}, "
                             f"expected {expected(actor, target)}")
    listed = client.get("/api/users", headers=world[actor])
    if actor in ("boss", "d1staff"):
        shown = {u["username"] for u in listed.json()["items"]}
        assert shown == (set(world) if actor == "boss" else DISTRICT_MANAGES)
    else:
        assert listed.status_code == 403
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("change", "status"), [
    ({"role": "administrator"}, 403),
    ({"role": "district_staff"}, 403),
    ({"role": "viewer"}, 403),
    ({"capture": ["S2"]}, 403),
    ({"capture": ["SH"]}, 403),
    ({"view": ["S1", "D2"]}, 403),
    ({"capture": []}, 403),  # a reporter without scope would leave the district's hands
    ({"role": "unit_reporter", "capture": ["D1"], "view": ["S1"]}, 200),
])
def test_district_staff_keep_reporters_inside_their_district(client, conn, world, change, status):
    response = client.patch("/api/users/rep-in", json=change, headers=world["d1staff"])
    assert response.status_code == status, response.text
    if status == 403:
        assert response.headers["content-type"] == PROBLEM
        role = conn.execute(text("SELECT role FROM users WHERE username = 'rep-in'")).scalar_one()
        assert role == "unit_reporter"


def test_district_staff_reset_and_disable_their_reporters(client, world):
    assert client.post("/api/users/rep-in/reset-password", headers=world["d1staff"]).status_code == 200
    assert client.post("/api/users/rep-in/disable", headers=world["d1staff"]).status_code == 200
    tokens = client.get("/api/tokens", params={"user": "rep-d1"}, headers=world["d1staff"]).json()["items"]
    assert client.delete(f"/api/tokens/{tokens[0]['id']}", headers=world["d1staff"]).status_code == 200


def test_the_system_principal_manages_everyone(conn, world):
    assert admin.managed(conn, principal=SYSTEM) is None
