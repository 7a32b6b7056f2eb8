"""Migrations on both databases: the migrated schema is the tables' metadata (every table); tokens
that existed before 0004 expire 90 days after they were created, and nothing that refers to users
is lost on the way."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import alembic_config
from jiaowei.db.tables import metadata
from tests.conftest import BACKENDS
from tests.migrations import empty_database


def test_the_migrated_schema_is_the_metadata(engine: Engine) -> None:
    """Alembic's autogenerate finds nothing to add: every table change came with its migration."""
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_tokens_made_before_0004_expire_after_the_default(request: pytest.FixtureRequest, tmp_path: Path,
                                                          backend: str) -> None:
    url = empty_database(request, tmp_path, backend, "accounts_0004")
    engine = make_engine(url)
    created = dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.UTC)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0003")
            conn.execute(text("INSERT INTO users (username, display_name, password_hash, role, active, "
                              "created_at) VALUES ('old', 'Old', 'x', 'viewer', true, :at)"), {"at": created})
            conn.execute(text("INSERT INTO api_tokens (user_id, token_hash, label, created_at, revoked) "
                              "SELECT id, 'h', '', :at, false FROM users"), {"at": created})
            conn.execute(text("INSERT INTO sessions (user_id, token_hash, csrf_token, created_at, "
                              "expires_at) SELECT id, 's', 'c', :at, :at FROM users"), {"at": created})
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
            expires = conn.execute(text("SELECT expires_at FROM api_tokens")).scalar_one()
            must_change = conn.execute(text("SELECT must_change_password FROM users")).scalar_one()
            kept_sessions = conn.execute(text("SELECT COUNT(*) FROM sessions")).scalar_one()
    finally:
        engine.dispose()
    if isinstance(expires, str):
        expires = dt.datetime.fromisoformat(expires)
    assert expires.replace(tzinfo=dt.UTC) == created + dt.timedelta(days=90)
    assert not must_change
    assert kept_sessions == 1  # the users table was not copied (that would cascade on SQLite)
