"""Reconciliation while writers commit: no false mismatch on either database.

The checks read the chain and the live tables in several statements. Under PostgreSQL's READ
COMMITTED each statement sees the latest commits, so a unit opened between the read of the chain's
entries and the read of ``units`` looked like a row written around the services. ``jiaowei audit
verify`` and ``GET /api/audit/verify`` therefore run in one REPEATABLE READ snapshot
(:meth:`Database.snapshot`); SQLite's read transaction in WAL mode is one already.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import Engine

from jiaowei.audit import reconcile
from jiaowei.audit import service as audit
from jiaowei.db.engine import Database, make_engine
from jiaowei.db.migrate import upgrade
from tests.cli.test_cli import create_pg_database, drop_pg_database
from tests.conftest import BACKENDS
from tests.factories import make_unit, small_tree

SECONDS = 3.0


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database of its own (the writers here commit), with a tree of 150 schools."""
    name = "jiaowei_reconcile_under_writes"
    if request.param == "postgresql":
        cluster = request.getfixturevalue("pg_cluster").url
        url = create_pg_database(cluster, name)
    else:
        url = f"sqlite:///{tmp_path / 'reconcile.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        small_tree(conn)
        for n in range(150):
            make_unit(conn, f"T{n:03d}", parent="D1")
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        drop_pg_database(cluster, name)


def test_verify_and_reconcile_hold_while_units_are_opened(fresh: Engine) -> None:
    stop, written, numbers = threading.Event(), [0], count()

    def write() -> None:
        while not stop.is_set():
            with fresh.begin() as conn:
                make_unit(conn, f"W{next(numbers):04d}", parent="D2")
            written[0] += 1
            time.sleep(0.002)

    writer = threading.Thread(target=write)
    writer.start()
    database, found, runs = Database(fresh), [], 0
    deadline = time.monotonic() + SECONDS
    try:
        while time.monotonic() < deadline:
            with database.snapshot() as conn:
                report = audit.verify(conn)
                found += [report.reason] if not report.ok else [str(m) for m in reconcile.reconcile(conn)]
            runs += 1
    finally:
        stop.set()
        writer.join()
    assert written[0] > 10 and runs >= 2
    assert found == []
