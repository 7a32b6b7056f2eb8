"""Every request's body is received within a time and size limit, before the app's transaction begins.

No transaction begins before the body is in hand: a client that sends the headers of a POST and
then stalls holds one connection of the server, never SQLite's write lock. :class:`WholeBody` is an
ASGI layer that counts the body (at most ``JIAOWEI_MAX_BODY_BYTES``, or ``JIAOWEI_MAX_UPLOAD_BYTES``
on routes that take files, marked with :data:`TAKES_FILES`) and times it (within
``JIAOWEI_BODY_TIMEOUT_SECONDS``, ``JIAOWEI_UPLOAD_TIMEOUT_SECONDS`` for files). A body over the limit
answers 413 and one that arrives too slowly 408, as problem+json (or an error page for a browser).

An ordinary body (small) is received whole, then replayed to the app: whatever a handler reads
later, and when, the bytes are here. A file route's body is never held whole: the app gets it chunk
by chunk as it arrives, counted and timed on the way (also without ``Content-Length``, or past a
false one), so that an upload is written to disk as it comes (``indicators/values/uploads.py``)
instead of sitting in memory, up to ``JIAOWEI_MAX_UPLOAD_BYTES``, per request. Those routes read their
body in dependencies named before ``Conn`` (or as FastAPI's form fields, read before any
dependency), so no transaction is open while it arrives; the request's pooled connection is checked
out (idle) once the user is known, though. Refused mid-way, the answer is the same 413 or 408 as one
refused before the app began: ``receive`` raises it into the app, and the layer drops what the app
answers and sends it itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import anyio
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jiaowei.domains import N_
from jiaowei.errors import M_, ContentTooLarge, JiaoweiError, Problem, RequestTimeout
from jiaowei.i18n import translate
from jiaowei.settings import Settings
from jiaowei.web.deps import language
from jiaowei.web.errors import respond

TOO_LARGE = N_("The request's body is larger than this address accepts: at most {limit} bytes.")
TOO_SLOW = N_("The request's body did not arrive within {seconds} seconds.")


def takes_files() -> None:
    """Marks a route that takes files: its body may be as large as ``JIAOWEI_MAX_UPLOAD_BYTES``."""


TAKES_FILES = Depends(takes_files)


@dataclass(frozen=True)
class Limit:
    """How large a body may be (bytes) and how long it may take to arrive (seconds)."""

    size: int
    seconds: float


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


class WholeBody:
    """ASGI layer: receive an ordinary body whole within its limits, then hand it to ``app``; hand a file
    route's body on as it arrives, within its limits."""

    def __init__(self, app: ASGIApp, *, settings: Settings, routes: Iterable[BaseRoute]) -> None:
        """``routes``: the domain routers' own routes (each with its router's prefix)."""
        self.app = app
        self.ordinary = Limit(settings.max_body_bytes, settings.body_timeout_seconds)
        self.files = Limit(settings.max_upload_bytes, settings.upload_timeout_seconds)
        self.file_routes = [r for r in routes if takes_files_route(r)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _may_have_body(scope):
            await self.app(scope, receive, send)
            return
        streams = self.takes_files(scope)
        limit = self.files if streams else self.ordinary
        declared = _content_length(scope)
        if declared is not None and declared > limit.size:
            await _refuse(scope, receive, send, _too_large(scope, limit, declared))
            return
        if streams:
            await self.streamed(scope, receive, send, limit)
            return
        try:
            with anyio.fail_after(limit.seconds):
                chunks = await _receive_all(receive, limit.size)
        except _Disconnected:
            return
        except _TooLarge:
            await _refuse(scope, receive, send, _too_large(scope, limit, declared))
            return
        except TimeoutError:
            await _refuse(scope, receive, send, _too_slow(scope, limit))
            return
        await self.app(scope, _replay(chunks, receive), send)

    async def streamed(self, scope: Scope, receive: Receive, send: Send, limit: Limit) -> None:
        """Run the app with the body as it arrives. Past the limit or the deadline, ``receive`` raises
        the 413 or 408 into the app (which gives up reading); what the app answers then is dropped and
        the refusal sent instead, as when it is refused before the app begins. A client gone
        mid-body gets no answer, as then."""
        body = _Counted(scope, receive, limit)
        started = False

        async def answering(message: Message) -> None:
            nonlocal started
            if started or (body.refused is None and not body.gone):
                started = started or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, body.receive, answering)
        except Exception:
            if started or (body.refused is None and not body.gone):
                raise
        if body.refused is not None and not started:
            await _refuse(scope, receive, send, body.refused)

    def takes_files(self, scope: Scope) -> bool:
        """Whether the request goes to a route marked with :data:`TAKES_FILES`."""
        return any(route.matches(scope)[0] is Match.FULL for route in self.file_routes)


