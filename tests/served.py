"""A served app on a committed database of its own, for tests that need more than the rolled-back
transaction of ``conn``: worker threads with connections of their own, clients sending at once.

:func:`committed_database` makes the database (a SQLite file, or a PostgreSQL database in the
throwaway cluster, by the fixture's ``BACKENDS`` parameter), migrates and fills it, and drops it
afterwards; :func:`served` runs uvicorn on the app in a thread of this process.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
import uvicorn
from sqlalchemy import Connection, create_engine, text

from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.settings import Settings
from jiaowei.web.app import create_app

T = TypeVar("T")
_names = itertools.count()


@contextmanager
def committed_database(request: pytest.FixtureRequest, tmp_path: Path, name: str,
                       fill: Callable[[Connection], T]) -> Iterator[tuple[str, T]]:
    """A migrated database of its own for ``request.param`` (``sqlite`` or ``postgresql``), filled by
    ``fill`` in one committed transaction: (its URL, what ``fill`` returned). Dropped afterwards."""
    admin = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
    else:
        cluster = request.getfixturevalue("pg_cluster")
        database = f"{name}_{os.getpid()}_{next(_names)}"
        admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {database}"))
        url = cluster.url.rsplit("/", 1)[0] + f"/{database}"
    try:
        engine = make_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            filled = fill(conn)
        engine.dispose()
        yield url, filled
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE {url.rsplit('/', 1)[1]} WITH (FORCE)"))
            admin.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """uvicorn serving the app in a thread of this process; yields the base URL."""
    app = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        app.state.db.engine.dispose()
        assert not thread.is_alive(), "the server did not stop"
