"""Engines and the unit of work. The caller (request, CLI command) owns the transaction.

A transaction waits a bounded time for the database: for SQLite's write lock (``busy_timeout``), for
PostgreSQL's row and table locks (``lock_timeout``) and for a connection from the pool. When the wait
runs out it raises :class:`~jiaowei.errors.ServiceUnavailable` (503 with ``Retry-After`` on the web),
never a bare driver error.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, create_engine, event
from sqlalchemy import exc as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import Pool
from sqlalchemy.sql.expression import SavepointClause

from jiaowei.db.memo import SHARED
from jiaowei.errors import ServiceUnavailable
from jiaowei.settings import PLAN_CACHE_MODES, RANDOM_PAGE_COST, valid_random_page_cost

DEFAULT_LOCK_TIMEOUT = 30.0  # seconds; the web passes its own (JIAOWEI_LOCK_TIMEOUT_SECONDS)
_PG_BUSY = {"55P03", "57014"}  # lock_not_available (lock_timeout), query_canceled (statement_timeout)


def make_engine(url: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT, statement_timeout: float = 0.0,
                pool_size: int | None = None, max_overflow: int | None = None,
                ping_after: float | None = None, plan_cache_mode: str = "auto",
                random_page_cost: float = RANDOM_PAGE_COST, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and real transactional BEGIN.

    ``lock_timeout`` bounds each wait for a lock or a pooled connection (seconds); ``statement_timeout``
    bounds each PostgreSQL statement (seconds, 0 for none). ``pool_size`` and ``max_overflow`` size the
    pool of a PostgreSQL database or a SQLite file (None: SQLAlchemy's 5 and 10). A pooled PostgreSQL
    connection that rested ``ping_after`` seconds (None: :data:`IDLE_BEFORE_PING`) is pinged before use.
    ``plan_cache_mode`` and ``random_page_cost`` are PostgreSQL's, per connection
    (:func:`postgresql_options`).
    """
    parsed = make_url(url)
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    if not in_memory:  # a file's or a server's pool; memory has one connection
        kwargs.setdefault("pool_timeout", lock_timeout)
        kwargs.update(_pool_sizes(pool_size, max_overflow))
    if parsed.get_backend_name() == "sqlite":
        if not in_memory:
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": lock_timeout}, **kwargs)
        _configure_sqlite(engine, busy_ms=_ms(lock_timeout))
        return engine
    engine = create_engine(url, connect_args={"options": postgresql_options(
        lock_timeout=lock_timeout, statement_timeout=statement_timeout, plan_cache_mode=plan_cache_mode,
        random_page_cost=random_page_cost)}, **kwargs)
    _ping_when_idle(engine, IDLE_BEFORE_PING if ping_after is None else ping_after)
    event.listen(engine, "do_execute", _lists_unprepared)
    return engine


SHORT_LIST = 64  # values; a statement sending a longer list is never prepared (decision 0021)


def _lists_unprepared(cursor: Any, statement: str, parameters: Any, _context: Any) -> bool | None:
    """Never prepare a statement that sends a list (``db.among``'s ``= ANY(:ids)``) longer than
    :data:`SHORT_LIST` values: its best plan depends on how many values it brings, which a generic plan
    cannot know (the ``dataValueSets`` export of a city's 3,187 units: 5 ms planned for its values,
    58 ms on a generic plan; decision 0021).

    A statement whose lists are all short is prepared by psycopg after its fifth run like any other,
    which saves its planning: the registry's read of one unit (``units.id = ANY(:ids)`` with one id)
    spends 0.25 ms planning, ten times its execution. Why 64: for a short array the generic plan is
    the index nested loop a custom plan would choose anyway; the 58 ms generic plan was one for the
    city's 3,187 ids. A statement whose list is short on some runs and long on others is run
    unprepared on the long ones (``prepare=False``), never on the plan kept for the short ones.
    """
    if isinstance(parameters, dict) and any(isinstance(v, list | tuple) and len(v) > SHORT_LIST
                                            for v in parameters.values()):
        cursor.execute(statement, parameters, prepare=False)
        return True
    return None


IDLE_BEFORE_PING = 2.0  # seconds a pooled PostgreSQL connection rests before it is pinged again


