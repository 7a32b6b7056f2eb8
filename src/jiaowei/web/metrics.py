"""Prometheus metrics at ``/metrics`` (docs/operators.md, "Metrics"; decision 0020).

What is measured: each request's latency by route template and method (a histogram), responses by
route, method and status, the database pool (connections checked out, its size, its overflow), and
the counters domain code keeps in :mod:`jiaowei.counters` (import jobs, lottery draws).

``/metrics`` is off (404) until ``JIAOWEI_METRICS_TOKEN`` is set; then it answers only a request that
sends that token as ``Authorization: Bearer <token>`` (401 otherwise). Counts are this process's:
with several uvicorn workers each keeps its own, and a scrape reaches one of them.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from jiaowei.counters import REGISTRY
from jiaowei.domains import N_
from jiaowei.errors import M_, NotAuthenticated, NotFound
from jiaowei.web.logs import Finished

router = APIRouter(tags=["system"])

LATENCY = Histogram(
    "jiaowei_request_duration_seconds", "Time from a request's arrival to its response's end.",
    ["method", "route"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
RESPONSES = Counter("jiaowei_responses", "Responses sent, by route template, method and status.",
                    ["method", "route", "status"], registry=REGISTRY)


def observe(finished: Finished) -> None:
    """Count one finished request (``RequestLog`` calls this for every request)."""
    LATENCY.labels(finished.method, finished.route).observe(finished.duration_ms / 1000)
    RESPONSES.labels(finished.method, finished.route, str(finished.status)).inc()


class PoolCollector(Collector):
    """The engine's connection pool as it stands when scraped."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool: Any = self.engine.pool
        for name, about, read in (
            ("jiaowei_db_pool_checked_out", "Database connections in use (requests, jobs).", "checkedout"),
            ("jiaowei_db_pool_size", "Connections the pool keeps (JIAOWEI_DB_POOL_SIZE).", "size"),
            ("jiaowei_db_pool_overflow", "Connections open past the pool size (negative: not yet opened).",
             "overflow"),
        ):
            if callable(getattr(pool, read, None)):
                yield GaugeMetricFamily(name, about, value=float(getattr(pool, read)()))


def check_token(request: Request) -> None:
    """404 while no metrics token is set; 401 unless the request sends it as a Bearer token."""
    expected = request.app.state.settings.metrics_token
    if not expected:
        raise NotFound(M_("Nothing at {path}.", path=request.url.path))
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), expected.encode()):
        raise NotAuthenticated(N_("Send the metrics token (JIAOWEI_METRICS_TOKEN) as Authorization: Bearer."))


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The metrics in Prometheus' text format (sync: FastAPI runs it off the event loop)."""
    check_token(request)
    pool = CollectorRegistry(auto_describe=True)
    pool.register(PoolCollector(request.app.state.db.engine))
    return Response(generate_latest(REGISTRY) + generate_latest(pool), media_type=CONTENT_TYPE_LATEST)
