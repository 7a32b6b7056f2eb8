"""Security headers on every response: Content-Security-Policy, no framing, no sniffing, no referrer.

The pages run no inline script or style (scripts live in ``web/static/``), so their policy is
``'self'`` only. The API docs (Swagger UI at ``/docs``, ReDoc at ``/redoc``, see ``web/api_docs.py``)
load vendored files from ``/static/vendor/`` and run no inline script either; their policy differs
only in allowing the inline styles and the search worker (a ``blob:``) those libraries create.
Nothing is loaded from another origin.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_COMMON = ("default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
           "frame-ancestors 'none'")
PAGE_POLICY = f"{_COMMON}; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'"
DOCS_PATHS = ("/docs", "/redoc")
DOCS_POLICY = (f"{_COMMON}; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; "
               "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'")
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware: adds :data:`HEADERS` and a policy to every HTTP response (the outermost layer)."""

    def __init__(self, app: ASGIApp, *, docs_paths: Iterable[str] = DOCS_PATHS) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"] in self.docs_paths else PAGE_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _protect(message, policy)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _protect(start: Message, policy: str) -> None:
    headers = MutableHeaders(scope=start)
    headers.setdefault("Content-Security-Policy", policy)
    for name, value in HEADERS.items():
        headers.setdefault(name, value)
