"""Analytics benchmark (issue 10): jiaowei's engine against plain PostgreSQL GROUP BY, at 10M values.

Starts a throwaway PostgreSQL cluster (tests/pgcluster.py), migrates jiaowei's schema into it and
generates, with SQL (``generate_series``) in jiaowei's own tables: a commission, 16 districts and
20,000 schools (``units``, ``unit_versions``, ``unit_paths``), 1 % of the schools moving to the
next district on 1 July 2020 (two versions, two paths each), 50 integer elements with the default
category combo, 10 monthly periods (202001 to 202010), one ``data_imports`` row and 10,000,000
``data_values`` with their ``data_value_history`` rows. Then, in one run, it times

* q5: district × period × element for 5 elements;
* qall: the same for all 50 elements;
* qschools: one district's schools for one element over the 10 periods;

through jiaowei (``cube_for(conn).query(CubeQuery(…))`` on a SQLAlchemy connection, what every
analytics read does: refresh from the change feed, then query), as plain PostgreSQL GROUP BY
queries on jiaowei's tables (joining ``unit_paths`` for the district as of each period's last
day), and on a flat analytics table with the district in each row (DHIS2's way; ``--no-flat``
leaves it out). The first ``cube_for`` fills the cube: its time is reported on its own. Each
query runs once to warm (and its result is checked against PostgreSQL's), then at least 3 and at
most 30 times within ``--budget`` seconds; the table gives median and p95 and the ratio
PostgreSQL median / jiaowei median. Targets: ≥ 10× faster than PostgreSQL, p95 < 100 ms.

Freshness: one value is written as the write path writes it (a new ``data_imports`` row, UPDATE
of ``data_values``, INSERT of ``data_value_history``, one committed transaction), then analytics
is read until it returns the new value (target < 1 s); five times. Memory: this process's RSS
before and after the fill, and what DuckDB itself reports (``duckdb_memory()``).

Run: ``.venv/bin/python benchmarks/analytics.py`` (10M values: 5 to 15 minutes on 2 cores, by
load, most of it generating). ``--scale 0.01`` runs with 1 % of the schools (100,000 values) in well
under a minute. ``--database-url postgresql+psycopg://…`` uses that server instead of a
throwaway cluster: a scratch database is created next to the one named and dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from jiaowei.analytics.engine import cube_for
from jiaowei.analytics.model import CubeQuery, Measure
from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.indicators import periods as pe
from jiaowei.indicators.model import AggregationType

DISTRICTS = 16
SCHOOLS = 20_000
ELEMENTS = 50
PERIODS = 10
FIRST_SCHOOL = DISTRICTS + 2  # ids: 1 the commission, 2..17 the districts, then the schools
MOVE_DAY = dt.date(2020, 7, 1)
START, FOREVER = dt.date(2019, 1, 1), dt.date(9999, 12, 31)
Q5_ELEMENTS = (1, 2, 3, 4, 5)
SCHOOLS_DISTRICT, SCHOOLS_ELEMENT = 5, 7  # qschools: this district's schools, this element
FRESHNESS_RUNS = 5
FRESH_TIMEOUT = 10.0  # seconds before a freshness probe gives up


# ---------------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class Shape:
    schools: int

    @property
    def movers(self) -> int:
        """Schools that move to the next district on 1 July: 1 %, at least one."""
        return max(1, self.schools // 100)

    @property
    def last_school(self) -> int:
        return FIRST_SCHOOL + self.schools - 1

    @property
    def values(self) -> int:
        return self.schools * ELEMENTS * PERIODS


def district_sql(unit: str) -> str:
    """The district id of school id ``unit`` before any move (SQL)."""
    return f"(2 + mod({unit} - {FIRST_SCHOOL}, {DISTRICTS}))"


def generate(engine: Engine, shape: Shape) -> None:
    """Fill jiaowei's tables with the registry, metadata and values, one committed step at a time."""
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        registry(conn, shape, now)
        metadata(conn, now)
    for period in range(1, PERIODS + 1):  # one period per transaction: steady progress, bounded WAL
        t0 = time.perf_counter()
        with engine.begin() as conn:
            values(conn, shape, period)
        print(f"  period {period:>2}: {shape.schools * ELEMENTS:,} values and history rows"
              f" in {time.perf_counter() - t0:.1f} s", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("data_values", "data_value_history", "unit_paths", "unit_versions", "periods"):
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")


def registry(conn: Connection, shape: Shape, now: dt.datetime) -> None:
    last, district, movers = shape.last_school, district_sql("u"), FIRST_SCHOOL + shape.movers
    moved = f"(2 + mod(u - {FIRST_SCHOOL} + 1, {DISTRICTS}))"
    version = ("INSERT INTO unit_versions (unit_id, valid_from, valid_to, parent_id, name_zh, name_en, type,"
               " ownership, sector, attributes) ")
    conn.execute(text("INSERT INTO units (id, code, uid, synthetic, created_at)"
                      " SELECT u, 'B' || lpad(u::text, 6, '0'), 'B' || lpad(u::text, 10, '0'), false, :now"
                      f" FROM generate_series(1, {last}) u"), {"now": now})
    conn.execute(text(version + "VALUES (1, :start, :forever, NULL, '委员会', 'Commission', 'commission',"
                      " 'public', 'education', '{}')"), {"start": START, "forever": FOREVER})
    conn.execute(text(version + "SELECT u, :start, :forever, 1, '区' || u, 'District ' || u,"
                      " 'district_bureau', 'public', 'education', '{}'"
                      f" FROM generate_series(2, {DISTRICTS + 1}) u"), {"start": START, "forever": FOREVER})
    school = ("SELECT u, {frm}, {to}, {parent}, '学校' || u, 'School ' || u, 'primary_school', 'public',"
              " 'education', '{{}}' FROM generate_series({first}, {last}) u")
    conn.execute(text(version + school.format(frm=":start", to=":forever", parent=district,
                                              first=movers, last=last)),
                 {"start": START, "forever": FOREVER})
    conn.execute(text(version + school.format(frm=":start", to=":move", parent=district,
                                              first=FIRST_SCHOOL, last=movers - 1)),
                 {"start": START, "move": MOVE_DAY})
    conn.execute(text(version + school.format(frm=":move", to=":forever", parent=moved,
                                              first=FIRST_SCHOOL, last=movers - 1)),
                 {"move": MOVE_DAY, "forever": FOREVER})
    paths = "INSERT INTO unit_paths (path, valid_from, valid_to, unit_id, depth) "
    conn.execute(text(paths + "VALUES ('/1/', :start, :forever, 1, 1)"), {"start": START, "forever": FOREVER})
    conn.execute(text(paths + "SELECT '/1/' || u || '/', :start, :forever, u, 2"
                      f" FROM generate_series(2, {DISTRICTS + 1}) u"), {"start": START, "forever": FOREVER})
    school_path = ("SELECT '/1/' || {parent} || '/' || u || '/', {frm}, {to}, u, 3"
                   " FROM generate_series({first}, {last}) u")
    conn.execute(text(paths + school_path.format(parent=district, frm=":start", to=":forever",
                                                 first=movers, last=last)),
                 {"start": START, "forever": FOREVER})
    conn.execute(text(paths + school_path.format(parent=district, frm=":start", to=":move",
                                                 first=FIRST_SCHOOL, last=movers - 1)),
                 {"start": START, "move": MOVE_DAY})
    conn.execute(text(paths + school_path.format(parent=moved, frm=":move", to=":forever",
                                                 first=FIRST_SCHOOL, last=movers - 1)),
                 {"move": MOVE_DAY, "forever": FOREVER})


def metadata(conn: Connection, now: dt.datetime) -> None:
    conn.execute(text(
        "INSERT INTO data_elements (id, uid, code, name_zh, name_en, short_name, description, value_type,"
        " aggregation_type, combo_id, zero_is_significant, created_at)"
        " SELECT e, 'bE' || lpad(e::text, 9, '0'), 'BENCH_' || e, '指标' || e, 'Element ' || e, '', '',"
        f" 'INTEGER', 'SUM', 1, false, :now FROM generate_series(1, {ELEMENTS}) e"), {"now": now})
    for number, period in enumerate(monthly_periods(), start=1):
        conn.execute(text("INSERT INTO periods (id, code, type, start_date, end_date)"
                          " VALUES (:id, :code, :type, :start, :end)"),
                     {"id": number, "code": period.id, "type": period.type.value, "start": period.start,
                      "end": period.end})
    conn.execute(text("INSERT INTO data_imports (id, at, actor, source, file_digest, changes_digest, summary)"
                      " VALUES (1, :now, 'benchmark', 'demo', NULL, :digest, '{}')"),
                 {"now": now, "digest": "0" * 64})
    for table, top in (("units", "(SELECT max(id) FROM units)"), ("data_elements", str(ELEMENTS)),
                       ("periods", str(PERIODS)), ("data_imports", "1")):
        conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {top})")


