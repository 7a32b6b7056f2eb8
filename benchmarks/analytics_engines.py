"""Analytics engines study (issue 10): DuckDB scanning the store against DuckDB's own copy.

Generates values shaped like jiaowei's ``data_values`` (key period, unit, element, option combo,
attribute combo; the value as TEXT) with a flattened ``unit_periods`` table that gives each unit's
district as of each period's last day (what ``unit_paths`` yields), for 20,000 schools under 16
districts, 50 elements and 10 monthly periods, at 1M and 10M values. It then times, per engine,

* q5: district × period × element for 5 elements;
* qall: the same for all elements;
* qschools: one district's schools for one element over the 10 periods;

on (a) DuckDB scanning the SQLite file (sqlite_scanner), (b) DuckDB native tables copied once and
refreshed incrementally from the change feed (``data_value_history`` rows after a watermark),
(c) plain SQLite GROUP BY, (d) plain PostgreSQL GROUP BY. Variants: duck-denorm (the copy with
each value's district written into the row), duck-file (the same in a DuckDB file), pg-flat (a
flat PostgreSQL analytics table, DHIS2's way), duck-pgscan (DuckDB scanning PostgreSQL). It prints
median and p95 of each, ratios to PostgreSQL, the copy and refresh times and the resident memory.
Each query runs once to warm, then at least 3 and at most 15 times within ``--budget`` seconds.

DuckDB's extensions are loaded from the pip packages ``duckdb-ext-sqlite`` / ``duckdb-ext-postgres``
(same version as ``duckdb``), with every download and auto-install switched off.

Run (not part of the project's dependencies yet; see docs/decisions/0013-analytics-engine.md)::

    python3 -m venv /tmp/v && /tmp/v/bin/pip install duckdb==1.4.4 \
        duckdb-ext-sqlite==1.4.4.20260205 duckdb-ext-postgres==1.4.4.20260205 'psycopg[binary]'
    /tmp/v/bin/python benchmarks/analytics_engines.py --sizes 1000000,10000000

PostgreSQL: ``--database-url postgresql://…`` or, by default, a throwaway cluster
(tests/pgcluster.py). Whatever is missing is skipped with a line saying so.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

DISTRICTS = 16
SCHOOLS = 20_000
ELEMENTS = 50
PERIODS = 10
MOVERS = 200  # schools that change district on 1 July (period 7 on)
CHANGES = (1, 1_000)  # change-feed batch sizes for the refresh timing

Q5 = (
    "SELECT up.district_id, dv.period_id, dv.data_element_id, SUM(CAST(dv.value AS {real})) "
    "FROM {dv} dv JOIN {up} up ON up.period_id = dv.period_id AND up.unit_id = dv.unit_id "
    "WHERE dv.data_element_id IN (1, 2, 3, 4, 5) GROUP BY 1, 2, 3"
)
QALL = (
    "SELECT up.district_id, dv.period_id, dv.data_element_id, SUM(CAST(dv.value AS {real})) "
    "FROM {dv} dv JOIN {up} up ON up.period_id = dv.period_id AND up.unit_id = dv.unit_id "
    "GROUP BY 1, 2, 3"
)
QSCHOOLS = (
    "SELECT dv.unit_id, dv.period_id, SUM(CAST(dv.value AS {real})) "
    "FROM {dv} dv JOIN {up} up ON up.period_id = dv.period_id AND up.unit_id = dv.unit_id "
    "WHERE up.district_id = 3 AND dv.data_element_id = 7 GROUP BY 1, 2"
)
QUERIES = {"q5": Q5, "qall": QALL, "qschools": QSCHOOLS}
# DuckDB's copy with each value's district as of its period written into the row at refresh time
# (a unit's move rewrites that unit's rows for the periods it changes): no join at query time.
DENORMALISED = {
    "q5": "SELECT district_id, period_id, data_element_id, SUM(value) FROM dvd"
          " WHERE data_element_id IN (1, 2, 3, 4, 5) GROUP BY 1, 2, 3",
    "qall": "SELECT district_id, period_id, data_element_id, SUM(value) FROM dvd GROUP BY 1, 2, 3",
    "qschools": "SELECT unit_id, period_id, SUM(value) FROM dvd WHERE district_id = 3"
                " AND data_element_id = 7 GROUP BY 1, 2",
}


def rss_mb() -> float:
    """This process's resident set size in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def keep(period: int, unit: int, element: int, size: int) -> bool:
    """Which of the 10M cells exist at ``size`` values (evenly spread)."""
    every = (SCHOOLS * ELEMENTS * PERIODS) // size
    return every <= 1 or (unit * 7 + element * 13 + period) % every == 0


