"""The analytics service's reads (issue 17, part 3: each statement is a round trip on PostgreSQL): the
units a request names are read in one go, whatever their number, and what a transaction read once
(the indicators, the units, the change feed's markers) is not read again by its next request, as a
report asks the engine once per figure. Both databases."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from jiaowei.analytics.cube import _Marks
from jiaowei.analytics.request import DATA, PERIOD, UNIT, AnalyticsRequest, Dimension
from jiaowei.analytics.service import run
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import BoundDatabase
from jiaowei.db.kept import stamps
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.registry import service as registry_service
from tests.analytics.test_engine import load
from tests.factories import indicator_setup, make_unit
from tests.statements import counting

TODAY = dt.date(2021, 6, 1)


def ask(conn: Connection, units: list[str], period: str = "2020") -> dict[str, float]:
    request = AnalyticsRequest(dimensions=(Dimension(DATA, ("PTR", "TEACHERS")), Dimension(PERIOD, (period,)),
                                           Dimension(UNIT, tuple(units))))
    grid = run(conn, principal=SYSTEM, request=request, today=TODAY)
    columns = [grid.index(DATA), grid.index(UNIT)]
    assert {row[columns[0]] for row in grid.rows} <= {"PTR", "TEACHERS"}
    return {str(row[columns[1]]): number for row in grid.rows
            if row[columns[0]] == "TEACHERS" and (number := grid.number(row)) is not None}


def test_units_are_read_together_and_once_per_transaction(conn: Connection) -> None:
    indicator_setup(conn)
    schools = [make_unit(conn, f"SX{n}", parent="D1") for n in range(6)]
    load(conn, *(("TEACHERS", s, str(n + 1)) for n, s in enumerate(schools)))  # PTR: no pupils, no value
    ask(conn, ["SH"])  # the first read of the transaction applies the loads to the engine's copy

    with counting(conn) as two:
        found = ask(conn, schools[:2])
    with counting(conn) as six:
        assert ask(conn, schools) == {s: float(n + 1) for n, s in enumerate(schools)}
    assert found == {s: float(n + 1) for n, s in enumerate(schools[:2])}
    assert six.statements == two.statements == 1  # the units open that day by code: not two a unit

    with counting(conn) as again:
        ask(conn, schools)  # a report's next figure at the same units
        ask(conn, schools[:2])
    assert again.statements == 0
    with counting(conn) as other_day:
        ask(conn, schools, period="2019")  # the same units as they stood on another day
    assert other_day.statements == 1


def test_a_read_only_request_finds_its_units_in_the_registry_the_process_keeps(db: BoundDatabase,
                                                                              conn: Connection) -> None:
    """In a GET's unit of work, the units named, the levels and the boundaries come from the registry's
    image (decision 0022): asking at units not asked before reads no unit table."""
    indicator_setup(conn)
    schools = [make_unit(conn, f"SY{n}", parent="D1") for n in range(4)]
    load(conn, *(("TEACHERS", s, str(n + 1)) for n, s in enumerate(schools)))
    expected = ask(conn, schools)
    with db.reading_on(conn):
        ask(conn, ["SH"])  # the stamps, the engine's copy and the image, read
        with counting(conn) as count:
            assert ask(conn, schools) == expected == {s: float(n + 1) for n, s in enumerate(schools)}
            assert ask(conn, ["D1", *schools[:1]], period="2019") == {}  # other units, another day
    assert [s for s, _ in count.seen if "FROM units" in s] == []


def test_the_change_feeds_markers_are_one_statement(conn: Connection) -> None:
    """The newest import in one statement; the value types and the tree's stamp from what the process
    keeps (the catalog) and what the transaction read once (the stamps; decision 0022)."""
    load_catalog(conn), stamps(conn)
    with counting(conn) as count:
        empty = _Marks.read(conn)  # nothing stored yet: no element, import or unit
    assert count.statements == 1
    assert (empty.last, empty.last_mark) == (None, {"watermark": "0", "import": ""})
    assert empty.hierarchy == stamps(conn)["registry"]

    indicator_setup(conn)
    load(conn, ("TEACHERS", "S1", "10"))
    load_catalog(conn), stamps(conn)
    with counting(conn) as count:
        marks = _Marks.read(conn)
    assert count.statements == 1
    assert marks.last is not None and marks.last_mark["watermark"] == str(marks.last)
    assert marks.hierarchy == stamps(conn)["registry"] != empty.hierarchy
    assert marks.types != empty.types


def test_a_unit_closed_before_the_day_is_still_named(conn: Connection) -> None:
    indicator_setup(conn)
    load(conn, ("TEACHERS", "S1", "7"), ("TEACHERS", "S2", "3"))
    registry_service.close_unit(conn, principal=SYSTEM, code="S2", effective=dt.date(2020, 10, 1))
    assert ask(conn, ["S1", "S2"]) == {"S1": 7.0, "S2": 3.0}  # S2 as it stood last, on its last path


def test_a_read_only_request_takes_the_newest_import_from_what_the_process_keeps(
        db: BoundDatabase, conn: Connection) -> None:
    """Under the ``imports`` stamp (decision 0023): read again without a statement, and a new import is
    seen by the next read."""
    indicator_setup(conn)
    load(conn, ("TEACHERS", "S1", "5"))
    with db.reading_on(conn):
        first = _Marks.read(conn)
    with db.reading_on(conn), counting(conn) as count:
        again = _Marks.read(conn)
    assert (again.last, again.last_mark) == (first.last, first.last_mark) and first.last is not None
    assert [s for s, _ in count.seen if "data_imports" in s] == []
    load(conn, ("TEACHERS", "S1", "6"))
    with db.reading_on(conn):
        newer = _Marks.read(conn)
    assert newer.last is not None and newer.last > first.last
