"""The application factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from jiaowei import __version__, domains
from jiaowei.db.engine import Database, make_engine
from jiaowei.dhis2.protocol import Dhis2Protocol, KnownParameters
from jiaowei.settings import Settings, get_settings, using
from jiaowei.throttle import FailureWindow
from jiaowei.web import errors, logs, metrics
from jiaowei.web.body import WholeBody
from jiaowei.web.deps import BASIC_FIRST
from jiaowei.web.headers import SecurityHeaders

STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check_production()
    app = FastAPI(
        title="jiaowei",
        version=__version__,
        description="The platform of a city's education-and-health commission. Errors are "
        "application/problem+json (RFC 9457). Authenticate with `Authorization: Bearer <token>`.",
        docs_url=None, redoc_url=None,  # served from vendored files by jiaowei.web.api_docs
        openapi_url="/openapi.json" if settings.api_docs_served else None,  # JIAOWEI_API_DOCS
    )
    app.state.settings = settings
    app.state.db = database or Database(make_engine(
        settings.effective_database_url, lock_timeout=settings.lock_timeout_seconds,
        statement_timeout=settings.statement_timeout_seconds, pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow, plan_cache_mode=settings.db_plan_cache_mode,
        random_page_cost=settings.db_random_page_cost),
        lock_timeout=settings.lock_timeout_seconds)
    logs.configure(settings.log_format)
    app.state.lookup_failures = FailureWindow()
    errors.install(app)
    errors.document_problems(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    included = routers()
    known = Depends(KnownParameters([r for router in included for r in router.routes]))
    for router in included:
        app.include_router(router, dependencies=[known, BASIC_FIRST])
    _protect_every_response(app, [route for router in included for route in router.routes])
    return app


def _protect_every_response(app: FastAPI, routes: list[BaseRoute]) -> None:
    """Security headers outside Starlette's own error layer, so that a 500 carries them too; inside
    them, every body is received (whole, or for a file route counted as it streams) before the app
    begins a transaction (``web/body.py``)."""
    build = app.build_middleware_stack

    def build_protected() -> ASGIApp:
        whole = WholeBody(logs.remember_route(build()), settings=app.state.settings, routes=routes)
        protected = logs.RequestLog(SecurityHeaders(Dhis2Protocol(whole, routes=routes)),  # DHIS2's paths
                                    observe=metrics.observe)  # before routing; one log line per request

        async def with_settings(scope: Scope, receive: Receive, send: Send) -> None:
            with using(app.state.settings):  # services that read active_settings() see the app's
                await protected(scope, receive, send)

        return with_settings

    app.build_middleware_stack = build_protected  # type: ignore[method-assign]


def routers() -> list[APIRouter]:
    """Every domain's routers, in matching order (see :func:`jiaowei.domains.router_modules`)."""
    return [domains.load(module).router for module in domains.router_modules()]
