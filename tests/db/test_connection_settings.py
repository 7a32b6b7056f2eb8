"""What each database connection starts with, and the pool's size (issue 17, item 3)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from jiaowei.db.engine import Database, make_engine
from jiaowei.settings import Settings
from jiaowei.web.app import create_app


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_the_app_s_connections_have_the_configured_settings_and_pool(engine: Engine, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=_url(engine), secret_key="test-secret-" + "x" * 32,
                        db_pool_size=2, db_max_overflow=1, lock_timeout_seconds=4,
                        statement_timeout_seconds=7.5)
    app_engine = create_app(settings).state.db.engine
    try:
        assert (app_engine.pool.size(), app_engine.pool._max_overflow) == (2, 1)  # type: ignore[attr-defined]
        with app_engine.connect() as conn:
            if engine.dialect.name != "postgresql":
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 4000
                return
            shown = {name: conn.execute(text(f"SHOW {name}")).scalar()
                     for name in ("plan_cache_mode", "lock_timeout", "statement_timeout")}
    finally:
        app_engine.dispose()
    assert shown == {"plan_cache_mode": "auto", "lock_timeout": "4s", "statement_timeout": "7500ms"}


def test_plan_cache_mode_is_a_setting(engine: Engine, tmp_path: Path) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("plan_cache_mode is PostgreSQL's")
    with engine.connect() as conn:  # the tests' own engine, made by make_engine with its defaults
        assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "auto"
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"
    settings = Settings(home=tmp_path, database_url=_url(engine), secret_key="test-secret-" + "x" * 32,
                        db_plan_cache_mode="force_custom_plan")
    app_engine = create_app(settings).state.db.engine
    try:
        with app_engine.connect() as conn:
            assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
    finally:
        app_engine.dispose()


def test_an_unknown_plan_cache_mode_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="JIAOWEI_DB_PLAN_CACHE_MODE='custom' is not valid; accepted values: "
                                         "auto, force_custom_plan, force_generic_plan"):
        Settings(home=tmp_path, db_plan_cache_mode="custom")


@pytest.mark.parametrize(("setting", "shown"), [(None, "1.1"), (2.5, "2.5"), (0, "4")])
def test_random_page_cost_is_a_setting_and_0_leaves_the_server_s(engine: Engine, tmp_path: Path,
                                                                   setting: float | None, shown: str) -> None:
    """1.1 by default (tables in memory), the setting's value, or with 0 the server's own (4 here)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("random_page_cost is PostgreSQL's")
    chosen = {} if setting is None else {"db_random_page_cost": setting}
    settings = Settings(home=tmp_path, database_url=_url(engine), secret_key="test-secret-" + "x" * 32,
                        **chosen)
    app_engine = create_app(settings).state.db.engine
    try:
        with app_engine.connect() as conn:
            assert conn.execute(text("SHOW random_page_cost")).scalar() == shown
    finally:
        app_engine.dispose()


@pytest.mark.parametrize("value", ["-1", "nan"])
def test_a_negative_random_page_cost_is_refused_by_name(tmp_path: Path, value: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIAOWEI_DB_RANDOM_PAGE_COST", value)
    message = (f"JIAOWEI_DB_RANDOM_PAGE_COST={float(value)!r} is not valid; accepted values: 0 (the server's "
               "own value) or a positive number such as 1.1")
    with pytest.raises(ValueError, match=re.escape(message)):
        Settings(home=tmp_path)


def _terminate(engine: Engine, pid: int) -> None:
    with engine.connect() as other:
        assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True


@pytest.mark.parametrize("ping_after", [0.0, 3600.0])
def test_a_pooled_connection_is_pinged_only_after_it_rested(engine: Engine, ping_after: float) -> None:
    """A connection back in the pool for ``ping_after`` seconds or more is pinged before use, and one
    the server closed is replaced unseen; a connection that just answered is not pinged (one round trip
    less per request), so a server lost since then fails that one use, and the pool then opens anew."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the ping is PostgreSQL's; SQLite runs in the process")
    pooled = make_engine(_url(engine), pool_size=1, max_overflow=0, ping_after=ping_after)
    pings: list[object] = []
    real_ping = pooled.dialect.do_ping
    pooled.dialect.do_ping = lambda dbapi: pings.append(dbapi) or real_ping(dbapi)  # type: ignore[method-assign]
    try:
        with pooled.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        assert pings == []  # a fresh connection is not pinged
        with pooled.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == pid
        assert len(pings) == (1 if ping_after == 0.0 else 0)
        _terminate(engine, int(pid))  # type: ignore[arg-type]
        if ping_after == 0.0:
            with pooled.connect() as conn:  # the ping found it closed: a new connection, no error
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
        else:
            with pytest.raises(DBAPIError) as failed, Database(pooled).transaction() as conn:
                conn.execute(text("SELECT 1"))
            assert failed.value.connection_invalidated
            with pooled.connect() as conn:  # the next use has a new connection
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        pooled.dispose()
