"""A request's caller (token or session, the user, the scopes) is kept per process under the
``accounts`` stamp (migration 0021, decision 0023): a request whose caller is unchanged since an
earlier one reads no account table, and every change to a user, a scope, a token or a session is
seen by the next request, whoever made it and however."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, insert, select, text, update

from jiaowei.auth import service as auth
from jiaowei.auth.model import Principal
from jiaowei.auth.store import api_tokens, sessions, users
from jiaowei.auth.token_use import TokenUses
from jiaowei.db.engine import BoundDatabase
from jiaowei.db.kept import metadata_stamps
from tests.auth.test_principal_statements import auth_reads
from tests.factories import login, make_user, small_tree, token_for
from tests.migrations import stamp_triggers


def _stamp(conn: Connection) -> str:
    return str(conn.scalar(select(metadata_stamps.c.stamp).where(metadata_stamps.c.area == "accounts")))


def _reporter(conn: Connection, username: str) -> Principal:
    codes = small_tree(conn)
    return make_user(conn, username, role="unit_reporter", capture=[codes["s1"]], view=[codes["d1"]])


def test_a_token_s_caller_is_read_once_while_the_accounts_are_unchanged(client: TestClient,
                                                                       conn: Connection) -> None:
    headers = token_for(conn, _reporter(conn, "kept-token"))
    with auth_reads(conn) as first:
        assert client.get("/api/units", headers=headers).status_code == 200
    with auth_reads(conn) as later:
        assert client.get("/api/units", headers=headers).status_code == 200
    assert len(first) == 1, first
    assert later == []


def test_a_session_s_caller_is_read_once_while_the_accounts_are_unchanged(browser: TestClient,
                                                                         conn: Connection) -> None:
    _reporter(conn, "kept-session")
    login(browser, "kept-session")  # its first page read the session
    with auth_reads(conn) as reads:
        assert browser.get("/api/units").status_code == 200
    assert reads == []


def test_a_revoked_token_is_refused_at_once(client: TestClient, conn: Connection) -> None:
    admin = token_for(conn, make_user(conn, "kept-admin"))
    owner = _reporter(conn, "kept-revoked")
    headers = token_for(conn, owner)
    assert client.get("/api/me", headers=headers).status_code == 200  # kept now
    token_id = conn.scalar(select(api_tokens.c.id).where(api_tokens.c.user_id == owner.user_id))
    assert client.delete(f"/api/tokens/{token_id}", headers=admin).status_code == 200
    refused = client.get("/api/me", headers=headers)
    assert refused.status_code == 401, refused.text


def test_a_disabled_user_is_refused_at_once_by_token_and_by_session(client: TestClient,
                                                                     conn: Connection) -> None:
    admin = token_for(conn, make_user(conn, "kept-admin2"))
    headers = token_for(conn, _reporter(conn, "kept-disabled"))
    login(client, "kept-disabled")
    assert client.get("/api/me", headers=headers).status_code == 200
    assert client.get("/api/me").status_code == 200  # the session's cookie
    assert client.post("/api/users/kept-disabled/disable", headers=admin).status_code == 200
    assert client.get("/api/me", headers=headers).status_code == 401
    assert client.get("/api/me").status_code == 401


def test_a_new_role_and_new_scopes_are_seen_by_the_next_request(client: TestClient, conn: Connection) -> None:
    admin = token_for(conn, make_user(conn, "kept-admin3"))
    headers = token_for(conn, _reporter(conn, "kept-role"))
    assert client.get("/api/users", headers=headers).status_code == 403
    before = client.get("/api/me", headers=headers).json()
    changed = client.patch("/api/users/kept-role", headers=admin, json={"capture": ["S2"]})
    assert changed.status_code == 200, changed.text
    after = client.get("/api/me", headers=headers).json()
    assert "S2" not in {unit["code"] for unit in before["organisationUnits"]}
    assert "S2" in {unit["code"] for unit in after["organisationUnits"]}
    promoted = client.patch("/api/users/kept-role", headers=admin, json={"role": "administrator"})
    assert promoted.status_code == 200, promoted.text
    assert client.get("/api/users", headers=headers).status_code == 200


def test_a_write_no_service_made_is_seen_too(client: TestClient, conn: Connection) -> None:
    """An operator's UPDATE in psql changes the stamp as the services' writes do (the triggers)."""
    headers = token_for(conn, _reporter(conn, "kept-raw"))
    assert client.get("/api/me", headers=headers).status_code == 200
    conn.execute(text("UPDATE users SET active = :no WHERE username = 'kept-raw'"), {"no": False})
    assert client.get("/api/me", headers=headers).status_code == 401


def test_a_logged_out_session_is_refused(browser: TestClient, conn: Connection) -> None:
    _reporter(conn, "kept-logout")
    csrf = login(browser, "kept-logout")
    cookie = browser.cookies.get("jiaowei_session")
    assert browser.get("/api/me").status_code == 200
    browser.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    browser.cookies.set("jiaowei_session", cookie or "")  # a copy of the cookie, kept by an attacker
    assert browser.get("/api/me").status_code == 401


def test_an_expiry_is_checked_on_every_use(client: TestClient, conn: Connection) -> None:
    """What is kept keeps the expiry, never the answer: a token that expires while kept is refused."""
    owner = _reporter(conn, "kept-expiring")
    token = "jw_expiring-" + "x" * 32
    now = dt.datetime.now(dt.UTC)
    conn.execute(insert(api_tokens).values(user_id=owner.user_id, token_hash=auth._digest(token), label="",
                                           created_at=now, expires_at=now + dt.timedelta(seconds=1.5),
                                           revoked=False))
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=headers).status_code == 200
    stamp = _stamp(conn)
    time.sleep(max(0.0, (now + dt.timedelta(seconds=1.6) - dt.datetime.now(dt.UTC)).total_seconds()))
    with auth_reads(conn) as reads:
        assert client.get("/api/me", headers=headers).status_code == 401
    assert reads == []  # refused on what was kept
    assert _stamp(conn) == stamp


def test_an_unknown_token_is_never_kept(client: TestClient, conn: Connection) -> None:
    for _ in range(2):
        with auth_reads(conn) as reads:
            assert client.get("/api/me", headers={"Authorization": "Bearer jw_unknown"}).status_code == 401
        assert len(reads) == 1, reads


def test_what_the_principal_does_not_hold_leaves_the_stamp(db: BoundDatabase, conn: Connection) -> None:
    """A token's last use (written after responses), its label, a failed login: the stamp stays."""
    owner = _reporter(conn, "kept-uses")
    token_for(conn, owner)
    token_id = int(conn.scalar(select(api_tokens.c.id).where(api_tokens.c.user_id == owner.user_id)) or 0)
    stamp = _stamp(conn)
    uses = TokenUses()
    uses.note(token_id=token_id)
    uses.flush(db)
    assert conn.scalar(select(api_tokens.c.last_used_at).where(api_tokens.c.id == token_id)) is not None
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(label="renamed"))
    assert _stamp(conn) == stamp
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked=True))
    assert _stamp(conn) != stamp


