"""A form's or an import's approvals and lock exceptions are read in one statement for all their
periods (issue 17, part 3: each statement is a round trip on PostgreSQL; it used to be two)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import BoundDatabase
from jiaowei.indicators.approval import service as approval
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.values import checking
from jiaowei.registry import queries as registry
from tests.factories import indicator_setup
from tests.statements import counting


def test_the_approvals_and_lock_exceptions_of_the_periods_are_one_statement(conn: Connection) -> None:
    indicator_setup(conn)
    approval.approve(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S1")
    approval.grant_exception(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2019", unit="S2",
                             until=dt.date(2030, 1, 1), reason="补报", today=dt.date(2029, 6, 1))
    catalog = load_catalog(conn)
    periods = checking.ensure_periods(conn, ["2019", "2020", "2021"])
    ctx = checking.Context(conn, SYSTEM, catalog, check_expiry=True)
    with counting(conn) as count:
        checking.load_locks(ctx, periods.values())
    assert count.statements == 1
    school, units = catalog.data_set("SCHOOL_Y"), registry.ids_of(conn, ["S1", "S2"])
    assert school is not None
    assert ctx.approved == {(school.id, periods["2020"], units["S1"])}
    assert ctx.exceptions == {(school.id, periods["2019"], units["S2"]): dt.date(2030, 1, 1)}


def test_a_read_only_request_keeps_them_until_an_approval_changes(db: BoundDatabase,
                                                                  conn: Connection) -> None:
    """Under the ``approvals`` stamp (decision 0023): a form's page reads them once per process, and an
    approval made after is in the next read."""
    indicator_setup(conn)
    catalog = load_catalog(conn)
    periods = checking.ensure_periods(conn, ["2020"])

    def locks() -> tuple[set[tuple[int, int, int]], int]:
        with db.reading_on(conn) as reading, counting(conn) as count:
            ctx = checking.Context(reading, SYSTEM, catalog, check_expiry=True)
            checking.load_locks(ctx, periods.values())
        return ctx.approved, len([s for s, _ in count.seen if "approvals" in s])

    assert locks()[0] == set()
    assert locks() == (set(), 0)  # kept
    approval.approve(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S1")
    school, s1 = catalog.data_set("SCHOOL_Y"), registry.id_of(conn, "S1")
    assert school is not None and s1 is not None
    assert locks()[0] == {(school.id, periods["2020"], s1)}
