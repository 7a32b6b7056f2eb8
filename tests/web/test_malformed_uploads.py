"""Malformed files on every upload route and CLI import: a 4xx problem+json (or exit 2), nothing written.

Every file is made here: XLSX (truncated, broken sheet XML, undefined entity, entity bomb, encrypted
entry, unknown compression method, a zip that is no workbook), ADX XML (a DTD, truncated, wrong
root), CSV (not UTF-8, NUL bytes, ragged rows) and JSON (truncated, lone surrogates, wrong types,
deep nesting). Issue 9, item 9.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, create_engine, func, select

from jiaowei.db.migrate import upgrade
from jiaowei.db.tables import metadata
from jiaowei.settings import get_settings
from tests.admissions.test_campaign import campaign, world
from tests.factories import indicator_metadata, make_user, token_for

# ---------------------------------------------------------------- the files


def _workbook() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["code", "name_zh", "name_en", "type", "parent"])
    book.active.append(["S9", "学校九", "School 9", "primary_school", "D1"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _with_part(name: str, content: bytes) -> bytes:
    """The workbook of :func:`_workbook` with the part ``name`` replaced by ``content``."""
    source = zipfile.ZipFile(io.BytesIO(_workbook()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(entry.filename, content if entry.filename == name else source.read(entry))
    return out.getvalue()


SHEET = "xl/worksheets/sheet1.xml"
_BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lollollollollollollollollollol">'
         + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                    for i in range(1, 10))
         + b']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           b"<sheetData><row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>&lol9;</t></is></c></row>"
           b"</sheetData></worksheet>")


def _encrypted() -> bytes:
    data = bytearray(_with_part(SHEET, b"<worksheet/>"))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # general purpose flag, bit 0
        start = data.find(signature)
        while start != -1:
            data[start + offset] |= 0x1
            start = data.find(signature, start + 4)
    return bytes(data)


def _unknown_method() -> bytes:
    data = bytearray(_workbook())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # compression method
        start = data.find(signature)
        while start != -1:
            data[start + offset : start + offset + 2] = (99).to_bytes(2, "little")
            start = data.find(signature, start + 4)
    return bytes(data)


def _not_a_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hello")
    return out.getvalue()


XLSX: dict[str, Callable[[], bytes]] = {
    "truncated zip": lambda: _workbook()[: len(_workbook()) // 2],
    "broken sheet xml": lambda: _with_part(SHEET, b"<worksheet><sheetData><row><c>"),
    "undefined entity": lambda: _with_part(SHEET, b"<worksheet><sheetData>&nothing;</sheetData></worksheet>"),
    "entity bomb": lambda: _with_part(SHEET, _BOMB),
    "encrypted entry": _encrypted,
    "unknown compression": _unknown_method,
    "zip that is no workbook": _not_a_workbook,
}
ADX: dict[str, Callable[[], bytes]] = {
    "adx with a dtd": lambda: (b'<?xml version="1.0"?><!DOCTYPE adx [<!ENTITY x "y">]>'
                               b'<adx xmlns="urn:ihe:qrph:adx:2015"><group orgUnit="&x;"/></adx>'),
    "truncated adx": lambda: b'<?xml version="1.0"?><adx xmlns="urn:ihe:qrph:adx:2015"><group orgUnit="S1"',
    "wrong root": lambda: b'<?xml version="1.0"?><html><body/></html>',
}
CSV: dict[str, Callable[[], bytes]] = {
    "not utf-8": lambda: "code,name_zh\nS9,学校\n".encode("gb18030") + b"\xff\xfe",
    "nul bytes": lambda: b"code,name_zh,name_en,type,parent\nS9,\x00x,y\x00,primary_school,D1\n",
    "ragged rows": lambda: b'code,name_zh,name_en,type,parent\nS9,a\nS8,a,b,c,d,e,f,g\n"S7,unclosed\n',
}
JSON: dict[str, Callable[[], bytes]] = {
    "truncated json": lambda: b'{"dataValues": [{"dataElement": "TEACHERS", "per',
    "lone surrogate": lambda: (b'{"dataValues": [{"dataElement": "TEACHERS", "period": "2020", '
                               b'"orgUnit": "\\ud800", "value": "\\udc00"}], "dataElements": [{"code": '
                               b'"X\\ud800", "name": "\\ud800"}]}'),
    "wrong types": lambda: b'{"dataValues": {"a": 1}, "dataElements": "x", "period": 5}',
    "deep nesting": lambda: b"[" * 100_000 + b"]" * 100_000,
}
ALL = {**XLSX, **ADX, **CSV, **JSON}

# Route, the cases it gets, and the file name each is sent as.
UNITS = ("/api/units/import", {**XLSX, **CSV, **JSON})
VALUES = ("/api/dataValueSets", ALL)
APPLICANTS = ("/api/admissions/campaigns/C2020/applicants/import", {**CSV, **XLSX})
METADATA = ("/api/metadata", JSON)
ROUTES = (UNITS, VALUES, APPLICANTS, METADATA)
CASES = [(route, name) for route, cases in ROUTES for name in cases]
ROUTE_IDS = {UNITS[0]: "units", VALUES[0]: "values", APPLICANTS[0]: "applicants", METADATA[0]: "metadata"}
EXTENSION = {**{n: "xlsx" for n in XLSX}, **{n: "xml" for n in ADX}, **{n: "csv" for n in CSV},
             **{n: "json" for n in JSON}}


def _counts(conn: Connection) -> dict[str, int]:
    return {name: conn.scalar(select(func.count()).select_from(table)) or 0
            for name, table in metadata.tables.items()}


@pytest.fixture
def world_and_headers(conn: Connection) -> dict[str, str]:
    world(conn)
    indicator_metadata(conn)
    campaign(conn)
    return token_for(conn, make_user(conn))


@pytest.mark.parametrize(("route", "case"), CASES, ids=[f"{ROUTE_IDS[r]}-{c}" for r, c in CASES])
def test_a_malformed_upload_gets_a_problem_and_writes_nothing(client: TestClient, conn: Connection,
                                                              world_and_headers: dict[str, str],
                                                              route: str, case: str) -> None:
    data = ALL[case]()
    before = _counts(conn)
    params = {"filename": f"upload.{EXTENSION[case]}"}
    content_type = {"json": "application/json", "xml": "application/xml", "csv": "text/csv"}.get(
        EXTENSION[case], "application/octet-stream")
    response = client.post(route, content=data, params=params,
                           headers={**world_and_headers, "content-type": content_type})
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    body = response.json()
    if body.get("response", {}).get("responseType") == "ImportSummary":  # DHIS2's answer to unknown codes
        assert route == VALUES[0] and response.status_code == 409 and body["response"]["conflicts"], body
    elif body.get("responseType") == "ImportReport":  # DHIS2's answer to a refused metadata bundle
        assert route == METADATA[0] and response.status_code == 409 and body["problems"], body
    else:
        assert response.headers["content-type"].startswith("application/problem+json"), response.text[:300]
        assert body["detail"] and body["status"] == response.status_code
    assert _counts(conn) == before


@pytest.mark.parametrize("route", ["/api/dataValues", "/api/units", "/api/admissions/public/C2020/lookup"])
def test_a_lone_surrogate_in_a_json_body_is_named(client: TestClient, conn: Connection,
                                                   world_and_headers: dict[str, str], route: str) -> None:
    body = {"/api/dataValues": b'{"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S1", '
                               b'"value": "1", "comment": "a\\ud800"}',
            "/api/units": b'{"code": "X1", "name_zh": "a\\ud800", "name_en": "b", "type": "primary_school", '
                          b'"parent": "D1"}',
            "/api/admissions/public/C2020/lookup": b'{"number": "\\ud800", "birth_date": "2013-05-17"}',
            }[route]
    before = _counts(conn)
    response = client.post(route, content=body,
                           headers={**world_and_headers, "content-type": "application/json"})
    assert response.status_code == 422, response.text[:500]
    problems = response.json()["problems"]
    assert any("U+D800" in p["message"] and "\\ud800" in p["value"] for p in problems), problems
    assert _counts(conn) == before


# ---------------------------------------------------------------- the command line

COMMANDS = {"units": {**XLSX, **CSV}, "data": ALL, "metadata": JSON}
CLI_CASES = [(command, name) for command, cases in COMMANDS.items() for name in cases]


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("JIAOWEI_HOME", str(tmp_path))
    monkeypatch.setenv("JIAOWEI_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


@pytest.mark.parametrize(("command", "case"), CLI_CASES, ids=[f"{c}-{n}" for c, n in CLI_CASES])
def test_a_malformed_file_exits_2_and_writes_nothing(cli_database: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str],
                                                      command: str, case: str) -> None:
    from jiaowei.cli.main import main

    file = tmp_path / f"upload.{EXTENSION[case]}"
    file.write_bytes(ALL[case]())
    engine = create_engine(cli_database)
    with engine.connect() as conn:
        before = _counts(conn)
    monkeypatch.setattr(sys, "argv", ["jiaowei", command, "import", str(file)])
    with pytest.raises(SystemExit) as exited:
        main()
    printed = capsys.readouterr()
    assert exited.value.code == 2, printed
    assert "Traceback" not in printed.err
    conflicts = command == "data" and "ERROR" in printed.out and "Problems" in printed.out
    assert "Error" in printed.err or conflicts
    with engine.connect() as conn:
        assert _counts(conn) == before
    engine.dispose()


def test_every_case_is_sent_somewhere() -> None:
    assert set(ALL) == {name for _, cases in ROUTES for name in cases}
    json.dumps(list(ALL))  # the case names are plain text
