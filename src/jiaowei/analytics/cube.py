"""The analytics engine's copy of the data: numeric values in DuckDB, each with its ancestors.

The store (SQLite or PostgreSQL) stays the record; DuckDB holds a copy shaped for aggregation
(decision 0013). Each row is one stored data value that has a number (booleans count 1/0, text
is left out), with its period's dates and the ids of its unit's ancestors at levels 1–8 **as of
the last day of the value's own period** (the unit's last path before then if it had closed).
So a school that moves on 1 July counts under its first district for January–June values and
under the second from July on, and a query never joins the tree.

:meth:`Cube.refresh` keeps the copy current from the store's change feed, at the start of every
analytics read:

- values: the history rows written after the last import applied (``import_id`` above the
  watermark) name the keys that changed; their rows are replaced by the store's current ones;
- the tree: when the registry's stamp changes (migration 0020: every write to the units, their
  versions and paths), the ancestry table is reloaded and every row's ancestors are derived again;
- element value types: a change rebuilds the copy.

The change feed's markers (the newest import and its identity: one statement; the value types from
the metadata catalog and the tree's stamp, which the process keeps) are read once per transaction
(:func:`jiaowei.db.memo.per_transaction`, forgotten when the transaction writes), so a report with a
query per figure pays them once.

The watermark is checked against the store (the import it names must still exist, with the same
time and digest), so a rolled-back or restored store is noticed and the copy rebuilt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from sqlalchemy import Connection, func, select, tuple_

from jiaowei.analytics.model import MAX_LEVEL
from jiaowei.db.kept import kept_rows, stamps
from jiaowei.db.memo import per_transaction
from jiaowei.indicators import store
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.model import NUMERIC_TYPES
from jiaowei.registry import queries as registry
from jiaowei.registry.model import path_ids

LEVELS = tuple(f"l{n}" for n in range(1, MAX_LEVEL + 1))
_BATCH = 200_000

_SCHEMA = f"""
CREATE TABLE periods (id INTEGER PRIMARY KEY, code VARCHAR, type VARCHAR, start_date DATE, end_date DATE);
CREATE TABLE ancestry (unit_id INTEGER, valid_from DATE, valid_to DATE, depth INTEGER,
                       {", ".join(f"{c} INTEGER" for c in LEVELS)});
CREATE TABLE roll (element_id INTEGER, coc_id INTEGER, period_id INTEGER, l1 INTEGER, l2 INTEGER,
                   num DOUBLE, cnt BIGINT, synthetic BOOLEAN);
CREATE TABLE vals (period_id INTEGER, unit_id INTEGER, element_id INTEGER, coc_id INTEGER,
                   aoc_id INTEGER, start_date DATE, end_date DATE, num DOUBLE, synthetic BOOLEAN,
                   depth INTEGER, {", ".join(f"{c} INTEGER" for c in LEVELS)});
"""

# Numbers from the stored text by the element's value type, as jiaowei.indicators.model.numeric does.
_NUMBER = f"""CASE WHEN r.value_type IN ('BOOLEAN', 'TRUE_ONLY')
                  THEN CASE WHEN r.value = 'true' THEN 1.0 ELSE 0.0 END
                  WHEN r.value_type IN ({", ".join(f"'{t}'" for t in sorted(NUMERIC_TYPES))})
                  THEN TRY_CAST(r.value AS DOUBLE) END"""


def connect(
    path: Path | None = None, *, threads: int = 2, memory_limit: str = "1GB"
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that never downloads anything: every extension mechanism is off."""
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "allow_community_extensions": "false",
        "allow_unsigned_extensions": "false",
        "threads": str(threads),
        "memory_limit": memory_limit,
    }
    return duckdb.connect(str(path) if path else ":memory:", config=config)


