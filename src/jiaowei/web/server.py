"""uvicorn's HTTP protocol with a time-out on request headers (uvicorn has none of its own).

uvicorn times out an idle keep-alive connection, but a client that sends the first bytes of a request
and then stalls keeps its connection for ever. :func:`protocol_with_header_timeout` returns uvicorn's
protocol class (httptools, or h11 without it) that closes a connection, with 408, when a request's
headers are not complete within ``JIAOWEI_HEADER_TIMEOUT_SECONDS`` of the connection opening or of
the previous response ending. Bodies are timed by :mod:`jiaowei.web.body`.

:func:`uvicorn_options` is how ``jiaowei serve`` runs uvicorn: the app and the protocol by import
string (so that ``--workers N`` can start N processes, each building its own app from the
environment's settings), behind uvicorn's proxy-headers layer trusting ``JIAOWEI_FORWARDED_ALLOW_IPS``.
:func:`check_schema` refuses to serve a database whose schema is not the code's.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import current_revision, head_revision
from jiaowei.errors import M_, ConfigurationError, ServiceUnavailable
from jiaowei.settings import Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("jiaowei.serve")
APP_FACTORY = "jiaowei.web.server:served_app"
PROTOCOL = "jiaowei.web.server:ServedProtocol"  # built from the settings by __getattr__ below

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


@lru_cache(maxsize=1)
def _served_protocol() -> type[asyncio.Protocol]:
    return protocol_with_header_timeout(get_settings().header_timeout_seconds)


def __getattr__(name: str) -> Any:
    """``ServedProtocol``: the protocol with the environment's header time-out (uvicorn imports it by
    name in each worker process; a class made in a function cannot be sent to one)."""
    if name == "ServedProtocol":
        return _served_protocol()
    raise AttributeError(name)


def served_app() -> FastAPI:
    """The app a worker of ``jiaowei serve`` runs, from the environment's settings."""
    from jiaowei.web.app import create_app  # imported here: uvicorn imports this module before the app

    app = create_app(get_settings())
    # Everything alive once the app is built (modules, routes, templates) stays alive: out of the
    # garbage collector's reach, its full collections stop scanning it. A page over 5,000 units
    # allocates enough to trigger one; frozen, its p95 drops from about 250 to 160 ms (decision 0013).
    gc.collect()
    gc.freeze()
    return app


def uvicorn_options(settings: Settings, *, host: str, port: int, workers: int = 1) -> dict[str, Any]:
    """``uvicorn.run``'s arguments for ``jiaowei serve``."""
    return {"app": APP_FACTORY, "factory": True, "host": host, "port": port, "workers": workers,
            "proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips, "http": PROTOCOL,
            "access_log": False}  # jiaowei.web.logs writes one line per request instead


def check_schema(settings: Settings) -> None:
    """Refuse (ConfigurationError) a database whose schema is not at the code's revision; a database
    that does not answer is logged, not refused: ``/api/health/ready`` answers 503 until it does."""
    engine = make_engine(settings.effective_database_url, lock_timeout=settings.lock_timeout_seconds)
    try:
        with engine.connect() as conn:
            found = current_revision(conn)
    except (SQLAlchemyError, ServiceUnavailable, OSError) as error:
        first = str(getattr(error, "orig", None) or error).strip().splitlines()
        log.warning("the database does not answer (%s); serving, not ready", first[0] if first else "")
        return
    finally:
        engine.dispose()
    needed = head_revision()
    if found != needed:
        raise ConfigurationError(M_(
            "The database's schema is at {found}, and this version of jiaowei needs {needed}: back the "
            "database up, then run `jiaowei init` to upgrade it.", found=found or "none", needed=needed))
