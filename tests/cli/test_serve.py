"""``jiaowei serve`` as operators run it (issue 17, parts 2 and 4).

It refuses a database whose schema is older than the code's, starts when the database is down (and
says not ready), runs ``--workers N`` processes (whose metrics ``/metrics`` sums), and trusts forwarded
headers only from the addresses in ``JIAOWEI_FORWARDED_ALLOW_IPS``, so that behind a TLS proxy the login
cookies are ``Secure``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn
from alembic import command
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Connection

from jiaowei.db.engine import BoundDatabase, make_engine
from jiaowei.db.migrate import alembic_config, head_revision
from jiaowei.errors import ConfigurationError
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from jiaowei.web.server import uvicorn_options
from tests.cli.test_cli import cli_env, create_pg_database, drop_pg_database, jiaowei
from tests.conftest import BACKENDS
from tests.factories import PASSWORD, make_user
from tests.pgcluster import free_port

METRICS_TOKEN = "metrics-" + "w" * 32


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'serve.sqlite3'}"
        return
    cluster_url = request.getfixturevalue("pg_cluster").url
    yield create_pg_database(cluster_url, "serve_test")
    drop_pg_database(cluster_url, "serve_test")


def _upgrade_to(url: str, revision: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
    engine.dispose()


def test_serve_refuses_a_database_at_an_older_schema(database_url: str, tmp_path: Path) -> None:
    _upgrade_to(database_url, "0015")
    env = cli_env(tmp_path / "home", database_url)
    refused = jiaowei(env, "serve", "--port", str(free_port()), expect=ConfigurationError.exit_code)
    assert "0015" in refused.stderr and head_revision() in refused.stderr
    assert "jiaowei init" in refused.stderr


class Served:
    """``jiaowei serve`` in a subprocess, its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.port, self.log = free_port(), log
        with log.open("wb") as out:
            command = [sys.executable, "-m", "jiaowei", "serve", "--port", str(self.port), *args]
            self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=5)

    def wait_until_live(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            try:
                if self.get("/api/health/live").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise AssertionError("the server did not start: " + self.log.read_text(errors="replace"))

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(timeout=30)
        return self.log.read_text(errors="replace")


def _both_workers_started(served: Served) -> None:
    deadline = time.monotonic() + 60
    while served.log.read_text(errors="replace").count("Application startup complete") < 2:
        assert served.process.poll() is None and time.monotonic() < deadline, served.log.read_text()
        time.sleep(0.2)


def test_serve_with_two_workers_is_ready_and_sums_their_metrics(database_url: str, tmp_path: Path) -> None:
    """Both workers answer, each built from the environment; /metrics, whichever worker answers it, sums
    the workers' counts, kept in a private folder that ``serve`` makes and removes (multiprocess mode)."""
    env = cli_env(tmp_path / "home", database_url)
    jiaowei(env, "init")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env.update(JIAOWEI_METRICS_TOKEN=METRICS_TOKEN, JIAOWEI_DB_POOL_SIZE="3", TMPDIR=str(temporary))
    served = Served(env, tmp_path / "serve.log", "--workers", "2")
    try:
        served.wait_until_live()
        _both_workers_started(served)
        ready = served.get("/api/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["schema"] == head_revision()
        folders = list(temporary.glob("jiaowei-metrics-*"))
        assert len(folders) == 1 and folders[0].stat().st_mode & 0o077 == 0, folders
        with ThreadPoolExecutor(4) as pool:  # a new connection each: the workers share them out
            answers = list(pool.map(lambda _: served.get("/api/health").json()["ready"], range(24)))
        assert answers == [True] * 24
        scrapes = [httpx.get(f"http://127.0.0.1:{served.port}/metrics", timeout=5,
                             headers={"authorization": f"Bearer {METRICS_TOKEN}"}) for _ in range(4)]
    finally:
        log = served.stop()
    for scrape in scrapes:
        assert scrape.status_code == 200, scrape.text
        found = {(s.name, tuple(sorted(s.labels.items()))): s.value
                 for family in text_string_to_metric_families(scrape.text) for s in family.samples}
        health = (("method", "GET"), ("route", "/api/health"), ("status", "200"))
        assert found[("jiaowei_responses_total", health)] == 24, scrape.text
        assert found[("jiaowei_db_pool_size", ())] == 6  # both workers' pools of 3
    assert len(set(re.findall(r"Started server process \[(\d+)\]", log))) >= 2, log
    assert "Traceback" not in log, log
    assert not list(temporary.glob("jiaowei-metrics-*"))  # removed when serve stopped


def test_serve_with_the_database_down_starts_and_is_not_ready(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", f"postgresql+psycopg://jiaowei@127.0.0.1:{free_port()}/jiaowei")
    served = Served(env, tmp_path / "serve.log")
    try:
        served.wait_until_live()
        ready = served.get("/api/health/ready")
        assert ready.status_code == 503
        assert ready.json()["reason"] == "database unreachable"
    finally:
        log = served.stop()
    assert "the database does not answer" in log
    checks = log[log.index("GET /api/health/live"):]  # the start-up's own complaints come before
    assert checks.count("database unreachable") == 1 and "Traceback" not in checks, log


# ---------------------------------------------------------------- behind a proxy


def _served_app(settings: Settings, db: BoundDatabase) -> object:
    """The app wrapped as ``jiaowei serve`` wraps it (uvicorn's proxy-headers layer), with ``db``."""
    options = {**uvicorn_options(settings, host="127.0.0.1", port=8000), "factory": False,
               "app": create_app(settings, database=db)}
    config = uvicorn.Config(**options)
    config.load()
    return config.loaded_app


def _login_cookies(settings: Settings, db: BoundDatabase, username: str) -> tuple[str, str]:
    """The Set-Cookie headers of GET /login and of a good POST /login sent through a proxy at 127.0.0.2
    that received them over https."""
    proxied = {"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9", "accept": "text/html"}
    with TestClient(_served_app(settings, db), client=("127.0.0.2", 40000)) as client:  # type: ignore[arg-type]
        form = client.get("/login", headers=proxied)
        nonce = re.search(r"jiaowei_login=([^;]+)", form.headers["set-cookie"])
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert nonce and token
        client.cookies.clear()
        done = client.post("/login", headers={**proxied, "cookie": f"jiaowei_login={nonce.group(1)}"},
                           data={"username": username, "password": PASSWORD, "csrf_token": token.group(1),
                                 "next": "/"}, follow_redirects=False)
        assert done.status_code == 303, done.text
        session = [c for c in done.headers.get_list("set-cookie") if c.startswith("jiaowei_session=")]
    return form.headers["set-cookie"], session[0]


def test_behind_a_trusted_proxy_the_login_cookies_are_secure(db: BoundDatabase, conn: Connection,
                                                              tmp_path: Path) -> None:
    user = make_user(conn)
    settings = Settings(home=tmp_path, secret_key="test-secret-" + "x" * 32, forwarded_allow_ips="127.0.0.2")
    login, session = _login_cookies(settings, db, user.username)
    assert "secure" in login.lower() and "secure" in session.lower()


def test_behind_an_untrusted_proxy_the_login_cookies_are_not_secure(db: BoundDatabase, conn: Connection,
                                                                    tmp_path: Path) -> None:
    user = make_user(conn)
    settings = Settings(home=tmp_path, secret_key="test-secret-" + "x" * 32)  # trusts 127.0.0.1, ::1
    login, session = _login_cookies(settings, db, user.username)
    assert "secure" not in login.lower() and "secure" not in session.lower()
