"""Shared fixtures: both databases, a rolled-back transaction per test, an app client.

Every storage test runs on SQLite and on PostgreSQL (a throwaway cluster started here).
Set JIAOWEI_TEST_DATABASES=sqlite to skip PostgreSQL locally; CI always runs both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine

from jiaowei.auth import service as _auth_service
from jiaowei.db.engine import BoundDatabase, make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.pgcluster import Cluster, start_cluster

# Passwords are hashed with argon2's cheapest parameters in tests: thousands of test users at 0.14 s a
# hash (the production parameters) cost minutes. Checking a password reads the parameters from its hash,
# so logins work the same way. tests/auth/test_login_timing.py puts the production parameters back.
_auth_service._hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)

BACKENDS = [b for b in os.environ.get("JIAOWEI_TEST_DATABASES", "sqlite,postgresql").split(",") if b]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_cluster").url
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[BoundDatabase]:
    """A database whose every transaction rolls back at the end of the test."""
    connection = engine.connect()
    outer = connection.begin()
    yield BoundDatabase(connection)
    outer.rollback()
    connection.close()


@pytest.fixture
def conn(db: BoundDatabase) -> Connection:
    return db.connection


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, secret_key="test-secret-" + "x" * 32)


@pytest.fixture
def client(db: BoundDatabase, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, database=db)
    with TestClient(app, raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def browser(client: TestClient) -> TestClient:
    """The test client, asking for HTML as a browser does (test modules may define their own)."""
    client.headers["accept"] = "text/html,application/xhtml+xml"
    return client
