"""``db.among``: rows whose key is one of many values, on both databases — one array parameter on
PostgreSQL, ``IN`` lists of at most ``CHUNK`` on SQLite — with duplicates and misses in the list."""

from __future__ import annotations

from sqlalchemy import Connection, String, select

from jiaowei.db.among import CHUNK, among, one_of
from jiaowei.registry.store import units
from tests.factories import make_unit
from tests.statements import counting


def test_many_ids_are_found_in_one_statement_on_postgresql_and_in_chunks_on_sqlite(conn: Connection) -> None:
    codes = [make_unit(conn) for _ in range(3)]
    ids = dict(conn.execute(select(units.c.code, units.c.id).where(units.c.code.in_(codes))).all())
    wanted = [ids[codes[0]], ids[codes[0]], ids[codes[2]], *range(10**6, 10**6 + CHUNK + 100)]
    conditions = among(conn, units.c.id, wanted)
    with counting(conn) as count:
        found = {r.code for c in conditions for r in conn.execute(select(units.c.code).where(c))}
    assert found == {codes[0], codes[2]}
    postgresql = conn.dialect.name == "postgresql"
    assert len(conditions) == (1 if postgresql else 2)
    assert count.parameters == (1 if postgresql else CHUNK + 102)  # each id once: duplicates dropped
    assert among(conn, units.c.id, []) == []
    by_code = conn.execute(select(units.c.id).where(one_of(conn, units.c.code, codes[1:], type_=String)))
    assert sorted(by_code.scalars()) == sorted(ids[c] for c in codes[1:])
