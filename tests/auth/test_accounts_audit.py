"""Direct SQL edits of the account tables are caught by ``GET /api/audit/verify`` and by
``jiaowei audit verify``, on SQLite and PostgreSQL (issue 9, items 4 and 5): a viewer promoted to
administrator, a scope added, a disabled account re-enabled, a password hash swapped, a revoked
token made usable again, a token or a user inserted."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from jiaowei.audit import reconcile
from jiaowei.audit import service as audit
from jiaowei.auth import admin
from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from tests.cli.test_cli import cli_env, create_pg_database, drop_pg_database, jiaowei
from tests.conftest import BACKENDS
from tests.factories import make_user, small_tree, token_for


def load(conn: Connection) -> None:
    """Users and tokens written through every service: created, changed, disabled, reset, revoked."""
    small_tree(conn)
    make_user(conn, "watcher", role="viewer", view=["D1"])
    make_user(conn, "rep", role="unit_reporter", capture=["S1"])
    make_user(conn, "gone", role="unit_reporter", capture=["S2"])
    admin.change_user(conn, principal=SYSTEM, username="rep", capture=["S1", "D1"], view=["D2"])
    admin.set_active(conn, principal=SYSTEM, username="gone", active=False, note="left")
    admin.reset_password(conn, principal=SYSTEM, username="rep")
    auth.create_token(conn, principal=SYSTEM, username="rep", label="kept")
    auth.create_token(conn, principal=SYSTEM, username="gone", label="revoked")
    revoked = conn.execute(text("SELECT id FROM api_tokens WHERE label = 'revoked'")).scalar_one()
    admin.revoke_token(conn, principal=SYSTEM, token_id=revoked)


def _user_id(conn: Connection, username: str) -> int:
    return int(conn.execute(text("SELECT id FROM users WHERE username = :u"), {"u": username}).scalar_one())


def _promote(conn: Connection) -> None:
    conn.execute(text("UPDATE users SET role = 'administrator' WHERE username = 'watcher'"))


def _add_scope(conn: Connection) -> None:
    conn.execute(text("INSERT INTO user_scopes (user_id, unit_id, kind) SELECT :u, id, 'capture' FROM units "
                      "WHERE code = 'SH'"), {"u": _user_id(conn, "watcher")})


def _reenable(conn: Connection) -> None:
    conn.execute(text("UPDATE users SET active = true, disabled_at = NULL WHERE username = 'gone'"))


def _swap_password(conn: Connection) -> None:
    conn.execute(text("UPDATE users SET password_hash = "
                      "(SELECT password_hash FROM users WHERE username = 'rep') "
                      "WHERE username = 'watcher'"))


def _skip_change(conn: Connection) -> None:
    conn.execute(text("UPDATE users SET must_change_password = false WHERE username = 'rep'"))


def _unrevoke(conn: Connection) -> None:
    conn.execute(text("UPDATE api_tokens SET revoked = false, revoked_at = NULL WHERE label = 'revoked'"))


def _insert_token(conn: Connection) -> None:
    conn.execute(text("INSERT INTO api_tokens (user_id, token_hash, label, created_at, expires_at, revoked) "
                      "SELECT user_id, 'forged-' || substr(token_hash, 8), 'forged', created_at, "
                      "expires_at, false FROM api_tokens WHERE label = 'kept'"))


def _move_token(conn: Connection) -> None:
    conn.execute(text("UPDATE api_tokens SET user_id = :u WHERE label = 'kept'"),
                 {"u": _user_id(conn, "watcher")})


def _extend_token(conn: Connection) -> None:
    conn.execute(text("UPDATE api_tokens SET expires_at = created_at + INTERVAL '3650 days' "
                      "WHERE label = 'kept'")
                 if conn.dialect.name == "postgresql" else
                 text("UPDATE api_tokens SET expires_at = '2099-01-01 00:00:00.000000' WHERE label = 'kept'"))


def _insert_user(conn: Connection) -> None:
    conn.execute(text("INSERT INTO users (username, display_name, password_hash, role, active, created_at, "
                      "must_change_password) SELECT 'mallory', 'M', password_hash, 'administrator', true, "
                      "created_at, false FROM users WHERE username = 'rep'"))


TAMPERINGS: dict[str, tuple[Callable[[Connection], None], str, str]] = {
    "viewer promoted": (_promote, "users watcher", "role is administrator, the audit log says viewer"),
    "scope added": (_add_scope, "user_scopes watcher", "capture is SH, the audit log says none"),
    "re-enabled": (_reenable, "users gone", "active is true, the audit log says false"),
    "password swapped": (_swap_password, "users watcher", "the password hash differs"),
    "password change skipped": (_skip_change, "users rep", "must_change_password is false"),
    "token un-revoked": (_unrevoke, "api_tokens", "the token is not revoked"),
    "token inserted": (_insert_token, "api_tokens", "the token of rep is not in the audit log"),
    "token moved": (_move_token, "api_tokens", "the token acts as watcher, the audit log says rep"),
    "token extended": (_extend_token, "api_tokens", "the token expires"),
    "user inserted": (_insert_user, "users mallory", "the user is not in the audit log"),
}


def test_the_services_writes_reconcile(conn: Connection) -> None:
    load(conn)
    assert reconcile.reconcile(conn) == []


def test_entries_written_before_the_full_state_still_reconcile(conn: Connection) -> None:
    """A user created and a token given before this change (role and scopes only, tokens keyed by user)."""
    small_tree(conn)
    conn.execute(text("INSERT INTO users (username, display_name, password_hash, role, active, created_at) "
                      "VALUES ('old', 'Old', 'x', 'district_staff', true, CURRENT_TIMESTAMP)"))
    conn.execute(text("INSERT INTO user_scopes (user_id, unit_id, kind) SELECT u.id, n.id, 'capture' "
                      "FROM users u, units n WHERE u.username = 'old' AND n.code = 'D1'"))
    conn.execute(text("INSERT INTO api_tokens (user_id, token_hash, label, created_at, expires_at, revoked) "
                      "SELECT id, 'legacy', '', created_at, created_at, false FROM users "
                      "WHERE username = 'old'"))
    audit.record(conn, actor="system", action="user.create", entity="user", entity_key="old",
                 after={"role": "district_staff", "capture": ["D1"], "view": []})
    audit.record(conn, actor="system", action="token.create", entity="user", entity_key="old",
                 after={"label": "", "prefix": "jw_abcd"})
    assert reconcile.reconcile(conn) == []
    conn.execute(text("UPDATE users SET role = 'administrator' WHERE username = 'old'"))
    conn.execute(text("INSERT INTO api_tokens (user_id, token_hash, label, created_at, expires_at, revoked) "
                      "SELECT id, 'legacy2', '', created_at, created_at, false FROM users "
                      "WHERE username = 'old'"))
    found = [str(m) for m in reconcile.reconcile(conn)]
    assert "users old: role is administrator, the audit log says district_staff" in found
    assert any("the token of old is not in the audit log" in line for line in found), found


@pytest.mark.parametrize("name", TAMPERINGS)
def test_a_direct_edit_is_caught_by_the_api(client: TestClient, conn: Connection, name: str) -> None:
    load(conn)
    headers = token_for(conn, make_user(conn, "auditor", role="administrator"))
    assert client.get("/api/audit/verify", headers=headers).json()["ok"]
    tamper, row, reason = TAMPERINGS[name]
    tamper(conn)
    body = client.get("/api/audit/verify", headers=headers).json()
    assert not body["ok"] and body["first_bad_seq"] is None
    found = [f"{m['table']} {m['key']}: {m['reason']}" for m in body["mismatches"]]
    assert any(line.startswith(row) and reason in line for line in found), found


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_viewer_promoted_by_direct_sql_fails_the_cli_verify(request: pytest.FixtureRequest, tmp_path: Path,
                                                              backend: str) -> None:
    if backend == "postgresql":
        cluster = request.getfixturevalue("pg_cluster").url
        url = create_pg_database(cluster, "accounts_tamper")
        request.addfinalizer(lambda: drop_pg_database(cluster, "accounts_tamper"))
    else:
        url = f"sqlite:///{tmp_path / 'tamper.sqlite3'}"
    env = cli_env(tmp_path / "home", url)
    jiaowei(env, "init")
    jiaowei(env, "user", "create", "--username", "watcher", "--role", "viewer", "--password-stdin",
            stdin="a long passphrase here\n")
    jiaowei(env, "user", "disable", "watcher")
    assert "chain intact" in jiaowei(env, "audit", "verify").stdout
    if backend == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            db.execute("UPDATE users SET role = 'administrator', active = 1 WHERE username = 'watcher'")
    else:
        engine = make_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE users SET role = 'administrator', active = true "
                              "WHERE username = 'watcher'"))
        engine.dispose()
    failed = jiaowei(env, "audit", "verify", expect=9)
    assert "users watcher: role is administrator, the audit log says viewer" in failed.stderr
    assert "users watcher: active is true, the audit log says false" in failed.stderr
