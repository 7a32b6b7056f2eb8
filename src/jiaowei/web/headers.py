"""Security headers on every response: Content-Security-Policy, no framing, no sniffing, no referrer.

The pages run no inline script or style (scripts live in ``web/static/``), so their policy is
``'self'`` only. FastAPI's API docs (Swagger UI at ``/docs``, ReDoc at ``/redoc``) load their
assets from a CDN and start with an inline script; their pages get a policy of their own that
allows that CDN and exactly the inline scripts they hold, by hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_COMMON = ("default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
           "frame-ancestors 'none'")
PAGE_POLICY = f"{_COMMON}; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'"
_DOCS_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = (f"{_COMMON}; script-src 'self' {_DOCS_CDN}{{hashes}}; "
               f"style-src 'self' 'unsafe-inline' {_DOCS_CDN} https://fonts.googleapis.com; "
               "font-src 'self' https://fonts.gstatic.com; "
               "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
               "worker-src 'self' blob:; connect-src 'self'")
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


class SecurityHeaders:
    """ASGI middleware: adds :data:`HEADERS` and a policy to every HTTP response (the outermost layer)."""

    def __init__(self, app: ASGIApp, *, docs_paths: Iterable[str]) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["path"] in self.docs_paths:
            await self._docs(scope, receive, send)
        else:
            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    _protect(message, PAGE_POLICY)
                await send(message)

            await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hold the (small) docs page until its end, to allow its inline scripts by hash."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
                _protect(held[0], DOCS_POLICY.format(hashes=_hashes(body)))
                for kept in held:
                    await send(kept)

        await self.app(scope, receive, hold)


def _protect(start: Message, policy: str) -> None:
    headers = MutableHeaders(scope=start)
    headers.setdefault("Content-Security-Policy", policy)
    for name, value in HEADERS.items():
        headers.setdefault(name, value)


def _hashes(body: bytes) -> str:
    digests = (base64.b64encode(hashlib.sha256(script).digest()).decode()
               for script in _INLINE_SCRIPT.findall(body))
    return "".join(f" 'sha256-{digest}'" for digest in digests)
