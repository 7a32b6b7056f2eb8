"""Availability (issue 9, items 1 and 3): no client can stall the writers, and lock waits end in 503.

A real server (``jiaowei serve``, uvicorn) on a free loopback port gets raw sockets that send part of
a request and stall; meanwhile other clients write and read. In-process clients check the limits
(413), and a held lock answers 503 with ``Retry-After`` on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io
import os
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, create_engine, text

from jiaowei.db.engine import BoundDatabase, make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.indicators.values import formats
from jiaowei.registry import transfer
from jiaowei.settings import Settings
from jiaowei.web.app import create_app, routers
from jiaowei.web.body import takes_files_route
from tests.conftest import BACKENDS
from tests.factories import make_user, small_tree, token_for
from tests.pgcluster import free_port

_codes = count(1)


def _unit() -> dict[str, str]:
    return {"code": f"AV{next(_codes)}", "name_zh": "学校", "name_en": "School", "type": "primary_school",
            "parent": "D1"}


def _prepare(url: str) -> dict[str, str]:
    """A migrated database with a small tree and an administrator; the administrator's token."""
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        small_tree(conn)
        headers = token_for(conn, make_user(conn, "wang"))
    engine.dispose()
    return headers


# ---------------------------------------------------------------- a real server


@dataclass
class Server:
    host: str
    port: int
    headers: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def socket(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{home / 'served.sqlite3'}"
    headers = _prepare(url)
    port = free_port()
    env = {**os.environ, "JIAOWEI_HOME": str(home), "JIAOWEI_DATABASE_URL": url,
           "JIAOWEI_BODY_TIMEOUT_SECONDS": "3", "JIAOWEI_HEADER_TIMEOUT_SECONDS": "2"}
    with (home / "server.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "jiaowei", "serve", "--port", str(port)], env=env,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        found = Server("127.0.0.1", port, headers)
        _wait_until_up(found, process, home / "server.log")
        yield found
    finally:
        process.terminate()
        process.wait(timeout=20)


def _wait_until_up(server: Server, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text(errors="replace"))
        try:
            if httpx.get(f"{server.url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start: " + log.read_text(errors="replace"))


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _one_response(sock: socket.socket) -> bytes:
    """One response of a kept-alive connection (it has a Content-Length)."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_an_unfinished_post_blocks_no_writer_and_no_token_reader(server: Server) -> None:
    with server.socket() as slow:
        slow.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
                     b"username=a")
        time.sleep(0.5)  # the server has the headers and waits for the other 990 bytes
        started = time.monotonic()
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=10) as other:
            created = other.post("/api/units", json=_unit())
            written = time.monotonic() - started
            read = other.get("/api/units")
        assert created.status_code == 201, created.text
        assert written < 2, f"a write waited {written:.1f} s behind an unfinished body"
        assert read.status_code == 200, read.text
        answer = _answer(slow)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"application/problem+json" in answer


@pytest.mark.parametrize("sent", [b"", b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"],
                         ids=["nothing", "half the headers"])
def test_slow_headers_are_answered_408_and_closed(server: Server, sent: bytes) -> None:
    with server.socket() as slow:
        slow.sendall(sent)
        started = time.monotonic()
        answer = _answer(slow)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert 1 < waited < 6, waited


def test_a_keep_alive_connection_gets_a_full_request_through(server: Server) -> None:
    request = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with server.socket() as sock:
        sock.sendall(request)
        first = _one_response(sock)
        sock.sendall(request[:10])  # the next request stalls half-way: timed out like the first
        rest = _answer(sock)
    assert first.startswith(b"HTTP/1.1 200")
    assert rest.startswith(b"HTTP/1.1 408"), rest[:200]


# ---------------------------------------------------------------- limits (in process)


@pytest.fixture
def limited(db: BoundDatabase, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    small_tree(db.connection)
    headers = token_for(db.connection, make_user(db.connection, "wang"))
    settings = Settings(home=tmp_path, max_body_bytes=2000, max_upload_bytes=100_000)
    with TestClient(create_app(settings, database=db)) as client:
        yield client, headers


@pytest.mark.parametrize(("lang", "words"), [("en", "at most 2000 bytes"), ("zh-CN", "最多 2000 字节")])
def test_a_body_over_the_limit_gets_413_naming_the_limit(limited: tuple[TestClient, dict[str, str]],
                                                         lang: str, words: str) -> None:
    client, headers = limited
    body = b'{"code": "' + b"x" * 3000 + b'"}'
    response = client.post("/api/units", content=body, headers={**headers, "accept-language": lang,
                                                                 "content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert words in response.json()["detail"]


def test_a_streamed_body_over_the_limit_gets_413(limited: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = limited
    chunks = (b"x" * 500 for _ in range(10))  # no Content-Length: counted as it arrives
    response = client.post("/api/units", content=chunks,
                           headers={**headers, "content-type": "application/json"})
    assert response.status_code == 413, response.text


def test_an_upload_route_takes_the_larger_limit(limited: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = limited
    rows = "".join(f"U{i},学校{i},School {i},primary_school,D1\n" for i in range(150))
    csv = ("code,name_zh,name_en,type,parent\n" + rows).encode()
    assert 2000 < len(csv) < 100_000
    accepted = client.post("/api/units/import", content=csv, params={"filename": "u.csv", "dry_run": "1"},
                           headers={**headers, "content-type": "text/csv"})
    assert accepted.status_code == 200, accepted.text
    refused = client.post("/api/units/import", content=csv * 30, params={"filename": "u.csv"},
                          headers={**headers, "content-type": "text/csv"})
    assert refused.status_code == 413 and "100000" in refused.json()["detail"]


def test_every_route_that_takes_files_is_marked() -> None:
    marked = {(method, route.path) for router in routers() for route in router.routes  # type: ignore[attr-defined]
              if takes_files_route(route) for method in route.methods}  # type: ignore[attr-defined]
    assert marked == {
        ("POST", "/api/units/import"), ("POST", "/api/dataValueSets"), ("POST", "/api/metadata"),
        ("POST", "/api/admissions/campaigns/{code}/applicants/import"), ("POST", "/units/import"),
        ("POST", "/api/admissions/campaigns/{code}/priorities/import"),
        ("POST", "/data/entry/upload"), ("POST", "/admissions/{code}/applicants/import"),
        # plans: workbooks, and the forms and API routes that carry evidence files
        ("POST", "/api/plans/import"), ("POST", "/plans/import"),
        ("POST", "/api/plans/tasks/{uid}/reports"), ("POST", "/plans/tasks/{uid}/report"),
        ("POST", "/api/plans/appraisals/rounds/{uid}/subjects/{subject}/scores/{criterion}/evidence"),
        ("POST", "/plans/appraisals/{uid}/subjects/{subject}"),
        ("POST", "/api/plans/rectification/measures/{uid}/evidence"),
        ("POST", "/api/plans/rectification/measures/{uid}/transitions"),
        ("POST", "/plans/rectification/measures/{uid}/transition"),
        ("POST", "/api/plans/risks/{uid}/reviews"), ("POST", "/plans/risks/{uid}/reviews")}


def _bomb(unpacked: int) -> bytes:
    """A workbook whose sheet unpacks to ``unpacked`` bytes of empty rows (a few hundred kB zipped)."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["code", "name_zh", "name_en", "type", "parent"])
    plain = io.BytesIO()
    book.save(plain)
    source = zipfile.ZipFile(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"<row/>" * (unpacked // 6) + b"</sheetData>")
            target.writestr(entry.filename, data)
    return out.getvalue()


def test_a_workbook_that_unpacks_too_far_is_refused_before_it_is_parsed(
        limited: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = limited
    bomb = _bomb(30_000_000)
    assert len(bomb) < 100_000
    started = time.monotonic()
    response = client.post("/api/units/import", content=bomb, params={"filename": "bomb.xlsx"},
                           headers={**headers, "content-type": "application/octet-stream"})
    assert response.status_code == 422, response.text
    assert "unpacks" in str(response.json()["problems"]), response.text
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------- files parsed before the lock


def _probe(path: str, seen: list[str]) -> None:
    """Whether another connection could take SQLite's write lock at this moment."""
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        seen.append("free")
    except sqlite3.OperationalError:
        seen.append("locked")
    finally:
        probe.close()


CSV_UNITS = b"code,name_zh,name_en,type,parent\nP1,\xe5\xad\xa6,School,primary_school,D1\n"
VALUES_JSON = b'{"dataValues": [{"dataElement": "X", "period": "2020", "orgUnit": "S1", "value": "1"}]}'


@pytest.mark.parametrize(("route", "body", "parser"), [
    ("/api/units/import", CSV_UNITS, (transfer, "parse")),
    ("/api/dataValueSets", VALUES_JSON, (formats, "read")),
], ids=["units", "data values"])
def test_an_upload_is_parsed_while_no_write_lock_is_held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        route: str, body: bytes,
                                                        parser: tuple[object, str]) -> None:
    path = str(tmp_path / "parse.sqlite3")
    headers = _prepare(f"sqlite:///{path}")
    module, name = parser
    real = getattr(module, name)
    seen: list[str] = []

    def parse_and_probe(*args: object, **kwargs: object) -> object:
        _probe(path, seen)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, parse_and_probe)
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{path}")
    with TestClient(create_app(settings)) as client:
        response = client.post(route, content=body, params={"filename": "file" + (".csv" if b"code" in body
                                                                                    else ".json")},
                               headers={**headers, "content-type": "application/octet-stream"})
        client.app.state.db.engine.dispose()  # type: ignore[attr-defined]
    assert response.status_code < 500, response.text
    assert seen and seen[0] == "free", seen


# ---------------------------------------------------------------- lock waits


@pytest.fixture(params=BACKENDS)
def busy_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A committed database of its own (the test holds a lock in it from another connection)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'busy.sqlite3'}"
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = f"busy_{os.getpid()}_{next(_codes)}"
    admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield cluster.url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def _hold_write_lock(url: str) -> tuple[object, Connection | None]:
    if url.startswith("sqlite"):
        holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        return holder, None
    engine = create_engine(url)
    conn = engine.connect()
    conn.execute(text("LOCK TABLE units IN SHARE ROW EXCLUSIVE MODE"))  # writers wait, readers do not
    return engine, conn


def test_a_request_waits_a_bounded_time_for_a_lock_then_gets_503(busy_database: str, tmp_path: Path) -> None:
    headers = _prepare(busy_database)
    settings = Settings(home=tmp_path, database_url=busy_database, lock_timeout_seconds=0.5)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        holder, conn = _hold_write_lock(busy_database)
        try:
            started = time.monotonic()
            refused = client.post("/api/units", json=_unit(), headers=headers)
            waited = time.monotonic() - started
            read = client.get("/api/units", headers=headers)
        finally:
            if conn is not None:
                conn.rollback()
                conn.close()
            holder.close() if isinstance(holder, sqlite3.Connection) else holder.dispose()  # type: ignore[attr-defined]
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"].isdigit()
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert waited < 4, waited
        assert read.status_code == 200, read.text
        assert client.post("/api/units", json=_unit(), headers=headers).status_code == 201
        client.app.state.db.engine.dispose()  # type: ignore[attr-defined]
