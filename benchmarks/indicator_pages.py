"""Indicator pages benchmark (issue 10): the indicator page and ``/api/indicatorValues`` at the demo's
size and at 10× its units and values.

Builds the Shanghai 2020 demo (``jiaowei demo``) in a fresh SQLite home in a temporary folder, copies
it, and in the copy multiplies units and values by ``--factor`` (default 10) with SQL: every leaf
unit (a unit that is nobody's parent: kindergartens, schools, childcare points, …) gets
``factor - 1`` synthetic clones under the same parents on the same dates (``units``,
``unit_versions``, ``unit_paths``, data set and group memberships), each with a copy of its data
values, written as the write path writes them (one new ``data_imports`` row, ``data_values`` and
their ``data_value_history`` CREATE rows). The clones bypass the audit chain: fine for timing,
not for ``jiaowei audit verify``.

Then, in each home, an app in this process (FastAPI's TestClient, an API token of the demo's
administrator) answers, for the 普惠 coverage indicator (``KG_INCLUSIVE_COVERAGE``) and 2020:

* ``GET /indicators/<code>?ou=310000&pe=2020``: the city with its children;
* the same for 浦东 (``ou=310115``) with its 516 children (5,160 at 10×);
* ``GET /api/indicatorValues?indicator=<code>&ou=…&pe=2020`` for both;
* ``GET /api/indicatorValues?ou=310000&pe=2020``: every indicator at the city.

The first request of each is timed on its own (it may fill a cache), then ``--runs`` more (default
20; only 3 once a request has taken ``--budget`` seconds): median and p95 in ms, both sizes side by
side. Target (issue 10): p95 ≤ 200 ms at both sizes.
Run: ``.venv/bin/python benchmarks/indicator_pages.py [--factor 10] [--runs 20] [--budget 30]``
(building both databases takes seconds; the whole run about a minute).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from common import admin_token, build_demo, p95  # benchmarks/common.py
from fastapi.testclient import TestClient

from jiaowei.settings import Settings
from jiaowei.web.app import create_app

INDICATOR = "KG_INCLUSIVE_COVERAGE"
CITY, PUDONG, YEAR = "310000", "310115", "2020"
REQUESTS = (
    ("page, city", f"/indicators/{INDICATOR}?ou={CITY}&pe={YEAR}"),
    ("page, Pudong", f"/indicators/{INDICATOR}?ou={PUDONG}&pe={YEAR}"),
    ("api, city", f"/api/indicatorValues?indicator={INDICATOR}&ou={CITY}&pe={YEAR}"),
    ("api, Pudong", f"/api/indicatorValues?indicator={INDICATOR}&ou={PUDONG}&pe={YEAR}"),
    ("api, city, all", f"/api/indicatorValues?ou={CITY}&pe={YEAR}"),
)
TARGET_MS = 200.0
DATABASE = "jiaowei.sqlite3"


def multiply(path: Path, factor: int) -> tuple[int, int]:
    """Give every leaf unit ``factor - 1`` clones with its values; returns (units, values) after."""
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TEMP TABLE leaves AS SELECT id FROM units WHERE id NOT IN"
                   " (SELECT parent_id FROM unit_versions WHERE parent_id IS NOT NULL)"
                   " AND id IN (SELECT unit_id FROM unit_versions WHERE parent_id IS NOT NULL)")
        offset = 10 ** len(str(db.execute("SELECT max(id) FROM units").fetchone()[0]))
        import_id = db.execute(
            "INSERT INTO data_imports (at, actor, source, file_digest, changes_digest, summary)"
            " VALUES (strftime('%Y-%m-%d %H:%M:%f', 'now'), 'benchmark', 'demo', NULL, ?, '{}')",
            ("0" * 64,)).lastrowid
        for k in range(1, factor):
            shift = k * offset
            db.execute("INSERT INTO units (id, code, uid, synthetic, created_at) SELECT id + ?,"
                       " code || '-X' || ?, printf('X%010d', id + ?), 1, created_at FROM units"
                       " WHERE id IN (SELECT id FROM leaves)", (shift, k, shift))
            db.execute("INSERT INTO unit_versions (unit_id, valid_from, valid_to, parent_id, name_zh,"
                       " name_en, type, ownership, sector, attributes) SELECT unit_id + ?, valid_from,"
                       " valid_to, parent_id, name_zh || '·' || ?, name_en || ' #' || ?, type, ownership,"
                       " sector, attributes FROM unit_versions WHERE unit_id IN (SELECT id FROM leaves)",
                       (shift, k, k))
            db.execute("INSERT INTO unit_paths (path, valid_from, valid_to, unit_id, depth)"
                       " SELECT substr(path, 1, length(path) - length(unit_id) - 1) || (unit_id + ?) || '/',"
                       " valid_from, valid_to, unit_id + ?, depth FROM unit_paths"
                       " WHERE unit_id IN (SELECT id FROM leaves)", (shift, shift))
            for table, key in (("data_set_units", "data_set_id"), ("unit_group_members", "group_id")):
                db.execute(f"INSERT INTO {table} ({key}, unit_id) SELECT {key}, unit_id + ? FROM {table}"
                           " WHERE unit_id IN (SELECT id FROM leaves)", (shift,))
            db.execute("INSERT INTO data_values (period_id, unit_id, data_element_id, coc_id, aoc_id, value,"
                       " stored_by, comment, followup, synthetic, import_id) SELECT period_id, unit_id + ?,"
                       " data_element_id, coc_id, aoc_id, value, stored_by, comment, followup, 1, ?"
                       " FROM data_values WHERE unit_id IN (SELECT id FROM leaves)", (shift, import_id))
        db.execute("INSERT INTO data_value_history (period_id, unit_id, data_element_id, coc_id, aoc_id,"
                   " import_id, change, value_before, value_after, comment, followup) SELECT period_id,"
                   " unit_id, data_element_id, coc_id, aoc_id, import_id, 'CREATE', NULL, value, comment,"
                   " followup FROM data_values WHERE import_id = ?", (import_id,))
    units = db.execute("SELECT count(*) FROM units").fetchone()[0]
    values = db.execute("SELECT count(*) FROM data_values").fetchone()[0]
    db.close()
    return units, values


def counts(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as db:
        return (db.execute("SELECT count(*) FROM units").fetchone()[0],
                db.execute("SELECT count(*) FROM data_values").fetchone()[0])


def measure(name: str, home: Path, runs: int, budget: float) -> dict[str, tuple[float, list[float]]]:
    """For each request: the first answer's ms, then ``runs`` more (at least 3 once past ``budget`` s)."""
    bearer = admin_token(f"sqlite:///{home / DATABASE}", "indicator pages benchmark")
    settings = Settings(home=home, secret_key="benchmark-" + "x" * 32)
    app = create_app(settings)
    gc.collect()
    gc.freeze()  # as `jiaowei serve` does once the app is built
    out: dict[str, tuple[float, list[float]]] = {}
    with TestClient(app) as client:
        client.headers["authorization"] = f"Bearer {bearer}"
        for label, url in REQUESTS:
            times: list[float] = []
            start = time.perf_counter()
            while len(times) < max(runs, 1) + 1 and (len(times) < 4 or time.perf_counter() - start < budget):
                t0 = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
            out[label] = (times[0], times[1:])
            print(f"  {name}, {label}: first {times[0]:.0f} ms, median {statistics.median(times[1:]):.0f} ms"
                  f" of {len(times) - 1}", flush=True)
    app.state.db.engine.dispose()
    return out


