"""DHIS2's Web API protocol: an ASGI middleware before any route is matched, and a route dependency.

The middleware (:class:`Dhis2Protocol`):

- Versioned paths: ``/api/40/dataElements`` is answered like ``/api/dataElements`` (versions 28–43).
- Suffixes: ``/api/dataValueSets.csv`` is ``/api/dataValueSets`` with ``Accept: application/csv``
  (``.json``, ``.csv``, ``.xml``, ``.adx``), unless the request names a ``format`` parameter.
- A 401 from ``/api`` says how to authenticate (``WWW-Authenticate``), except to a browser's page.

The routes' dependency (:class:`KnownParameters`, run once Starlette has matched the route, before
the route's other dependencies): a query parameter the matched ``/api`` route does not declare, and
that is not one of the protocol's own (:data:`PROTOCOL_PARAMETERS`), answers 400 naming it instead
of being ignored. Neither part matches routes per request: the middleware only looks at
the few routes whose path may keep a suffix, and each route's allowed names are computed once.

The path the client asked for is kept in the scope (:data:`ASKED_PATH`), so that a pager's
``nextPage`` repeats it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jiaowei.dhis2.query import BadParameter
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.web.body import takes_files as takes_files_marker

VERSIONED = re.compile(r"^/api/(2[89]|3[0-9]|4[0-3])(?=/|$)")
SUFFIXES = {
    ".json": "application/json",
    ".csv": "application/csv",
    ".xml": "application/xml",
    ".adx": "application/adx+xml",
}
PROTOCOL_PARAMETERS = frozenset(
    {"lang", "paging", "page", "pageSize", "fields", "filter", "order", "rootJunction", "format",
     "totalPages"}  # totalPages: dhis2.py's get_paged sends it; the pager always has the totals
)
FILE_PARAMETERS = frozenset({"filename", "dry_run"})  # read from the query by routes that take a raw body
READ_BY_HAND = {"/api/analytics": frozenset({"skipMeta", "skipData", "language"})}
"""Parameters routes read from the query themselves (analytics.request.parse), beside those they declare."""
SAME_AS = {"/api/analytics.json": "/api/analytics", "/api/analytics.csv": "/api/analytics"}
"""Routes that take every parameter of another (DHIS2's other names for it)."""
ASKED_PATH = "jiaowei.asked_path"
CHALLENGE = b'Basic realm="jiaowei", ApiToken, Bearer'


def unversioned(path: str) -> str:
    """``/api/40/x`` → ``/api/x``."""
    return VERSIONED.sub("/api", path, count=1) if path.startswith("/api/") else path


def without_suffix(path: str) -> tuple[str, str | None]:
    """The path without its suffix, and the media type the suffix asks for (None: no suffix)."""
    for suffix, media_type in SUFFIXES.items():
        if path.startswith("/api/") and path.endswith(suffix) and len(path) > len("/api/") + len(suffix):
            return path[: -len(suffix)], media_type
    return path, None


def _with_accept(scope: Scope, media_type: str) -> list[tuple[bytes, bytes]]:
    headers = [(k, v) for k, v in scope["headers"] if k != b"accept"]
    return [*headers, (b"accept", media_type.encode())]


def declared_parameters(route: APIRoute) -> frozenset[str]:
    """The query parameters a route declares, its dependencies' included (a route that takes files
    reads ``filename`` and ``dry_run`` from the query itself)."""
    declared = frozenset(_query_names(route.dependant))
    takes_files = any(d.dependency is takes_files_marker for d in route.dependencies)
    return declared | FILE_PARAMETERS if takes_files else declared


def _query_names(dependant: Dependant) -> list[str]:
    names = [param.alias for param in dependant.query_params]
    for child in dependant.dependencies:
        names.extend(_query_names(child))
    return names


class KnownParameters:
    """The dependency every route gets (``Depends(KnownParameters(routes))``, before any other): on an
    ``/api`` route, a query parameter the route does not read answers 400. ``routes`` are the domain
    routers' own (those Starlette puts in the scope as ``route``); the names each allows are computed
    here, once."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = [r for r in routes if isinstance(r, APIRoute) and r.path.startswith("/api")]
        self.allowed = {id(route): _allowed(route, self.routes) for route in self.routes}  # kept alive

    async def __call__(self, request: Request) -> None:
        allowed = self.allowed.get(id(request.scope.get("route")))
        error = None if allowed is None else _unknown_parameters(request.scope, allowed)
        if error is not None:
            raise error


def _allowed(route: APIRoute, routes: Sequence[APIRoute]) -> frozenset[str]:
    path = SAME_AS.get(route.path, route.path)
    same = [r for r in routes if r.path == path] or [route]
    declared = frozenset().union(*(declared_parameters(r) for r in same), declared_parameters(route))
    return declared | READ_BY_HAND.get(path, frozenset()) | PROTOCOL_PARAMETERS


def _unknown_parameters(scope: Scope, allowed: frozenset[str]) -> ValidationError | None:
    """The error naming the query's parameters that are not in ``allowed`` (None: there are none)."""
    names = dict.fromkeys(k for k, _ in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                                  keep_blank_values=True))
    unknown = [name for name in names if name not in allowed]
    if not unknown:
        return None
    expected = ", ".join(sorted(allowed))
    return BadParameter(
        M_("Unsupported query parameter {name!r}: this route does not read it.", name=unknown[0][:60]),
        [Problem(M_("unsupported parameter"), field=name[:60], value=name[:60], expected=expected)
         for name in unknown[:20]],
    )