def values(size: int) -> Iterator[tuple[int, int, int, int, int, str, int]]:
    for period in range(1, PERIODS + 1):
        for unit in range(DISTRICTS + 1, DISTRICTS + SCHOOLS + 1):
            for element in range(1, ELEMENTS + 1):
                if keep(period, unit, element, size):
                    yield (period, unit, element, 1, 1, str((unit * element + period) % 97), 1)


def district(unit: int, period: int) -> int:
    base = (unit - DISTRICTS - 1) % DISTRICTS + 1
    if unit <= DISTRICTS + MOVERS and period >= 7:  # moved on 1 July: the last day's parent counts
        return base % DISTRICTS + 1
    return base


def unit_periods() -> Iterator[tuple[int, int, int]]:
    for period in range(1, PERIODS + 1):
        for unit in range(DISTRICTS + 1, DISTRICTS + SCHOOLS + 1):
            yield (period, unit, district(unit, period))


def query(execute: Callable[[str], Any], sql: str) -> Callable[[], Any]:
    """A no-argument run of ``sql`` that fetches every row."""
    return lambda: execute(sql).fetchall()


def timed(run: Callable[[], Any], budget: float, at_most: int = 15) -> list[float]:
    """Run once to warm, then until ``budget`` seconds or ``at_most`` runs (at least 3)."""
    run()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < at_most and (len(times) < 3 or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# --- SQLite: the store ---------------------------------------------------------------------------


def build_sqlite(path: Path, size: int) -> float:
    t0 = time.perf_counter()
    db = sqlite3.connect(path)
    db.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
        "CREATE TABLE data_values (period_id INTEGER, unit_id INTEGER, data_element_id INTEGER,"
        " coc_id INTEGER, aoc_id INTEGER, value TEXT NOT NULL, import_id INTEGER NOT NULL,"
        " PRIMARY KEY (period_id, unit_id, data_element_id, coc_id, aoc_id)) WITHOUT ROWID;"
        "CREATE TABLE data_value_history (period_id INTEGER, unit_id INTEGER,"
        " data_element_id INTEGER, coc_id INTEGER, aoc_id INTEGER, import_id INTEGER,"
        " change TEXT NOT NULL, value_before TEXT, value_after TEXT,"
        " PRIMARY KEY (period_id, unit_id, data_element_id, coc_id, aoc_id, import_id)) WITHOUT ROWID;"
        # The change feed reads history by import: jiaowei has no such index yet.
        "CREATE INDEX ix_history_import ON data_value_history (import_id);"
        "CREATE TABLE unit_periods (period_id INTEGER, unit_id INTEGER, district_id INTEGER NOT NULL,"
        " PRIMARY KEY (period_id, unit_id)) WITHOUT ROWID;"
    )
    db.executemany("INSERT INTO data_values VALUES (?, ?, ?, ?, ?, ?, ?)", values(size))
    db.executemany("INSERT INTO unit_periods VALUES (?, ?, ?)", unit_periods())
    db.execute("CREATE INDEX ix_unit_periods_district ON unit_periods (district_id, period_id)")
    db.commit()
    db.execute("ANALYZE")
    db.commit()
    db.close()
    return time.perf_counter() - t0


