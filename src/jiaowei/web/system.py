"""Health and version routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from jiaowei import __version__
from jiaowei.web.deps import Conn

router = APIRouter(tags=["system"])


@router.get("/api/health")
def health(conn: Conn) -> dict[str, Any]:
    """Liveness and database reachability (no login needed)."""
    conn.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__, "database": conn.dialect.name}
