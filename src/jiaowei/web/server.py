"""uvicorn's HTTP protocol with a time-out on request headers (uvicorn has none of its own).

uvicorn times out an idle keep-alive connection, but a client that sends the first bytes of a request
and then stalls keeps its connection for ever. :func:`protocol_with_header_timeout` returns uvicorn's
protocol class (httptools, or h11 without it) that closes a connection, with 408, when a request's
headers are not complete within ``JIAOWEI_HEADER_TIMEOUT_SECONDS`` of the connection opening or of
the previous response ending. Bodies are timed by :mod:`jiaowei.web.body`.
"""

from __future__ import annotations

import asyncio
from typing import Any

TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                    b"content-length: 36\r\nconnection: close\r\n\r\nThe request's headers came too slow.")


def _base() -> type[Any]:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is uvicorn[standard]'s; h11 is always there
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol
    return HttpToolsProtocol


def protocol_with_header_timeout(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, closing connections whose request headers take over ``seconds``."""
    base = _base()

    class HeaderTimeout(base):  # type: ignore[misc, valid-type]
        header_timeout = seconds
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            super().data_received(data)
            if self.cycle is not cycle:  # a request's headers are complete: its handling began
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
                self._arm()  # the next request's headers must come in time too

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
                return
            self.transport.write(TIMEOUT_RESPONSE)
            self.transport.close()

    return HeaderTimeout
