"""The application factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from jiaowei import __version__, domains
from jiaowei.db.engine import Database, make_engine
from jiaowei.settings import Settings, get_settings
from jiaowei.throttle import FailureWindow
from jiaowei.web import errors
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
    )
    app.state.settings = settings
    app.state.db = database or Database(make_engine(settings.effective_database_url))
    app.state.lookup_failures = FailureWindow()
    errors.install(app)
    errors.document_problems(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in routers():
        app.include_router(router)
    _protect_every_response(app)
    return app


def _protect_every_response(app: FastAPI) -> None:
    """Security headers outside Starlette's own error layer, so that a 500 carries them too."""
    build = app.build_middleware_stack
    docs = [path for path in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if path]

    def build_protected() -> ASGIApp:
        return SecurityHeaders(build(), docs_paths=docs)

    app.build_middleware_stack = build_protected  # type: ignore[method-assign]


def routers() -> list[APIRouter]:
    """Every domain's routers, in matching order (see :func:`jiaowei.domains.router_modules`)."""
    return [domains.load(module).router for module in domains.router_modules()]
