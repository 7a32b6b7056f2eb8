"""An empty database of either backend for a test that migrates from an older revision; the triggers that
set the metadata stamps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from tests.cli.test_cli import create_pg_database, drop_pg_database


def empty_database(request: pytest.FixtureRequest, tmp_path: Path, backend: str, name: str) -> str:
    """The URL of a new, empty database: a SQLite file in ``tmp_path``, or database ``name`` on the
    tests' PostgreSQL cluster, dropped when the test ends."""
    if backend != "postgresql":
        return f"sqlite:///{tmp_path / 'old.sqlite3'}"
    cluster = request.getfixturevalue("pg_cluster").url
    request.addfinalizer(lambda: drop_pg_database(cluster, name))
    return create_pg_database(cluster, name)


def stamp_triggers(conn: Connection, area: str) -> set[tuple[str, str]]:
    """(table, event) of every trigger that sets the ``area`` row of ``metadata_stamps`` (migrations
    0018 and 0020): PostgreSQL's statement triggers by their function, SQLite's row triggers by their SQL."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text("SELECT event_object_table, event_manipulation"
                                 " FROM information_schema.triggers WHERE action_statement LIKE :function"),
                            {"function": f"%metadata_stamp_{area}%"})
        return {(table, event) for table, event in rows}
    rows = conn.execute(text("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger' "
                             "AND sql LIKE '%metadata_stamps%' AND sql LIKE :area"), {"area": f"%'{area}'%"})
    return {(table, re.search(r"AFTER (\w+)", sql).group(1)) for table, sql in rows}  # type: ignore[union-attr]
