"""Load benchmark: N writers and M readers against a real server on loopback, for a bounded time.

Builds the Shanghai 2020 demo (``jiaowei demo``) in a fresh SQLite database in a temporary folder,
gives the demo administrator an API token, starts ``jiaowei serve`` on a free loopback port and runs,
for ``--seconds`` (default 30):

* ``--writers`` threads (default 8), each saving one data value after another (``POST
  /api/dataValues``) over 32 cells of the demo, so writers meet on the same cells;
* ``--readers`` threads (default 8), each reading with the token (``GET /api/units?limit=50`` and
  ``GET /api/units/{code}`` in turn).

Then the baseline, for as long: the same threads on a copy of the database through ``sqlite3``
itself, no HTTP and no checks (a writer: ``BEGIN IMMEDIATE``, one ``UPDATE``, ``COMMIT``; a reader:
one ``SELECT`` of 50 units), what any server on this database must at least pay.

It prints, for each kind, the requests done, p50, p95, p99 and the longest latency, side by side with
the baseline, and the count of each HTTP status. The target (issue 9, item 3): no 5xx answer at all
with 8 writers and 8 readers. The exit code is 1 when any answer is a 5xx.
Run: ``.venv/bin/python benchmarks/load.py [--writers 8] [--readers 8] [--seconds 30]``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import Database, make_engine

CELLS = 32
HOST = "127.0.0.1"
CELLS_SQL = ("SELECT de.code, p.code, u.code, coc.code FROM data_values dv "
             "JOIN data_elements de ON de.id = dv.data_element_id JOIN periods p ON p.id = dv.period_id "
             "JOIN units u ON u.id = dv.unit_id JOIN category_option_combos coc ON coc.id = dv.coc_id "
             "WHERE de.value_type LIKE '%INTEGER%' ORDER BY dv.unit_id, dv.data_element_id LIMIT 400")
KEYS_SQL = "SELECT period_id, unit_id, data_element_id, coc_id, aoc_id FROM data_values LIMIT ?"


@dataclass
class Tally:
    """Latencies (seconds) and statuses of one kind of request."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, status: str) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[status] += 1

    def quantile(self, q: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[round(q * 100) - 1]


# ---------------------------------------------------------------- the database and the server


def build(folder: Path) -> tuple[str, list[dict[str, str]], list[str]]:
    """The demo in ``folder``; the administrator's token, writable cells and unit codes."""
    env = {**os.environ, "JIAOWEI_HOME": str(folder)}
    env.pop("JIAOWEI_DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "jiaowei", "demo"], env=env, check=True, stdout=subprocess.DEVNULL)
    path = folder / "jiaowei.sqlite3"
    db = Database(make_engine(f"sqlite:///{path}"))
    with db.transaction(write=True) as conn:
        token = auth.create_token(conn, principal=SYSTEM, username="admin", label="load benchmark")
    db.engine.dispose()
    with sqlite3.connect(path) as conn:
        cells = [dict(zip(("dataElement", "period", "orgUnit", "categoryOptionCombo"), row, strict=True))
                 for row in conn.execute(CELLS_SQL)]
        codes = [row[0] for row in conn.execute("SELECT code FROM units ORDER BY id LIMIT 200")]
    return token, cells, codes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def serve(folder: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JIAOWEI_HOME": str(folder)}
    env.pop("JIAOWEI_DATABASE_URL", None)
    log = (folder / "server.log").open("wb")
    command = [sys.executable, "-m", "jiaowei", "serve", "--host", HOST, "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{HOST}:{port}/api/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError((folder / "server.log").read_text(errors="replace"))


def writable(client: httpx.Client, cells: list[dict[str, str]]) -> list[dict[str, str]]:
    """The first CELLS cells the administrator may save (not approved, not locked)."""
    found = []
    for cell in cells:
        if client.post("/api/dataValues", json={**cell, "value": "1"}).status_code == 200:
            found.append(cell)
        if len(found) == CELLS:
            break
    if not found:
        raise RuntimeError("no demo cell could be saved")
    return found


# ---------------------------------------------------------------- the run


def run(kinds: dict[str, tuple[int, Callable[[random.Random], str]]], seconds: float) -> dict[str, Tally]:
    """Each kind's threads call their step until ``seconds`` have passed; a step returns a status."""
    tallies = {kind: Tally() for kind in kinds}
    deadline = time.monotonic() + seconds

    def loop(kind: str, step: Callable[[random.Random], str], seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status = step(rng)
            tallies[kind].add(time.perf_counter() - started, status)

    threads = [threading.Thread(target=loop, args=(kind, step, n * 100 + i))
               for n, (kind, (count, step)) in enumerate(kinds.items()) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tallies


def http_steps(port: int, token: str, cells: list[dict[str, str]],
               codes: list[str]) -> tuple[Callable[[random.Random], str], Callable[[random.Random], str]]:
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=f"http://{HOST}:{port}", timeout=60,
                                        headers={"Authorization": f"Bearer {token}"})
        found: httpx.Client = local.client
        return found

    def call(method: str, url: str, **kwargs: object) -> str:
        try:
            return str(client().request(method, url, **kwargs).status_code)  # type: ignore[arg-type]
        except httpx.HTTPError as error:
            return type(error).__name__

    def write(rng: random.Random) -> str:
        return call("POST", "/api/dataValues", json={**rng.choice(cells), "value": str(rng.randint(1, 999))})

    def read(rng: random.Random) -> str:
        if rng.random() < 0.5:
            return call("GET", "/api/units", params={"limit": 50})
        return call("GET", f"/api/units/{rng.choice(codes)}")

    return write, read


def baseline_steps(path: Path) -> tuple[Callable[[random.Random], str], Callable[[random.Random], str]]:
    local = threading.local()
    keys = sqlite3.connect(path).execute(KEYS_SQL, (CELLS,)).fetchall()

    def conn() -> sqlite3.Connection:
        if not hasattr(local, "conn"):
            local.conn = sqlite3.connect(path, isolation_level=None, timeout=5)
            local.conn.execute("PRAGMA journal_mode=WAL")
        found: sqlite3.Connection = local.conn
        return found

    def write(rng: random.Random) -> str:
        try:
            conn().execute("BEGIN IMMEDIATE")
            conn().execute("UPDATE data_values SET value = ? WHERE period_id = ? AND unit_id = ? AND "
                           "data_element_id = ? AND coc_id = ? AND aoc_id = ?",
                           (str(rng.randint(1, 999)), *rng.choice(keys)))
            conn().execute("COMMIT")
            return "ok"
        except sqlite3.OperationalError as error:
            conn().execute("ROLLBACK") if conn().in_transaction else None
            return str(error)

    def read(rng: random.Random) -> str:
        sql = "SELECT id, code FROM units ORDER BY code LIMIT 50 OFFSET ?"
        conn().execute(sql, (rng.randint(0, 100),)).fetchall()
        return "ok"

    return write, read


# ---------------------------------------------------------------- the report


def report(jiaowei: dict[str, Tally], baseline: dict[str, Tally], seconds: float) -> int:
    print(f"\n{'':10}{'requests':>10}{'/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'   baseline:':>13}{'p50':>7}{'p95':>7}{'p99':>7}{'n/s':>8}")
    for kind, tally in jiaowei.items():
        base = baseline[kind]
        row = [tally.quantile(q) * 1000 for q in (0.5, 0.95, 0.99)] + [max(tally.latencies, default=0) * 1000]
        based = [base.quantile(q) * 1000 for q in (0.5, 0.95, 0.99)]
        print(f"{kind:10}{len(tally.latencies):>10}{len(tally.latencies) / seconds:>8.0f}"
              + "".join(f"{v:>9.1f}" for v in row) + f"{'':13}" + "".join(f"{v:>7.1f}" for v in based)
              + f"{len(base.latencies) / seconds:>8.0f}")
    print()
    failed = 0
    for kind, tally in jiaowei.items():
        print(f"{kind:10}statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses.items())))
        failed += sum(n for s, n in tally.statuses.items() if not s.isdigit() or s.startswith("5"))
    for kind, tally in baseline.items():
        print(f"{kind:10}baseline: " + ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses.items())))
    print(f"\n5xx answers and failed requests: {failed} (target 0)")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8, help="threads saving data values (default 8)")
    parser.add_argument("--readers", type=int, default=8, help="threads reading units (default 8)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each run lasts (default 30)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="jiaowei-load-"))
    try:
        print(f"building the demo in {folder} …", flush=True)
        token, cells, codes = build(folder)
        shutil.copy(folder / "jiaowei.sqlite3", folder / "baseline.sqlite3")
        port = free_port()
        server = serve(folder, port)
        try:
            with httpx.Client(base_url=f"http://{HOST}:{port}", headers={"Authorization": f"Bearer {token}"},
                              timeout=60) as client:
                cells = writable(client, cells)
            print(f"{args.writers} writers on {len(cells)} cells and {args.readers} readers for "
                  f"{args.seconds:g} s on http://{HOST}:{port} …", flush=True)
            write, read = http_steps(port, token, cells, codes)
            measured = run({"write": (args.writers, write), "read": (args.readers, read)}, args.seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(f"baseline: the same threads through sqlite3 for {args.seconds:g} s …", flush=True)
        write, read = baseline_steps(folder / "baseline.sqlite3")
        base = run({"write": (args.writers, write), "read": (args.readers, read)}, args.seconds)
        return report(measured, base, args.seconds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
