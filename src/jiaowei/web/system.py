"""Health routes: liveness, readiness and the original ``/api/health`` (docs/operators.md, "Health").

- ``/api/health/live``: the process answers; it touches no database, so a load balancer or systemd
  does not restart a server whose database is down.
- ``/api/health/ready``: the database answers and its schema is at the revision this code needs
  (alembic's head); 503 with a short reason otherwise, so that no request reaches a server that
  would answer 500.
- ``/api/health``: as before, the process and the database answer (200), with ``ready`` added.

None needs a login. A database that does not answer gives 503 with a short JSON reason and one log
line (no traceback): health is checked every few seconds, and a traceback per check buries the logs.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from jiaowei import __version__
from jiaowei.db.migrate import head_revision
from jiaowei.errors import ServiceUnavailable

router = APIRouter(tags=["system"])
log = logging.getLogger("jiaowei.health")
UNREACHABLE = "database unreachable"
Responses = dict[int | str, dict[str, Any]]
_DOWN: Responses = {503: {"description": "The database does not answer: "
                                         '`{"status": "unavailable", "reason": …}`'}}
_NOT_READY: Responses = {503: {"description": "Not ready, the database does not answer or its schema is "
                                              'not the code\'s: `{"status": "not ready", "reason": …}`'}}


@lru_cache(maxsize=1)
def code_revision() -> str:
    """The schema revision this code needs: the head of ``db/migrations`` (read once)."""
    return head_revision()


def schema_problem(conn: Connection) -> str | None:
    """Why the database's schema is not the code's (a short reason), or None when it is."""
    found, needed = _revision(conn), code_revision()
    if found is None:
        return f"no schema, code needs {needed} (run jiaowei init)"
    if found != needed:
        return f"schema at {found}, code needs {needed}"
    return None


def _revision(conn: Connection) -> str | None:
    """The schema revision alembic recorded (read directly: alembic's own reader logs each call)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    found = conn.scalar(text("SELECT version_num FROM alembic_version"))
    return str(found) if found is not None else None


def _database_state(request: Request) -> tuple[str, str | None]:
    """The database's backend name and why it is not ready (None: ready); raises if it does not answer."""
    database = request.app.state.db
    with database.connect() as connection, database.reading_on(connection) as conn:
        conn.execute(text("SELECT 1"))
        return conn.dialect.name, schema_problem(conn)


def _checked(request: Request) -> tuple[str, str | None] | None:
    """:func:`_database_state`, or None (logged on one line) when the database does not answer."""
    try:
        return _database_state(request)
    except (SQLAlchemyError, ServiceUnavailable, OSError) as error:
        log.warning("health: %s: %s", UNREACHABLE, _first_line(error))
        return None


def _first_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error.__cause__ or error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"


@router.get("/api/health", responses=_DOWN)
def health(request: Request) -> Any:
    """The process and the database answer (no login needed); ``ready`` as ``/api/health/ready``."""
    state = _checked(request)
    if state is None:
        return JSONResponse({"status": "unavailable", "reason": UNREACHABLE, "version": __version__},
                            status_code=503)
    backend, problem = state
    return {"status": "ok", "version": __version__, "database": backend, "ready": problem is None}


@router.get("/api/health/live")
async def live() -> dict[str, Any]:
    """Liveness: the process answers (no database; no login needed)."""
    return {"status": "ok", "version": __version__}


@router.get("/api/health/ready", responses=_NOT_READY)
def ready(request: Request) -> Any:
    """Readiness: the database answers and its schema is at the code's revision (no login needed)."""
    state = _checked(request)
    problem = UNREACHABLE if state is None else state[1]
    if problem is not None:
        body = {"status": "not ready", "reason": problem, "version": __version__}
        return JSONResponse(body, status_code=503)
    return {"status": "ok", "version": __version__, "database": state[0] if state else "",
            "schema": code_revision()}