def values(conn: Connection, shape: Shape, period: int) -> None:
    # A bulk load of rows consistent by construction: skip the per-row foreign key triggers (six
    # look-ups per value), as pg_restore does. Needs a superuser, which the throwaway cluster gives.
    conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
    conn.exec_driver_sql(
        "INSERT INTO data_values (period_id, unit_id, data_element_id, coc_id, aoc_id, value, stored_by,"
        " comment, followup, synthetic, import_id)"
        f" SELECT {period}, u, e, 1, 1, mod(u * e + {period}, 97)::text, NULL, NULL, false, false, 1"
        f" FROM generate_series({FIRST_SCHOOL}, {shape.last_school}) u, generate_series(1, {ELEMENTS}) e")
    conn.exec_driver_sql(
        "INSERT INTO data_value_history (period_id, unit_id, data_element_id, coc_id, aoc_id, import_id,"
        " change, value_before, value_after, comment, followup)"
        " SELECT period_id, unit_id, data_element_id, coc_id, aoc_id, import_id, 'CREATE', NULL, value,"
        f" comment, followup FROM data_values WHERE period_id = {period}")


def monthly_periods() -> list[pe.Period]:
    return [pe.parse(f"2020{month:02d}") for month in range(1, PERIODS + 1)]


def flat_table(engine: Engine) -> None:
    """DHIS2's way: a flat analytics table with the district as of the period in each row, indexed."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE UNLOGGED TABLE bench_analytics_flat AS SELECT dv.period_id, dv.unit_id,"
            " dv.data_element_id, split_part(up.path, '/', 3)::int AS district_id,"
            " dv.value::double precision AS value FROM data_values dv"
            " JOIN periods p ON p.id = dv.period_id JOIN unit_paths up ON up.unit_id = dv.unit_id"
            " AND up.valid_from <= p.end_date AND up.valid_to > p.end_date")
        conn.exec_driver_sql("CREATE INDEX ON bench_analytics_flat (data_element_id, period_id)")
        conn.exec_driver_sql("CREATE INDEX ON bench_analytics_flat (district_id, data_element_id)")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE bench_analytics_flat")


# ---------------------------------------------------------------------------------- the queries

AS_OF_PERIOD = ("FROM data_values dv JOIN periods p ON p.id = dv.period_id"
                " JOIN unit_paths up ON up.unit_id = dv.unit_id"
                " AND up.valid_from <= p.end_date AND up.valid_to > p.end_date")
PERIOD_IDS = ", ".join(str(p) for p in range(1, PERIODS + 1))


def postgres_sql(name: str) -> str:
    """The plain GROUP BY on jiaowei's tables: the district as of each period's last day."""
    if name == "qschools":
        top = f"/1/{SCHOOLS_DISTRICT}/"
        return (f"SELECT dv.unit_id, dv.period_id, SUM(dv.value::double precision) {AS_OF_PERIOD}"
                f" WHERE up.path >= '{top}' AND up.path < '{top[:-1]}0' AND up.depth = 3"
                f" AND dv.data_element_id = {SCHOOLS_ELEMENT} AND dv.period_id IN ({PERIOD_IDS})"
                " GROUP BY 1, 2")
    where = f"dv.data_element_id IN ({', '.join(map(str, Q5_ELEMENTS))}) AND " if name == "q5" else ""
    return (f"SELECT split_part(up.path, '/', 3)::int, dv.period_id, dv.data_element_id,"
            f" SUM(dv.value::double precision) {AS_OF_PERIOD}"
            f" WHERE {where}dv.period_id IN ({PERIOD_IDS}) GROUP BY 1, 2, 3")


def flat_sql(name: str) -> str:
    if name == "qschools":
        return ("SELECT unit_id, period_id, SUM(value) FROM bench_analytics_flat"
                f" WHERE district_id = {SCHOOLS_DISTRICT} AND data_element_id = {SCHOOLS_ELEMENT}"
                f" AND period_id IN ({PERIOD_IDS}) GROUP BY 1, 2")
    where = f"data_element_id IN ({', '.join(map(str, Q5_ELEMENTS))}) AND " if name == "q5" else ""
    return ("SELECT district_id, period_id, data_element_id, SUM(value) FROM bench_analytics_flat"
            f" WHERE {where}period_id IN ({PERIOD_IDS}) GROUP BY 1, 2, 3")


def cube_query(name: str) -> CubeQuery:
    """The same question to jiaowei's engine."""
    months = tuple(monthly_periods())
    if name == "qschools":
        return CubeQuery(measures=(Measure(SCHOOLS_ELEMENT, None, AggregationType.SUM),), periods=months,
                         level=3, under=(SCHOOLS_DISTRICT,))
    elements = Q5_ELEMENTS if name == "q5" else tuple(range(1, ELEMENTS + 1))
    return CubeQuery(measures=tuple(Measure(e, None, AggregationType.SUM) for e in elements),
                     periods=months, level=2)


