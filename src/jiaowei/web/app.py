"""The application factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from jiaowei import __version__, domains
from jiaowei.db.engine import Database, make_engine
from jiaowei.settings import Settings, get_settings
from jiaowei.web import errors

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
    errors.install(app)
    errors.document_problems(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in routers():
        app.include_router(router)
    return app


def routers() -> list[APIRouter]:
    """Every domain's routers, in matching order (see :func:`jiaowei.domains.router_modules`)."""
    return [domains.load(module).router for module in domains.router_modules()]
