"""The Shanghai 2020 demo behind an app, for the reports' API and page tests (tests/reports/test_api.py,
test_pages.py): loaded once per module and database; each test runs in a savepoint rolled back after it.
The fixtures ``web_app`` and ``web`` reach those modules through tests/reports/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import BoundDatabase
from jiaowei.demo import shanghai2020
from jiaowei.indicators import demo as indicators_demo
from jiaowei.plans import demo as plans_demo
from jiaowei.settings import Settings, using
from tests.factories import login

DISTRICT = "310101"  # 黄浦区: the demo's district user "huangpu" works here
OTHER_DISTRICT = "310104"  # 徐汇区
SEED_FIGURES = ("86%", "845", "37.7万", "92.51%", "18.66万", "120", "15", "88.10%", "77.27%", "1:159",
                "97.1%")


@dataclass
class Demo:
    conn: Connection
    client: TestClient
    settings: Settings

    def token(self, username: str) -> dict[str, str]:
        """API headers of a demo user (an API token, no session)."""
        token = auth.create_token(self.conn, principal=SYSTEM, username=username)
        return {"Authorization": f"Bearer {token}", "accept": "application/json"}

    def browser(self, username: str) -> TestClient:
        """The app's client logged in as a demo user through the form, asking for HTML."""
        self.client.cookies.clear()
        self.client.headers.update({"accept": "text/html", "accept-language": "zh-CN"})
        login(self.client, username, shanghai2020.PASSWORD)
        return self.client

    def csrf(self) -> str:
        page = self.client.get("/reports").text
        marker = 'name="csrf-token" content="'
        start = page.index(marker) + len(marker)
        return page[start: page.index('"', start)]


@pytest.fixture(scope="module")
def web_app(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo's registry, indicators and 2020 plan, and an app over them (files under a temporary home)."""
    from jiaowei.web.app import create_app

    settings = Settings(home=tmp_path_factory.mktemp("reports-web"), secret_key="test-secret-" + "x" * 32)
    connection = engine.connect()
    outer = connection.begin()
    with using(settings):
        shanghai2020.load(connection)
        indicators_demo.load(connection)
        plans_demo.load(connection)
    with TestClient(create_app(settings, database=BoundDatabase(connection))) as client:
        yield Demo(connection, client, settings)
    outer.rollback()
    connection.close()


@pytest.fixture
def web(web_app: Demo) -> Iterator[Demo]:
    """The demo app; what the test changes is rolled back after it."""
    savepoint = web_app.conn.begin_nested()
    web_app.client.cookies.clear()
    web_app.client.headers.pop("accept", None)
    try:
        yield web_app
    finally:
        if savepoint.is_active:
            savepoint.rollback()
