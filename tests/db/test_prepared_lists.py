"""Which statements psycopg may prepare on PostgreSQL: one sending a list of at most ``SHORT_LIST`` values
like any other (its planning saved after the fifth run), one sending a longer list never (its best plan
depends on how many values it brings; decision 0021)."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, select, text

from jiaowei.db.among import one_of
from jiaowei.db.engine import SHORT_LIST
from jiaowei.registry.store import units


@pytest.mark.parametrize(("values", "prepared"), [(1, 1), (SHORT_LIST, 1), (SHORT_LIST + 1, 0)])
def test_a_statement_is_prepared_only_when_its_lists_are_short(conn: Connection, values: int,
                                                               prepared: int) -> None:
    if conn.dialect.name != "postgresql":
        pytest.skip("psycopg prepares statements on PostgreSQL; SQLite has no list parameter")
    marker = f"prepared_list_of_{values}"  # in this statement's text only
    statement = select(units.c.id.label(marker)).where(one_of(conn, units.c.id, range(1, values + 1)))
    for _ in range(7):  # psycopg prepares a statement on its sixth run on a connection
        conn.execute(statement).all()
    kept = conn.execute(text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :marker"),
                        {"marker": f"%{marker}%"}).scalar()  # this session's prepared statements
    assert kept == prepared