class Cube:
    """One copy of one store's values, in a private DuckDB file removed when the cube goes."""

    def __init__(self, directory: Path | None = None, *, threads: int = 2, memory_limit: str = "1GB") -> None:
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(prefix="jiaowei-analytics-", dir=directory))
        self.path = self._dir / "cube.duckdb"
        self.db = connect(self.path, threads=threads, memory_limit=memory_limit)
        self.db.execute(_SCHEMA)
        self.lock = threading.Lock()
        self._state: dict[str, str] = {}  # watermark, import, hierarchy, value_types (what the copy holds)
        self._local = threading.local()
        self.depths: dict[int, set[int]] = {}
        self.stored_periods: dict[int, tuple[dt.date, dt.date]] = {}  # id: first and last day
        self.rebuilds = 0  # how many times the copy was built whole (a figure for tests and operators)
        self._finalizer = weakref.finalize(self, _remove, self.db, self._dir)

    def close(self) -> None:
        self._finalizer()

    # ---------------------------------------------------------------- reads

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (DuckDB connections are not shared across threads)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self.db.cursor()
        return cur

    def state(self, key: str) -> str | None:
        return self._state.get(key)

    def row_count(self) -> int:
        return int(self.cursor().execute("SELECT count(*) FROM vals").fetchone()[0])  # type: ignore[index]

    # ---------------------------------------------------------------- refresh

    def refresh(self, conn: Connection) -> None:
        """Bring the copy up to the store as ``conn`` sees it (see the module docstring)."""
        with self.lock:
            cur = self.cursor()
            marks = per_transaction(conn, "analytics.marks", lambda: _Marks.read(conn))
            if self.state("value_types") != marks.types or not self._watermark_holds(conn, marks):
                self._rebuild(conn, cur, marks)
                return
            if self.state("hierarchy") != marks.hierarchy:
                self._rederive(conn, cur)
                self._set(cur, hierarchy=marks.hierarchy)
            watermark = int(self.state("watermark") or 0)
            if marks.last is not None and marks.last > watermark:
                self._apply_feed(conn, cur, watermark)
                self._set(cur, **marks.last_mark)

    def _watermark_holds(self, conn: Connection, marks: _Marks) -> bool:
        """Whether the copy still describes this store: the import it last applied is there, unchanged.

        When ``conn`` sees fewer imports than the copy applied, either its snapshot began before
        the latest write committed (the copy is merely ahead of it: keep it) or the store went
        back (a rollback, a restore: rebuild). A new connection, which sees every committed
        write, tells which.
        """
        mark = self.state("watermark")
        if mark is None:
            return False
        last = marks.last
        if int(mark) == 0:  # no values in the copy: rebuilding it once there are some costs no more than
            return last is None  # applying them, and reloads what a rollback may have reused (period ids)
        if last is not None and last >= int(mark):
            seen = marks.last_mark if last == int(mark) else _import_mark(conn, int(mark))
            return seen == {"watermark": mark, "import": self.state("import")}
        with conn.engine.connect() as fresh:
            return _import_mark(fresh, int(mark)) == {"watermark": mark, "import": self.state("import")}

    def _rebuild(self, conn: Connection, cur: duckdb.DuckDBPyConnection, marks: _Marks) -> None:
        cur.execute("BEGIN")
        try:
            self._state = {}
            cur.execute("DELETE FROM vals; DELETE FROM roll; DELETE FROM periods")
            self.stored_periods = {}
            self._load_ancestry(conn, cur)
            self._load_periods(conn, cur)
            cur.execute(
                "CREATE OR REPLACE TEMP TABLE raw (period_id INTEGER, unit_id INTEGER, element_id INTEGER,"
                " coc_id INTEGER, aoc_id INTEGER, value VARCHAR, synthetic BOOLEAN, value_type VARCHAR)"
            )
            for batch in _value_batches(conn, None):
                _scan(cur, "batch", batch, "INSERT INTO raw SELECT * FROM batch")
            _insert_from_raw(cur, order=True)
            cur.execute("DROP TABLE raw")
            _roll(cur, None)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self._set(cur, value_types=marks.types, hierarchy=marks.hierarchy, **marks.last_mark)

    def _apply_feed(self, conn: Connection, cur: duckdb.DuckDBPyConnection, watermark: int) -> None:
        h = store.data_value_history
        keys = list(
            conn.execute(
                select(h.c.period_id, h.c.unit_id, h.c.data_element_id, h.c.coc_id, h.c.aoc_id)
                .where(h.c.import_id > watermark)
                .distinct()
            )
        )
        self._load_periods(conn, cur)
        cur.execute("BEGIN")
        try:
            cur.execute(
                "CREATE OR REPLACE TEMP TABLE changed (period_id INTEGER, unit_id INTEGER,"
                " element_id INTEGER, coc_id INTEGER, aoc_id INTEGER)"
            )
            cur.execute(
                "CREATE OR REPLACE TEMP TABLE raw (period_id INTEGER, unit_id INTEGER, element_id INTEGER,"
                " coc_id INTEGER, aoc_id INTEGER, value VARCHAR, synthetic BOOLEAN, value_type VARCHAR)"
            )
            for start in range(0, len(keys), _BATCH):
                part = keys[start : start + _BATCH]
                batch = {
                    name: np.array([k[i] for k in part], dtype=np.int64)
                    for i, name in enumerate(("period_id", "unit_id", "element_id", "coc_id", "aoc_id"))
                }
                _scan(cur, "batch", batch, "INSERT INTO changed SELECT * FROM batch")
                for values in _value_batches(conn, part):
                    _scan(cur, "batch", values, "INSERT INTO raw SELECT * FROM batch")
            cur.execute(
                "DELETE FROM vals USING changed c WHERE vals.period_id = c.period_id AND"
                " vals.unit_id = c.unit_id AND vals.element_id = c.element_id AND"
                " vals.coc_id = c.coc_id AND vals.aoc_id = c.aoc_id"
            )
            _insert_from_raw(cur, order=False)
            _roll(cur, "changed")
            cur.execute("DROP TABLE raw; DROP TABLE changed")
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def _load_ancestry(self, conn: Connection, cur: duckdb.DuckDBPyConnection) -> None:
        rows = registry.path_rows(conn)
        ids = [path_ids(r.path) for r in rows]
        depths: dict[int, set[int]] = {}
        for row, path in zip(rows, ids, strict=True):
            depths.setdefault(int(row.unit_id), set()).add(len(path))
        self.depths = depths  # the levels each unit ever had (readers take the whole dict at once)
        ancestry: dict[str, Any] = {
            "unit_id": np.array([r.unit_id for r in rows], dtype=np.int64),
            "valid_from": np.array([r.valid_from.isoformat() for r in rows], dtype=object),
            "valid_to": np.array([r.valid_to.isoformat() for r in rows], dtype=object),
            "depth": np.array([len(i) for i in ids], dtype=np.int64),
            **{
                level: np.array([i[n] if n < len(i) else None for i in ids], dtype=object)
                for n, level in enumerate(LEVELS)
            },
        }
        cur.execute("DELETE FROM ancestry")
        if rows:
            _scan(
                cur,
                "ancestry_batch",
                ancestry,
                "INSERT INTO ancestry SELECT unit_id, CAST(valid_from AS DATE),"
                " CAST(valid_to AS DATE), depth, "
                + ", ".join(f"CAST({c} AS INTEGER)" for c in LEVELS)
                + " FROM ancestry_batch",
            )

    def _load_periods(self, conn: Connection, cur: duckdb.DuckDBPyConnection) -> None:
        known = cur.execute("SELECT coalesce(max(id), 0) FROM periods").fetchone()[0]  # type: ignore[index]
        p = store.periods
        rows = conn.execute(
            select(p.c.id, p.c.code, p.c.type, p.c.start_date, p.c.end_date).where(p.c.id > known)
        ).all()
        if rows:
            cur.executemany("INSERT INTO periods VALUES (?, ?, ?, ?, ?)", [tuple(r) for r in rows])
            self.stored_periods = {**self.stored_periods, **{r.id: (r.start_date, r.end_date) for r in rows}}

    def _rederive(self, conn: Connection, cur: duckdb.DuckDBPyConnection) -> None:
        """Every row's ancestors again, from the tree reloaded (after the tree changed)."""
        cur.execute("BEGIN")
        try:
            self._load_ancestry(conn, cur)
            cur.execute(
                "CREATE OR REPLACE TEMP TABLE plain AS SELECT period_id, unit_id, element_id, coc_id,"
                " aoc_id, start_date, end_date, num, synthetic FROM vals"
            )
            cur.execute("DELETE FROM vals")
            cur.execute(f"INSERT INTO vals {_WITH_ANCESTORS.format(source='plain')}")
            cur.execute("DROP TABLE plain")
            _roll(cur, None)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def _set(self, cur: duckdb.DuckDBPyConnection, **values: str) -> None:
        self._state.update(values)


