"""The application factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from jiaowei import __version__
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
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in routers():
        app.include_router(router)
    return app


def routers() -> list:  # type: ignore[type-arg]
    """Every domain's routers, API first. Domains add theirs here."""
    from jiaowei.registry import api as registry_api
    from jiaowei.web import system

    found = [registry_api.router, system.router]
    for module in ("jiaowei.auth.api", "jiaowei.auth.pages", "jiaowei.registry.pages", "jiaowei.web.pages"):
        try:
            imported = __import__(module, fromlist=["router"])
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        found.append(imported.router)
    return found
