"""Read-only units of work (a GET request, an account's look-up; decision 0021).

A statement that writes is refused in one, on both databases, and leaves nothing written. On
PostgreSQL a read-only unit sends no ``BEGIN`` or ``COMMIT`` (two round trips less), except a read that
streams its rows through a server-side cursor, or takes a savepoint, which need a transaction; the
connection's next unit that writes is a whole transaction again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, event, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from jiaowei.db.engine import BoundDatabase, Database, WriteWhileReading, make_engine
from jiaowei.db.kept import stamps
from jiaowei.registry.store import unit_levels, units
from jiaowei.web.deps import Conn
from tests.factories import make_unit


def _levels(conn: Connection) -> int:
    return int(conn.scalar(select(func.count()).select_from(unit_levels)) or 0)


def test_a_write_in_a_read_only_unit_is_refused_and_writes_nothing(db: BoundDatabase,
                                                                    conn: Connection) -> None:
    before = _levels(conn)
    with pytest.raises(WriteWhileReading, match="a read-only request sent: INSERT INTO unit_levels"), \
            db.transaction_on(conn, read_only=True) as reading:
        assert reading.scalar(select(func.count()).select_from(units)) is not None  # reads pass
        reading.execute(insert(unit_levels).values(level=97, name_zh="九十七", name_en="Ninety-seven"))
    assert _levels(conn) == before
    with db.transaction_on(conn, write=True) as writing:  # the same connection writes again after it
        writing.execute(insert(unit_levels).values(level=97, name_zh="九十七", name_en="Ninety-seven"))
    assert _levels(conn) == before + 1


def test_a_get_request_that_writes_fails_and_writes_nothing(client: TestClient, conn: Connection) -> None:
    """The request's unit of work is read-only for GET and may write for POST (a route added here)."""
    code = make_unit(conn)

    def flip(db_conn: Conn) -> dict[str, bool]:
        db_conn.execute(text("UPDATE units SET synthetic = NOT synthetic WHERE code = :code"), {"code": code})
        return {"synthetic": bool(db_conn.scalar(select(units.c.synthetic).where(units.c.code == code)))}

    client.app.add_api_route("/test-flip", flip, methods=["GET", "POST"])  # type: ignore[attr-defined]
    with pytest.raises(WriteWhileReading, match="UPDATE units SET synthetic"):
        client.get("/test-flip")
    assert conn.scalar(select(units.c.synthetic).where(units.c.code == code)) is False
    assert client.post("/test-flip").json() == {"synthetic": True}


@pytest.fixture
def own(engine: Engine) -> Iterator[Database]:
    """A real Database (not the tests' rolled-back one) on PostgreSQL, one pooled connection."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps its transaction: a read is one snapshot there")
    database = Database(make_engine(engine.url.render_as_string(hide_password=False), pool_size=1,
                                    max_overflow=0))
    yield database
    database.engine.dispose()


def _in_transaction_block(conn: Connection) -> bool:
    """Whether this statement runs in a transaction that began before it (PostgreSQL)."""
    conn.execute(text("SELECT pg_sleep(0.01)"))
    return bool(conn.scalar(text("SELECT now() <> statement_timestamp()")))


def test_a_read_only_unit_sends_no_begin_on_postgresql(own: Database) -> None:
    with own.connect() as connection:
        with own.transaction_on(connection, read_only=True) as reading:
            assert not _in_transaction_block(reading)
        with own.transaction_on(connection) as bracketed:  # a unit that may write has its transaction
            assert _in_transaction_block(bracketed)
        with own.reading_on(connection) as reading:  # the account's look-up before the request's unit
            assert not _in_transaction_block(reading)


def test_a_streamed_read_gets_a_transaction_and_the_next_write_is_whole(own: Database) -> None:
    with own.connect() as connection:
        with own.transaction_on(connection, read_only=True) as reading:
            assert not _in_transaction_block(reading)
            streamed = reading.execute(select(units.c.id).execution_options(yield_per=2)).partitions()
            counted = reading.scalar(select(func.count()).select_from(units))
            assert sum(len(part) for part in streamed) == counted
            assert _in_transaction_block(reading)  # the server-side cursor's transaction, until the end
        connection.execute(text("CREATE TEMP TABLE scratch (n integer)"))
        connection.commit()
        with pytest.raises(RuntimeError, match="stop"), own.transaction_on(connection, write=True) as writing:
            writing.execute(text("INSERT INTO scratch VALUES (1)"))
            assert _in_transaction_block(writing)
            raise RuntimeError("stop")
        assert connection.scalar(text("SELECT count(*) FROM scratch")) == 0  # rolled back: one transaction
        connection.rollback()


def test_a_part_of_a_read_under_a_savepoint_gets_a_transaction(own: Database) -> None:
    """A page part that may fail alone (``begin_nested``) works in a read-only unit on PostgreSQL."""
    with own.connect() as connection, own.transaction_on(connection, read_only=True) as reading:
        assert not _in_transaction_block(reading)
        with pytest.raises(DBAPIError), reading.begin_nested():
            reading.execute(text("SELECT 1 / 0"))
        with reading.begin_nested():
            assert reading.scalar(text("SELECT 2")) == 2
        assert _in_transaction_block(reading)


def _stamp_reads(database: Database) -> list[str]:
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().startswith("SELECT") and "metadata_stamps" in statement:
            seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", note)
    return seen


def test_read_only_units_in_a_row_share_their_stamps_until_a_write(own: Database) -> None:
    """A GET request's look-up of its caller and its own unit read the stamps once (decision 0023); a
    unit that may write, and the connection's next checkout, read them again."""
    reads = _stamp_reads(own)
    with own.connect() as connection:
        for _ in range(2):
            with own.transaction_on(connection, read_only=True) as reading:
                first = stamps(reading)
        assert len(reads) == 1
        with own.transaction_on(connection, write=True) as writing:
            writing.execute(text("UPDATE metadata_stamps SET stamp = 'changed' WHERE area = 'accounts'"))
            assert stamps(writing)["accounts"] == "changed"  # its own transaction's, read again
            writing.rollback()
        with own.transaction_on(connection, read_only=True) as reading:
            assert stamps(reading) == first
        assert len(reads) == 3
    with own.connect() as connection, own.transaction_on(connection, read_only=True) as reading:
        stamps(reading)
    assert len(reads) == 4


def test_a_commit_elsewhere_is_seen_by_the_next_checkout(own: Database, engine: Engine) -> None:
    """Between a request's look-up of its caller and its own unit, a commit elsewhere is not seen in the
    stamps (as a later statement of one unit under READ COMMITTED would not see it in an earlier one's
    answer); the next request's checkout sees it."""
    with own.connect() as connection, own.transaction_on(connection, read_only=True) as reading:
        before = stamps(reading)["accounts"]
    try:
        with own.connect() as connection:
            with own.transaction_on(connection, read_only=True) as reading:
                assert stamps(reading)["accounts"] == before
            with engine.begin() as other:
                other.execute(text("UPDATE metadata_stamps SET stamp = 'elsewhere' WHERE area = 'accounts'"))
            with own.transaction_on(connection, read_only=True) as reading:
                assert stamps(reading)["accounts"] == before
        with own.connect() as connection, own.transaction_on(connection, read_only=True) as reading:
            assert stamps(reading)["accounts"] == "elsewhere"
    finally:
        with engine.begin() as other:
            other.execute(text("UPDATE metadata_stamps SET stamp = :s WHERE area = 'accounts'"),
                          {"s": before})
