"""The audit hash chain on both databases: intact, and every kind of tampering detected."""

from __future__ import annotations

from sqlalchemy import delete, update

from jiaowei.audit import service as audit
from jiaowei.audit.store import audit_log
from tests.factories import small_tree


def chain(conn) -> int:
    small_tree(conn)  # five unit.open entries
    report = audit.verify(conn)
    assert report.ok and report.entries >= 5, report
    return report.entries


def test_an_untouched_chain_verifies(conn):
    entries = chain(conn)
    audit.record(conn, actor="tester", action="test.note", entity="test", entity_key="x", after={"n": 1})
    report = audit.verify(conn)
    assert report.ok and report.entries == entries + 1 and report.reason == ""


def test_editing_after_of_an_entry_is_detected(conn):
    entries = chain(conn)
    seq = entries - 2
    conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(after='{"name_zh":"forged"}'))
    report = audit.verify(conn)
    assert (report.ok, report.first_bad_seq, report.entries) == (False, seq, seq - 1)
    assert "changed" in report.reason


def test_editing_before_of_an_entry_is_detected(conn):
    entries = chain(conn)
    conn.execute(update(audit_log).where(audit_log.c.seq == entries).values(before='{"closed":null}'))
    assert audit.verify(conn).first_bad_seq == entries


def test_deleting_an_entry_is_detected(conn):
    entries = chain(conn)
    seq = entries - 1
    conn.execute(delete(audit_log).where(audit_log.c.seq == seq))
    report = audit.verify(conn)
    assert (report.ok, report.first_bad_seq) == (False, seq)
    assert "missing" in report.reason


def test_deleting_the_newest_entry_is_detected(conn):
    entries = chain(conn)
    conn.execute(delete(audit_log).where(audit_log.c.seq == entries))
    report = audit.verify(conn)
    assert (report.ok, report.first_bad_seq) == (False, entries)
    assert "removed" in report.reason


def test_rewriting_an_entry_with_a_fresh_hash_breaks_the_next_link(conn):
    entries = chain(conn)
    seq = entries - 1
    row = dict(conn.execute(audit_log.select().where(audit_log.c.seq == seq)).one()._mapping)
    row["note"] = "rewritten"
    conn.execute(update(audit_log).where(audit_log.c.seq == seq)
                 .values(note="rewritten", hash=audit.entry_hash(row)))
    assert audit.verify(conn).first_bad_seq == entries
