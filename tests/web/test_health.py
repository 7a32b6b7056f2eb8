"""Health that tells the truth (issue 17, part 2): liveness, readiness, and ``/api/health`` as before.

Each finding of the issue is reproduced: a database at an older schema revision made ``/api/health``
say ok while data routes answered 500; a database that is down gave a plain-text 500 and a traceback
per check.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text

from jiaowei import __version__
from jiaowei.db.engine import Database, make_engine
from jiaowei.db.migrate import head_revision
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.pgcluster import free_port

HEAD = head_revision()


def test_health_live_and_ready_answer_ok_on_a_database_at_head(client: TestClient) -> None:
    health = client.get("/api/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "version": __version__, "database": client.app.state.db.backend,
                             "ready": True}
    live = client.get("/api/health/live")
    assert live.status_code == 200 and live.json() == {"status": "ok", "version": __version__}
    ready = client.get("/api/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok" and ready.json()["schema"] == HEAD


def test_an_older_schema_is_not_ready(client: TestClient, conn: Connection) -> None:
    conn.execute(text("UPDATE alembic_version SET version_num = '0015'"))
    ready = client.get("/api/health/ready")
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/json"
    assert ready.json() == {"status": "not ready", "reason": f"schema at 0015, code needs {HEAD}",
                            "version": __version__}
    health = client.get("/api/health")  # as before: the database answers; "ready" tells the rest
    assert health.status_code == 200 and health.json()["ready"] is False
    assert client.get("/api/health/live").status_code == 200


def test_a_database_without_a_schema_is_not_ready(client: TestClient, conn: Connection) -> None:
    conn.execute(text("DELETE FROM alembic_version"))
    ready = client.get("/api/health/ready")
    assert ready.status_code == 503
    assert ready.json()["reason"] == f"no schema, code needs {HEAD} (run jiaowei init)"


def _unreachable_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}"  # a folder: SQLite cannot open it
    return f"postgresql+psycopg://jiaowei@127.0.0.1:{free_port()}/jiaowei"  # nothing listens there


@pytest.fixture(params=["sqlite", "postgresql"])
def down(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    """A client of an app whose database does not answer."""
    settings = Settings(home=tmp_path, database_url=_unreachable_url(request.param, tmp_path),
                        secret_key="test-secret-" + "x" * 32, lock_timeout_seconds=2)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.db.engine.dispose()


def test_a_database_that_is_down_gives_503_json_and_one_log_line(
        down: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    with caplog.at_level(logging.INFO):
        health = down.get("/api/health")
    assert health.status_code == 503
    assert health.headers["content-type"] == "application/json"
    assert health.json() == {"status": "unavailable", "reason": "database unreachable",
                             "version": __version__}
    lines = [r for r in caplog.records if r.name == "jiaowei.health"]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert "database unreachable" in lines[0].getMessage() and "\n" not in lines[0].getMessage()
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []

    caplog.clear()
    with caplog.at_level(logging.INFO):
        ready = down.get("/api/health/ready")
    assert ready.status_code == 503
    assert ready.json() == {"status": "not ready", "reason": "database unreachable", "version": __version__}
    assert len([r for r in caplog.records if r.name == "jiaowei.health"]) == 1
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


def test_liveness_needs_no_database(down: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    live = down.get("/api/health/live")
    assert live.status_code == 200 and live.json() == {"status": "ok", "version": __version__}
    assert [r for r in caplog.records if r.name == "jiaowei.health"] == []


def test_the_health_routes_are_documented_with_their_503(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]
    assert "503" in paths["/api/health"]["get"]["responses"]
    assert "503" in paths["/api/health/ready"]["get"]["responses"]
    assert "not ready" in paths["/api/health/ready"]["get"]["responses"]["503"]["description"]
    assert set(paths["/api/health/live"]["get"]["responses"]) == {"200"}


def test_a_connection_the_server_closed_mid_use_answers_503_once(engine: Engine, tmp_path: Path) -> None:
    """A pooled connection is not pinged when it has just been used (db/engine.py): if the server
    closes it in between, that one request answers 503 with a short reason, and the next has a new
    connection."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a server that closes connections is PostgreSQL's")
    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(home=tmp_path, database_url=url, secret_key="test-secret-" + "x" * 32)
    database = Database(make_engine(url, pool_size=1, max_overflow=0, ping_after=3600.0))
    unknown = {"Authorization": "Bearer not-a-token", "Accept-Language": "zh-CN"}
    try:
        with TestClient(create_app(settings, database=database)) as client:
            assert client.get("/api/units", headers=unknown).status_code == 401  # the token was looked up
            with database.engine.connect() as pooled:
                pid = pooled.execute(text("SELECT pg_backend_pid()")).scalar()
            with engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            lost = client.get("/api/units", headers=unknown)
            assert lost.status_code == 503, lost.text
            assert lost.headers["content-type"] == "application/problem+json"
            assert lost.json()["detail"] == "与数据库的连接已断开，请重试。"
            assert client.get("/api/units", headers=unknown).status_code == 401
    finally:
        database.engine.dispose()
