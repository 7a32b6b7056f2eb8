"""One log line per request, text or JSON, with its request id; tracebacks only for the unexpected."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError as SettingsError
from sqlalchemy import Connection

from jiaowei.db.engine import BoundDatabase
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.factories import make_user, small_tree, token_for

SECRET = "test-secret-" + "x" * 32
NEW_ID = re.compile(r"[0-9a-f]{32}")


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "jiaowei.requests"]


def only_line(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    lines = request_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    return lines[0]


def app_client(db: BoundDatabase, tmp_path: Path, **settings: str) -> TestClient:
    return TestClient(create_app(Settings(home=tmp_path, secret_key=SECRET, **settings), database=db),
                      raise_server_exceptions=False)


@pytest.fixture
def failing(db: BoundDatabase, tmp_path: Path) -> Iterator[TestClient]:
    """An app with one more route, which fails as a bug would."""
    client = app_client(db, tmp_path)

    def broken() -> None:
        raise RuntimeError("a bug in a route")

    client.app.add_api_route("/api/broken/{thing}", broken)  # type: ignore[attr-defined]
    with client:
        yield client


def test_a_request_logs_one_line_with_its_user_route_template_status_and_duration(
        client: TestClient, conn: Connection, caplog: pytest.LogCaptureFixture) -> None:
    small_tree(conn)
    headers = token_for(conn, make_user(conn, "li"))
    caplog.clear()
    response = client.get("/api/units/D1", headers={**headers, "X-Request-ID": "proxy-7f3a.42"})
    assert response.status_code == 200
    record = only_line(caplog)
    assert (record.request_id, record.user, record.method, record.route, record.status) == (  # type: ignore[attr-defined]
        "proxy-7f3a.42", "li", "GET", "/api/units/{code}", 200)
    assert isinstance(record.duration_ms, float) and record.duration_ms >= 0  # type: ignore[attr-defined]
    assert record.levelno == logging.INFO and record.exc_info is None
    assert response.headers["x-request-id"] == "proxy-7f3a.42"


def test_a_request_without_a_sane_id_gets_a_new_one_in_the_answer_and_the_log(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    for sent in (None, b"two words", b"x" * 129, "\u00e9-accent".encode("latin-1"), b"line\x01break"):
        caplog.clear()
        response = client.get("/api/health", headers={"X-Request-ID": sent} if sent else {})
        made = response.headers["x-request-id"]
        assert NEW_ID.fullmatch(made), (sent, made)
        assert only_line(caplog).request_id == made  # type: ignore[attr-defined]
    assert client.get("/api/health").headers["x-request-id"] != made


def test_expected_errors_are_logged_without_a_traceback(
        client: TestClient, conn: Connection, caplog: pytest.LogCaptureFixture) -> None:
    small_tree(conn)
    headers = token_for(conn, make_user(conn))
    for path, status in (("/api/units/NOPE", 404), ("/api/units", 401), ("/nowhere/at/all", 404)):
        caplog.clear()
        response = client.get(path, headers=headers if status != 401 else {})
        assert response.status_code == status
        record = only_line(caplog)
        assert record.status == status and record.levelno == logging.INFO  # type: ignore[attr-defined]
        assert not any(r.exc_info for r in caplog.records)
    assert record.route == "-" and record.user == "-"  # type: ignore[attr-defined]


def test_an_unexpected_error_is_logged_once_with_its_traceback(
        failing: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    response = failing.get("/api/broken/42")
    assert response.status_code == 500
    record = only_line(caplog)
    assert record.levelno == logging.ERROR and record.status == 500  # type: ignore[attr-defined]
    assert record.route == "/api/broken/{thing}"  # type: ignore[attr-defined]
    assert record.exc_info is not None and str(record.exc_info[1]) == "a bug in a route"
    # uvicorn logs the exception it sees again ("Exception in ASGI application"): that copy is dropped
    uvicorn_copy = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1,
                                     "Exception in ASGI application", None, record.exc_info)
    assert not logging.getLogger("uvicorn.error").filter(uvicorn_copy)
    other = RuntimeError("not logged by jiaowei")
    assert logging.getLogger("uvicorn.error").filter(logging.LogRecord(
        "uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application", None,
        (RuntimeError, other, None)))


def test_json_logs_carry_the_fields_on_one_line(db: BoundDatabase, conn: Connection, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    small_tree(conn)
    headers = token_for(conn, make_user(conn, "zhao"))
    with app_client(db, tmp_path, log_format="json") as client:
        capsys.readouterr()
        client.get("/api/units/S1", headers={**headers, "X-Request-ID": "r-1"})
        client.get("/api/40/units/S2.json", headers={**headers, "X-Request-ID": "r-2"})
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if '"jiaowei.requests"' in line]
    assert [(e["request_id"], e["user"], e["method"], e["route"], e["status"]) for e in lines] == [
        ("r-1", "zhao", "GET", "/api/units/{code}", 200), ("r-2", "zhao", "GET", "/api/units/{code}", 200)]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"]) for e in lines)
    assert all(e["level"] == "INFO" and isinstance(e["duration_ms"], float) for e in lines)


def test_text_logs_are_one_readable_line_and_json_logs_hold_the_traceback(
        db: BoundDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with app_client(db, tmp_path) as client:
        capsys.readouterr()
        client.get("/api/health", headers={"X-Request-ID": "t-1"})
    line = next(line for line in capsys.readouterr().err.splitlines() if "jiaowei.requests" in line)
    assert re.fullmatch(r"\S+Z INFO \[t-1\] jiaowei\.requests: - GET /api/health 200 \d+\.\dms", line), line
    client = app_client(db, tmp_path, log_format="json")
    client.app.add_api_route("/api/broken", lambda: 1 / 0)  # type: ignore[attr-defined]
    with client:
        capsys.readouterr()
        assert client.get("/api/broken").status_code == 500
    err = capsys.readouterr().err
    entry = json.loads(next(line for line in err.splitlines() if "jiaowei.requests" in line))
    assert entry["level"] == "ERROR" and entry["status"] == 500 and "ZeroDivisionError" in entry["exception"]


def test_an_unknown_log_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="JIAOWEI_LOG_FORMAT"):
        Settings(home=tmp_path, log_format="xml")