def report(sizes: list[tuple[str, tuple[int, int], dict[str, tuple[float, list[float]]]]]) -> None:
    print("\nms; first request, then median and p95 of the rest (target p95 ≤ 200 ms);"
          f" load average now {os.getloadavg()[0]:.1f}")
    header = f"{'request':<16}" + "".join(
        f" | {name + f' ({units:,} units, {values:,} values)':^40}" for name, (units, values), _ in sizes)
    print(header)
    print(f"{'':<16}" + "".join(f" | {'first':>12} {'median':>12} {'p95':>12}" for _ in sizes))
    print("-" * len(header))
    worst = 0.0
    for label, _url in REQUESTS:
        line = f"{label:<16}"
        for _name, _counts, figures in sizes:
            first, rest = figures[label]
            worst = max(worst, p95(rest))
            line += f" | {first:>12.1f} {statistics.median(rest):>12.1f} {p95(rest):>12.1f}"
        print(line)
    verdict = "met" if worst <= TARGET_MS else f"NOT met (worst p95 {worst:.0f} ms)"
    print(f"target p95 ≤ {TARGET_MS:.0f} ms: {verdict}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factor", type=int, default=10,
                        help="multiply units and values by this (default 10)")
    parser.add_argument("--runs", type=int, default=20, help="timed requests after the first (default 20)")
    parser.add_argument("--budget", type=float, default=30.0,
                        help="seconds per request after which 3 runs suffice (default 30)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="jiaowei-indicator-pages-") as tmp:
        small, large = Path(tmp, "demo"), Path(tmp, f"demo-x{args.factor}")
        t0 = time.perf_counter()
        build_demo(small)
        shutil.copytree(small, large)
        grown = multiply(large / DATABASE, args.factor)
        print(f"built the demo and its ×{args.factor} copy in {time.perf_counter() - t0:.1f} s", flush=True)
        sizes = []
        for name, home, size in (("demo", small, counts(small / DATABASE)),
                                 (f"×{args.factor}", large, grown)):
            sizes.append((name, size, measure(name, home, args.runs, args.budget)))
    report(sizes)


if __name__ == "__main__":
    main()