QUERIES = ("q5", "qall", "qschools")
PERIOD_NUMBER = {p.id: number for number, p in enumerate(monthly_periods(), start=1)}


def cells_as_rows(name: str, cells: Sequence[Any]) -> set[tuple[Any, ...]]:
    """jiaowei's cells in the shape of the SQL rows (period ids as numbers, values rounded)."""
    if name == "qschools":
        return {(c.unit_id, PERIOD_NUMBER[c.period], round(c.value, 6)) for c in cells}
    return {(c.unit_id, PERIOD_NUMBER[c.period], c.element_id, round(c.value, 6)) for c in cells}


def rows_rounded(rows: Sequence[Any]) -> set[tuple[Any, ...]]:
    return {(*r[:-1], round(float(r[-1]), 6)) for r in rows}


# ---------------------------------------------------------------------------------- measuring


def rss_mb() -> float:
    """This process's resident set size in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(run: Callable[[], Any], budget: float, least: int = 3, most: int = 30) -> list[float]:
    """Milliseconds of ``least`` to ``most`` runs within ``budget`` seconds (after one warm run)."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < most and (len(times) < least or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def p95(times: Sequence[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def jiaowei_read(engine: Engine, query: CubeQuery) -> list[Any]:
    """One analytics read as a request makes it: a connection, the cube refreshed, the query."""
    with engine.connect() as conn:
        return list(cube_for(conn).query(query))


