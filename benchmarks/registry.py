"""Registry benchmark: jiaowei's versioned, path-indexed registry against a plain adjacency table.

Generates 50,000 synthetic units in 6 levels (commission → 16 districts → towns → school
districts → schools → campuses), then on one fresh database measures

* import: ``registry.service.import_new_units`` with every spec in one transaction (this
  includes validation, the open events and 50,000 entries of the audit chain), against a
  bulk INSERT into a plain table ``(id, parent_id, name, valid_from, valid_to)``;
* one district's subtree as of a date, as ids only (``store.subtree_ids``, one range scan:
  what aggregation up the tree uses) against the recursive CTE's ids; and as full rows:
  ``registry.queries.list_units(descendants_of=…,
  as_of=…, limit=500)`` paging through all pages, and the same rows in one query with
  ``store.units_on_select`` + ``store.in_paths``, against a plain ``WITH RECURSIVE`` query
  on the adjacency table (median of several runs each).

Run: ``.venv/bin/python benchmarks/registry.py`` (SQLite in a temporary directory). With
``--database-url postgresql+psycopg://…`` it also runs on PostgreSQL, in a scratch
database created next to the one named and dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    text,
)
from sqlalchemy.engine import make_url

from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.registry import queries, service, store

UNITS = 50_000
FANOUT = (16, 14, 7, 6)  # commission → districts → towns → school districts → schools; the rest are campuses
LEVEL_TYPES = ("commission", "district_bureau", "other", "other", "primary_school", "other")
AS_OF = dt.date(2020, 6, 30)
OPEN_END = dt.date(9999, 12, 31)
REPEAT = 7

baseline_metadata = MetaData()
adjacency = Table(
    "bench_adjacency",
    baseline_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("parent_id", Integer, nullable=True),
    Column("name", String(200), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=False),
    Index("ix_bench_adjacency_parent_id", "parent_id"),
)

SUBTREE_IDS = text("""
WITH RECURSIVE subtree(id) AS (
    SELECT id FROM bench_adjacency
     WHERE id = :root AND valid_from <= :day AND valid_to > :day
    UNION ALL
    SELECT a.id FROM bench_adjacency a JOIN subtree s ON a.parent_id = s.id
     WHERE a.valid_from <= :day AND a.valid_to > :day
)
SELECT id FROM subtree
""")

SUBTREE = text("""
WITH RECURSIVE subtree(id) AS (
    SELECT id FROM bench_adjacency
     WHERE id = :root AND valid_from <= :day AND valid_to > :day
    UNION ALL
    SELECT a.id FROM bench_adjacency a JOIN subtree s ON a.parent_id = s.id
     WHERE a.valid_from <= :day AND a.valid_to > :day
)
SELECT a.id, a.parent_id, a.name, a.valid_from, a.valid_to
  FROM bench_adjacency a JOIN subtree s ON a.id = s.id
