"""Prometheus metrics at ``/metrics`` (docs/operators.md, "Metrics"; decision 0020).

What is measured: each request's latency by route template and method (a histogram), responses by
route, method and status, the database pool (connections checked out, its size, its overflow), and
the counters domain code keeps in :mod:`jiaowei.counters` (import jobs, lottery draws).

``/metrics`` is off (404) until ``JIAOWEI_METRICS_TOKEN`` is set; then it answers only a request that
sends that token as ``Authorization: Bearer <token>``: any other gets 401 with ``WWW-Authenticate:
Bearer`` as application/problem+json, a browser too (never the login page: the token is no login).

One process (``jiaowei serve``, one worker): the counts are this process's memory. Several workers
(``--workers N``): ``serve`` gives them a private folder (``PROMETHEUS_MULTIPROC_DIR``, see
:func:`multiprocess_folder`) where prometheus_client's multiprocess mode keeps each worker's counts,
and a scrape, whichever worker answers it, sums them all. The pool's gauges are then each worker's,
refreshed every :data:`POOL_REFRESH_SECONDS` and summed over the workers alive; a worker that stops
takes its gauges with it (``mark_process_dead``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from jiaowei.counters import REGISTRY
from jiaowei.domains import N_
from jiaowei.errors import M_, NotAuthenticated, NotFound
from jiaowei.i18n import translate
from jiaowei.web.deps import asked_language
from jiaowei.web.errors import PROBLEM, problem_body
from jiaowei.web.forms import in_language
from jiaowei.web.logs import Finished

FOLDER = "PROMETHEUS_MULTIPROC_DIR"
"""The variable that turns prometheus_client's multiprocess mode on (read when it is first imported)."""
POOL_REFRESH_SECONDS = 5.0
CHALLENGE = 'Bearer realm="jiaowei metrics"'

LATENCY = Histogram(
    "jiaowei_request_duration_seconds", "Time from a request's arrival to its response's end.",
    ["method", "route"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
RESPONSES = Counter("jiaowei_responses", "Responses sent, by route template, method and status.",
                    ["method", "route", "status"], registry=REGISTRY)

POOL = (  # name, help, the pool's method that reads it
    ("jiaowei_db_pool_checked_out", "Database connections in use (requests, jobs).", "checkedout"),
    ("jiaowei_db_pool_size", "Connections the pool keeps (JIAOWEI_DB_POOL_SIZE).", "size"),
    ("jiaowei_db_pool_overflow", "Connections open past the pool size (negative: not yet opened).",
     "overflow"),
)
# Several workers only: each worker's pool in the shared folder, summed over the live ones. On no
# registry: one process reports its pool through PoolCollector, read when scraped.
POOL_GAUGES = {read: Gauge(name, about, registry=None, multiprocess_mode="livesum")
               for name, about, read in POOL}


def multiprocess() -> bool:
    """Whether this process keeps its counts in a folder shared with other workers."""
    return bool(os.environ.get(FOLDER))


@contextlib.contextmanager
def multiprocess_folder(workers: int) -> Iterator[Path | None]:
    """For ``jiaowei serve --workers N`` (N > 1): a new private folder (0700, in the system's temporary
    folder, not under JIAOWEI_HOME, whose files backups take) named in ``PROMETHEUS_MULTIPROC_DIR``
    for the workers to inherit, removed when the block ends. One worker: nothing changes (None)."""
    if workers <= 1:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="jiaowei-metrics-"))
    before = os.environ.get(FOLDER)
    os.environ[FOLDER] = str(folder)
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop(FOLDER, None)
        else:
            os.environ[FOLDER] = before
        shutil.rmtree(folder, ignore_errors=True)


def observe(finished: Finished) -> None:
    """Count one finished request (``RequestLog`` calls this for every request)."""
    LATENCY.labels(finished.method, finished.route).observe(finished.duration_ms / 1000)
    RESPONSES.labels(finished.method, finished.route, str(finished.status)).inc()


def _pool_values(engine: Engine) -> Iterator[tuple[str, str, str, float]]:
    pool: Any = engine.pool
    for name, about, read in POOL:
        if callable(getattr(pool, read, None)):
            yield name, about, read, float(getattr(pool, read)())


class PoolCollector(Collector):
    """The engine's connection pool as it stands when scraped."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, about, _read, found in _pool_values(self.engine):
            yield GaugeMetricFamily(name, about, value=found)


def _share_pool(engine: Engine) -> None:
    """Write this worker's pool gauges to the shared folder."""
    for _name, _about, read, found in _pool_values(engine):
        POOL_GAUGES[read].set(found)


def _forget_dead_workers(folder: str) -> None:
    """Drop the live gauges of workers that ended without saying so (killed): their pool is gone."""
    pids = {int(m.group(1)) for f in os.listdir(folder) if (m := re.fullmatch(r"gauge_live\w+_(\d+)\.db", f))}
    for pid in pids - {os.getpid()}:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            prometheus_multiprocess.mark_process_dead(pid, folder)
        except PermissionError:  # pragma: no cover - a process of another user took the number: alive
            pass


def _pool_sharer(app: FastAPI) -> Callable[[], None]:
    """What writes this worker's pool gauges (reading the pool's counters only, never the database)."""
    return functools.partial(_share_pool, app.state.db.engine)


async def _keep_sharing_pool(share: Callable[[], None]) -> None:
    while True:
        share()
        await asyncio.sleep(POOL_REFRESH_SECONDS)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Several workers: share this worker's pool while it serves; when it stops, drop its gauges."""
    if not multiprocess():
        yield
        return
    task = asyncio.create_task(_keep_sharing_pool(_pool_sharer(app)))
    try:
        yield
    finally:
        task.cancel()
        prometheus_multiprocess.mark_process_dead(os.getpid())


router = APIRouter(tags=["system"], lifespan=lifespan)


def refusal(request: Request) -> Response | None:
    """404 (raised) while no metrics token is set; None if the request sends it as a Bearer token,
    else the 401 to answer (problem+json, to browsers too: their login is not the token)."""
    expected = request.app.state.settings.metrics_token
    if not expected:
        raise NotFound(M_("Nothing at {path}.", path=request.url.path))
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), expected.encode()):
        return None
    error = NotAuthenticated(N_("Send the metrics token (JIAOWEI_METRICS_TOKEN) as Authorization: Bearer."))
    asked = asked_language(request)  # as the error handlers answer: the language the request names
    body = problem_body(in_language(error, asked) if asked else error, request)
    if asked:
        body["title"] = translate(asked, error.title)
    return JSONResponse(body, status_code=error.status, media_type=PROBLEM,
                        headers={"WWW-Authenticate": CHALLENGE})


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The metrics in Prometheus' text format (sync: FastAPI runs it off the event loop)."""
    refused = refusal(request)
    if refused is not None:
        return refused
    engine = request.app.state.db.engine
    if multiprocess():
        _share_pool(engine)  # this worker's part is up to date; the others' at most 5 s old
        _forget_dead_workers(os.environ[FOLDER])
        combined = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(combined)
        return Response(generate_latest(combined), media_type=CONTENT_TYPE_LATEST)
    pool = CollectorRegistry(auto_describe=True)
    pool.register(PoolCollector(engine))
    return Response(generate_latest(REGISTRY) + generate_latest(pool), media_type=CONTENT_TYPE_LATEST)