def sql_read(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.exec_driver_sql(sql).all())


def duckdb_figure(engine: Engine) -> str:
    """What DuckDB itself reports for the cube: its buffer manager's memory, its file's size."""
    with engine.connect() as conn:
        cube = cube_for(conn).cube
    duck = cube.cursor()
    used = duck.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()
    size = duck.execute("SELECT database_size, memory_usage, memory_limit FROM pragma_database_size()"
                        " WHERE database_name = current_database()").fetchone()
    on_disk = cube.path.stat().st_size / 2**20 if cube.path.exists() else float("nan")
    rows = cube.row_count()
    return (f"{rows:,} rows; duckdb_memory() {float((used or [0])[0] or 0) / 2**20:.0f} MiB;"
            f" pragma_database_size: size {size[0] if size else '?'}, memory {size[1] if size else '?'},"
            f" limit {size[2] if size else '?'}; file {on_disk:.0f} MiB")


def freshness(engine: Engine, shape: Shape, run: int) -> float:
    """Write one value as the write path does, then read analytics until it shows; seconds."""
    unit = FIRST_SCHOOL + (run * 7919) % shape.schools
    element, period = 1 + run % ELEMENTS, 1 + run % PERIODS
    key = {"p": period, "u": unit, "e": element}
    query = CubeQuery(measures=(Measure(element, None, AggregationType.SUM),),
                      periods=(monthly_periods()[period - 1],), units=(unit,))
    with engine.begin() as conn:
        before = conn.execute(text("SELECT value FROM data_values WHERE period_id = :p AND unit_id = :u"
                                   " AND data_element_id = :e AND coc_id = 1 AND aoc_id = 1"),
                              key).scalar_one()
        after = str(int(before) + 1000 + run)
        import_id = conn.execute(text(
            "INSERT INTO data_imports (at, actor, source, file_digest, changes_digest, summary)"
            " VALUES (:at, 'benchmark', 'form', NULL, :digest, '{}') RETURNING id"),
            {"at": dt.datetime.now(dt.UTC), "digest": "1" * 64}).scalar_one()
        conn.execute(text("UPDATE data_values SET value = :v, import_id = :i WHERE period_id = :p"
                          " AND unit_id = :u AND data_element_id = :e AND coc_id = 1 AND aoc_id = 1"),
                     {**key, "v": after, "i": import_id})
        conn.execute(text("INSERT INTO data_value_history (period_id, unit_id, data_element_id, coc_id,"
                          " aoc_id, import_id, change, value_before, value_after, comment, followup)"
                          " VALUES (:p, :u, :e, 1, 1, :i, 'UPDATE', :b, :v, NULL, false)"),
                     {**key, "i": import_id, "b": before, "v": after})
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < FRESH_TIMEOUT:
        cells = jiaowei_read(engine, query)
        if any(c.value == float(after) for c in cells):
            return time.perf_counter() - t0
    return float("inf")


