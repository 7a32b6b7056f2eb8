"""The keys an import has met in its earlier batches, kept on disk so memory stays flat.

A file is checked in batches (``service.import_values``); a value whose key an earlier batch held
is refused as "the same value appears again", naming the row that held it first. Holding ten
million keys in a Python dict would take gigabytes, so they go to a private SQLite file in a
temporary directory (not the application's database: nothing here is part of the transaction),
one B-tree lookup per key. Keys are plain integers, so any database's ids fit.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

Key = tuple[int, int, int, int, int]  # period (or its placeholder), unit, element, coc, aoc


class SeenKeys:
    """A set of keys with the row that first held each; use as a context manager."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="jiaowei-import-")
        self._db = sqlite3.connect(Path(self._folder.name) / "seen.sqlite3", isolation_level=None)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE;"
            "CREATE TABLE seen (p INTEGER, u INTEGER, e INTEGER, c INTEGER, a INTEGER, row INTEGER NOT NULL,"
            " PRIMARY KEY (p, u, e, c, a)) WITHOUT ROWID;"
            "CREATE TEMP TABLE batch (p INTEGER, u INTEGER, e INTEGER, c INTEGER, a INTEGER, row INTEGER);"
        )

    def __enter__(self) -> SeenKeys:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._folder.cleanup()

    def add(self, keys: Iterable[tuple[Key, int]]) -> dict[Key, int]:
        """Add each (key, row); return the keys held already, with the row that held them first."""
        db = self._db
        db.execute("BEGIN")
        db.execute("DELETE FROM batch")
        db.executemany("INSERT INTO batch VALUES (?, ?, ?, ?, ?, ?)", (
            (*key, row) for key, row in keys))
        found = db.execute(
            "SELECT s.p, s.u, s.e, s.c, s.a, s.row FROM batch b JOIN seen s "
            "ON s.p = b.p AND s.u = b.u AND s.e = b.e AND s.c = b.c AND s.a = b.a"
        ).fetchall()
        db.execute("INSERT OR IGNORE INTO seen SELECT * FROM batch ORDER BY p, u, e, c, a")
        db.execute("COMMIT")
        return {(r[0], r[1], r[2], r[3], r[4]): r[5] for r in found}
