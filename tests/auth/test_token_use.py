"""Token reads never write: the last use is recorded out of band (issue 9, item 2)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM
from jiaowei.auth.store import api_tokens
from jiaowei.auth.token_use import TokenUses
from jiaowei.db.engine import Database, make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.factories import PASSWORD


def _last_used(database: Database) -> dt.datetime | None:
    with database.transaction() as conn:
        return conn.scalar(select(api_tokens.c.last_used_at))


def test_a_token_get_succeeds_while_another_connection_holds_the_write_lock(tmp_path: Path):
    path = tmp_path / "locked.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    database = Database(engine)
    with database.transaction(write=True) as conn:
        auth.create_user(conn, principal=SYSTEM, username="reader", password=PASSWORD, role="administrator")
        token = auth.create_token(conn, principal=SYSTEM, username="reader")
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    release = threading.Timer(1.0, lambda: writer.execute("COMMIT"))
    settings = Settings(home=tmp_path, secret_key="test-secret-" + "x" * 32)
    app = create_app(settings, database=database)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:  # its start-up hook has run
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("UPDATE users SET display_name = 'changed by a writer'")
            release.start()  # the lock is held as the request starts, and for a second
            response = client.get("/api/units", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        release.join()
        app.state.token_uses.flush(database)
        assert _last_used(database) is not None
    finally:
        release.cancel()
        writer.close()
        engine.dispose()


def test_uses_are_noted_at_most_once_a_minute_per_token():
    uses = TokenUses()
    start = dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.UTC)
    uses.note(token_id=1, at=start)
    assert uses.pending

    class Recording(Database):
        def __init__(self) -> None:
            self.flushed = 0

        def transaction(self, *, write: bool = False):  # type: ignore[override]
            self.flushed += 1
            raise OperationalError("UPDATE", {}, Exception("database is locked"))

    database = Recording()
    uses.flush(database)  # fails: logged, kept for the next flush, never raised
    assert database.flushed == 1 and uses.pending
    uses.note(token_id=1, at=start + dt.timedelta(seconds=30))
    uses.flush(database)
    assert database.flushed == 2 and uses.pending


def test_a_failed_flush_keeps_the_latest_use(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'uses.sqlite3'}")
    upgrade(engine)
    database = Database(engine)
    with database.transaction(write=True) as conn:
        auth.create_user(conn, principal=SYSTEM, username="reader", password=PASSWORD, role="administrator")
        auth.create_token(conn, principal=SYSTEM, username="reader")
    uses = TokenUses(interval=dt.timedelta(0))
    moment = dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.UTC)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Database, "transaction", _locked)
        uses.note(token_id=1, at=moment)
        uses.flush(database)
    uses.flush(database)
    recorded = _last_used(database)
    engine.dispose()
    assert recorded is not None and recorded.replace(tzinfo=dt.UTC) == moment


def _locked(self: Database, *, write: bool = False):  # type: ignore[no-untyped-def]
    raise OperationalError("UPDATE", {}, Exception("database is locked"))
