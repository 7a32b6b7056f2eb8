"""The application factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
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
    errors.document_problems(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in routers():
        app.include_router(router)
    return app


def routers() -> list[APIRouter]:
    """Every domain's routers, API first. Domains add theirs here."""
    from jiaowei.admissions import api as admissions_api
    from jiaowei.admissions import pages as admissions_pages
    from jiaowei.audit import api as audit_api
    from jiaowei.audit import pages as audit_pages
    from jiaowei.auth import pages as auth_pages
    from jiaowei.indicators.approval import api as approval_api
    from jiaowei.indicators.approval import pages as approval_pages
    from jiaowei.indicators.metadata import api as metadata_api
    from jiaowei.indicators.metadata import pages as metadata_pages
    from jiaowei.indicators.quality import api as quality_api
    from jiaowei.indicators.quality import pages as quality_pages
    from jiaowei.indicators.targets import api as indicator_api
    from jiaowei.indicators.targets import pages as indicator_pages
    from jiaowei.indicators.values import api as data_api
    from jiaowei.indicators.values import pages as entry_pages
    from jiaowei.registry import api as registry_api
    from jiaowei.registry import groups_api
    from jiaowei.registry import groups_pages as group_pages
    from jiaowei.registry import pages as registry_pages
    from jiaowei.web import pages as web_pages
    from jiaowei.web import system

    return [
        registry_api.router,
        groups_api.router,
        audit_api.router,
        admissions_api.router,
        data_api.router,
        approval_api.router,
        metadata_api.router,
        quality_api.router,
        indicator_api.router,
        system.router,
        auth_pages.router,
        registry_pages.router,
        group_pages.router,
        audit_pages.router,
        admissions_pages.router,
        entry_pages.router,
        approval_pages.router,
        metadata_pages.router,
        quality_pages.router,
        indicator_pages.router,
        web_pages.router,
    ]
