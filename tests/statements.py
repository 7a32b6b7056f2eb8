"""Count the SQL statements (and their bound parameters) a block runs: regression tests for N+1 queries.

A page or route whose statements grow with the number of units (one query per unit, or one id per
parameter) is slow on PostgreSQL, where each statement is a round trip (issue 17, part 3;
``benchmarks/databases.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, event


@dataclass
class Count:
    statements: int = 0
    parameters: int = 0

    def __call__(self, _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any,
                 many: bool) -> None:
        self.statements += 1
        rows = parameters if many else [parameters]
        self.parameters += sum(len(row) for row in rows if row)


@contextmanager
def counting(conn: Connection) -> Iterator[Count]:
    """The statements run on ``conn``'s engine inside the block (the test's app shares it)."""
    count = Count()
    event.listen(conn.engine, "before_cursor_execute", count)
    try:
        yield count
    finally:
        event.remove(conn.engine, "before_cursor_execute", count)