def _ping_when_idle(engine: Engine, idle: float) -> None:
    """Ping a pooled connection at checkout only when it has rested ``idle`` seconds or more.

    A connection back in the pool within ``idle`` seconds answered its last statement just now; a
    ping (one more round trip on every request, as ``pool_pre_ping`` sends) would tell nothing new.
    One that rested longer may have been closed by the server (a restart, an idle timeout): a failed
    ping discards it with every other connection opened before it, and the pool opens a new one, so the
    request never sees the dead one (as ``pool_pre_ping`` does). A server lost within the last ``idle``
    seconds fails the statements that were sent to it, and the pool then replaces every connection
    opened before the failure (SQLAlchemy's disconnect handling).
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _rested_from(_dbapi: Any, record: Any) -> None:
        record.info["returned"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _alive(dbapi: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned")
        if returned is None or time.monotonic() - returned < idle:
            return
        try:
            alive = dialect.do_ping(dbapi)
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi, None):
                raise
            alive = False
        if not alive:
            raise sa.InvalidatePoolError("the pooled connection was closed by the server")


def postgresql_options(*, lock_timeout: float, statement_timeout: float, plan_cache_mode: str = "auto",
                       random_page_cost: float = RANDOM_PAGE_COST) -> str:
    """The settings each PostgreSQL connection starts with (libpq's ``options``).

    ``plan_cache_mode`` (``JIAOWEI_DB_PLAN_CACHE_MODE``): ``auto``, PostgreSQL's own default, lets a
    statement that psycopg has prepared (after five runs on a connection) be run by a generic plan
    once PostgreSQL finds it no costlier, which saves planning it again on every run (0.1–0.3 ms per
    statement). ``force_custom_plan`` plans every run for its values, as jiaowei did before the
    analytics engine replaced the per-unit subtree queries whose generic plan was 70 times slower
    (decision 0021).

    ``random_page_cost`` (``JIAOWEI_DB_RANDOM_PAGE_COST``, default 1.1): PostgreSQL's default, 4,
    prices an index's reads as if from a spinning disk, so on jiaowei's tables, which fit in memory,
    it picks sequential scans and hash joins where an index nested loop is faster (the registry's 82
    children of the city: 0.67 ms with 4, 0.38 ms with 1.1). 0 sends nothing: the server's own value
    (``postgresql.conf``, ``ALTER DATABASE ... SET``) holds.
    """
    if plan_cache_mode not in PLAN_CACHE_MODES:
        raise ValueError(f"plan_cache_mode {plan_cache_mode!r}; accepted: {', '.join(PLAN_CACHE_MODES)}")
    if not valid_random_page_cost(random_page_cost):
        raise ValueError(f"random_page_cost {random_page_cost!r}; accepted: 0 (the server's own) or positive")
    options = f"-c lock_timeout={_ms(lock_timeout)} -c plan_cache_mode={plan_cache_mode}"
    if random_page_cost > 0:
        options += f" -c random_page_cost={random_page_cost!r}"
    if statement_timeout > 0:
        options += f" -c statement_timeout={_ms(statement_timeout)}"
    return options


def _pool_sizes(pool_size: int | None, max_overflow: int | None) -> dict[str, int]:
    sizes = {"pool_size": pool_size, "max_overflow": max_overflow}
    return {name: value for name, value in sizes.items() if value is not None}


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _configure_sqlite(engine: Engine, *, busy_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself so savepoints and transactional DDL work.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A write takes the write lock at once, so concurrent writers wait (busy_timeout) instead
        # of failing when a read transaction cannot be upgraded.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")


def is_busy(error: BaseException) -> bool:
    """Whether ``error`` is a wait for the database that ran out (a lock, a statement, the pool)."""
    if isinstance(error, sa.TimeoutError):
        return True
    if not isinstance(error, sa.OperationalError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in _PG_BUSY
    text = str(error.orig).lower()
    return "database is locked" in text or "database table is locked" in text or "database is busy" in text


@contextmanager
def busy_as_unavailable() -> Iterator[None]:
    """Turn a wait for the database that ran out into ServiceUnavailable (503, exit code 11)."""
    try:
        yield
    except (sa.OperationalError, sa.TimeoutError) as error:
        if is_busy(error):
            raise ServiceUnavailable("The database is busy; try again in a few seconds.") from error
        raise


class WriteQueue:
    """This process's writers take SQLite's write lock in turn, first come first served.

    SQLite's own wait (``busy_timeout``) polls with growing sleeps, so under steady contention a
    writer that has waited long loses the lock to newcomers and can wait many times the average.
    Queued here, a writer waits for those before it only, at most ``timeout`` seconds.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiting: deque[threading.Event] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        with self._guard:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return True
        with self._guard:
            if turn.is_set():  # handed over while the wait ran out
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().set()  # the next writer holds it now
            else:
                self._held = False

    @contextmanager
    def turn(self, timeout: float) -> Iterator[None]:
        if not self.acquire(timeout):
            raise ServiceUnavailable("The database is busy; try again in a few seconds.")
        try:
            yield
        finally:
            self.release()


class Database:
    """Hands out transactions. Tests swap in one bound to a rolled-back connection.

    ``lock_timeout`` (seconds) bounds a writer's wait in this process's queue of SQLite writers.
    """

    def __init__(self, engine: Engine, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.engine = engine
        self.lock_timeout = lock_timeout
        self.writers = WriteQueue()

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """One unit of work: commits when the block ends, rolls back on any error.

        ``write`` takes SQLite's write lock at the start (``BEGIN IMMEDIATE``): requests that
        write queue behind each other instead of failing with "database is locked".
        """
        with self.connect() as conn, self.transaction_on(conn, write=write):
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection from the pool, without a transaction (see :meth:`transaction_on`)."""
        with busy_as_unavailable(), self.engine.connect() as conn:
            conn.info.pop(SHARED, None)  # a pooled connection's record keeps its info between checkouts
            yield conn

    @contextmanager
    def transaction_on(self, connection: Connection, *, write: bool = False,
                       read_only: bool = False) -> Iterator[Connection]:
        """One unit of work, as :meth:`transaction`, on a connection from :meth:`connect`.

        ``read_only`` (a GET request, an account's look-up) refuses any statement but a read
        (:class:`WriteWhileReading`). On PostgreSQL it also runs without ``BEGIN`` and ``COMMIT``, two
        round trips less: under READ COMMITTED each statement of a transaction sees the latest
        commits anyway, so a read sees the same with or without one (decision 0021). SQLite keeps its
        transaction, one snapshot for the whole read.
        """
        if read_only:
            with self._reading(connection):
                yield connection
            return
        queued = self.writers.turn(self.lock_timeout) if write and self.backend == "sqlite" else nullcontext()
        connection.info.pop(SHARED, None)  # reads after this unit's writes see them (unbracketed_shared)
        with queued, busy_as_unavailable():
            connection.info["immediate"] = write
            with connection.begin():
                yield connection

    @contextmanager
    def _reading(self, connection: Connection) -> Iterator[None]:
        unbracketed = self.backend == "postgresql"
        if unbracketed:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.info[_UNBRACKETED] = True
        connection.info[_READ_ONLY] = True
        try:
            with busy_as_unavailable():
                connection.info["immediate"] = False
                with connection.begin():  # no BEGIN reaches PostgreSQL in autocommit
                    yield
        finally:
            if not connection.invalidated:
                connection.info.pop(_READ_ONLY, None)
                connection.info.pop(_UNBRACKETED, None)
                if unbracketed:
                    connection.execution_options(isolation_level=connection.default_isolation_level)

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read-only transaction whose every statement sees the same committed state: PostgreSQL's
        REPEATABLE READ READ ONLY (under READ COMMITTED each statement sees the latest commits); on
        SQLite in WAL mode a read transaction is one snapshot already."""
        with self.connect() as conn:
            if self.backend == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with self.transaction_on(conn):
                yield conn

    @contextmanager
    def reading_on(self, connection: Connection) -> Iterator[Connection]:
        """A read on ``connection``: inside its open transaction, or in a read-only unit of its own."""
        if connection.in_transaction():
            yield connection
        else:
            with self.transaction_on(connection, read_only=True) as conn:
                yield conn

    @property
    def backend(self) -> str:
        return self.engine.dialect.name


class BoundDatabase(Database):
    """A database whose every transaction is a savepoint inside one outer transaction."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.engine)
        self.connection = connection

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """A savepoint: a unit of its own, as a transaction on another connection is in production, so a
        read-only request's refusal of writes (``transaction_on(..., read_only=True)``) stops at it."""
        reading = self.connection.info.pop(_READ_ONLY, None)
        try:
            with self.connection.begin_nested():
                yield self.connection
        finally:
            if reading is not None:
                self.connection.info[_READ_ONLY] = reading

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        yield self.connection

    @contextmanager
    def transaction_on(self, connection: Connection, *, write: bool = False,
                       read_only: bool = False) -> Iterator[Connection]:
        with self.transaction(write=write) as conn:
            if not read_only:
                yield conn
                return
            conn.info[_READ_ONLY] = True  # refused as in production; the savepoint stays (one snapshot)
            try:
                yield conn
            finally:
                conn.info.pop(_READ_ONLY, None)  # an outer read's comes back with the savepoint's end

    @contextmanager
    def reading_on(self, connection: Connection) -> Iterator[Connection]:
        with self.transaction_on(connection, read_only=True) as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        with self.transaction() as conn:  # the test's one transaction: its isolation is set already
            yield conn


_READ_ONLY = "jiaowei.read_only"
_UNBRACKETED = "jiaowei.unbracketed"  # a PostgreSQL read without BEGIN/COMMIT (autocommit)
_READS = ("SELECT", "WITH", "SHOW", "BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "PRAGMA", "EXPLAIN",
          "VALUES")




def unbracketed_shared(conn: Connection) -> dict[str, Any] | None:
    """What the reads without a transaction that ``conn`` runs one after another share, or None when
    ``conn`` is not in such a read (PostgreSQL's read-only units, decision 0021): a GET request's look-up
    of its caller and the request's own unit (:func:`jiaowei.db.kept.stamps`, decision 0023).

    Forgotten when a unit that may write begins on the connection (:meth:`Database.transaction_on`), when
    the connection runs a statement that is not a ``SELECT``, and when it goes back to the pool: only
    values derived from what such reads read belong here."""
    if _UNBRACKETED not in conn.info:
        return None
    shared: dict[str, Any] = conn.info.setdefault(SHARED, {})
    return shared


@event.listens_for(Pool, "checkin")
def _forget_shared_at_checkin(_dbapi: Any, record: Any) -> None:
    if record is not None:
        record.info.pop(SHARED, None)


def is_read_only(conn: Connection) -> bool:
    """Whether ``conn`` is in a read-only unit of work (``transaction_on(..., read_only=True)``)."""
    return _READ_ONLY in conn.info


class WriteWhileReading(RuntimeError):
    """A statement that may write, sent in a read-only unit of work (a GET request): a bug, never input."""


@event.listens_for(Engine, "before_cursor_execute")
def _refuse_writes_while_reading(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    if _READ_ONLY in conn.info and not statement.lstrip()[:9].upper().startswith(_READS):
        raise WriteWhileReading(f"a read-only request sent: {' '.join(statement.split())[:120]}")


@event.listens_for(Engine, "before_execute")
def _bracket_when_needed(conn: Connection, statement: Any, _multiparams: Any, _params: Any,
                         options: Any) -> None:
    """A savepoint (``begin_nested``: a part of a page that may fail alone) and a read that streams its
    rows (a server-side cursor: ``stream_results``, ``yield_per``) need a transaction on PostgreSQL: an
    unbracketed read begins one there before it, committed at the read's end."""
    if _UNBRACKETED not in conn.info:
        return
    own: Any = getattr(statement, "get_execution_options", dict)()
    if isinstance(statement, SavepointClause) or any(
            o.get("stream_results") or o.get("yield_per") for o in (own, options)):
        conn.connection.driver_connection.autocommit = False  # type: ignore[union-attr]
        del conn.info[_UNBRACKETED]


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row a single-row INSERT just wrote."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the statement inserted no row")
    return int(key[0])
