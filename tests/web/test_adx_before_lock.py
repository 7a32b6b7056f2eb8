"""ADX uploads parsed before the write transaction (issue 9, item 1), on SQLite.

``/api/dataValueSets`` and ``/data/entry/upload`` parse and check an ADX file in a worker thread
while no lock is held; inside the transaction the catalog only names each value's option combo by
its categories. A large file is parsed once, and another writer could take SQLite's write lock at
any moment of the parse.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.indicators.values.formats import adx
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.factories import indicator_setup, login, make_user, token_for
from tests.jobs.helpers import finished_page
from tests.web.test_uploads_before_lock import _lock_is_free

YEARS = range(2000, 2021)  # the schools S1 and S2 open in 2000
CELLS = [(unit, year, element, sex) for unit in ("S1", "S2") for year in YEARS
         for element, sex in (("PUPILS", "M"), ("PUPILS", "F"), ("TEACHERS", None))]
NOTE = "备注" * 5_000  # 10,000 characters, 30 KB in UTF-8: the file is about 3.8 MB
EXPECTED = {(unit, str(year), element, sex or "default"): str(year) for unit, year, element, sex in CELLS}


def _large_adx() -> bytes:
    """A value and a long comment for each cell of ``CELLS``; PUPILS by its SEX attribute."""
    groups: dict[tuple[str, int], list[str]] = {}
    for unit, year, element, sex in CELLS:
        categories = f' SEX="{sex}"' if sex else ""
        groups.setdefault((unit, year), []).append(
            f'<dataValue dataElement="{element}"{categories} value="{year}"><annotation>{NOTE}</annotation>'
            "</dataValue>")
    text = "".join(f'<group orgUnit="{unit}" period="{year}-01-01/P1Y" dataSet="SCHOOL_Y">{"".join(values)}'
                   "</group>" for (unit, year), values in groups.items())
    return f'<adx xmlns="{adx.ADX_NAMESPACE}">{text}</adx>'.encode()


@dataclass
class Served:
    path: str
    client: TestClient
    token: dict[str, str]
    seen: list[str]

    def stored(self) -> dict[tuple[str, str, str, str], str]:
        """The live values, read back through the API: (unit, period, element, combo) → value."""
        periods = [str(year) for year in YEARS]
        response = self.client.get("/api/dataValueSets", headers=self.token,
                                   params={"orgUnit": "SH", "children": "true", "period": periods})
        assert response.status_code == 200, response.text
        return {(v["orgUnit"], v["period"], v["dataElement"], v["categoryOptionCombo"]): v["value"]
                for v in response.json()["dataValues"] if v.get("comment") == NOTE}


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """An app on a SQLite file of its own whose XML parse of ADX notes the lock before and after."""
    path = str(tmp_path / "adx.sqlite3")
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.begin() as conn:
        indicator_setup(conn)
        token = token_for(conn, make_user(conn, "wang"))
    engine.dispose()
    seen: list[str] = []
    real = adx._parse_xml

    def parse_and_probe(data: bytes) -> Any:
        seen.append(_lock_is_free(path))
        root = real(data)
        seen.append(_lock_is_free(path))
        return root

    monkeypatch.setattr(adx, "_parse_xml", parse_and_probe)
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{path}")
    with TestClient(create_app(settings)) as client:
        yield Served(path, client, token, seen)
        client.app.state.db.engine.dispose()  # type: ignore[attr-defined]


def test_the_api_parses_a_large_adx_file_once_while_no_write_lock_is_held(served: Served) -> None:
    body = _large_adx()
    assert len(body) > 3_000_000
    response = served.client.post("/api/dataValueSets", content=body, params={"format": "adx"},
                                  headers={**served.token, "content-type": "application/adx+xml"})
    assert response.status_code == 200, response.text
    assert served.seen == ["free", "free"]  # parsed once, and the lock free from start to end
    assert served.stored() == EXPECTED  # the categories named the combos: SEX="M" is PUPILS' combo M


def test_the_entry_page_parses_an_adx_file_once_while_no_write_lock_is_held(served: Served) -> None:
    csrf = login(served.client, "wang")
    response = finished_page(served.client, served.client.post(
        "/data/entry/upload", data={"csrf_token": csrf}, follow_redirects=False,
        files={"file": ("values.adx", _large_adx(), "application/adx+xml")}))  # a job, read in its thread
    assert response.status_code == 200, response.text
    assert 'id="import-summary"' in response.text and "导入完成" in response.text  # Import complete
    assert served.seen == ["free", "free"]
    assert served.stored() == EXPECTED


def test_an_adx_file_with_problems_is_parsed_once_and_refused_with_the_same_problems(served: Served) -> None:
    body = (f'<adx xmlns="{adx.ADX_NAMESPACE}"><group orgUnit="S1" period="2020-01-01/P1Y">'
            '<dataValue dataElement="PUPILS" SEX="M" value="1"/><dataValue value="2"/>'
            '<dataValue dataElement="TEACHERS" value="3"><note/></dataValue></group></adx>').encode()
    response = served.client.post("/api/dataValueSets", content=body, params={"format": "adx"},
                                  headers={**served.token, "content-type": "application/adx+xml"})
    assert response.status_code == 422, response.text
    problems = [(p.get("row"), p.get("field")) for p in response.json()["problems"]]
    assert problems == [(2, "dataElement"), (3, "{urn:ihe:qrph:adx:2015}note")]
    assert served.seen == ["free", "free"]
    assert served.stored() == {}


def test_an_unreadable_adx_file_is_refused_before_the_transaction(served: Served) -> None:
    body = f'<adx xmlns="{adx.ADX_NAMESPACE}"><group orgUnit="S1"'.encode()
    response = served.client.post("/api/dataValueSets", content=body, params={"format": "adx"},
                                  headers={**served.token, "content-type": "application/adx+xml"})
    assert response.status_code == 422, response.text
    assert "not well-formed XML" in response.text
    assert served.seen == ["free"]  # refused by the parse outside the lock, not parsed again inside
