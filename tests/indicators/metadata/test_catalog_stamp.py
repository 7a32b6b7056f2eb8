"""The process keeps the catalog and the indicators' definitions across transactions under the metadata
stamp (migration 0018): a later transaction reads the stamp and nothing else, a write is seen at once,
and a write rolled back leaves nothing that a later write could find again."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Connection, text

from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import BoundDatabase
from jiaowei.indicators.metadata import catalog as catalog_module
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.metadata.catalog import load_catalog, metadata_stamp
from jiaowei.indicators.quality.queries import load_rules
from jiaowei.indicators.targets.compute import all_indicators
from tests.factories import indicator_metadata
from tests.migrations import stamp_triggers
from tests.statements import Count, counting


class Refused(Exception):
    pass


def _new_element(conn: Connection, code: str) -> None:
    metadata.save_data_element(conn, principal=SYSTEM, code=code, name_zh=f"新{code}", name_en=f"New {code}",
                               value_type="INTEGER", aggregation_type="SUM")


def _reads(count: Count) -> list[str]:
    return [s for s, _ in count.seen if s.startswith("SELECT")]


def test_a_later_transaction_reads_the_stamp_and_nothing_else(db: BoundDatabase, conn: Connection) -> None:
    indicator_metadata(conn)
    with db.transaction():
        first, indicators = load_catalog(conn), all_indicators(conn)
    with counting(conn) as count, db.transaction():
        assert load_catalog(conn) is first
        assert all_indicators(conn) == indicators and [i.code for i in indicators] == ["PTR"]
    assert [re.sub(r" WHERE .*", "", s) for s in _reads(count)] == [
        "SELECT metadata_stamps.area, metadata_stamps.stamp FROM metadata_stamps"]


def test_a_write_is_seen_by_the_next_transaction(db: BoundDatabase, conn: Connection) -> None:
    indicator_metadata(conn)
    with db.transaction():
        before = load_catalog(conn)
        assert before.element("LATER") is None and [i.code for i in all_indicators(conn)] == ["PTR"]
    with db.transaction():
        _new_element(conn, "LATER")
        metadata.save_indicator(conn, principal=SYSTEM, code="PUPILS_ALL", name_zh="学生", name_en="Pupils",
                                numerator="#{PUPILS}", denominator="1", display="number", decimals=0)
    with db.transaction():
        assert load_catalog(conn).element("LATER") is not None
        assert [i.code for i in all_indicators(conn)] == ["PTR", "PUPILS_ALL"]
    with db.transaction():
        metadata.save_data_set(conn, principal=SYSTEM, code="SCHOOL_Y", name_zh="学校年报",
                               name_en="School annual", period_type="Yearly", elements=["PUPILS", "LATER"],
                               unit_types=["primary_school"], due_days=15, expiry_days=0)
    with db.transaction():
        school = load_catalog(conn).data_set("SCHOOL_Y")
        assert school is not None and len(school.element_ids) == 2


def test_a_write_rolled_back_leaves_nothing_a_later_write_finds(db: BoundDatabase, conn: Connection) -> None:
    """A counter would give the later write the stamp of the one rolled back, and its catalog with it."""
    indicator_metadata(conn)
    with db.transaction():
        first = load_catalog(conn)
    with pytest.raises(Refused), db.transaction():
        _new_element(conn, "GONE")
        assert load_catalog(conn).element("GONE") is not None  # kept under the rolled-back stamp
        raise Refused
    with db.transaction():
        assert load_catalog(conn) is first
    with db.transaction():
        _new_element(conn, "KEPT")
    with db.transaction():
        after = load_catalog(conn)
        assert after.element("KEPT") is not None and after.element("GONE") is None


def test_every_table_the_catalog_reads_has_the_triggers(conn: Connection) -> None:
    with counting(conn) as count:
        catalog_module._read_catalog(conn)
    read = {name for s in _reads(count) for name in re.findall(r"(?:FROM|JOIN) (\w+)", s)}
    tables = read | {"indicators", "validation_rules"}  # the definitions and the rules: the same stamp
    assert len(tables) == 10
    found = stamp_triggers(conn, "catalog")
    assert found == {(t, e) for t in tables for e in ("INSERT", "UPDATE", "DELETE")}


def test_a_write_the_services_did_not_make_changes_the_stamp_too(conn: Connection) -> None:
    indicator_metadata(conn)
    before = metadata_stamp(conn)
    conn.execute(text("INSERT INTO data_elements (uid, code, name_zh, name_en, short_name, description, "
                      "value_type, aggregation_type, combo_id, zero_is_significant, created_at) "
                      "SELECT 'rawElement1', 'RAW', '生', 'Raw', '', '', 'INTEGER', 'SUM', combo_id, false, "
                      "created_at FROM data_elements WHERE code = 'TEACHERS'"))
    after = metadata_stamp(conn)
    assert before and after and after != before and len(after) >= 32
    assert load_catalog(conn).element("RAW") is not None
    conn.execute(text("UPDATE indicators SET decimals = 2 WHERE code = 'PTR'"))
    assert metadata_stamp(conn) not in (before, after)


def test_the_rules_are_kept_with_the_catalog_and_a_new_rule_is_seen(db: BoundDatabase,
                                                                    conn: Connection) -> None:
    indicator_metadata(conn)
    save_rule(conn, "R1")
    with db.transaction():
        first = load_rules(conn, load_catalog(conn))
    with counting(conn) as count, db.transaction():
        assert load_rules(conn, load_catalog(conn)) == first and [r.code for r in first] == ["R1"]
        yearly = load_rules(conn, load_catalog(conn), codes=["R1"], period_type="Yearly")
        assert [r.code for r in yearly] == ["R1"]
        assert load_rules(conn, load_catalog(conn), period_type="Monthly") == []
    assert not [s for s in _reads(count) if "validation_rules" in s]
    with db.transaction():
        save_rule(conn, "R0")
    with db.transaction():
        assert [r.code for r in load_rules(conn, load_catalog(conn))] == ["R0", "R1"]


def save_rule(conn: Connection, code: str) -> None:
    metadata.save_validation_rule(conn, principal=SYSTEM, code=code, name_zh=f"规则{code}",
                                  name_en=f"Rule {code}", left="#{PUPILS}", operator="greater_than",
                                  right="0")
