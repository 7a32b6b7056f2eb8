"""Data value import benchmark: 1,000,000 values from a DHIS2 dataValueSets JSON file.

Builds a fresh SQLite database (commission → 16 districts → 5,000 primary schools), a data set
of 20 integer elements disaggregated by sex × grade (10 option combos: 200 cells a school),
writes a dataValueSets JSON of 5,000 × 200 = 1,000,000 values, then measures in one run:

* the import through ``exchange.import_file`` (parse, check every row: element, option combo,
  period, unit open in the period, scope, data set assignment, locks, value type; then write the
  values, their history and the audit entry) and the commit; target: at most 20 s;
* the same file imported again (every value equal: all ignored, nothing written);
* the baseline: ``json.loads`` of the same file plus a bare ``executemany`` INSERT of the same
  tuples into a table of the same shape (what any importer must at least pay).

It prints the times, the rate, the ratios against the target and the baseline, and the peak
resident memory of the process. Then the many-period case: one integer element reported daily by
``--units`` schools over ``--days`` days (default 275 × 738 = 202,950 values, the size of ten years
of the demo's daily health data), imported once; target: at least 60,000 values/s whatever the
spread of periods. Every import goes through ``exchange.import_path``, the path ``jiaowei data
import FILE`` takes (a file of 32 MB or more streams in batches).

``--ten-million`` adds the streaming case (a few minutes): 50,000 schools × 200 cells written as a
10,000,000-value dataValueSets JSON (about 1 GB; ``--csv``: CSV; ``--dxf2``: DXF2 XML; ``--adx``: ADX,
a ``<group>`` per school, each value's option combo as its SEX and GRADE attributes), imported in a
child process so that only the import counts in its peak resident memory; target: under 300 MB.
Run: ``.venv/bin/python benchmarks/import.py [--schools N] [--units N] [--days N]
[--ten-million [--csv | --dxf2 | --adx]]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import Database, make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.values import exchange
from jiaowei.registry import service as registry

TARGET_S = 20.0
ELEMENTS = 20
PERIOD = "2025"
TARGET_RATE = 60_000
TARGET_MB = 300
TEN_MILLION_SCHOOLS = 50_000
FIRST_DAY = dt.date(2023, 1, 1)


def peak_mb() -> float:
    """The process's peak resident memory: Linux's ``VmHWM``, which belongs to the process's own
    memory map (``ru_maxrss`` keeps, across the exec of a child, the size of the parent it was
    forked from); elsewhere ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_registry(db: Database, schools: int) -> list[str]:
    specs = [
        registry.UnitSpec(
            code="SH", name_zh="市教委", name_en="Commission", type="commission", opened=dt.date(2000, 1, 1)
        )
    ]
    specs += [
        registry.UnitSpec(
            code=f"D{d:02d}",
            name_zh=f"区{d}",
            name_en=f"District {d}",
            type="district_bureau",
            parent="SH",
            opened=dt.date(2000, 1, 1),
        )
        for d in range(16)
    ]
    codes = [f"S{s:05d}" for s in range(schools)]
    specs += [
        registry.UnitSpec(
            code=c,
            name_zh=f"学校{c}",
            name_en=f"School {c}",
            type="primary_school",
            parent=f"D{i % 16:02d}",
            opened=dt.date(2000, 1, 1),
        )
        for i, c in enumerate(codes)
    ]
    with db.transaction() as conn:
        registry.import_new_units(conn, principal=SYSTEM, specs=specs, rows=[None] * len(specs))
    return codes


def build_metadata(db: Database) -> list[tuple[str, str]]:
    with db.transaction() as conn:
        metadata.save_category(
            conn,
            principal=SYSTEM,
            code="SEX",
            name_zh="性别",
            name_en="Sex",
            options=[
                {"code": "M", "name_zh": "男", "name_en": "Male"},
                {"code": "F", "name_zh": "女", "name_en": "Female"},
            ],
        )
        metadata.save_category(
            conn,
            principal=SYSTEM,
            code="GRADE",
            name_zh="年级",
            name_en="Grade",
            options=[{"code": f"G{g}", "name_zh": f"{g}年级", "name_en": f"Grade {g}"} for g in range(1, 6)],
        )
        metadata.save_category_combo(
            conn,
            principal=SYSTEM,
            code="SEX_GRADE",
            name_zh="性别年级",
            name_en="Sex and grade",
            categories=["SEX", "GRADE"],
        )
        elements = [f"E{e:02d}" for e in range(ELEMENTS)]
        for code in elements:
            metadata.save_data_element(
                conn, principal=SYSTEM, code=code, name_zh=code, name_en=code, category_combo="SEX_GRADE"
            )
        metadata.save_data_set(
            conn,
            principal=SYSTEM,
            code="BENCH",
            name_zh="基准",
            name_en="Benchmark",
            period_type="Yearly",
            elements=elements,
            unit_types=["primary_school"],
        )
    combos = [f"{s}_G{g}" for s in ("M", "F") for g in range(1, 6)]
    return [(e, c) for e in elements for c in combos]