# ---------------------------------------------------------------------------------- the run


@contextmanager
def database(url: str | None) -> Iterator[Engine]:
    """A scratch database on ``url``'s server, or on a throwaway cluster; dropped afterwards."""
    stop: Callable[[], None] = lambda: None  # noqa: E731
    if url is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.pgcluster import start_cluster

        cluster = start_cluster()
        url, stop = cluster.url, cluster.stop
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    scratch = f"jiaowei_analytics_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{scratch}"')
        engine = make_engine(make_url(url).set(database=scratch).render_as_string(hide_password=False))
        try:
            yield engine
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    finally:
        admin.dispose()
        stop()


def run(engine: Engine, shape: Shape, budget: float, flat: bool) -> dict[str, Any]:
    print(f"{shape.values:,} values: {shape.schools:,} schools ({shape.movers:,} move district on"
          f" {MOVE_DAY}) under {DISTRICTS} districts, {ELEMENTS} elements, {PERIODS} months", flush=True)
    t0 = time.perf_counter()
    upgrade(engine)
    generate(engine, shape)
    print(f"generated in {time.perf_counter() - t0:.1f} s", flush=True)
    if flat:
        t0 = time.perf_counter()
        flat_table(engine)
        print(f"flat analytics table (PostgreSQL, DHIS2's way) built in {time.perf_counter() - t0:.1f} s")
    figures: dict[str, Any] = {"rss_before": rss_mb(), "load": [os.getloadavg()[0]]}
    t0 = time.perf_counter()
    with engine.connect() as conn:
        cube_for(conn)
    figures["fill_s"] = time.perf_counter() - t0
    figures["rss_filled"] = rss_mb()
    print(f"cube filled in {figures['fill_s']:.1f} s", flush=True)
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SHOW server_version").scalar()
    results: dict[str, dict[str, list[float]]] = {"jiaowei": {}, "query": {}, "columns": {}, "postgres": {},
                                                  "flat": {}}
    checks: dict[str, bool] = {}
    for name in QUERIES:
        query, sql = cube_query(name), postgres_sql(name)
        cells = jiaowei_read(engine, query)  # the warm run, checked against PostgreSQL's answer
        reference = sql_read(engine, sql)
        checks[name] = cells_as_rows(name, cells) == rows_rounded(reference) and len(cells) == len(reference)
        results["jiaowei"][name] = timed(partial(jiaowei_read, engine, query), budget)
        with engine.connect() as conn:
            bound = cube_for(conn)
            results["query"][name] = timed(partial(bound.query, query), budget)
            results["columns"][name] = timed(partial(bound.query_columns, query), budget)
        results["postgres"][name] = timed(partial(sql_read, engine, sql), budget)
        if flat:
            sql_read(engine, flat_sql(name))
            results["flat"][name] = timed(partial(sql_read, engine, flat_sql(name)), budget)
        print(f"  {name}: {len(cells):,} cells, equal to PostgreSQL's: {checks[name]}", flush=True)
    figures["refresh"] = timed(lambda: jiaowei_read(engine, CubeQuery(measures=(), periods=())), budget / 2)
    figures["rss_queried"] = rss_mb()
    figures["load"].append(os.getloadavg()[0])
    figures["duckdb"] = duckdb_figure(engine)
    figures["fresh"] = [freshness(engine, shape, i) for i in range(FRESHNESS_RUNS)]
    figures.update(results=results, checks=checks, version=version)
    return figures