def write_changes(path: Path, count: int, import_id: int) -> None:
    """Change ``count`` existing values as the write path does: the row and its history."""
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT period_id, unit_id, data_element_id, coc_id, aoc_id, value FROM data_values "
        "WHERE period_id = 5 LIMIT ?", (count,)).fetchall()
    for p, u, e, c, a, before in rows:
        after = str(int(before) + 1)
        db.execute("UPDATE data_values SET value = ?, import_id = ? WHERE period_id = ? AND unit_id = ?"
                   " AND data_element_id = ? AND coc_id = ? AND aoc_id = ?",
                   (after, import_id, p, u, e, c, a))
        db.execute("INSERT INTO data_value_history VALUES (?, ?, ?, ?, ?, ?, 'UPDATE', ?, ?)",
                   (p, u, e, c, a, import_id, before, after))
    db.commit()
    db.close()


# --- DuckDB --------------------------------------------------------------------------------------


def duckdb_connect() -> Any:
    """DuckDB with the pip-packaged extensions and no download, auto-install or auto-load."""
    import duckdb

    directory = Path(sysconfig.get_paths()["purelib"], "duckdb_ext", "extensions")
    con = duckdb.connect(config={
        "autoinstall_known_extensions": False, "autoload_known_extensions": False,
        "allow_community_extensions": False, "allow_unsigned_extensions": False,
        "extension_directory": str(directory), "threads": 2,
    })
    return con


def duckdb_memory(con: Any) -> float:
    return float(con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0]) / 2**20


def refresh(con: Any, path: Path, watermark: int) -> int:
    """Apply the history rows after ``watermark`` to DuckDB's copy; return the new watermark."""
    db = sqlite3.connect(path)
    feed = db.execute(
        "SELECT h.period_id, h.unit_id, h.data_element_id, h.coc_id, h.aoc_id, h.import_id, h.change,"
        " h.value_after FROM data_value_history h WHERE h.import_id > ? ORDER BY h.import_id",
        (watermark,)).fetchall()
    db.close()
    if not feed:
        return watermark
    latest: dict[tuple[int, ...], tuple[str, str | None]] = {}
    for p, u, e, c, a, _imp, change, after in feed:
        latest[(p, u, e, c, a)] = (change, after)
    keys = [(*k,) for k in latest]
    con.execute("BEGIN")
    con.execute("CREATE OR REPLACE TEMP TABLE feed (period_id INTEGER, unit_id INTEGER,"
                " data_element_id INTEGER, coc_id INTEGER, aoc_id INTEGER, value DOUBLE, live BOOLEAN)")
    rows = [f"({p}, {u}, {e}, {c}, {a}, {'NULL' if after is None else float(after)!r},"
            f" {change != 'DELETE'})"
            for (p, u, e, c, a), (change, after) in zip(keys, latest.values(), strict=True)]
    for start in range(0, len(rows), 1000):  # numbers only: safe to inline, and far faster than executemany
        con.execute("INSERT INTO feed VALUES " + ", ".join(rows[start:start + 1000]))
    con.execute("DELETE FROM dv USING feed f WHERE dv.period_id = f.period_id AND dv.unit_id = f.unit_id"
                " AND dv.data_element_id = f.data_element_id AND dv.coc_id = f.coc_id"
                " AND dv.aoc_id = f.aoc_id")
    con.execute("INSERT INTO dv SELECT period_id, unit_id, data_element_id, coc_id, aoc_id, value"
                " FROM feed WHERE live")
    con.execute("COMMIT")
    return max(row[5] for row in feed)


def copy_without_extension(con: Any, cursor: Any, table: str) -> float:
    """Fill DuckDB table ``table`` from a DB-API cursor over the store, with no DuckDB extension:
    batches become NumPy columns that DuckDB scans directly. Return the seconds it took."""
    import numpy as np

    t0 = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TABLE {table} (period_id INTEGER, unit_id INTEGER,"
                " data_element_id INTEGER, coc_id INTEGER, aoc_id INTEGER, value DOUBLE)")
    while batch := cursor.fetchmany(200_000):
        columns = list(zip(*batch, strict=True))
        chunk = {name: np.array(column, dtype=np.int32) for name, column in
                 zip(("period_id", "unit_id", "data_element_id", "coc_id", "aoc_id"), columns, strict=False)}
        chunk["value"] = np.array(columns[5], dtype=np.float64)
        con.register("chunk", chunk)
        con.execute(f"INSERT INTO {table} SELECT * FROM chunk")
        con.unregister("chunk")
    return time.perf_counter() - t0


