"""What a GET reads from what the process keeps gives what the tables give (decisions 0022 and 0023):
the pivot's unit places and levels, its years, and the default period. Each is read once by SQL (in the
test's transaction, which may write) and once in a read-only unit, and compared; a later import is seen."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection

from jiaowei.analytics.pivot import queries as pivot
from jiaowei.analytics.pivot.view import unit_places
from jiaowei.db.engine import BoundDatabase
from jiaowei.indicators.targets import compute
from tests.analytics.test_engine import load
from tests.factories import indicator_setup, make_unit

DAY = dt.date(2020, 12, 31)


def _answers(conn: Connection) -> tuple[Any, ...]:
    return (unit_places(conn, ["SH", "D1", "D2", "S1", "S9", "NOPE"], DAY), pivot._levels(conn, DAY),
            pivot.period_years(conn), compute.default_period(conn, today=DAY))


def test_a_get_answers_what_the_tables_answer(db: BoundDatabase, conn: Connection) -> None:
    indicator_setup(conn)
    make_unit(conn, "S9", parent="D2", type="kindergarten")
    load(conn, ("TEACHERS", "S1", "5"))
    by_sql = _answers(conn)
    with db.reading_on(conn):
        assert _answers(conn) == by_sql
    places, levels, years, default = by_sql
    assert places["D1"].below and not places["S1"].below and "NOPE" not in places
    assert [level for level, _kinds, _count in levels] == [1, 2, 3]
    assert years[0] == 2020 and default == "2020"
    load(conn, ("TEACHERS", "S1", "6"), period="2021")  # a later year's value: the kept range is renewed
    with db.reading_on(conn):
        assert pivot.period_years(conn)[0] == 2021
        assert compute.default_period(conn, today=DAY) == "2021"