def _scan(cur: duckdb.DuckDBPyConnection, name: str, data: dict[str, Any], sql: str) -> None:
    """Run ``sql`` with the column arrays ``data`` visible as the table ``name``."""
    cur.register(name, data)
    try:
        cur.execute(sql)
    finally:
        cur.unregister(name)


# Rows with their ancestors as of the period's last day (the latest segment begun by then).
_WITH_ANCESTORS = """
SELECT s.period_id, s.unit_id, s.element_id, s.coc_id, s.aoc_id, s.start_date, s.end_date, s.num,
       s.synthetic, a.depth, {levels}
FROM {{source}} s ASOF LEFT JOIN ancestry a ON s.unit_id = a.unit_id AND s.end_date >= a.valid_from
""".format(levels=", ".join(f"a.{c}" for c in LEVELS))


def _roll(cur: duckdb.DuckDBPyConnection, changed: str | None) -> None:
    """The roll-up (sums and counts by element, combo, period and the ancestors at levels 1–2):
    whole, or for the (element, period) pairs of the ``changed`` keys only.

    SUM and COUNT at the city and district levels read it instead of every value: 16 districts ×
    50 elements × 10 periods are 8,000 rows where the values are 10 million.
    """
    pairs = f"(element_id, period_id) IN (SELECT DISTINCT element_id, period_id FROM {changed})"
    where = f" WHERE {pairs}" if changed else ""
    cur.execute(f"DELETE FROM roll{where}")
    cur.execute(
        "INSERT INTO roll SELECT element_id, coc_id, period_id, l1, l2, sum(num), count(num),"
        f" bool_or(synthetic) FROM vals{where} GROUP BY element_id, coc_id, period_id, l1, l2"
    )


