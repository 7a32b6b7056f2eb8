"""A page of the audit log is read with its total in one statement (issue 17, part 3: each statement is
a round trip on PostgreSQL); past the last page the total is still said. The whole log's count is
kept under the ``audit`` stamp."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Connection, delete, func, select

from jiaowei.audit import queries
from jiaowei.audit.store import audit_log
from jiaowei.auth.model import SYSTEM
from tests.factories import make_unit, make_user, token_for
from tests.migrations import stamp_triggers
from tests.statements import counting


def test_a_page_and_its_total_are_one_statement(conn: Connection) -> None:
    for n in range(5):
        make_unit(conn, f"A{n}")
    everything = queries.list_entries(conn, principal=SYSTEM, limit=500)
    units = queries.Filters(entity="unit")
    with counting(conn) as count:
        page = queries.list_entries(conn, principal=SYSTEM, filters=units, offset=1, limit=2)
    assert count.statements == 1
    made = [e.seq for e in everything.items if e.entity == "unit"]
    assert page.total == len(made) >= 5 and [e.seq for e in page.items] == made[1:3]
    with counting(conn) as count:
        past = queries.list_entries(conn, principal=SYSTEM, filters=units, offset=100, limit=2)
    assert (past.items, past.total, count.statements) == ([], len(made), 2)
    assert everything.total == len(everything.items)


def test_the_whole_log_s_count_is_kept_until_the_log_changes(conn: Connection) -> None:
    """The unfiltered first page counts the log once per ``audit`` stamp (migration 0022): later it
    reads the stamps (shared with the rest of its request) and its entries; any write to the log, an
    audited change or a delete made outside jiaowei, is counted again."""
    make_unit(conn, "K0")
    first = queries.list_entries(conn, principal=SYSTEM, limit=3)
    with counting(conn) as count:
        again = queries.list_entries(conn, principal=SYSTEM, limit=3)
    assert again.total == first.total == conn.scalar(select(func.count()).select_from(audit_log))
    assert [e.seq for e in again.items] == [e.seq for e in first.items]
    assert count.statements == 1, count.seen  # the page (the stamps were read in this transaction)
    assert "count(" not in count.seen[0][0]
    make_unit(conn, "K1")  # audited: one entry more
    assert queries.list_entries(conn, principal=SYSTEM, limit=3).total == first.total + 1
    conn.execute(delete(audit_log).where(audit_log.c.seq == first.items[0].seq))
    after = queries.list_entries(conn, principal=SYSTEM, limit=3)
    assert after.total == first.total
    assert first.items[0].seq not in [e.seq for e in after.items]


def test_a_later_request_does_not_count_the_log(client: TestClient, conn: Connection) -> None:
    headers = token_for(conn, make_user(conn, "auditor"))
    first = client.get("/api/audit", headers=headers)
    with counting(conn) as count:
        again = client.get("/api/audit", headers=headers)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert [s for s, _ in count.seen if "count(" in s] == []
    assert [s for s, _ in count.seen if "audit_log" in s] == []  # the first page is kept too
    make_unit(conn, "KNEW")  # an audited write: the next request shows it
    after = client.get("/api/audit", headers=headers).json()
    assert after["total"] == first.json()["total"] + 1
    assert after["items"][0]["entity_key"] == "KNEW"


def test_the_audit_log_has_the_stamp_s_triggers(conn: Connection) -> None:
    assert {("audit_log", "INSERT"), ("audit_log", "UPDATE"), ("audit_log", "DELETE")} <= stamp_triggers(
        conn, "audit")
