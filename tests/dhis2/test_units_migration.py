"""Migration 0016 on both databases: units, groups and group sets saved before it get DHIS2 uids, each
its own, and nothing that refers to units is lost on the way (no copy of ``units`` on SQLite)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import alembic_config
from jiaowei.uids import is_uid
from tests.conftest import BACKENDS
from tests.migrations import empty_database

ROWS = (
    "INSERT INTO units (id, code, synthetic, created_at) VALUES (1, 'A', false, :at), (2, 'B', false, :at)",
    "INSERT INTO unit_versions (unit_id, valid_from, valid_to, parent_id, name_zh, name_en, type, ownership,"
    " sector, attributes) VALUES (2, :day, :day, NULL, '乙', 'B', 'other', 'public', 'education', '{}')",
    "INSERT INTO unit_groups (id, code, name_zh, name_en) VALUES (1, 'G1', '组', 'G'), (2, 'G2', '组', 'G')",
    "INSERT INTO unit_group_sets (id, code, name_zh, name_en) VALUES (1, 'S1', '集', 'S')",
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rows_saved_before_0016_get_uids(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    url = empty_database(request, tmp_path, backend, "units_0016")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0015")
            for sql in ROWS:
                conn.execute(
                    text(sql), {"at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "day": dt.date(2020, 1, 1)}
                )
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
            uids = [
                uid
                for table in ("units", "unit_groups", "unit_group_sets")
                for uid in conn.execute(text(f"SELECT uid FROM {table}")).scalars()
            ]
            versions = conn.execute(text("SELECT COUNT(*) FROM unit_versions")).scalar_one()
    finally:
        engine.dispose()
    assert len(uids) == 5 and len(set(uids)) == 5 and all(is_uid(u) for u in uids)
    assert versions == 1