def build_file(path: Path, schools: list[str], cells: list[tuple[str, str]]) -> int:
    values = [
        {
            "dataElement": de,
            "period": PERIOD,
            "orgUnit": ou,
            "categoryOptionCombo": co,
            "value": str((i * 7 + j) % 500),
        }
        for i, ou in enumerate(schools)
        for j, (de, co) in enumerate(cells)
    ]
    path.write_text(json.dumps({"dataSet": "BENCH", "dataValues": values}))
    return len(values)


def build_daily(db: Database, schools: list[str], days: int) -> bytes:
    """A Daily data set of one element, and a file of its values at each school on each day."""
    with db.transaction() as conn:
        metadata.save_data_element(conn, principal=SYSTEM, code="CASES", name_zh="病例", name_en="Cases")
        metadata.save_data_set(
            conn,
            principal=SYSTEM,
            code="DAILY",
            name_zh="每日",
            name_en="Daily",
            period_type="Daily",
            elements=["CASES"],
            unit_types=["primary_school"],
        )
    periods = [(FIRST_DAY + dt.timedelta(days=d)).strftime("%Y%m%d") for d in range(days)]
    values = [
        {"dataElement": "CASES", "period": p, "orgUnit": ou, "value": str((i * 7 + j) % 50)}
        for i, ou in enumerate(schools)
        for j, p in enumerate(periods)
    ]
    return json.dumps({"dataSet": "DAILY", "dataValues": values}).encode()


def timed_import(db: Database, path: Path) -> tuple[float, dict[str, int]]:
    start = time.perf_counter()
    with db.transaction() as conn:
        summary = exchange.import_path(conn, principal=SYSTEM, path=path)
    elapsed = time.perf_counter() - start
    if summary.conflicts:
        sys.exit(f"the benchmark file has conflicts: {summary.conflicts[:3]}")
    counts = summary.as_dict()["importCount"]
    return elapsed, counts


def baseline(data: bytes, folder: Path) -> float:
    start = time.perf_counter()
    rows = [
        (r["period"], r["orgUnit"], r["dataElement"], r["categoryOptionCombo"], r["value"])
        for r in json.loads(data)["dataValues"]
    ]
    db = sqlite3.connect(folder / "baseline.sqlite3")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE v (pe TEXT, ou TEXT, de TEXT, co TEXT, value TEXT, "
        "PRIMARY KEY (pe, ou, de, co)) WITHOUT ROWID"
    )
    with db:
        db.executemany("INSERT INTO v VALUES (?, ?, ?, ?, ?)", rows)
    db.close()
    return time.perf_counter() - start


_BIG_HEAD = {"csv": "dataelement,period,orgunit,catoptcombo,attroptcombo,value\n",
             "adx": '<?xml version="1.0" encoding="UTF-8"?>\n<adx xmlns="urn:ihe:qrph:adx:2015" '
                    'exported="2025-01-01T00:00:00Z">\n',
             "json": '{"dataSet":"BENCH","dataValues":[\n',
             "dxf2": '<?xml version="1.0" encoding="UTF-8"?>\n'
                     '<dataValueSet xmlns="http://dhis2.org/schema/dxf/2.0" dataSet="BENCH">\n'}
_BIG_TAIL = {"csv": "", "json": "]}\n", "dxf2": "</dataValueSet>\n", "adx": "</adx>\n"}
_ADX_PERIOD = f"{PERIOD}-01-01/P1Y"



def write_big_file(path: Path, schools: list[str], cells: list[tuple[str, str]], kind: str) -> int:
    """The 10M file, written as it goes (the list of its values would not fit the budget either)."""
    n = 0
    with path.open("w") as out:
        out.write(_BIG_HEAD[kind])
        for i, ou in enumerate(schools):
            if kind == "csv":
                lines = [f"{de},{PERIOD},{ou},{co},,{(i * 7 + j) % 500}\n"
                         for j, (de, co) in enumerate(cells)]
            elif kind == "adx":
                lines = [f'<group orgUnit="{ou}" period="{_ADX_PERIOD}" dataSet="BENCH">\n']
                lines += [f'<dataValue dataElement="{de}" SEX="{co[0]}" GRADE="{co[2:]}" '
                          f'value="{(i * 7 + j) % 500}"/>\n' for j, (de, co) in enumerate(cells)]
                lines.append("</group>\n")
                n -= 2  # the group's own lines
            elif kind == "dxf2":
                lines = [f'<dataValue dataElement="{de}" period="{PERIOD}" orgUnit="{ou}" '
                         f'categoryOptionCombo="{co}" value="{(i * 7 + j) % 500}"/>\n'
                         for j, (de, co) in enumerate(cells)]
            else:
                lines = [('' if n == 0 and j == 0 else ',') + f'{{"dataElement":"{de}","period":"{PERIOD}",'
                         f'"orgUnit":"{ou}","categoryOptionCombo":"{co}","value":"{(i * 7 + j) % 500}"}}\n'
                         for j, (de, co) in enumerate(cells)]
            out.write("".join(lines))
            n += len(lines)
        out.write(_BIG_TAIL[kind])
    return n


