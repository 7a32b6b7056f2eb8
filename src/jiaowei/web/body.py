"""Every request's body is received whole, within a time and size limit, before the app sees it.

No transaction begins before the body is in hand: a client that sends the headers of a POST and
then stalls holds one connection of the server, never SQLite's write lock. :class:`WholeBody` is an
ASGI layer that receives the body (at most ``JIAOWEI_MAX_BODY_BYTES``, or ``JIAOWEI_MAX_UPLOAD_BYTES``
on routes that take files, marked with :data:`TAKES_FILES`), within ``JIAOWEI_BODY_TIMEOUT_SECONDS``
(``JIAOWEI_UPLOAD_TIMEOUT_SECONDS`` for files), then replays it to the app. A body over the limit
answers 413 and one that arrives too slowly 408, as problem+json (or an error page for a browser).
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
    """ASGI layer: receive the whole body within its limits, then hand it to ``app``."""

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
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        try:
            if declared is not None and declared > limit.size:
                raise _TooLarge
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

    def limit_for(self, scope: Scope) -> Limit:
        takes = any(route.matches(scope)[0] is Match.FULL for route in self.file_routes)
        return self.files if takes else self.ordinary


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

