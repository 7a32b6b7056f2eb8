"""JSON routes of the unit picker under /api/unit-search: find a unit as you type, browse the tree.

``GET /api/unit-search?q=`` finds units by code, Chinese or English name or the pinyin initials of
the Chinese name (``hpq`` finds 黄浦区); ``GET /api/unit-search/children?parent=`` lists the units
directly below a unit (the user's highest units without ``parent``). Both see only the user's
view scope, on ``as_of`` (default today). ``web/static/picker.js`` calls them (decision 0016).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from jiaowei import clock
from jiaowei.registry import queries
from jiaowei.web.deps import AsOf, Conn, User

router = APIRouter(prefix="/api/unit-search", tags=["registry"])


class UnitFoundOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    type: str
    level: int
    parent: str | None
    parent_name_zh: str
    parent_name_en: str
    children: int


class UnitSearchPage(BaseModel):
    items: list[UnitFoundOut]
    total: int
    q: str
    as_of: str


class UnitBrowse(BaseModel):
    items: list[UnitFoundOut]
    parent: str | None
    as_of: str


@router.get("", response_model=UnitSearchPage)
def search_units(
    conn: Conn,
    user: User,
    as_of: AsOf,
    q: Annotated[str, Query(description="a unit code, part of a name, or pinyin initials (hpq: 黄浦区)")],
    limit: Annotated[int, Query(description=f"at most {queries.MAX_FOUND}")] = 20,
) -> dict[str, Any]:
    """Units within your view scope that match ``q``, best first; ``total`` counts every match."""
    page = queries.search_units(conn, principal=user, q=q, as_of=as_of, limit=limit)
    day = as_of or clock.today()
    return {"items": [asdict(u) for u in page.items], "total": page.total, "q": q, "as_of": day.isoformat()}


@router.get("/children", response_model=UnitBrowse)
def browse_units(
    conn: Conn,
    user: User,
    as_of: AsOf,
    parent: Annotated[str | None, Query(max_length=64, description="a unit code; none: your highest units")]
    = None,
) -> dict[str, Any]:
    """The units directly below ``parent`` within your view scope."""
    found = queries.browse_units(conn, principal=user, parent=parent or None, as_of=as_of)
    day = as_of or clock.today()
    return {"items": [asdict(u) for u in found], "parent": parent or None, "as_of": day.isoformat()}
