"""/metrics refuses a browser with 401, not the login page, and counts dry runs apart (issue 17, part 2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.db.engine import BoundDatabase
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.factories import login, make_user, small_tree
from tests.jobs.helpers import start, wait_for
from tests.jobs.test_jobs import GOOD
from tests.web.test_metrics import SCRAPE, TOKEN, samples, value

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def with_token(db: BoundDatabase, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path, secret_key="test-secret-" + "x" * 32, metrics_token=TOKEN)
    with TestClient(create_app(settings, database=db)) as client:
        yield client


@pytest.mark.parametrize("header", [None, "Bearer wrong"])
def test_a_browser_without_the_metrics_token_gets_401_and_a_bearer_challenge(
        with_token: TestClient, header: str | None) -> None:
    sent = {**BROWSER, **({"authorization": header} if header else {}), "accept-language": "zh-CN"}
    response = with_token.get("/metrics", headers=sent, follow_redirects=False)
    assert response.status_code == 401, response.headers
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert response.headers["content-type"] == "application/problem+json"
    assert "JIAOWEI_METRICS_TOKEN" in response.json()["detail"] and "jiaowei_request" not in response.text
    assert response.json()["detail"] != response.json()["detail"].encode("ascii", "ignore").decode()  # zh-CN
    assert with_token.get("/metrics", headers={**BROWSER, **SCRAPE}).status_code == 200


def test_without_a_metrics_token_set_a_browser_gets_404_not_the_login_page(client: TestClient) -> None:
    response = client.get("/metrics", headers=BROWSER, follow_redirects=False)
    assert response.status_code == 404 and "location" not in response.headers


def test_dry_runs_are_counted_apart_from_imports_that_wrote(with_token: TestClient, conn: Connection) -> None:
    small_tree(conn)
    make_user(conn, "wang")
    csrf = login(with_token, "wang")
    before = samples(with_token)
    for dry in ("on", "on", None):
        form = {"csrf_token": csrf, **({"dry_run": dry} if dry else {})}
        upload = {"file": ("units.csv", GOOD, "text/csv")}
        job_id = start(with_token, "/units/import", data=form, files=upload)
        assert wait_for(with_token, job_id)["status"] == "succeeded"
    after = samples(with_token)
    for dry_run, count in (("true", 2), ("false", 1)):
        labels = {"kind": "units.import", "outcome": "succeeded", "dry_run": dry_run}
        jobs = "jiaowei_jobs_total"
        assert value(after, jobs, **labels) - value(before, jobs, **labels) == count
