"""A page of the audit log is read with its total in one statement (issue 17, part 3: each statement is
a round trip on PostgreSQL); past the last page the total is still said."""

from __future__ import annotations

from sqlalchemy import Connection

from jiaowei.audit import queries
from jiaowei.auth.model import SYSTEM
from tests.factories import make_unit
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
