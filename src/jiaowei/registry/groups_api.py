"""JSON routes of unit groups under /api/unitGroups (read only; groups are kept by services)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from jiaowei.registry import groups
from jiaowei.registry.service import today
from jiaowei.web.deps import AsOf, Conn, User

router = APIRouter(prefix="/api/unitGroups", tags=["registry"])


@router.get("")
def list_unit_groups(conn: Conn, user: User, as_of: AsOf) -> dict[str, Any]:
    """Every group with the members the caller may view on ``as_of``, and the group sets."""
    day = as_of or today()
    return {
        "items": groups.list_groups(conn, principal=user, as_of=day),
        "sets": groups.list_group_sets(conn, principal=user),
        "as_of": day.isoformat(),
    }


@router.get("/{code}")
def get_unit_group(conn: Conn, user: User, code: str, as_of: AsOf) -> dict[str, Any]:
    """One group with the members the caller may view on ``as_of``."""
    day = as_of or today()
    return {**groups.get_group(conn, principal=user, code=code, as_of=day), "as_of": day.isoformat()}