def _insert_from_raw(cur: duckdb.DuckDBPyConnection, *, order: bool) -> None:
    numbered = f"""
        SELECT r.period_id, r.unit_id, r.element_id, r.coc_id, r.aoc_id, p.start_date, p.end_date,
               {_NUMBER} AS num, r.synthetic
        FROM raw r JOIN periods p ON p.id = r.period_id"""
    cur.execute(f"CREATE OR REPLACE TEMP TABLE plain AS SELECT * FROM ({numbered}) WHERE isfinite(num)")
    ordering = " ORDER BY s.element_id, s.period_id, s.unit_id" if order else ""
    cur.execute(f"INSERT INTO vals {_WITH_ANCESTORS.format(source='plain')}{ordering}")
    cur.execute("DROP TABLE plain")


def _value_batches(conn: Connection, keys: Sequence[Any] | None) -> Iterator[dict[str, Any]]:
    """The store's current values (all, or those with ``keys``), as column arrays DuckDB can scan."""
    dv, de = store.data_values, store.data_elements
    columns = (dv.c.period_id, dv.c.unit_id, dv.c.data_element_id, dv.c.coc_id, dv.c.aoc_id)
    query = select(*columns, dv.c.value, dv.c.synthetic, de.c.value_type).join(
        de, de.c.id == dv.c.data_element_id
    )
    if keys is None:
        chunks: Iterator[Sequence[Any]] = conn.execute(query.execution_options(yield_per=_BATCH)).partitions()
    else:
        chunks = (
            list(conn.execute(query.where(tuple_(*columns).in_([tuple(k) for k in keys[i : i + 500]]))))
            for i in range(0, len(keys), 500)
        )
    for rows in chunks:
        if not rows:
            continue
        yield {
            "period_id": np.array([r[0] for r in rows], dtype=np.int64),
            "unit_id": np.array([r[1] for r in rows], dtype=np.int64),
            "element_id": np.array([r[2] for r in rows], dtype=np.int64),
            "coc_id": np.array([r[3] for r in rows], dtype=np.int64),
            "aoc_id": np.array([r[4] for r in rows], dtype=np.int64),
            "value": np.array([r[5] for r in rows], dtype=object),
            "synthetic": np.array([bool(r[6]) for r in rows], dtype=bool),
            "value_type": np.array([r[7] for r in rows], dtype=object),
        }


@dataclass(frozen=True)
class _Marks:
    """What the change feed says, as one transaction reads it (read once per transaction: only
    these reads are kept, never the cube's own state, which other threads move on)."""

    types: str  # the element value types' stamp
    last: int | None  # the newest import
    last_mark: dict[str, str]  # its watermark and identity
    hierarchy: str  # the tree's stamp

    @classmethod
    def read(cls, conn: Connection) -> _Marks:
        """Every marker, in one small statement (each is a round trip on PostgreSQL): the newest
        import with its time and digest, which a read-only request takes from what the process keeps
        under the ``imports`` stamp (migration 0021, decision 0023). The value types come from the
        metadata catalog and the tree's stamp is the registry's (migration 0020), both kept by the
        process under the stamps the transaction reads once (:mod:`jiaowei.db.kept`; decision 0022)."""
        di = store.data_imports
        last = select(func.max(di.c.id)).scalar_subquery()
        first = kept_rows(conn, "imports", "analytics.newest_import", select(
            last.label("last"),
            select(di.c.at).where(di.c.id == last).scalar_subquery().label("at"),
            select(di.c.changes_digest).where(di.c.id == last).scalar_subquery().label("digest"),
        ))[0]
        types = sorted((e.id, str(e.value_type)) for e in load_catalog(conn).elements.values())
        mark = {"watermark": str(first.last), "import": f"{first.at}|{first.digest}" if first.at else ""}
        tree = stamps(conn).get("registry")
        return cls(
            types=hashlib.sha256(repr(types).encode()).hexdigest(),
            last=first.last,
            last_mark=mark if first.last is not None else {"watermark": "0", "import": ""},
            hierarchy=tree if tree is not None else registry.hierarchy_stamp(conn),
        )


def _import_mark(conn: Connection, import_id: int) -> dict[str, str]:
    """The watermark and what identifies its import (its time and changes digest)."""
    i = store.data_imports
    row = conn.execute(select(i.c.at, i.c.changes_digest).where(i.c.id == import_id)).first()
    return {"watermark": str(import_id), "import": "" if row is None else f"{row.at}|{row.changes_digest}"}


def _remove(db: duckdb.DuckDBPyConnection, directory: Path) -> None:
    try:
        db.close()
    finally:
        for child in directory.glob("*"):
            child.unlink(missing_ok=True)
        directory.rmdir()
