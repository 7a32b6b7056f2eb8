"""The jobs' start-up hook with the database down: one line in the log, no traceback (issue 17, part 2).

The server starts all the same, and says it is not ready until the database answers.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.pgcluster import free_port


def test_with_the_database_down_the_jobs_hook_logs_one_line_and_the_server_starts(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    down = f"postgresql+psycopg://jiaowei@127.0.0.1:{free_port()}/jiaowei"
    app = create_app(Settings(home=tmp_path, secret_key="test-secret-" + "x" * 32, database_url=down))
    with caplog.at_level(logging.WARNING, logger="jiaowei.jobs"), TestClient(app) as client:
        said = [r for r in caplog.records if r.name.startswith("jiaowei.jobs")]
        ready = client.get("/api/health/ready")
    app.state.db.engine.dispose()
    assert len(said) == 1, [r.getMessage() for r in said]
    line = said[0]
    assert line.exc_info is None and "\n" not in line.getMessage(), line.getMessage()
    assert "jobs" in line.getMessage() and "127.0.0.1" in line.getMessage(), line.getMessage()
    assert ready.status_code == 503 and ready.json()["reason"] == "database unreachable"
