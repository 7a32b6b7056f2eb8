"""Prometheus metrics at /metrics: off without a token, 401 without it, and what they count (issue 17)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Connection

from jiaowei.admissions import service as admissions
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import BoundDatabase
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.admissions.test_campaign import SOURCES, campaign, register, world
from tests.factories import login, make_user, small_tree, token_for
from tests.jobs.helpers import start, wait_for
from tests.jobs.test_jobs import BAD, GOOD

TOKEN = "metrics-" + "m" * 32
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def scraped(db: BoundDatabase, tmp_path: Path) -> Iterator[TestClient]:
    """An app on the test's database whose /metrics answers the token ``TOKEN``."""
    settings = Settings(home=tmp_path, secret_key="test-secret-" + "x" * 32, metrics_token=TOKEN)
    with TestClient(create_app(settings, database=db), raise_server_exceptions=True) as client:
        yield client


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample /metrics answers now, by name and labels."""
    response = client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_off_until_a_token_is_set(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=SCRAPE).status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_metrics_refuse_a_request_without_the_token(scraped: TestClient, header: str | None) -> None:
    response = scraped.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "jiaowei_request" not in response.text
    if header is None or header.startswith("Bearer"):
        assert "JIAOWEI_METRICS_TOKEN" in response.json()["detail"]


def test_an_api_token_of_a_user_does_not_open_the_metrics(scraped: TestClient, conn: Connection) -> None:
    assert scraped.get("/metrics", headers=token_for(conn, make_user(conn))).status_code == 401


def test_requests_are_counted_by_route_template_method_and_status(scraped: TestClient,
                                                                  conn: Connection) -> None:
    small_tree(conn)
    headers = token_for(conn, make_user(conn))
    before = samples(scraped)
    assert scraped.get("/api/units/D1", headers=headers).status_code == 200
    assert scraped.get("/api/units/D2", headers=headers).status_code == 200
    assert scraped.get("/api/units/NOPE", headers=headers).status_code == 404
    assert scraped.get("/api/40/units/D1.json", headers=headers).status_code == 200  # DHIS2's path: same
    after = samples(scraped)
    route = {"method": "GET", "route": "/api/units/{code}"}
    assert value(after, "jiaowei_responses_total", **route, status="200") - value(
        before, "jiaowei_responses_total", **route, status="200") == 3
    assert value(after, "jiaowei_responses_total", **route, status="404") - value(
        before, "jiaowei_responses_total", **route, status="404") == 1
    assert value(after, "jiaowei_request_duration_seconds_count", **route) - value(
        before, "jiaowei_request_duration_seconds_count", **route) == 4
    assert value(after, "jiaowei_request_duration_seconds_bucket", **route, le="+Inf") - value(
        before, "jiaowei_request_duration_seconds_bucket", **route, le="+Inf") == 4
    assert not any("D1" in dict(labels).get("route", "") for _name, labels in after)


def test_the_pool_is_reported_with_its_configured_size(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, secret_key="test-secret-" + "x" * 32, metrics_token=TOKEN,
                        db_pool_size=3, db_max_overflow=2)
    app = create_app(settings)
    with TestClient(app) as client:
        found = samples(client)
    app.state.db.engine.dispose()
    assert value(found, "jiaowei_db_pool_size") == 3
    assert value(found, "jiaowei_db_pool_checked_out") == 0  # /metrics itself takes no connection
    assert ("jiaowei_db_pool_overflow", frozenset()) in found


def test_import_jobs_are_counted_by_outcome(scraped: TestClient, conn: Connection) -> None:
    small_tree(conn)
    make_user(conn, "wang")
    csrf = login(scraped, "wang")
    before = samples(scraped)
    for body in (GOOD, BAD):
        job_id = start(scraped, "/units/import", data={"csrf_token": csrf},
                       files={"file": ("units.csv", body, "text/csv")})
        assert wait_for(scraped, job_id)["status"] in ("succeeded", "failed")
    after = samples(scraped)
    for outcome in ("succeeded", "failed"):
        labels = {"kind": "units.import", "outcome": outcome, "dry_run": "false"}
        jobs = "jiaowei_jobs_total"
        assert value(after, jobs, **labels) - value(before, jobs, **labels) == 1


def test_lottery_draws_are_counted(scraped: TestClient, conn: Connection) -> None:
    world(conn)
    code = campaign(conn)
    register(conn, code)
    admissions.freeze(conn, principal=SYSTEM, campaign=code, home=scraped.app.state.settings.home)  # type: ignore[attr-defined]
    boss = token_for(conn, make_user(conn, "boss", role="commission_staff", capture=["SH"]))
    before = value(samples(scraped), "jiaowei_lottery_draws_total")
    answer = scraped.post(f"/api/admissions/campaigns/{code}/steps/draw", json={"sources": SOURCES},
                          headers=boss)
    assert answer.status_code == 200, answer.text
    assert value(samples(scraped), "jiaowei_lottery_draws_total") - before == 1
