"""Every table of every area a process keeps under a stamp (migrations 0018, 0020 and 0021; decisions
0022 and 0023) has the triggers that change its area's stamp, and a write to it (by any means: here
plain SQL) changes the stamp in the writing transaction."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest
from sqlalchemy import Connection, inspect, select, text

from jiaowei.db.kept import metadata_stamps
from jiaowei.db.migrate import MIGRATIONS
from tests.migrations import stamp_triggers


def _migration(name: str) -> ModuleType:
    path = next((MIGRATIONS / "versions").glob(f"{name}_*.py"))
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


AREAS: dict[str, dict[str, str]] = _migration("0021").AREAS
TABLES = [(area, table) for area, tables in AREAS.items() for table in tables]


def _stamp(conn: Connection, area: str) -> str:
    return str(conn.scalar(select(metadata_stamps.c.stamp).where(metadata_stamps.c.area == area)))


@pytest.mark.parametrize(("area", "table"), TABLES)
def test_each_table_has_its_area_s_triggers(conn: Connection, area: str, table: str) -> None:
    assert {(table, "INSERT"), (table, "UPDATE"), (table, "DELETE")} <= stamp_triggers(conn, area)


@pytest.mark.parametrize(("area", "table"), TABLES)
def test_a_write_to_each_table_changes_the_stamp(conn: Connection, area: str, table: str) -> None:
    """On PostgreSQL an UPDATE changes the stamp even when it matches no row (statement triggers), so
    every table is tried on the test's empty database; SQLite's row triggers are checked by name above
    and by writes in each area's own tests (accounts, audit, appraisals, plans)."""
    if conn.dialect.name != "postgresql":
        pytest.skip("SQLite's triggers are row triggers: an empty table fires none")
    first = AREAS[area][table].split(", ")[0]  # for tokens and sessions, a column that counts
    column = first or inspect(conn).get_pk_constraint(table)["constrained_columns"][0]
    before = _stamp(conn, area)
    with conn.begin_nested() as change:
        conn.execute(text(f"UPDATE {table} SET {column} = {column}"))
        changed = _stamp(conn, area)
        change.rollback()
    assert changed != before
    assert _stamp(conn, area) == before  # rolled back: the old stamp is back