class _Counted:
    """A body as it arrives, chunk by chunk (never held), counted against ``limit.size`` and timed
    against ``limit.seconds`` from the request's start; ``refused``: the error that stopped it."""

    def __init__(self, scope: Scope, receive: Receive, limit: Limit) -> None:
        self.scope, self.source, self.limit = scope, receive, limit
        self.deadline = anyio.current_time() + limit.seconds
        self.total = 0
        self.ended = False  # the last chunk has arrived: the server's own messages follow, untimed
        self.gone = False  # the client went away before the body ended
        self.refused: JiaoweiError | None = None

    async def receive(self) -> Message:
        if self.refused is not None or self.gone:
            return {"type": "http.disconnect"}
        if self.ended:
            return await self.source()
        try:
            with anyio.fail_after(max(self.deadline - anyio.current_time(), 0)):
                message = await self.source()
        except TimeoutError:
            self.refused = _too_slow(self.scope, self.limit)
            raise self.refused from None
        if message["type"] == "http.disconnect":
            self.gone = True
            return message
        self.total += len(message.get("body", b""))
        if self.total > self.limit.size:
            self.refused = _too_large(self.scope, self.limit, _content_length(self.scope))
            raise self.refused
        self.ended = not message.get("more_body", False)
        return message


def takes_files_route(route: BaseRoute) -> bool:
    """Whether ``route`` is marked with :data:`TAKES_FILES`."""
    return isinstance(route, APIRoute) and _marked(route.dependant)


def _marked(dependant: Dependant) -> bool:
    return any(d.call is takes_files or _marked(d) for d in dependant.dependencies)


def _may_have_body(scope: Scope) -> bool:
    if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
        return True
    return any(name in (b"content-length", b"transfer-encoding") for name, _ in scope["headers"])


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _receive_all(receive: Receive, size: int) -> list[bytes]:
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > size:
            raise _TooLarge
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks


def _replay(chunks: list[bytes], receive: Receive) -> Receive:
    """The body again, chunk by chunk; then the server's own messages (a disconnect)."""
    left = deque(chunks)
    ended = False

    async def replay() -> Message:
        nonlocal ended
        if not ended:
            chunk = left.popleft() if left else b""
            ended = not left
            return {"type": "http.request", "body": chunk, "more_body": not ended}
        return await receive()

    return replay


def _too_large(scope: Scope, limit: Limit, declared: int | None) -> JiaoweiError:
    detail = translate(language(Request(scope)), TOO_LARGE).format(limit=limit.size)
    return ContentTooLarge(detail, [Problem(N_("body too large"), field="body", value=declared,
                                            expected=M_("at most {limit} bytes", limit=limit.size))])


def _too_slow(scope: Scope, limit: Limit) -> JiaoweiError:
    seconds = f"{limit.seconds:g}"
    detail = translate(language(Request(scope)), TOO_SLOW).format(seconds=seconds)
    return RequestTimeout(detail, [Problem(N_("body too slow"), field="body",
                                           expected=M_("the whole body within {seconds} seconds",
                                                       seconds=seconds))])


async def _refuse(scope: Scope, receive: Receive, send: Send, error: JiaoweiError) -> None:
    response = respond(Request(scope, receive), error)
    response.headers["Connection"] = "close"  # the rest of the body is not read: end the connection
    await response(scope, receive, send)

