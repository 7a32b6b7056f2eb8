"""The chain check while writers append: no false alarm on either database.

On PostgreSQL (READ COMMITTED) each statement sees its own snapshot, so reading the entries and
then the head in two statements let a write committed in between look like removed entries. A
checkpoint cron job or ``jiaowei audit verify`` on a busy server would then cry tampering.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from jiaowei.audit import service as audit
from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from tests.cli.test_cli import create_pg_database, drop_pg_database
from tests.conftest import BACKENDS

SECONDS = 3.0


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database of its own: the writers here commit."""
    name = "jiaowei_verify_under_writes"
    if request.param == "postgresql":
        cluster = request.getfixturevalue("pg_cluster").url
        url = create_pg_database(cluster, name)
    else:
        url = f"sqlite:///{tmp_path / 'verify.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        drop_pg_database(cluster, name)


def test_verify_holds_while_writers_append(fresh: Engine) -> None:
    with fresh.begin() as conn:
        audit.record_many(conn, actor="seed", entries=[
            {"action": "test.seed", "entity": "test", "entity_key": str(n), "after": {"n": n}}
            for n in range(3000)])
    stop, written = threading.Event(), [0]

    def write() -> None:
        while not stop.is_set():
            with fresh.begin() as conn:
                audit.record(conn, actor="writer", action="test.write", entity="test", entity_key="w")
            written[0] += 1
            time.sleep(0.002)

    writer = threading.Thread(target=write)
    writer.start()
    reports, deadline = [], time.monotonic() + SECONDS
    try:
        while time.monotonic() < deadline:
            with fresh.connect() as conn, conn.begin():
                reports.append(audit.verify(conn))
    finally:
        stop.set()
        writer.join()
    assert written[0] > 10 and len(reports) >= 2
    assert [r.reason for r in reports if not r.ok] == []