# --- PostgreSQL ----------------------------------------------------------------------------------


def build_postgres(url: str, sqlite_path: Path, size: int) -> float:
    import psycopg

    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("DROP TABLE IF EXISTS data_values, unit_periods, analytics_flat")
        pg.execute("CREATE UNLOGGED TABLE data_values (period_id integer, unit_id integer,"
                   " data_element_id integer, coc_id integer, aoc_id integer, value text NOT NULL,"
                   " import_id integer NOT NULL)")
        pg.execute("CREATE UNLOGGED TABLE unit_periods (period_id integer, unit_id integer,"
                   " district_id integer NOT NULL)")
        with pg.cursor() as cur:
            with cur.copy("COPY data_values FROM STDIN") as copy:
                for row in values(size):
                    copy.write_row(row)
            with cur.copy("COPY unit_periods FROM STDIN") as copy:
                for mapping in unit_periods():
                    copy.write_row(mapping)
        pg.execute("ALTER TABLE data_values ADD PRIMARY KEY (period_id, unit_id, data_element_id,"
                   " coc_id, aoc_id)")
        pg.execute("ALTER TABLE unit_periods ADD PRIMARY KEY (period_id, unit_id)")
        pg.execute("CREATE INDEX ON unit_periods (district_id, period_id)")
        pg.execute("VACUUM ANALYZE data_values")
        pg.execute("VACUUM ANALYZE unit_periods")
        # DHIS2's way: a flat analytics table (district resolved, value numeric), indexed, no join.
        pg.execute("CREATE UNLOGGED TABLE analytics_flat AS SELECT dv.period_id, dv.unit_id,"
                   " dv.data_element_id, up.district_id, dv.value::double precision AS value"
                   " FROM data_values dv JOIN unit_periods up USING (period_id, unit_id)")
        pg.execute("CREATE INDEX ON analytics_flat (data_element_id, period_id)")
        pg.execute("CREATE INDEX ON analytics_flat (district_id, data_element_id)")
        pg.execute("VACUUM ANALYZE analytics_flat")
    return time.perf_counter() - t0


def postgres_url(given: str | None) -> tuple[str | None, Callable[[], None]]:
    if given:
        return given.replace("postgresql+psycopg://", "postgresql://"), lambda: None
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.pgcluster import start_cluster

        cluster = start_cluster()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip PostgreSQL
        print(f"SKIP PostgreSQL: no throwaway cluster ({exc})")
        return None, lambda: None
    return cluster.url.replace("postgresql+psycopg://", "postgresql://"), cluster.stop


# --- the run -------------------------------------------------------------------------------------


