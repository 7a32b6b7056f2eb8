"""Large uploads stream (issue 13): through the data entry page, and through ``POST /api/dataValueSets``
with id schemes. Each gives the same answer and the same stored state as the file held whole, and a
refusal late in the file leaves the data exactly as it was, on both databases.

Every upload is large here: ``exchange.STREAM_ABOVE`` is lowered to 1 byte (the whole-file answer is
taken with it as it is), and ``values.BATCH`` to 7 rows, so that 60 values are checked and written in
nine batches. The proof that a file streamed: only the streamed JSON reader wants a file's own
``period`` before its values (docs/dhis2.md), so a file with it after them is refused only then.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators import store
from jiaowei.indicators.values import exchange
from jiaowei.indicators.values import service as values
from jiaowei.registry import queries as registry_queries
from jiaowei.registry import service as registry
from tests.factories import login, make_user, token_for
from tests.indicators.values.test_streaming import CLOSED, daily_values, setup, state

LATE_PERIOD = {"dataValues": [{"dataElement": "CASES", "orgUnit": "S1", "value": "1"}], "period": "20200105"}


@pytest.fixture
def spool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The folder large uploads are spooled to (empty once each request or job is done); batches of 7."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setattr(values, "BATCH", 7)
    return folder


def both_ways(monkeypatch: pytest.MonkeyPatch, spool: Path, conn: Connection, send: Any) -> list[Any]:
    """``send()``'s answer and the stored state, streamed then held whole; each undone after."""
    results = []
    for threshold in (1, exchange.STREAM_ABOVE):
        monkeypatch.setattr(exchange, "STREAM_ABOVE", threshold)
        savepoint = conn.begin_nested()
        results.append((*send(), state(conn)))
        savepoint.rollback()
        assert list(spool.glob("jiaowei-upload-*")) == []  # the spooled file is deleted once done
    return results


def uids(conn: Connection) -> dict[str, str]:
    """The DHIS2 uid of the element CASES and of the units S1 and S2, by code."""
    units = registry_queries.unit_codes("u")
    found = dict(conn.execute(select(units.c.code, units.c.uid).where(units.c.code.in_(["S1", "S2"]))).all())
    element = store.data_elements
    found["CASES"] = conn.execute(select(element.c.uid).where(element.c.code == "CASES")).scalar_one()
    return found


def exported(client: TestClient, headers: dict[str, str], conn: Connection, fmt: str, scheme: str) -> bytes:
    """The daily values as ``GET /api/dataValueSets`` writes them in ``fmt`` and ``scheme`` (then undone)."""
    savepoint = conn.begin_nested()
    values.import_values(conn, principal=SYSTEM, source="test", rows=exchange.read_rows(
        conn, data=json.dumps({"dataValues": daily_values()}).encode(), format="dhis2-json"))
    response = client.get("/api/dataValueSets", headers=headers, params={
        "dataSet": "DAILY", "orgUnit": ["S1", "S2"], "format": fmt, "idScheme": scheme})
    savepoint.rollback()
    assert response.status_code == 200, response.text
    return response.content


# ---------------------------------------------------------------- the API, with id schemes


@pytest.mark.parametrize(("fmt", "scheme"), [("dhis2-json", "UID"), ("dhis2-csv", "NAME"), ("dxf2", "UID"),
                                             ("adx", "NAME")])
def test_an_upload_in_an_id_scheme_streams_as_held_whole(client: TestClient, conn: Connection, spool: Path,
                                                         monkeypatch: pytest.MonkeyPatch, fmt: str,
                                                         scheme: str) -> None:
    """An export in a scheme, posted back in that scheme with S2 closed from the 20th: the same
    answer (its conflicts naming S2 as the file does) and the same values, streamed or held whole.
    (Units are named as they stand today: under NAME, the closed S2 is named by nothing.)"""
    setup(conn)
    headers = token_for(conn, make_user(conn, "dataadmin"))
    data = exported(client, headers, conn, fmt, scheme)
    registry.close_unit(conn, principal=SYSTEM, code="S2", effective=CLOSED)

    def send() -> tuple[int, Any]:
        response = client.post("/api/dataValueSets", content=data, headers=headers,
                               params={"format": fmt, "idScheme": scheme, "atomicMode": "NONE"})
        return response.status_code, response.json()["response"]

    streamed, whole = both_ways(monkeypatch, spool, conn, send)
    assert streamed == whole
    answer = streamed[1]
    imported = 49 if scheme == "UID" else 30
    assert answer["importCount"] == {"imported": imported, "updated": 0, "ignored": 60 - imported,
                                     "deleted": 0}
    shown = {c["object"] for c in answer["conflicts"]}  # S2 as the file names it
    assert len(shown) == 1 and shown != {"S2"} and shown.pop().encode() in data
    assert scheme != "UID" or {c["object"] for c in answer["conflicts"]} == {uids(conn)["S2"]}
    assert len(streamed[2][0]) == imported
    if fmt == "dhis2-json":  # proof that it streamed
        late = json.dumps(LATE_PERIOD).encode()
        answers = both_ways(monkeypatch, spool, conn, lambda: (client.post(
            "/api/dataValueSets", content=late, headers=headers, params={"idScheme": "CODE"}).status_code,))
        assert [a[0] for a in answers] == [422, 200]


