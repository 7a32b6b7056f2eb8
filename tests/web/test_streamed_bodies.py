"""A file route's body is counted as it streams, never held whole (issue 17, review finding 13).

``web/body.py`` hands the body of a route that takes files to the app chunk by chunk, counting it
against ``JIAOWEI_MAX_UPLOAD_BYTES`` and timing it against ``JIAOWEI_UPLOAD_TIMEOUT_SECONDS`` on the
way; ``uploads._body`` writes a large raw body to disk as it arrives. Here the client streams each
body in chunks without ``Content-Length`` (httpx's ASGI transport hands the app one chunk per
``receive``, where the test client would read the body whole first), and ``exchange.STREAM_ABOVE``
is 1 byte, so that every upload goes to a temporary file in ``spool``.
"""

from __future__ import annotations

import json
import tempfile
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient

from jiaowei.db.engine import BoundDatabase
from jiaowei.errors import Problem, ValidationError
from jiaowei.indicators.values import exchange, uploads
from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.factories import make_user, token_for
from tests.indicators.values.test_streaming import daily_values, setup, state

LIMIT = 100_000
CHUNK = 10_000


@pytest.fixture
def spool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The folder uploads are written to; every raw body is large (written to disk)."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setattr(exchange, "STREAM_ABOVE", 1)
    return folder


@pytest.fixture
def app(db: BoundDatabase, tmp_path: Path, spool: Path) -> Iterator[TestClient]:
    """An app taking uploads of at most ``LIMIT`` bytes within 2 seconds, with the data set DAILY."""
    setup(db.connection)
    settings = Settings(home=tmp_path, max_upload_bytes=LIMIT, upload_timeout_seconds=2)
    with TestClient(create_app(settings, database=db)) as client:
        yield client


def post(client: TestClient, body: AsyncIterator[bytes], **headers: str) -> httpx.Response:
    """``POST /api/dataValueSets`` with ``body`` streamed chunk by chunk, without Content-Length."""

    async def posting() -> httpx.Response:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as streaming:
            return await streaming.post("/api/dataValueSets", content=body, headers=headers)

    assert client.portal is not None
    return client.portal.call(posting)


def chunks(count: int, sent: list[int], *, size: int = CHUNK, pause: float = 0) -> AsyncIterator[bytes]:
    """``count`` chunks of ``size`` bytes, each made when asked for; ``sent`` counts those asked for."""

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(count):
            sent.append(size)
            yield b" " * size
            await anyio.sleep(pause)

    return chunked()


def token(db: BoundDatabase) -> dict[str, str]:
    return token_for(db.connection, make_user(db.connection, "dataadmin"))


@pytest.mark.parametrize(("lang", "words"), [("en", f"at most {LIMIT} bytes"),
                                             ("zh-CN", f"最多 {LIMIT} 字节")])
def test_an_upload_over_the_limit_without_content_length_is_refused_as_it_streams(
    app: TestClient, db: BoundDatabase, spool: Path, lang: str, words: str
) -> None:
    """1 MB in 100 chunks to a route that takes 100,000 bytes: 413 problem+json naming the limit in
    the asked language, as one refused by its Content-Length; the body stops being read at the
    limit, the part written to disk is deleted, and nothing is stored."""
    before = state(db.connection)
    headers = {**token(db), "accept-language": lang, "content-type": "application/json"}
    sent: list[int] = []
    response = post(app, chunks(100, sent), **headers)
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["connection"] == "close"
    assert words in response.json()["detail"]
    declared = app.post("/api/dataValueSets", content=b" " * 100 * CHUNK, headers=headers)
    assert declared.status_code == 413
    assert response.json() == {**declared.json(), "problems": [  # all but the size Content-Length said
        {k: v for k, v in p.items() if k != "value"} for p in declared.json()["problems"]]}
    assert sum(sent) <= LIMIT + 2 * CHUNK  # stopped at the limit, not read to its end
    assert list(spool.iterdir()) == []
    assert state(db.connection) == before


def test_an_upload_that_arrives_too_slowly_is_refused_with_408(app: TestClient, db: BoundDatabase,
                                                               spool: Path) -> None:
    """Chunks every 0.4 s against a 2-second deadline: 408 problem+json, nothing left on disk."""
    sent: list[int] = []
    response = post(app, chunks(9, sent, pause=0.4), **token(db))
    assert response.status_code == 408, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert len(sent) < 9
    assert list(spool.iterdir()) == []


def test_an_upload_under_the_limit_without_content_length_still_imports(app: TestClient, db: BoundDatabase,
                                                                        spool: Path) -> None:
    """60 values streamed in chunks of 100 bytes: imported, the temporary file deleted after."""
    data = json.dumps({"dataValues": daily_values()}).encode()
    assert len(data) < LIMIT

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 100):
            yield data[start:start + 100]

    response = post(app, body(), **token(db), **{"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["response"]["importCount"]["imported"] == 60
    assert len(state(db.connection)[0]) == 60
    assert list(spool.iterdir()) == []


def test_a_large_upload_is_never_held_whole_in_memory(db: BoundDatabase, tmp_path: Path, spool: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """32 MB streamed in 64 kB chunks: once it is on disk (whole), the most memory Python held since
    the request began is a few MB (``uploads.CHUNK``, 1 MB, waits to be written), not the body."""
    size, count = 64 * 1024, 512
    seen: dict[str, int] = {}

    def on_disk(data: bytes, filename: str, content_type: str | None, format: str | None,
                path: Path | None = None) -> Any:
        seen["held"], seen["written"] = tracemalloc.get_traced_memory()[1], path.stat().st_size if path else 0
        raise ValidationError("seen", [Problem("seen", field="file")])

    monkeypatch.setattr(uploads, "read", on_disk)
    settings = Settings(home=tmp_path, max_upload_bytes=64 * 1024 * 1024)
    with TestClient(create_app(settings, database=db)) as client:
        headers = token(db)
        assert post(client, chunks(1, [], size=size), **headers).status_code == 422  # warmed up
        tracemalloc.start()
        try:
            response = post(client, chunks(count, [], size=size), **headers)
        finally:
            tracemalloc.stop()
    assert response.status_code == 422, response.text
    assert seen["written"] == size * count
    assert seen["held"] < size * count // 4, seen
    assert list(spool.iterdir()) == []


def test_a_client_gone_mid_upload_gets_no_answer_and_leaves_nothing(app: TestClient, db: BoundDatabase,
                                                                    spool: Path) -> None:
    """Two chunks, then the client goes away: no answer, no error, nothing on disk or stored (as when
    the whole body was awaited before the app began)."""
    before = state(db.connection)
    headers = [(k.lower().encode(), v.encode()) for k, v in token(db).items()]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/api/dataValueSets", "raw_path": b"/api/dataValueSets",
             "root_path": "", "query_string": b"", "headers": [(b"host", b"testserver"), *headers],
             "client": ("127.0.0.1", 1234), "server": ("testserver", 80)}
    messages = [{"type": "http.request", "body": b" " * CHUNK, "more_body": True}] * 2
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    async def call() -> None:
        await app.app(scope, receive, send)

    assert app.portal is not None
    app.portal.call(call)
    assert sent == []
    assert list(spool.iterdir()) == []
    assert state(db.connection) == before
