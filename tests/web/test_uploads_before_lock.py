"""Uploads read and checked before the write transaction (issue 9, item 1), on SQLite.

The applicants import of the API, and the import forms of ``/units/import`` and
``/admissions/{code}/applicants/import``, read and check their file in a worker thread before the
request takes SQLite's write lock: while the file is parsed, another writer takes the lock at once.
The file is parsed once, and the transaction only writes. Results and refusals are those of before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from jiaowei.admissions import service as admissions
from jiaowei.admissions.store import applicants
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.registry import queries, transfer
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.admissions.test_campaign import GOOD, SECRET, campaign, world
from tests.factories import login, make_user, token_for
from tests.jobs.helpers import finished_page

UNITS = "code,name_zh,name_en,type,parent\nQ1,学校,School,primary_school,D1\n".encode()
NOT_UTF8 = b"code,name_zh\nQ2,\xff\xfe\n"


@dataclass
class Served:
    """An app on a SQLite file of its own, and the probes its parsers ran."""

    path: str
    client: TestClient
    token: dict[str, str]
    seen: list[str]

    def count_applicants(self) -> int:
        engine = make_engine(f"sqlite:///{self.path}")
        with engine.connect() as conn:
            found = int(conn.scalar(select(func.count()).select_from(applicants)) or 0)
        engine.dispose()
        return found

    def unit_exists(self, code: str) -> bool:
        engine = make_engine(f"sqlite:///{self.path}")
        with engine.connect() as conn:
            found = code in {u.code for u in queries.list_units(conn, principal=SYSTEM, limit=500).items}
        engine.dispose()
        return found


def _lock_is_free(path: str) -> str:
    """Whether another writer could take SQLite's write lock at this moment ("free" or "locked")."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return "free"
    except sqlite3.OperationalError:
        return "locked"
    finally:
        other.close()


def _probed(monkeypatch: pytest.MonkeyPatch, module: object, name: str, path: str, seen: list[str]) -> None:
    real: Callable[..., Any] = getattr(module, name)

    def parse_and_probe(*args: Any, **kwargs: Any) -> Any:
        seen.append(_lock_is_free(path))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, parse_and_probe)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    path = str(tmp_path / "uploads.sqlite3")
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.begin() as conn:
        world(conn)
        campaign(conn)
        token = token_for(conn, make_user(conn, "wang"))
        make_user(conn, "reader", role="viewer", view=["SH"])
    engine.dispose()
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{path}", secret_key=SECRET)
    with TestClient(create_app(settings)) as client:
        yield Served(path, client, token, [])
        client.app.state.db.engine.dispose()  # type: ignore[attr-defined]


def test_the_api_reads_an_applicants_file_while_no_write_lock_is_held(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    _probed(monkeypatch, admissions, "read_applicants", served.path, served.seen)
    response = served.client.post("/api/admissions/campaigns/C2020/applicants/import", content=GOOD,
                                  headers={**served.token, "content-type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.json()["registered"] == 3
    assert served.seen == ["free"]  # read once, before the transaction
    assert served.count_applicants() == 3


def test_the_applicants_page_reads_its_file_while_no_write_lock_is_held(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    csrf = login(served.client, "wang")
    _probed(monkeypatch, admissions, "read_applicants", served.path, served.seen)
    response = finished_page(served.client, served.client.post(
        "/admissions/C2020/applicants/import", data={"csrf_token": csrf}, follow_redirects=False,
        files={"file": ("a.csv", GOOD, "text/csv")}))  # an import job's page once it has run
    assert response.status_code == 200, response.text
    assert 'data-testid="import-summary"' in response.text
    assert served.seen == ["free"]
    assert served.count_applicants() == 3


def test_the_units_page_reads_its_file_while_no_write_lock_is_held(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    csrf = login(served.client, "wang")
    _probed(monkeypatch, transfer, "parse", served.path, served.seen)
    response = finished_page(served.client, served.client.post(
        "/units/import", data={"csrf_token": csrf}, follow_redirects=False,
        files={"file": ("u.csv", UNITS, "text/csv")}))  # the import job's page once it has run
    assert response.status_code == 200, response.text
    assert served.seen == ["free"]
    assert served.unit_exists("Q1")


def test_the_units_page_refuses_an_unreadable_file_read_outside_the_lock(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    csrf = login(served.client, "wang")
    _probed(monkeypatch, transfer, "parse", served.path, served.seen)
    response = finished_page(served.client, served.client.post(
        "/units/import", data={"csrf_token": csrf}, follow_redirects=False,
        files={"file": ("u.csv", NOT_UTF8, "text/csv")}))
    assert response.status_code == 422, response.text
    assert "UTF-8" in response.text and "u.csv" in response.text
    assert served.seen == ["free"]  # not parsed again inside the transaction


def test_the_units_page_checks_the_permission_before_the_file(served: Served) -> None:
    csrf = login(served.client, "reader")
    unreadable = served.client.post("/units/import", data={"csrf_token": csrf},
                                    files={"file": ("u.csv", NOT_UTF8, "text/csv")})
    readable = served.client.post("/units/import", data={"csrf_token": csrf},
                                  files={"file": ("u.csv", UNITS, "text/csv")})
    assert unreadable.status_code == readable.status_code == 403
    assert not served.unit_exists("Q1")