def run_size(size: int, work: Path, pg_url: str | None, budget: float) -> None:
    print(f"\n=== {size:,} values ({SCHOOLS:,} schools, {DISTRICTS} districts, {ELEMENTS} elements,"
          f" {PERIODS} periods) ===")
    path = work / f"store-{size}.sqlite"
    path.unlink(missing_ok=True)
    print(f"build SQLite store: {build_sqlite(path, size):.1f} s, {path.stat().st_size / 2**20:.0f} MiB")
    results: dict[str, dict[str, list[float]]] = {}
    notes: list[str] = []

    # (c) plain SQLite
    db = sqlite3.connect(path)
    results["sqlite"] = {
        name: timed(query(db.execute, q.format(real="REAL", dv="data_values",
                                                    up="unit_periods")), budget)
        for name, q in QUERIES.items()}
    db.close()

    # (a) DuckDB scanning SQLite, (b) DuckDB's copy
    try:
        import duckdb
    except ImportError:
        print("SKIP DuckDB: the duckdb package is not installed")
    else:
        rss0 = rss_mb()
        con = duckdb_connect()
        try:
            con.execute("LOAD sqlite_scanner")
        except duckdb.Error as exc:
            print(f"SKIP DuckDB over SQLite: sqlite_scanner not installed from pip ({exc})")
        else:
            con.execute(f"ATTACH '{path}' AS store (TYPE sqlite, READ_ONLY)")
            results["duck-scan"] = {
                name: timed(query(con.execute, q.format(real="DOUBLE", dv="store.data_values",
                                                             up="store.unit_periods")), budget)
                for name, q in QUERIES.items()}
            notes.append(f"duck-scan RSS +{rss_mb() - rss0:.0f} MiB")
            rss1 = rss_mb()
            t0 = time.perf_counter()
            con.execute("CREATE TABLE dv AS SELECT period_id, unit_id, data_element_id, coc_id, aoc_id,"
                        " CAST(value AS DOUBLE) AS value FROM store.data_values"
                        " ORDER BY period_id, data_element_id")
            con.execute("CREATE TABLE up AS SELECT * FROM store.unit_periods")
            copy_s = time.perf_counter() - t0
            watermark = 0
            refresh_ms = []
            for i, count in enumerate(CHANGES, start=2):
                write_changes(path, count, import_id=i)
                t0 = time.perf_counter()
                watermark = refresh(con, path, watermark)
                refresh_ms.append((count, (time.perf_counter() - t0) * 1000))
            check = con.execute(Q5.format(real="DOUBLE", dv="dv", up="up") + " ORDER BY 1, 2, 3").fetchall()
            truth = sqlite3.connect(path).execute(
                Q5.format(real="REAL", dv="data_values", up="unit_periods") + " ORDER BY 1, 2, 3").fetchall()
            same = len(check) == len(truth) and all(
                a[:3] == b[:3] and abs(a[3] - b[3]) < 1e-6 for a, b in zip(check, truth, strict=True))
            results["duck-copy"] = {
                name: timed(query(con.execute, q.format(real="DOUBLE", dv="dv", up="up")),
                            budget)
                for name, q in QUERIES.items()}
            notes.append(f"duck-copy: copy {copy_s:.1f} s; refresh "
                         + ", ".join(f"{c} change(s) {ms:.0f} ms" for c, ms in refresh_ms)
                         + f"; copy equals store after refresh: {same}")
            notes.append(f"duck-copy RSS +{rss_mb() - rss1:.0f} MiB over the scan; DuckDB buffer"
                         f" manager holds {duckdb_memory(con):.0f} MiB")
            rss2 = rss_mb()
            t0 = time.perf_counter()
            con.execute("CREATE TABLE dvd AS SELECT dv.*, up.district_id FROM dv"
                        " JOIN up USING (period_id, unit_id)"
                        " ORDER BY period_id, data_element_id, district_id")
            notes.append(f"duck-denorm: built from the copy in {time.perf_counter() - t0:.1f} s,"
                         f" RSS +{rss_mb() - rss2:.0f} MiB")
            results["duck-denorm"] = {
                name: timed(query(con.execute, q), budget)
                for name, q in DENORMALISED.items()}
            # The same denormalised copy in a DuckDB file (compressed on disk, paged in on demand).
            con.execute("DROP TABLE dv")
            con.execute(f"ATTACH '{work / 'copy.duckdb'}' AS disk")
            t0 = time.perf_counter()
            con.execute("CREATE TABLE disk.dvd AS SELECT * FROM dvd")
            con.execute("CHECKPOINT disk")
            build_s = time.perf_counter() - t0
            con.execute("DROP TABLE dvd")
            before = duckdb_memory(con)
            results["duck-file"] = {
                name: timed(query(con.execute, q.replace("FROM dvd", "FROM disk.dvd")),
                            budget)
                for name, q in DENORMALISED.items()}
            notes.append(f"duck-file: denormalised copy in a DuckDB file, {build_s:.1f} s,"
                         f" {(work / 'copy.duckdb').stat().st_size / 2**20:.0f} MiB on disk; buffer manager"
                         f" {before:.0f} MiB before its queries, {duckdb_memory(con):.0f} MiB after")
            con.execute("DETACH disk")
            (work / "copy.duckdb").unlink()
            try:
                cursor = sqlite3.connect(path).execute(
                    "SELECT period_id, unit_id, data_element_id, coc_id, aoc_id, value FROM data_values")
                notes.append(f"duck-copy without any extension (sqlite3 → NumPy → DuckDB):"
                             f" {copy_without_extension(con, cursor, 'dv_plain'):.1f} s")
                con.execute("DROP TABLE dv_plain")
            except ImportError:
                notes.append("SKIP extension-free copy: numpy is not installed")
            con.close()

    # (d) plain PostgreSQL
    if pg_url is None:
        print("SKIP PostgreSQL: no database")
    else:
        try:
            import psycopg
        except ImportError:
            print("SKIP PostgreSQL: the psycopg package is not installed")
        else:
            print(f"build PostgreSQL copy: {build_postgres(pg_url, path, size):.1f} s")
            with psycopg.connect(pg_url) as pg:
                pg.execute("SET max_parallel_workers_per_gather = 2")
                results["postgres"] = {
                    name: timed(query(pg.execute, q.format(real="double precision", dv="data_values",
                                                                up="unit_periods")), budget)
                    for name, q in QUERIES.items()}
                results["pg-flat"] = {
                    name: timed(query(pg.execute, q.replace("dvd", "analytics_flat")), budget)
                    for name, q in DENORMALISED.items()}
                if "duck-copy" in results:
                    con = duckdb_connect()
                    with pg.cursor(name="feed") as server:
                        server.itersize = 200_000
                        server.execute("SELECT period_id, unit_id, data_element_id, coc_id, aoc_id,"
                                       " value FROM data_values")
                        notes.append(f"duck-copy from PostgreSQL without any extension (psycopg → NumPy"
                                     f" → DuckDB): {copy_without_extension(con, server, 'dv'):.1f} s")
                    try:
                        con.execute("LOAD postgres_scanner")
                        t0 = time.perf_counter()
                        con.execute(f"ATTACH '{pg_url}' AS pg (TYPE postgres, READ_ONLY)")
                        con.execute("CREATE OR REPLACE TABLE dv AS SELECT period_id, unit_id,"
                                    " data_element_id, coc_id, aoc_id, CAST(value AS DOUBLE) AS value"
                                    " FROM pg.data_values")
                        notes.append(f"duck-copy from PostgreSQL with postgres_scanner:"
                                     f" {time.perf_counter() - t0:.1f} s")
                        results["duck-pgscan"] = {
                            name: timed(query(con.execute, q.format(
                                real="DOUBLE", dv="pg.data_values", up="pg.unit_periods")), budget)
                            for name, q in QUERIES.items()}
                    except duckdb.Error as exc:
                        notes.append(f"SKIP DuckDB over PostgreSQL: {exc}")
                    con.close()
                pg.rollback()
                pg.execute("DROP TABLE data_values, unit_periods, analytics_flat")
                pg.commit()

    base, flat = results.get("postgres"), results.get("pg-flat")
    print(f"{'engine':<12} {'query':<9} {'median ms':>10} {'p95 ms':>9} {'runs':>5} {'vs postgres':>12}"
          f" {'vs pg-flat':>11}")
    for engine, by_query in results.items():
        for name, times in by_query.items():
            median = statistics.median(times)
            ratios = [f"{statistics.median(ref[name]) / median:.1f}x" if ref else "-" for ref in (base, flat)]
            print(f"{engine:<12} {name:<9} {median:>10.1f} {p95(times):>9.1f} {len(times):>5}"
                  f" {ratios[0]:>12} {ratios[1]:>11}")
    print("(ratio = reference median / this median: above 1 is faster than the reference)")
    for note in notes:
        print(note)
    print(f"process RSS now {rss_mb():.0f} MiB")
    path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds of timed runs per query")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--no-postgres", action="store_true", help="leave PostgreSQL out")
    args = parser.parse_args()
    pg_url, stop = (None, lambda: None) if args.no_postgres else postgres_url(args.database_url)
    try:
        with tempfile.TemporaryDirectory(prefix="jiaowei-analytics-") as tmp:
            for size in (int(s) for s in args.sizes.split(",")):
                run_size(size, Path(tmp), pg_url, args.budget)
    finally:
        stop()
    os.sync()


if __name__ == "__main__":
    main()