def report(figures: dict[str, Any], shape: Shape) -> None:
    results = figures["results"]
    print(f"\n{shape.values:,} values, PostgreSQL {figures['version']}; ms, median and p95"
          " (ratio: PostgreSQL median / jiaowei median)")
    print("load average while timing (this machine's 1-minute figure, before and after): "
          + " → ".join(f"{x:.1f}" for x in figures["load"]))
    header = (f"{'query':<9} {'jiaowei':>8} {'p95':>7} {'query':>7} {'p95':>7} {'postgres':>9} {'p95':>7}"
              f" {'ratio':>7}"
              f" {'pg flat':>8} {'p95':>7} {'ratio':>7} {'runs':>9} {'same':>5}")
    print(header)
    print("-" * len(header))
    for name in QUERIES:
        ours, base = results["jiaowei"][name], results["postgres"][name]
        flat = results["flat"].get(name)
        median = statistics.median(ours)
        alone = results["query"][name]
        line = (f"{name:<9} {median:>8.1f} {p95(ours):>7.1f} {statistics.median(alone):>7.1f}"
                f" {p95(alone):>7.1f}"
                f" {statistics.median(base):>9.1f}"
                f" {p95(base):>7.1f} {statistics.median(base) / median:>6.1f}x")
        if flat:
            line += (f" {statistics.median(flat):>8.1f} {p95(flat):>7.1f}"
                     f" {statistics.median(flat) / median:>6.1f}x")
        else:
            line += f" {'-':>8} {'-':>7} {'-':>7}"
        runs = f"{len(ours)}/{len(base)}" + (f"/{len(flat)}" if flat else "")
        print(line + f" {runs:>9} {'yes' if figures['checks'][name] else 'NO':>5}")
    fresh = figures["fresh"]
    print("(jiaowei: a read as a request makes it, cube_for(conn).query(q): the refresh check, then the"
          " query; query: the query alone on a refreshed cube)")
    print("the same cells as column arrays (query_columns, no Python object per cell):")
    for name in QUERIES:
        columns, base = results["columns"][name], results["postgres"][name]
        print(f"  {name:<9} median {statistics.median(columns):>6.1f} ms, p95 {p95(columns):>6.1f} ms,"
              f" {statistics.median(base) / statistics.median(columns):>6.1f}x PostgreSQL")
    print(f"\ncube fill (first cube_for): {figures['fill_s']:.1f} s; refresh check with nothing changed:"
          f" median {statistics.median(figures['refresh']):.1f} ms, p95 {p95(figures['refresh']):.1f} ms")
    print(f"freshness (write committed → analytics returns it), {len(fresh)} writes: median"
          f" {statistics.median(fresh) * 1000:.0f} ms, max {max(fresh) * 1000:.0f} ms (target < 1 s)")
    print(f"process RSS: {figures['rss_before']:.0f} MiB before the fill, {figures['rss_filled']:.0f} MiB"
          f" after it (+{figures['rss_filled'] - figures['rss_before']:.0f} MiB),"
          f" {figures['rss_queried']:.0f} MiB after the queries")
    print(f"DuckDB: {figures['duckdb']}")
    for label, key in (("a read with Python cells", "jiaowei"), ("the engine's columns", "columns")):
        slow = [n for n in QUERIES if p95(results[key][n]) >= 100
                or statistics.median(results["postgres"][n]) / statistics.median(results[key][n]) < 10]
        print(f"targets (p95 < 100 ms, ≥ 10× PostgreSQL, fresh < 1 s), {label}: "
              + ("met" if not slow and max(fresh) < 1 else f"NOT met by {', '.join(slow) or 'freshness'}"))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 20,000 schools (default 1)")
    parser.add_argument("--budget", type=float, default=10.0,
                        help="seconds of timed runs per query and engine (default 10)")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server (postgresql+psycopg://…) instead of a throwaway cluster")
    parser.add_argument("--no-flat", action="store_true", help="leave out the flat analytics table")
    args = parser.parse_args(argv)
    shape = Shape(schools=max(DISTRICTS, round(SCHOOLS * args.scale)))
    with database(args.database_url) as engine:
        figures = run(engine, shape, args.budget, flat=not args.no_flat)
    report(figures, shape)
    return figures


if __name__ == "__main__":
    main()