class Dhis2Protocol:
    """The middleware; ``routes`` are the app's, of which it keeps those that may answer a path with
    its suffix (their own path ends so, or takes a file path such as ``{name:path}``)."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.keeping = [
            r for r in routes if isinstance(r, APIRoute) and r.path.startswith("/api")
            and (r.path.endswith(tuple(SUFFIXES)) or ":path}" in r.path)
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api"):
            await self.app(scope, receive, send)
            return
        scope = self._rewritten(scope)
        await self.app(scope, receive, self._challenging(scope, send))

    def _rewritten(self, scope: Scope) -> Scope:
        """The scope with DHIS2's path: a suffix is stripped unless a route answers the path with it
        (a file such as ``/api/admissions/public/…/results.csv``)."""
        path = unversioned(scope["path"])
        stripped, media_type = without_suffix(path)
        if media_type is not None and not self._answered({**scope, "path": path}):
            path = stripped
        else:
            media_type = None
        if path == scope["path"]:
            return scope
        scope = {**scope, "path": path, "raw_path": path.encode(), ASKED_PATH: scope["path"]}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if media_type is not None and "format" not in query:
            scope["headers"] = _with_accept(scope, media_type)
        return scope

    def _answered(self, scope: Scope) -> bool:
        """Whether a route answers the path with its suffix: one whose own path ends so, or one that
        takes a file path (``{name:path}``); ``/api/dataElements/{code}`` does not keep ``.json``."""
        suffix = scope["path"][scope["path"].rfind("."):]
        return any(
            route.matches(scope)[0] != Match.NONE
            and (route.path.endswith(suffix) or ":path}" in route.path)
            for route in self.keeping
        )

    def _challenging(self, scope: Scope, send: Send) -> Send:
        """``send`` that adds ``WWW-Authenticate`` to a 401, unless a browser's page asked (a session
        cookie or ``X-Requested-With``), where a password dialog would be wrong."""
        headers = dict(scope["headers"])
        if b"x-requested-with" in headers or b"jiaowei_session" in headers.get(b"cookie", b""):
            return send

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                headers = [*message.get("headers", []), (b"www-authenticate", CHALLENGE)]
                message = {**message, "headers": headers}
            await send(message)

        return sending


def asked_url(request: Any) -> str:
    """The request's URL with the path the client asked for (its version and suffix kept)."""
    asked = request.scope.get(ASKED_PATH)
    return str(request.url.replace(path=asked) if asked else request.url)
