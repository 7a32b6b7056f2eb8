"""Rows whose key is one of many values, in as few statements and bound parameters as each database
wants (issue 17, part 3).

PostgreSQL: one condition with the values as one array parameter (``column = ANY(:values)``). An
``IN`` list binds and casts each value, psycopg and PostgreSQL parse them all again each time, and
chunks of it cost a statement each. SQLite: ``IN`` lists, which cost it little, in chunks of
:data:`CHUNK` to stay far below its limit of 32,766 bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, Connection, Integer, any_, bindparam
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

CHUNK = 500


def among(conn: Connection, column: Any, values: Iterable[Any], *,
          type_: type[TypeEngine[Any]] = Integer) -> list[ColumnElement[bool]]:
    """Conditions that together keep the rows whose ``column`` is one of ``values``, one statement
    each: one on PostgreSQL, one per :data:`CHUNK` values on SQLite, none for no values."""
    wanted = sorted(set(values))
    if not wanted:
        return []
    if conn.dialect.name == "postgresql":
        return [column == any_(bindparam(None, wanted, type_=ARRAY(type_)))]
    return [column.in_(wanted[start : start + CHUNK]) for start in range(0, len(wanted), CHUNK)]


def one_of(conn: Connection, column: Any, values: Iterable[Any], *,
           type_: type[TypeEngine[Any]] = Integer) -> ColumnElement[bool]:
    """``column`` is one of ``values``, as one condition (on SQLite one ``IN`` list: for lists that
    stay well below its limit of bound parameters, such as a page's rows or a plan's items)."""
    wanted = sorted(set(values))
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, wanted, type_=ARRAY(type_)))
    return column.in_(wanted)  # type: ignore[no-any-return]
