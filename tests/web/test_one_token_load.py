"""Eight clients sharing one API token against a served app: no error, no hang (issue 17, item 1).

Before the fix each request updated the token's ``last_used_at`` from an ``async`` dependency: on
PostgreSQL two clients with one token froze the server for good (health included), on SQLite about
half the requests answered 500 "database is locked". Here uvicorn serves the app in a thread on a
committed database of its own; 8 threads send 400 requests with one token while another checks
``/api/health`` answers in time throughout.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection

from jiaowei.settings import Settings
from tests.conftest import BACKENDS
from tests.factories import make_user, small_tree, token_for
from tests.served import committed_database, served

CLIENTS = 8
REQUESTS = 400


@pytest.fixture(params=BACKENDS)
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A migrated database of its own with a small tree and one user's API token: (URL, headers)."""

    def fill(conn: Connection) -> dict[str, str]:
        small_tree(conn)
        return token_for(conn, make_user(conn, "loader"))

    with committed_database(request, tmp_path, "load", fill) as found:
        yield found


def _send(base: str, headers: dict[str, str], count: int) -> list[int | str]:
    found: list[int | str] = []
    with httpx.Client(base_url=base, headers=headers, timeout=20) as client:
        for _ in range(count):
            try:
                found.append(client.get("/api/units").status_code)
            except httpx.HTTPError as error:  # a time-out is the hang this test is about
                found.append(type(error).__name__)
    return found


def _watch_health(base: str, stop: threading.Event, seen: list[int | str]) -> None:
    with httpx.Client(base_url=base, timeout=5) as client:
        while not stop.is_set():
            try:
                seen.append(client.get("/api/health").status_code)
            except httpx.HTTPError as error:
                seen.append(type(error).__name__)
            stop.wait(0.1)


def test_eight_clients_with_one_token_get_no_error_and_health_answers_throughout(
        committed: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, headers = committed
    settings = Settings(home=tmp_path, database_url=url, secret_key="test-secret-" + "x" * 32)
    with served(settings) as base:
        stop, health = threading.Event(), []
        watcher = threading.Thread(target=_watch_health, args=(base, stop, health))
        watcher.start()
        try:
            with ThreadPoolExecutor(CLIENTS) as pool:
                batches = list(pool.map(lambda _: _send(base, headers, REQUESTS // CLIENTS), range(CLIENTS)))
        finally:
            stop.set()
            watcher.join(10)
        after = httpx.get(f"{base}/api/health", timeout=5).status_code
    statuses = Counter(status for batch in batches for status in batch)
    assert statuses == {200: REQUESTS}
    assert health and set(health) == {200}, Counter(health)
    assert after == 200
