"""Migration 0015 on both databases: data elements saved before it keep their rows and references, and
DHIS2's longest value type name (24 characters) fits afterwards; down and up again work."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import alembic_config
from tests.conftest import BACKENDS
from tests.migrations import empty_database

ELEMENT = (
    "INSERT INTO data_elements (id, uid, code, name_zh, name_en, short_name, description, value_type,"
    " aggregation_type, combo_id, zero_is_significant, created_at) VALUES (:id, :uid, :code, '数', 'N', 'N',"
    " '', :vt, 'SUM', 1, false, :at)"
)  # combo 1 is the default combo, which the migrations save


@pytest.mark.parametrize("backend", BACKENDS)
def test_value_types_grow_and_elements_saved_before_0015_stay(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    url = empty_database(request, tmp_path, backend, "types_0015")
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0014")
            conn.execute(text(ELEMENT),
                         {"id": 1, "uid": "De000000001", "code": "OLD", "vt": "INTEGER", "at": at})
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        with engine.begin() as conn:
            conn.execute(text(ELEMENT), {"id": 2, "uid": "De000000002", "code": "NEW",
                                         "vt": "INTEGER_ZERO_OR_POSITIVE", "at": at})
            rows = conn.execute(
                text("SELECT code, value_type, combo_id FROM data_elements ORDER BY id")).all()
            if backend == "sqlite":
                assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
                assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
                declared = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'data_elements'"))
                assert "value_type VARCHAR(32) NOT NULL" in declared.scalar_one()
            conn.execute(text("DELETE FROM data_elements WHERE id = 2"))
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0014")
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
            kept = conn.execute(text("SELECT code FROM data_elements")).scalars().all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("OLD", "INTEGER", 1), ("NEW", "INTEGER_ZERO_OR_POSITIVE", 1)]
    assert kept == ["OLD"]
