"""Times shown on pages are in the commission's time zone: Asia/Shanghai by default, another when
``JIAOWEI_TIME_ZONE`` is set (the audit log, approvals, API tokens, plans' stamps), on both databases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, update

from jiaowei.auth.model import SYSTEM
from jiaowei.auth.store import api_tokens
from jiaowei.db.engine import BoundDatabase
from jiaowei.indicators.approval import service as approval
from jiaowei.indicators.store import approval_events, approvals
from jiaowei.plans.ledger.queries import local_label
from jiaowei.settings import Settings, using
from jiaowei.web.app import create_app
from tests.factories import indicator_setup, login, make_user, token_for

MOMENT = dt.datetime(2020, 3, 1, 16, 30, tzinfo=dt.UTC)
SHOWN = {"Asia/Shanghai": "2020-03-02 00:30", "Europe/Berlin": "2020-03-01 17:30"}


@pytest.fixture(params=sorted(SHOWN))
def zoned(request: pytest.FixtureRequest, db: BoundDatabase, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, str]]:
    """A browser of an app in the default zone, or in one set by ``JIAOWEI_TIME_ZONE``."""
    zone: str = request.param
    if zone != "Asia/Shanghai":
        monkeypatch.setenv("JIAOWEI_TIME_ZONE", zone)
    settings = Settings(home=tmp_path, secret_key="test-secret-" + "x" * 32)
    assert settings.time_zone == zone
    with TestClient(create_app(settings, database=db)) as client:
        client.headers["accept"] = "text/html"
        yield client, zone


def test_the_approval_history_and_tokens_are_shown_in_the_zone(
    zoned: tuple[TestClient, str], conn: Connection
) -> None:
    client, zone = zoned
    indicator_setup(conn)
    approval.approve(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2021", unit="S1")
    conn.execute(update(approval_events).values(at=MOMENT))
    conn.execute(update(approvals).values(approved_at=MOMENT))
    wang = make_user(conn, "wang")
    token_for(conn, wang)
    conn.execute(update(api_tokens).values(last_used_at=MOMENT))
    login(client, "wang")
    form = {"ds": "SCHOOL_Y", "pe": "2021", "ou": "S1", "lang": "en"}
    page = client.get("/data/approval", params=form).text
    assert page.count(SHOWN[zone]) >= 2  # approved at …, and the history's line
    assert f'<meta name="time-zone" content="{zone}">' in page  # for scripts (the cell history)
    assert SHOWN[zone] in client.get("/me", params={"lang": "en"}).text  # the token's last use


def test_plans_stamps_follow_the_zone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for zone, shown in SHOWN.items():
        monkeypatch.setenv("JIAOWEI_TIME_ZONE", zone)
        with using(Settings(home=tmp_path, secret_key="test-secret-" + "x" * 32)):
            assert local_label("2020-03-01T16:30:00+00:00") == shown
