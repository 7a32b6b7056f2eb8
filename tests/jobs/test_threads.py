"""Jobs run in a worker thread with a connection of their own, on committed databases (both kinds).

The app here has a real database (not the tests' one-connection ``BoundDatabase``), so its runner
hands each job to a worker thread; the page's request returns while the job still runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.registry import queries, transfer
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.conftest import BACKENDS
from tests.factories import login, make_user, small_tree
from tests.jobs.helpers import start, wait_for
from tests.jobs.test_jobs import BAD, GOOD
from tests.served import committed_database


@pytest.fixture(params=BACKENDS)
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of its own with a small tree and a user ``wang``; its URL."""

    def fill(conn: Connection) -> None:
        small_tree(conn)
        make_user(conn, "wang")

    with committed_database(request, tmp_path, "jobs", fill) as (url, _):
        yield url


def _codes(url: str) -> set[str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        found = {u.code for u in queries.list_units(conn, principal=SYSTEM, limit=500).items}
    engine.dispose()
    return found


def test_a_job_runs_in_a_worker_thread_and_its_page_polls_its_progress(
        committed: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    seen: list[str] = []
    real = transfer.parse

    def slow_parse(*args: Any, **kwargs: Any) -> Any:
        seen.append(threading.current_thread().name)
        assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(transfer, "parse", slow_parse)
    settings = Settings(home=tmp_path, database_url=committed)
    with TestClient(create_app(settings)) as client:
        csrf = login(client, "wang")
        job_id = start(client, "/units/import", data={"csrf_token": csrf},
                       files={"file": ("units.csv", GOOD, "text/csv")})
        running = client.get(f"/api/jobs/{job_id}").json()  # the request returned; the job waits
        page = client.get(f"/jobs/{job_id}", headers={"accept": "text/html", "accept-language": "en"})
        release.set()
        job = wait_for(client, job_id)
        client.app.state.db.engine.dispose()  # type: ignore[attr-defined]
    assert running["status"] in ("queued", "running") and running["failure"] is None
    assert page.status_code == 200 and "<progress" in page.text and 'data-finished="false"' in page.text
    assert "/static/jobs.js" in page.text
    assert seen and seen[0].startswith("jiaowei-job")  # parsed in the runner's worker thread
    assert job["status"] == "succeeded", job
    assert {c["label"]: c["value"] for c in job["counts"]}["Created"] == 2
    assert {"N1", "N2"} <= _codes(committed)  # committed by the job's own transaction


def test_a_failed_job_in_a_worker_thread_leaves_the_data_as_it_was(committed: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=committed)
    before = _codes(committed)
    with TestClient(create_app(settings)) as client:
        csrf = login(client, "wang")
        job = wait_for(client, start(client, "/units/import", data={"csrf_token": csrf},
                                     files={"file": ("units.csv", BAD, "text/csv")}))
        client.app.state.db.engine.dispose()  # type: ignore[attr-defined]
    assert job["status"] == "failed"
    assert [(p["row"], p["field"]) for p in job["failure"]["problems"]] == [(4, "type")]
    assert _codes(committed) == before
