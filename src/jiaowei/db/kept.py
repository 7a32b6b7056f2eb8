"""What a process keeps across requests, under stamps the database changes with every write (issue 17).

``metadata_stamps`` holds one row per area: ``catalog`` (the metadata catalog's tables, migration 0018),
``registry`` (the units, their versions and paths, migration 0020), and the accounts, plans, appraisals,
campaigns, audit log, periods, imports, approvals and dashboards (migration 0021, decision 0023).
Triggers set an area's ``stamp`` to a new random value in the transaction of every write to its tables.
A transaction reads every stamp in one statement (:func:`stamps`, once per transaction:
:mod:`jiaowei.db.memo`; on PostgreSQL once for the reads without a transaction a request makes in a
row), and :func:`kept` gives what an earlier request of this process read under the same stamp, or
reads it and keeps it (:func:`kept_rows`: a query's rows, kept in read-only units only). A request
that finds its area unchanged pays one statement (shared by every area) instead of the reads it would
repeat: each a round trip on PostgreSQL.

The stamp is random, never a counter: a transaction that writes and then rolls back puts the old stamp
back with the old rows, and no later write can bring back the value it kept something under. What is
kept serves every request and thread of the process: callers treat it as read-only.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Executable, String, column, select, table

from jiaowei.db.engine import is_read_only, unbracketed_shared
from jiaowei.db.memo import per_transaction

T = TypeVar("T")

metadata_stamps = table("metadata_stamps", column("area", String(32)), column("stamp", String(40)))
"""The stamps' table (defined with the indicators' tables, jiaowei.indicators.store; migration 0018)."""

_KEPT_STAMPS = 2  # per engine and area: the committed stamp, and one a writing transaction reads meanwhile
_kept: weakref.WeakKeyDictionary[Engine, dict[str, dict[str, dict[str, Any]]]] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def stamps(conn: Connection) -> dict[str, str]:
    """Every area's stamp as ``conn``'s transaction sees it (one statement, once per transaction).

    On PostgreSQL a read-only unit runs without a transaction (decision 0021), and the read-only units a
    connection runs one after another (a GET request's look-up of its caller, then its own) share the
    stamps read by the first: each statement of such a unit sees the latest commits anyway, so stamps read
    a moment earlier are as current as stamps read at the unit's start (decision 0023). A unit that may
    write, a statement that writes and the connection's return to the pool forget them
    (:func:`jiaowei.db.engine.unbracketed_shared`)."""
    shared = unbracketed_shared(conn)
    if shared is None:
        return per_transaction(conn, "db.kept.stamps", lambda: _read(conn))
    found: dict[str, str] | None = shared.get("db.kept.stamps")
    if found is None:
        found = shared["db.kept.stamps"] = _read(conn)
    return found


def _read(conn: Connection) -> dict[str, str]:
    rows = conn.execute(select(metadata_stamps.c.area, metadata_stamps.c.stamp))
    return {area: stamp for area, stamp in rows}


def kept(conn: Connection, area: str, name: str, read: Callable[[], T]) -> T:
    """``read()``, or what it returned for an earlier request of this process under the stamp of
    ``area`` that ``conn`` sees now. ``read`` must read only the area's tables. ``None`` is never
    kept: a read that finds nothing (an unknown token) is repeated, so what is kept stays bounded by what
    exists.

    What is read is kept only if the stamp is still the same afterwards: under PostgreSQL's READ
    COMMITTED (and a GET request's statements without a transaction) each statement sees the latest
    commits, so a write committed between the reads may be in some of them and not in others.
    """
    stamp = stamps(conn).get(area)
    if stamp is None:  # no stamp row: nothing can be kept
        return read()
    with _guard:
        found = _kept.get(conn.engine, {}).get(area, {}).get(stamp, {})
        if name in found:
            return found[name]  # type: ignore[no-any-return]
    value = read()
    if value is None or _read(conn).get(area) != stamp:
        return value
    with _guard:
        areas = _kept.setdefault(conn.engine, {})
        by_stamp = areas.setdefault(area, {})
        by_stamp.setdefault(stamp, {})[name] = value
        for older in list(by_stamp)[:-_KEPT_STAMPS]:  # dicts keep insertion order: the oldest first
            del by_stamp[older]
    return value


def kept_rows(conn: Connection, area: str, name: str, query: Executable) -> tuple[Any, ...]:
    """``query``'s rows, which read ``area``'s tables and nothing else: in a read-only unit of work (a GET
    request) what :func:`kept` keeps under ``name``, which must name the query and its values; in a
    unit that may write, read (it must see its own writes)."""
    if not is_read_only(conn):
        return tuple(conn.execute(query))
    return kept(conn, area, name, lambda: tuple(conn.execute(query)))


def forget_kept(engine: Engine) -> None:
    """Forget what the process kept for ``engine`` (tests that count a first read's statements)."""
    with _guard:
        _kept.pop(engine, None)
