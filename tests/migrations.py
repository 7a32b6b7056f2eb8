"""An empty database of either backend for a test that migrates from an older revision."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import create_pg_database, drop_pg_database


def empty_database(request: pytest.FixtureRequest, tmp_path: Path, backend: str, name: str) -> str:
    """The URL of a new, empty database: a SQLite file in ``tmp_path``, or database ``name`` on the
    tests' PostgreSQL cluster, dropped when the test ends."""
    if backend != "postgresql":
        return f"sqlite:///{tmp_path / 'old.sqlite3'}"
    cluster = request.getfixturevalue("pg_cluster").url
    request.addfinalizer(lambda: drop_pg_database(cluster, name))
    return create_pg_database(cluster, name)
