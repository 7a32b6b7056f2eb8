"""One log line per request, as text or JSON (``JIAOWEI_LOG_FORMAT``), with its request id.

:class:`RequestLog` is the outermost layer of the app. It takes the request id from ``X-Request-ID``
when the client (or a proxy) sends a sane one, else makes one, and answers it in ``X-Request-ID``.
When the response ends it logs, on the ``jiaowei.requests`` logger, the time, request id, user
(username or ``-``), method, route template (``/api/units/{code}``, never the path with its ids),
status and duration. Expected errors (every 4xx, and a :class:`~jiaowei.errors.JiaoweiError` such as a
busy database's 503) are answered by the error handlers and logged here without a traceback. An
unexpected exception is logged here once, with its traceback; uvicorn's own copy of it
("Exception in ASGI application") is filtered out, so that each failure has one traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("jiaowei.requests")

HEADER = b"x-request-id"
REQUEST_ID: ContextVar[str] = ContextVar("jiaowei_request_id", default="-")
"""The id of the request being served (``-`` outside one); every log record of the request carries it."""
ROUTE = "jiaowei.route"  # the matched route's template, kept in the request's state
UNMATCHED = "-"
CLIENT_GONE = 499  # nginx's status for a request whose client closed the connection before an answer
_SANE_ID = re.compile(r"[A-Za-z0-9._:@+/=-]{1,128}")
_LOGGED = "_jiaowei_logged"


@dataclass(frozen=True)
class Finished:
    """What one request did, as logged and counted."""

    request_id: str
    user: str
    method: str
    route: str
    status: int
    duration_ms: float


Observer = Callable[[Finished], None]


def request_id_from(scope: Scope) -> str:
    """The request's ``X-Request-ID`` if it is sane (1–128 visible ASCII letters, digits and ``._:@+/=-``),
    else a new random one: an id with spaces, control characters or a megabyte of text is not logged."""
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            sent = value.decode("latin-1")
            if _SANE_ID.fullmatch(sent):
                return sent
    return uuid.uuid4().hex


class RequestLog:
    """ASGI middleware: the request id in and out, one log line per request, and ``observe`` told of it."""

    def __init__(self, app: ASGIApp, *, observe: Observer | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        state = scope.setdefault("state", {})  # shared with the scopes inner layers copy
        started = time.perf_counter()
        status = [0]  # until the response begins

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), (HEADER, request_id.encode())]
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, sending)
        except Exception as error:  # a bug: 500 unless the response had begun
            self._finish(scope, state, request_id, status[0] or 500, started, error)
            raise
        except BaseException:  # the client went away (cancelled) or the server stops: no traceback
            self._finish(scope, state, request_id, status[0] or CLIENT_GONE, started, None)
            raise
        else:
            self._finish(scope, state, request_id, status[0], started, None)
        finally:
            REQUEST_ID.reset(token)

    def _finish(self, scope: Scope, state: dict[str, Any], request_id: str, status: int, started: float,
                error: BaseException | None) -> None:
        principal = state.get("principal")
        finished = Finished(
            request_id=request_id, user=getattr(principal, "username", None) or "-", method=scope["method"],
            route=state.get(ROUTE) or UNMATCHED, status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 1))
        log_request(finished, error)
        if self.observe is not None:
            self.observe(finished)


def log_request(finished: Finished, error: BaseException | None = None) -> None:
    """The request's one line: INFO, WARNING for a 5xx answer, ERROR with the traceback for an exception."""
    level = logging.WARNING if finished.status >= 500 else logging.INFO
    if error is not None:
        level = logging.ERROR
    exc_info = (type(error), error, error.__traceback__) if error is not None else None
    log.log(level, "%s %s %s %s %.1fms", finished.user, finished.method, finished.route, finished.status,
            finished.duration_ms, exc_info=exc_info, extra=asdict(finished))
    if error is not None:
        with contextlib.suppress(AttributeError):  # an exception without a __dict__ is logged twice
            setattr(error, _LOGGED, True)


def remember_route(app: ASGIApp) -> ASGIApp:
    """Wrap the app's router stack so the route it matched is kept in the request's state (the outer
    layers see a copy of the scope, rewritten by the DHIS2 protocol, so they cannot read it there)."""

    async def remembering(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            route = scope.get("route")
            if route is not None and "state" in scope:
                scope["state"][ROUTE] = getattr(route, "path", None)

    return remembering


class _NotLoggedTwice(logging.Filter):
    """Drop uvicorn's traceback of an exception :class:`RequestLog` has logged already."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not getattr(error, _LOGGED, False)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request id, the request's
    fields when the record is a request's line, and the traceback as ``exception``."""

    FIELDS = tuple(Finished.__dataclass_fields__)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _time(record), "level": record.levelname, "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        entry.update({name: getattr(record, name) for name in self.FIELDS[1:] if hasattr(record, name)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2026-12-06T11:55:19.123Z INFO [request id] message``, then the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        line = f"{_time(record)} {record.levelname} [{request_id}] {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _time(record: logging.LogRecord) -> str:
    moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever ``sys.stderr`` is when a record comes (as logging's last resort)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(log_format: str) -> None:
    """Send the ``jiaowei`` loggers' records (INFO and up) to stderr in ``log_format``; called when the
    app is built, again with the same result. uvicorn's copy of a traceback logged here is dropped."""
    root = logging.getLogger("jiaowei")
    root.setLevel(logging.INFO)
    handler = next((h for h in root.handlers if isinstance(h, _Stderr)), None)
    if handler is None:
        handler = _Stderr()
        root.addHandler(handler)
    handler.setFormatter(formatter(log_format))
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _NotLoggedTwice) for f in uvicorn_errors.filters):
        uvicorn_errors.addFilter(_NotLoggedTwice())