def test_a_bad_row_late_in_an_upload_in_an_id_scheme_leaves_the_data_as_it_was(
    client: TestClient, conn: Connection, spool: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every stored value changed by the file, and its last row (in the ninth batch of 7, eight
    written before it) names no element in the UID scheme: 409, nothing changed, row/field/value named."""
    setup(conn)
    headers = token_for(conn, make_user(conn, "dataadmin"))
    values.import_values(conn, principal=SYSTEM, source="test", rows=exchange.read_rows(
        conn, data=json.dumps({"dataValues": daily_values()}).encode(), format="dhis2-json"))
    before = state(conn)
    ids = uids(conn)
    items = [{**item, "dataElement": ids["CASES"], "orgUnit": ids[item["orgUnit"]], "value": "7"}
             for item in daily_values()]
    items[-1]["dataElement"] = "CASES"  # a code, not a uid
    data = json.dumps({"dataValues": items}).encode()

    def send() -> tuple[int, Any]:
        response = client.post("/api/dataValueSets", content=data, headers=headers,
                               params={"idScheme": "UID"})
        return response.status_code, response.json()["response"]

    streamed, whole = both_ways(monkeypatch, spool, conn, send)
    assert streamed == whole and streamed[0] == 409
    assert [(c["row"], c["field"], c["object"]) for c in streamed[1]["conflicts"]] == [
        (60, "dataElement", "CASES")]
    assert streamed[2] == before and state(conn) == before


# ---------------------------------------------------------------- the data entry page


def upload(client: TestClient, csrf: str, name: str, data: bytes) -> int:
    """Post a file to the data entry page; the status of the job's page it leads to."""
    response = client.post("/data/entry/upload", headers={"accept": "text/html", "x-csrf-token": csrf},
                           data={"ds": "DAILY", "pe": "20200105", "ou": "S1"},
                           files={"file": (name, data, "application/octet-stream")})
    return response.status_code


def test_a_large_page_upload_streams_as_held_whole(client: TestClient, conn: Connection, spool: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A CSV file: the same job answer and values, streamed or held whole."""
    setup(conn)
    make_user(conn, "uploader")
    csrf = login(client, "uploader")
    data = ("dataelement,period,orgunit,catoptcombo,attroptcombo,value\n" + "".join(
        f"{i['dataElement']},{i['period']},{i['orgUnit']},,,{i['value']}\n" for i in daily_values())).encode()
    streamed, whole = both_ways(monkeypatch, spool, conn, lambda: (upload(client, csrf, "values.csv", data),))
    assert streamed == whole and streamed[0] == 200 and len(streamed[1][0]) == 60
    late = json.dumps(LATE_PERIOD).encode()  # proof that it streamed
    answers = both_ways(monkeypatch, spool, conn, lambda: (upload(client, csrf, "late.json", late),))
    assert [a[0] for a in answers] == [422, 200]


@pytest.mark.parametrize("last", [{"value": "many"}, {"period": 2020}])
def test_a_bad_row_late_in_a_large_page_upload_leaves_the_data_as_it_was(
    client: TestClient, conn: Connection, spool: Path, monkeypatch: pytest.MonkeyPatch, last: dict[str, Any]
) -> None:
    """Stored values changed by the file, whose last row is refused (a value not a number: 409; a
    period that is not text: the file is unreadable, 422): nothing changed."""
    setup(conn)
    values.import_values(conn, principal=SYSTEM, source="test", rows=exchange.read_rows(
        conn, data=json.dumps({"dataValues": daily_values()}).encode(), format="dhis2-json"))
    before = state(conn)
    make_user(conn, "uploader")
    csrf = login(client, "uploader")
    items = [{**item, "value": "7"} for item in daily_values()]
    items[-1].update(last)
    data = json.dumps({"dataValues": items}).encode()
    streamed, whole = both_ways(monkeypatch, spool, conn, lambda: (upload(client, csrf, "v.json", data),))
    assert streamed == whole and streamed[0] == (422 if "period" in last else 409)
    assert streamed[1] == before and state(conn) == before