def measure(url: str, path: Path) -> None:
    """The child process of the 10M case: import ``path`` and print seconds, counts and peak RSS."""
    db = Database(make_engine(url))
    seconds, counts = timed_import(db, path)
    print(json.dumps({"seconds": seconds, "counts": counts, "peak_mb": peak_mb()}))


def ten_million(kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'ten.sqlite3'}"
        db = Database(make_engine(url))
        upgrade(db.engine)
        schools = build_registry(db, TEN_MILLION_SCHOOLS)
        cells = build_metadata(db)
        path = folder / f"values.{'xml' if kind == 'dxf2' else 'adx.xml' if kind == 'adx' else kind}"
        n = write_big_file(path, schools, cells, kind)
        db.engine.dispose()
        print(f"{n:,} values, {path.stat().st_size / 1e6:,.0f} MB of dataValueSets {kind.upper()}")
        child = subprocess.run([sys.executable, __file__, "--measure", url, str(path)], check=True,
                               capture_output=True, text=True)
        result = json.loads(child.stdout.strip().splitlines()[-1])
    seconds, peak = result["seconds"], result["peak_mb"]
    print(f"{'10M import (streamed)':34}{seconds:9.2f}{n / seconds:12,.0f}   counts: {result['counts']}")
    print(f"peak resident memory of the import: {peak:,.0f} MB")
    print(f"target: peak resident memory < {TARGET_MB} MB → {'met' if peak < TARGET_MB else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=5_000, help="schools × 200 values (default 5,000: 1M)")
    parser.add_argument("--units", type=int, default=275, help="schools in the many-period case (275)")
    parser.add_argument("--days", type=int, default=738, help="daily periods in the many-period case (738)")
    parser.add_argument("--ten-million", action="store_true", help="add the 10M streaming case (minutes)")
    parser.add_argument("--csv", action="store_true", help="the 10M case as CSV rather than JSON")
    parser.add_argument("--dxf2", action="store_true", help="the 10M case as DXF2 XML rather than JSON")
    parser.add_argument("--adx", action="store_true", help="the 10M case as ADX rather than JSON")
    parser.add_argument("--measure", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure[0], Path(args.measure[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = Database(make_engine(f"sqlite:///{folder / 'bench.sqlite3'}"))
        upgrade(db.engine)
        schools = build_registry(db, args.schools)
        cells = build_metadata(db)
        n = build_file(folder / "values.json", schools, cells)
        data = (folder / "values.json").read_bytes()
        print(f"{n:,} values, {len(data) / 1e6:.0f} MB of dataValueSets JSON, {len(schools):,} schools")
        before = peak_mb()
        first, counts = timed_import(db, folder / "values.json")
        after_first = peak_mb()
        again, counts_again = timed_import(db, folder / "values.json")
        base = baseline(data, folder)
        (folder / "daily.json").write_bytes(build_daily(db, schools[: args.units], args.days))
        many, _ = timed_import(db, folder / "daily.json")
        n_many = min(args.units, len(schools)) * args.days
    print(f"{'':34}{'seconds':>9}{'values/s':>12}{'vs target':>11}{'vs baseline':>13}")
    for label, seconds in (
        ("import (new values)", first),
        ("re-import (no changes)", again),
        ("baseline: json + bare INSERT", base),
    ):
        print(
            f"{label:34}{seconds:9.2f}{n / seconds:12,.0f}{seconds / TARGET_S:10.2f}x{seconds / base:12.2f}x"
        )
    print(f"first import counts: {counts}; re-import counts: {counts_again}")
    print(f"peak resident memory: {after_first:,.0f} MB (before the import {before:,.0f} MB)")
    print(f"target: import of {n:,} values ≤ {TARGET_S:.0f} s → {'met' if first <= TARGET_S else 'NOT met'}")
    rate = n_many / many
    print(f"{'many periods: ' + f'{args.days:,} days':34}{many:9.2f}{rate:12,.0f}"
          f"   ({n_many:,} values, {min(args.units, len(schools)):,} schools)")
    print(f"target: many periods ≥ {TARGET_RATE:,} values/s → {'met' if rate >= TARGET_RATE else 'NOT met'}")
    if args.ten_million:
        ten_million("csv" if args.csv else "dxf2" if args.dxf2 else "adx" if args.adx else "json")


if __name__ == "__main__":
    main()
