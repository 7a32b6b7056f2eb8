"""Count the SQL statements (and their bound parameters) a block runs: regression tests for N+1 queries.

A page or route whose statements grow with the number of units (one query per unit, or one id per
parameter) is slow on PostgreSQL, where each statement is a round trip (issue 17, part 3;
``benchmarks/databases.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, event


@dataclass
class Count:
    """How many statements and bound parameters; ``seen``: each statement on one line, with its own."""

    statements: int = 0
    parameters: int = 0
    seen: list[tuple[str, int]] = field(default_factory=list)

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                 many: bool) -> None:
        rows = parameters if many else [parameters]
        bound = sum(len(row) for row in rows if row)
        self.statements += 1
        self.parameters += bound
        self.seen.append((" ".join(statement.split()), bound))


@contextmanager
def counting(conn: Connection) -> Iterator[Count]:
    """The statements run on ``conn``'s engine inside the block (the test's app shares it)."""
    count = Count()
    event.listen(conn.engine, "before_cursor_execute", count)
    try:
        yield count
    finally:
        event.remove(conn.engine, "before_cursor_execute", count)
