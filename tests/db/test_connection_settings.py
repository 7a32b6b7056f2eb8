"""What each database connection starts with, and the pool's size (issue 17, item 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

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
    assert shown == {"plan_cache_mode": "force_custom_plan", "lock_timeout": "4s",
                     "statement_timeout": "7500ms"}


def test_plan_cache_mode_is_set_without_a_statement_timeout(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("plan_cache_mode is PostgreSQL's")
    with engine.connect() as conn:  # the tests' own engine, made by make_engine with its defaults
        assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"
