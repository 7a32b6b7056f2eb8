"""The cube's freshness check reads the change feed once per transaction (issue 17, part 3: round
trips), and a write in the transaction is still seen by the next analytics read. Both databases."""

from __future__ import annotations

from sqlalchemy import Connection

from jiaowei.analytics.engine import cube_for
from tests.analytics.test_engine import load, teachers
from tests.factories import indicator_setup
from tests.statements import counting


def test_a_transaction_checks_the_feed_once_and_forgets_it_when_it_writes(conn: Connection) -> None:
    indicator_setup(conn)
    load(conn, ("TEACHERS", "S1", "10"))
    assert teachers(conn, "SH") == {"SH": 10}
    with counting(conn) as count:
        cube_for(conn)
        cube_for(conn)
    assert count.statements == 0  # the markers were read by the query above, in this transaction
    load(conn, ("TEACHERS", "S2", "5"))  # the write forgets them: the next read applies it
    assert teachers(conn, "SH") == {"SH": 15}
    with counting(conn) as count:
        assert teachers(conn, "SH") == {"SH": 15}
    assert count.statements <= 2  # the unit's id, not the feed's five markers again


def test_a_rolled_back_savepoint_is_noticed_by_the_next_read(conn: Connection) -> None:
    indicator_setup(conn)
    load(conn, ("TEACHERS", "S1", "10"))
    assert teachers(conn, "SH") == {"SH": 10}
    with conn.begin_nested() as savepoint:
        load(conn, ("TEACHERS", "S1", "99"))
        assert teachers(conn, "SH") == {"SH": 99}
        savepoint.rollback()
    assert teachers(conn, "SH") == {"SH": 10}
