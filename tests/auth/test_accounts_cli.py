"""``jiaowei user list|disable|enable|set-role|reset-password`` and ``jiaowei token list|revoke|create
--days`` against a SQLite database, through the real command line."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from jiaowei import clock
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.cli.test_cli import db_file, jiaowei, sqlite_env  # noqa: F401 - the fixture

PASSWORD = "a long passphrase here\n"


def create(env: dict[str, str], username: str) -> None:
    jiaowei(env, "user", "create", "--username", username, "--role", "viewer", "--password-stdin",
            stdin=PASSWORD)


def _api(env: dict[str, str], tmp_path: Path, token: str, path: str) -> int:
    settings = Settings(home=tmp_path, database_url=env["JIAOWEI_DATABASE_URL"], secret_key="s" * 48)
    app = create_app(settings)
    with TestClient(app) as client:
        status = client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code
    app.state.db.engine.dispose()
    return status


def test_users_are_listed_disabled_enabled_and_given_a_role(sqlite_env, tmp_path):  # noqa: F811
    env = sqlite_env
    jiaowei(env, "units", "import", str(tmp_path / "units.csv"))
    jiaowei(env, "user", "create", "--username", "rep", "--role", "unit_reporter", "--scope", "S1",
            "--password-stdin", stdin=PASSWORD)
    token = jiaowei(env, "token", "create", "--user", "rep").stdout.strip().splitlines()[-1]
    listed = jiaowei(env, "user", "list").stdout
    assert "rep" in listed and "unit_reporter" in listed and "enabled" in listed and "S1" in listed
    assert "Disabled user rep." in jiaowei(env, "user", "disable", "rep", "--note", "left").stdout
    assert "disabled" in jiaowei(env, "user", "list", "--role", "unit_reporter").stdout
    assert _api(env, tmp_path, token, "/api/units") == 401
    jiaowei(env, "user", "enable", "rep")
    assert _api(env, tmp_path, token, "/api/units") == 200
    changed = jiaowei(env, "user", "set-role", "rep", "--role", "district_staff", "--scope", "D1").stdout
    assert "district_staff" in changed and "D1" in changed
    refused = jiaowei(env, "user", "set-role", "rep", "--role", "king", expect=2)
    assert "unknown role" in refused.stderr
    assert "No user named 'nobody'" in jiaowei(env, "user", "disable", "nobody", expect=3).stderr
    assert "chain intact" in jiaowei(env, "audit", "verify").stdout


def test_reset_password_prints_it_alone_on_the_last_line(sqlite_env, tmp_path):  # noqa: F811
    env = sqlite_env
    create(env, "rep")
    result = jiaowei(env, "user", "reset-password", "rep")
    one_time = result.stdout.strip().splitlines()[-1]
    assert result.stdout.strip() == one_time and len(one_time) >= 10 and " " not in one_time
    with sqlite3.connect(db_file(env)) as db:
        assert db.execute("SELECT must_change_password FROM users WHERE username = 'rep'").fetchone() == (1,)


def test_tokens_are_created_with_days_listed_and_revoked(sqlite_env, tmp_path):  # noqa: F811
    env = sqlite_env
    create(env, "rep")
    create(env, "ops")
    made = jiaowei(env, "token", "create", "--user", "rep", "--label", "ci", "--days", "3")
    token = made.stdout.split()[-1]
    jiaowei(env, "token", "create", "--user", "ops")
    in_three_days = (clock.today() + dt.timedelta(days=3)).isoformat()
    listed = jiaowei(env, "token", "list", "--user", "rep").stdout
    assert "ci" in listed and in_three_days in listed and "active" in listed and "ops" not in listed
    assert "ops" in jiaowei(env, "token", "list").stdout
    with sqlite3.connect(db_file(env)) as db:
        (token_id,) = db.execute("SELECT id FROM api_tokens WHERE label = 'ci'").fetchone()
    assert f"Revoked API token {token_id}." in jiaowei(env, "token", "revoke", str(token_id)).stdout
    assert "revoked" in jiaowei(env, "token", "list", "--user", "rep").stdout
    assert _api(env, tmp_path, token, "/api/units") == 401
    assert "revoked already" in jiaowei(env, "token", "revoke", str(token_id), expect=4).stderr
    assert "No API token 999" in jiaowei(env, "token", "revoke", "999", expect=3).stderr
    env_days = {**env, "JIAOWEI_TOKEN_DAYS": "5"}
    jiaowei(env_days, "token", "create", "--user", "ops", "--label", "five")
    in_five_days = (clock.today() + dt.timedelta(days=5)).isoformat()
    assert in_five_days in jiaowei(env, "token", "list", "--user", "ops").stdout