""")


@dataclass(frozen=True)
class Unit:
    id: int
    parent_id: int | None
    level: int
    opened: dt.date

    @property
    def code(self) -> str:
        return f"B{self.id:05d}"


def generate(total: int = UNITS, seed: int = 2020) -> list[Unit]:
    """A 6-level tree of ``total`` units, parents before children; ~10% open after AS_OF."""
    rng = random.Random(seed)
    start = dt.date(2000, 1, 1)
    units = [Unit(1, None, 0, start)]
    level = units
    for fanout in FANOUT:
        parents = [p for p in level for _ in range(fanout)]
        level = [_child(rng, len(units) + i + 1, parent) for i, parent in enumerate(parents)]
        units += level
    parents = level
    while len(units) < total:
        units.append(_child(rng, len(units) + 1, rng.choice(parents)))
    return units


def _child(rng: random.Random, unit_id: int, parent: Unit) -> Unit:
    if parent.level == 0:
        opened = parent.opened
    elif rng.random() < 0.1:
        opened = dt.date(2020, 9, 1) + dt.timedelta(days=rng.randrange(900))
    else:
        opened = dt.date(2000, 1, 1) + dt.timedelta(days=rng.randrange(7300))
    return Unit(unit_id, parent.id, parent.level + 1, max(opened, parent.opened))


def specs(units: list[Unit]) -> list[service.UnitSpec]:
    codes = {u.id: u.code for u in units}
    return [service.UnitSpec(code=u.code, name_zh=f"基准单位{u.id}（合成）",
                             name_en=f"Benchmark unit {u.id} (synthetic)", type=LEVEL_TYPES[u.level],
                             parent=codes.get(u.parent_id) if u.parent_id else None, opened=u.opened,
                             synthetic=True) for u in units]


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = action()
    return time.perf_counter() - began, result


def median_of(action: Callable[[], Any]) -> tuple[float, Any]:
    action()  # warm the caches once
    runs = [timed(action) for _ in range(REPEAT)]
    return statistics.median(t for t, _ in runs), runs[-1][1]


# ---------------------------------------------------------------- jiaowei


def jiaowei_import(engine: Engine, units: list[Unit]) -> float:
    all_specs = specs(units)

    def run() -> None:
        with engine.begin() as conn:
            service.import_new_units(conn, principal=SYSTEM, specs=all_specs, rows=[None] * len(all_specs),
                                     note="benchmark")

    return timed(run)[0]


def list_units_pages(conn: Connection, code: str) -> int:
    count = 0
    while True:
        page = queries.list_units(conn, principal=SYSTEM, descendants_of=code, as_of=AS_OF,
                                  offset=count, limit=queries.MAX_PAGE)
        count += len(page.items)
        if count >= page.total or not page.items:
            return count


def path_query(conn: Connection, code: str) -> int:
    path = store.path_on(conn, store.unit_id_for(conn, code), AS_OF)  # type: ignore[arg-type]
    rows = conn.execute(store.units_on_select(AS_OF).where(store.in_paths([path] if path else []))).all()
    return len(rows)


def ids_query(conn: Connection, code: str) -> int:
    return len(store.subtree_ids(conn, store.unit_id_for(conn, code), AS_OF))  # type: ignore[arg-type]


# ---------------------------------------------------------------- baseline


def baseline_import(engine: Engine, units: list[Unit]) -> float:
    baseline_metadata.create_all(engine)
    rows = [{"id": u.id, "parent_id": u.parent_id, "name": f"基准单位{u.id}（合成）", "valid_from": u.opened,
             "valid_to": OPEN_END} for u in units]

    def run() -> None:
        with engine.begin() as conn:
            conn.execute(insert(adjacency), rows)

    return timed(run)[0]


def recursive_query(conn: Connection, root: int) -> int:
    return len(conn.execute(SUBTREE, {"root": root, "day": AS_OF}).all())


def recursive_ids(conn: Connection, root: int) -> int:
    return len(conn.execute(SUBTREE_IDS, {"root": root, "day": AS_OF}).all())


# ---------------------------------------------------------------- the run


def bench(engine: Engine, label: str) -> list[tuple[str, str, str, str]]:
    units = generate()
    district = units[1]
    upgrade(engine)
    say(f"[{label}] importing {len(units):,} units through jiaowei …")
    jw_import = jiaowei_import(engine, units)
    say(f"[{label}] bulk-inserting the baseline table …")
    base_import = baseline_import(engine, units)
    with engine.connect() as conn:
        say(f"[{label}] querying the subtree of {district.code} on {AS_OF} ({REPEAT} runs each) …")
        pages_time, pages_rows = median_of(lambda: list_units_pages(conn, district.code))
        path_time, path_rows = median_of(lambda: path_query(conn, district.code))
        cte_time, cte_rows = median_of(lambda: recursive_query(conn, district.id))
        ids_time, ids_rows = median_of(lambda: ids_query(conn, district.code))
        cte_ids_time, cte_ids_rows = median_of(lambda: recursive_ids(conn, district.id))
    if not pages_rows == path_rows == cte_rows == ids_rows == cte_ids_rows:
        raise SystemExit(f"row counts differ: list_units {pages_rows}, paths {path_rows}, CTE {cte_rows}, "
                         f"ids {ids_rows}, CTE ids {cte_ids_rows}")
    return [
        (f"subtree ({cte_rows:,} units): ids only (what aggregation uses)", millis(ids_time),
         millis(cte_ids_time), ratio(ids_time, cte_ids_time)),
        (f"import {len(units):,} units (one transaction)", seconds(jw_import), seconds(base_import),
         ratio(jw_import, base_import)),
        (f"subtree ({cte_rows:,} units): list_units, pages of 500", millis(pages_time), millis(cte_time),
         ratio(pages_time, cte_time)),
        (f"subtree ({cte_rows:,} units): full unit rows, one query", millis(path_time), millis(cte_time),
         ratio(path_time, cte_time)),
    ]


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def millis(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}×"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def print_table(label: str, rows: list[tuple[str, str, str, str]]) -> None:
    header = ("measure", "jiaowei", "baseline", "jiaowei/baseline")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print(f"\n{label}")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                        enumerate(zip(row, widths, strict=True))))


def run_sqlite() -> None:
    with tempfile.TemporaryDirectory(prefix="jiaowei-bench-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        try:
            rows = bench(engine, "sqlite")
        finally:
            engine.dispose()
        version = engine.dialect.dbapi.sqlite_version if engine.dialect.dbapi else "?"  # type: ignore[attr-defined]
    print_table(f"SQLite {version}, file in a temporary directory; subtree as of {AS_OF}, "
                f"median of {REPEAT} runs", rows)


def run_postgresql(url: str) -> None:
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    scratch = f"jiaowei_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{scratch}"')
    engine = make_engine(make_url(url).set(database=scratch).render_as_string(hide_password=False))
    try:
        rows = bench(engine, "postgresql")
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}"')
        admin.dispose()
    print_table(f"PostgreSQL {version}, scratch database {scratch}; subtree as of {AS_OF}, "
                f"median of {REPEAT} runs", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="also run on this PostgreSQL server (a scratch database "
                                               "is created next to the one named and dropped afterwards)")
    parser.add_argument("--skip-sqlite", action="store_true", help="only run on --database-url")
    args = parser.parse_args()
    if not args.skip_sqlite:
        run_sqlite()
    if args.database_url:
        run_postgresql(args.database_url)


if __name__ == "__main__":
    main()
