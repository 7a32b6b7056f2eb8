"""Pages and API routes on PostgreSQL against SQLite (issue 17, part 3).

Builds the Shanghai 2020 demo (``jiaowei demo``) twice: once in a fresh SQLite home in a temporary
folder, once in a throwaway PostgreSQL cluster (tests/pgcluster.py; ``JIAOWEI_DATABASE_URL`` points
``jiaowei demo`` at it). Then, for each database, an app in a process of its own (FastAPI's TestClient,
an API token of the demo's administrator, the connection settings ``jiaowei serve`` uses; :class:`Apart`)
answers a control that reads no database (``/api/health/live``: the two processes' difference without
SQL, about 1.0×) and
:data:`REQUESTS`: every main page the navigation leads to (home, units, a unit, indicators, the
普惠 coverage indicator for the city and for 浦东, data entry, an analytics pivot, dashboards, the key
tasks, a task, the rectification ledger, risks, appraisals, admissions and a campaign, the annual
report's HTML, the audit log) and the main API routes (units, indicator values with and without an
indicator, analytics, a data set's ``dataValueSets`` export, plans, risks, campaigns, audit).

Each request is timed once on its own (the first may fill a cache: the analytics copy, templates),
then answered ``--warm`` times untimed (default 10: as on a server that has run a while, where
psycopg has prepared each statement after its fifth run on a connection and PostgreSQL plans it once;
decision 0021), then ``--runs`` more timed (default 10; only 3 once a request has taken ``--budget``
seconds): the median in ms. The two databases take turns, request by request, so a busy machine
slows both alike. The SQL statements each request runs are counted (SQLAlchemy's
``before_cursor_execute`` on the app's engine; SQLite's own ``BEGIN`` counts as one) on the last run.
It prints one table: the request, the median on each database, their ratio and the statements on
each, and a verdict.
Target (issue 17): no request more than 1.2× slower on PostgreSQL than on SQLite.
Run: ``.venv/bin/python benchmarks/databases.py [--runs 10] [--warm 10] [--budget 5] [--only SUBSTRING]
[--socket]``
(PostgreSQL's server binaries from the Debian package ``postgresql``; one to four minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import gc
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from common import admin_token, build_demo  # benchmarks/common.py
from fastapi.testclient import TestClient
from sqlalchemy import event

from jiaowei.settings import Settings
from jiaowei.web.app import create_app

CONTROL = "control: no database"  # liveness: what the two processes differ by without SQL (about 1.0×)
INDICATOR, DATA_SET, CITY, PUDONG, HUANGPU, YEAR = "KG_INCLUSIVE_COVERAGE", "KG_ANNUAL", "310000", "310115", \
    "310101", "2020"
PIVOT = f"dimension=dx:{INDICATOR}&dimension=ou:{CITY};LEVEL-2&filter=pe:{YEAR}"
REQUESTS = (  # label, URL; {task} and {round} are found in the demo first (their ids differ per load)
    (CONTROL, "/api/health/live"),
    ("page /", "/"),
    ("page /units", "/units"),
    ("page /units/浦东", f"/units/{PUDONG}"),
    ("page /indicators", "/indicators"),
    ("page indicator, city", f"/indicators/{INDICATOR}?ou={CITY}&pe={YEAR}"),
    ("page indicator, 浦东", f"/indicators/{INDICATOR}?ou={PUDONG}&pe={YEAR}"),
    ("page /data/entry", f"/data/entry?ds={DATA_SET}&pe={YEAR}&ou={HUANGPU}"),
    ("page /data/my-forms", "/data/my-forms"),
    ("page /analytics pivot", f"/analytics?{PIVOT}"),
    ("page /dashboards", "/dashboards"),
    ("page /plans", "/plans"),
    ("page a task", "/plans/tasks/{task}"),
    ("page ledger", "/plans/rectification"),
    ("page /plans/risks", "/plans/risks"),
    ("page /plans/appraisals", "/plans/appraisals"),
    ("page an appraisal", "/plans/appraisals/{round}"),
    ("page /admissions", "/admissions"),
    ("page a campaign", "/admissions/SH2020-P1"),
    ("page annual report", f"/reports/view?template=annual&year={YEAR}"),
    ("page /audit", "/audit"),
    ("api units", "/api/units"),
    ("api units, 浦东 subtree", f"/api/units?descendants_of={PUDONG}&limit=500"),
    ("api indicatorValues, one", f"/api/indicatorValues?indicator={INDICATOR}&ou={CITY}&pe={YEAR}"),
    ("api indicatorValues, 浦东", f"/api/indicatorValues?indicator={INDICATOR}&ou={PUDONG}&pe={YEAR}"),
    ("api indicatorValues, all", f"/api/indicatorValues?ou={CITY}&pe={YEAR}"),
    ("api analytics", f"/api/analytics?{PIVOT}"),
    ("api dataValueSets",
     f"/api/dataValueSets?dataSet={DATA_SET}&period={YEAR}&orgUnit={CITY}&children=true"),
    ("api plans year", f"/api/plans/years/{YEAR}"),
    ("api plans task", "/api/plans/tasks/{task}"),
    ("api plans risks", "/api/plans/risks"),
    ("api campaigns", "/api/admissions/campaigns"),
    ("api audit", "/api/audit"),
)
TARGET = 1.2  # PostgreSQL's median at most this many times SQLite's
SECRET = "benchmark-secret-" + "0123456789abcdefghijklmnopqrstuv"


@dataclass
class Figures:
    first: float  # ms
    rest: list[float]  # ms
    statements: int  # on the last run

    @property
    def median(self) -> float:
        return statistics.median(self.rest)


@dataclass
class Counter:
    """SQL statements run on an engine since the last :meth:`reset` (from any thread)."""

    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, *_args: Any) -> None:
        with self.lock:
            self.count += 1

    def reset(self) -> None:
        with self.lock:
            self.count = 0


def demo_ids(client: TestClient) -> dict[str, str]:
    """The ids the URLs name that differ from one demo load to the next: a task, an appraisal round."""
    year = client.get(f"/api/plans/years/{YEAR}").json()
    task = next(item for section in year["sections"] for item in section["children"]
                if item["kind"] == "task")
    rounds = client.get("/api/plans/appraisals/rounds").json()["rounds"]
    return {"task": task["uid"], "round": rounds[0]["id"]}


@dataclass
class Served:
    """One database's app, its client (with the administrator's token) and its statement counter."""

    name: str
    client: TestClient
    counter: Counter
    ids: dict[str, str]

    def get(self, template: str) -> tuple[float, int]:
        """Answer one request: (ms, statements); stop the benchmark on anything but 200."""
        url = template.format(**self.ids)
        self.counter.reset()
        t0 = time.perf_counter()
        response = self.client.get(url)
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{self.name}: {url}: {response.status_code} {response.text[:300]}")
        return elapsed, self.counter.count


class Apart:
    """One database's :class:`Served` in a process of its own, driven through a pipe: the request is
    timed inside that process, as :meth:`Served.get` times it, and the pipe's round trip is not.

    Two apps in one process measured each other: a route that reads no database answered up to 1.4×
    slower in the app built second (the heap, the caches and the collector of one process shared), so
    small requests showed a ratio that no statement caused. A server serves one database in its own
    process, and so does this."""

    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        context = multiprocessing.get_context("fork")  # before any app or thread exists here
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=_serve_apart, args=(name, settings, child), daemon=True)
        self.process.start()
        child.close()
        answer = self.pipe.recv()
        if isinstance(answer, str):
            raise SystemExit(answer)
        self.ids: dict[str, str] = answer

    def get(self, template: str) -> tuple[float, int]:
        self.pipe.send(template)
        answer = self.pipe.recv()
        if isinstance(answer, str):
            raise SystemExit(answer)
        elapsed, statements = answer
        return float(elapsed), int(statements)

    def close(self) -> None:
        self.pipe.send(None)
        self.process.join(30)


def _serve_apart(name: str, settings: Settings, pipe: Connection) -> None:
    """The process of one :class:`Apart`: build the app, then answer each template sent until None."""
    try:
        if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # both apps on one core, alike
        with serving(name, settings) as served:
            gc.collect()
            gc.freeze()  # as `jiaowei serve` does once the app is built
            pipe.send(served.ids)
            while (template := pipe.recv()) is not None:
                pipe.send(served.get(template))
    except SystemExit as stop:
        pipe.send(str(stop))


@contextmanager
def apart(name: str, settings: Settings) -> Iterator[Apart]:
    served = Apart(name, settings)
    try:
        yield served
    finally:
        served.close()


@contextmanager
def serving(name: str, settings: Settings) -> Iterator[Served]:
    bearer = admin_token(settings.effective_database_url, "databases benchmark")
    app = create_app(settings)
    logging.getLogger("jiaowei.requests").setLevel(logging.WARNING)  # a line per request: not wanted here
    counter = Counter()
    event.listen(app.state.db.engine, "before_cursor_execute", counter)
    with TestClient(app) as client:
        client.headers["authorization"] = f"Bearer {bearer}"
        yield Served(name, client, counter, demo_ids(client))
    app.state.db.engine.dispose()


def measure(served: Sequence[Served | Apart], requests: Sequence[tuple[str, str]], runs: int,
            budget: float, warm: int = 0) -> dict[str, dict[str, Figures]]:
    """For each request and database: the first answer's ms, then ``warm`` answers not timed (fewer
    once past ``budget`` s), then ``runs`` more (at least 3 once past ``budget`` s). The databases take
    turns, request by request, so both see the same load."""
    out: dict[str, dict[str, Figures]] = {one.name: {} for one in served}
    gc.collect()
    gc.freeze()  # as `jiaowei serve` does once the app is built
    for label, template in requests:
        times: dict[str, list[float]] = {one.name: [] for one in served}
        statements: dict[str, int] = {}
        start = time.perf_counter()
        for one in served:
            times[one.name].append(one.get(template)[0])
        for _ in range(warm):  # a running server's state: statements prepared, plans cached
            if time.perf_counter() - start > budget:
                break
            for one in served:
                one.get(template)
        start = time.perf_counter()
        while (len(times[served[0].name]) < max(runs, 1) + 1
               and (len(times[served[0].name]) < 4 or time.perf_counter() - start < budget)):
            for one in served:
                elapsed, statements[one.name] = one.get(template)
                times[one.name].append(elapsed)
        for one in served:
            mine = times[one.name]
            out[one.name][label] = figures = Figures(mine[0], mine[1:], statements[one.name])
            print(f"  {one.name}, {label}: first {figures.first:.0f} ms, median {figures.median:.0f} ms of"
                  f" {len(figures.rest)}, {figures.statements} statements", flush=True)
    gc.unfreeze()
    return out


def report(requests: Sequence[tuple[str, str]], sqlite: dict[str, Figures], pg: dict[str, Figures]) -> None:
    print(f"\nms: median of the runs after the first (first request in brackets); statements per request;"
          f" load average now {os.getloadavg()[0]:.1f}")
    header = (f"{'request':<28} | {'SQLite median':>18} | {'PostgreSQL median':>18} | {'PG/SQLite':>9}"
              f" | {'stmts SQLite':>12} | {'stmts PG':>8}")
    print(header)
    print("-" * len(header))
    worst = ("", 0.0)
    for label, _url in requests:
        lite, post = sqlite[label], pg[label]
        ratio = post.median / lite.median
        worst = max(worst, (label, ratio), key=lambda pair: pair[1])
        print(f"{label:<28} | {lite.median:>8.1f} ({lite.first:>7.0f})"
              f" | {post.median:>8.1f} ({post.first:>7.0f})"
              f" | {ratio:>8.2f}× | {lite.statements:>12} | {post.statements:>8}")
    over = [label for label, _url in requests if pg[label].median / sqlite[label].median > TARGET]
    verdict = "met" if not over else f"NOT met for {len(over)}: {', '.join(over)}"
    print(f"target: no request more than {TARGET}× slower on PostgreSQL: {verdict}"
          f" (worst: {worst[0]}, {worst[1]:.2f}×)")


@contextmanager
def postgresql(*, socket: bool = False) -> Iterator[str]:
    """The URL of a database on a throwaway cluster, stopped and removed afterwards: over TCP to
    127.0.0.1, or with ``socket`` through the cluster's Unix socket (as when both run on one host)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.pgcluster import start_cluster  # the repository's tests folder, not an installed package

    cluster = start_cluster()
    try:
        yield (f"postgresql+psycopg://postgres@/jiaowei_test?host={cluster.root}&port={cluster.port}"
               if socket else cluster.url)
    finally:
        cluster.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed requests after the first (default 10)")
    parser.add_argument("--budget", type=float, default=5.0,
                        help="seconds per request after which 3 runs suffice (default 5)")
    parser.add_argument("--warm", type=int, default=10,
                        help="requests after the first that are not timed, as a running server has answered"
                             " them (default 10)")
    parser.add_argument("--only", default="", help="only the requests whose label contains this")
    parser.add_argument("--socket", action="store_true",
                        help="connect to PostgreSQL through its Unix socket, not TCP to 127.0.0.1")
    args = parser.parse_args(argv)
    requests = [(label, url) for label, url in REQUESTS if args.only in label]
    with tempfile.TemporaryDirectory(prefix="jiaowei-databases-") as tmp, \
            postgresql(socket=args.socket) as url:
        lite_home, pg_home = Path(tmp, "sqlite"), Path(tmp, "postgresql")
        t0 = time.perf_counter()
        build_demo(lite_home, JIAOWEI_SECRET_KEY=SECRET)
        build_demo(pg_home, url, JIAOWEI_SECRET_KEY=SECRET)
        print(f"built the demo on SQLite and on PostgreSQL in {time.perf_counter() - t0:.1f} s; PostgreSQL "
              f"through {'its Unix socket' if args.socket else 'TCP to 127.0.0.1'}", flush=True)
        with apart("SQLite", Settings(home=lite_home, secret_key=SECRET)) as lite, \
                apart("PostgreSQL", Settings(home=pg_home, database_url=url, secret_key=SECRET)) as pg:
            figures = measure((lite, pg), requests, args.runs, args.budget, args.warm)
    report(requests, figures["SQLite"], figures["PostgreSQL"])


if __name__ == "__main__":
    main()