@pytest.mark.parametrize("write", [
    "UPDATE users SET display_name = 'x'",
    "UPDATE sessions SET expires_at = expires_at",
    "DELETE FROM user_scopes",
    "DELETE FROM sessions",
])
def test_each_kind_of_write_changes_the_stamp(browser: TestClient, conn: Connection, write: str) -> None:
    _reporter(conn, "kept-writes")
    login(browser, "kept-writes")
    stamp = _stamp(conn)
    conn.execute(text(write))
    assert _stamp(conn) != stamp


def test_every_account_table_has_the_triggers(conn: Connection) -> None:
    found = stamp_triggers(conn, "accounts")
    for table in ("users", "user_scopes", "api_tokens", "sessions"):
        assert {(table, "INSERT"), (table, "UPDATE"), (table, "DELETE")} <= found, (table, found)


def test_the_session_s_csrf_token_comes_with_what_is_kept(browser: TestClient, conn: Connection) -> None:
    """A kept session answers with its own CSRF token: a write with it passes, one without is refused."""
    _reporter(conn, "kept-csrf")
    csrf = login(browser, "kept-csrf")
    assert browser.get("/api/me").status_code == 200
    change = {"old_password": "wrong", "new_password": "whatever-new-1"}
    refused = browser.post("/api/me/password", json=change)
    assert refused.status_code == 403, refused.text
    passed = browser.post("/api/me/password", json=change, headers={"x-csrf-token": csrf})
    assert passed.status_code != 403, passed.text
    assert conn.scalar(select(sessions.c.csrf_token).where(sessions.c.user_id == users.c.id,
                                                           users.c.username == "kept-csrf")) == csrf
