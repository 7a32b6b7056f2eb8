"""JSON routes of dashboards under /api/dashboards, in DHIS2's shape (``dashboards``, ``dashboardItems``,
``id`` the uid); "home" names the caller's home dashboard."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from jiaowei.analytics import dashboards
from jiaowei.analytics.dashboards import ItemSpec
from jiaowei.web.deps import Conn, User

router = APIRouter(prefix="/api", tags=["analytics"])

Ref = Annotated[str, Path(max_length=64, description='a dashboard id (uid) or code; "home": your home one')]
ItemRef = Annotated[str, Path(max_length=64, description="an item's id (uid)")]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "A dashboard with this code exists, or the dashboard is full (50 items)"}}


class DashboardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str | None = Field(default=None, max_length=50, description="default: the new uid")
    name_zh: str = Field(max_length=230)
    name_en: str = Field(max_length=230)
    shared: bool = Field(default=False, description="shared (needs metadata.write) rather than your own")
    role: str | None = Field(default=None, max_length=32, description="shared with the users of this role")
    orgUnit: str | None = Field(default=None, max_length=64, description="shared with its viewers")


class DashboardChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name_zh: str | None = Field(default=None, max_length=230)
    name_en: str | None = Field(default=None, max_length=230)


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=16, description="pivot, chart or indicator")
    title: str = Field(default="", max_length=230)
    query: str = Field(default="", max_length=4000, description="pivot and chart: the pivot's query string")
    chartType: str | None = Field(default=None, max_length=16, description="line, bar, stacked, pie or yoy")
    indicator: str | None = Field(default=None, max_length=50, description="indicator tile: the indicator")
    orgUnit: str | None = Field(default=None, max_length=64, description="indicator tile: the unit's code")
    period: str | None = Field(default=None, max_length=16, description="indicator tile: period, e.g. 2020")
    width: str = Field(default="half", max_length=8, description="half or full")


class ItemChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, max_length=230)
    chartType: str | None = Field(default=None, max_length=16)
    width: str | None = Field(default=None, max_length=8)
    position: int | None = Field(default=None, ge=1, le=1000, description="move the item here (1: first)")


@router.get("/dashboards")
def list_dashboards(conn: Conn, user: User) -> dict[str, Any]:
    """Your own dashboards (the home one first) and those shared with you, with their items."""
    return {"dashboards": [d.as_dict() for d in dashboards.list_dashboards(conn, principal=user)]}


@router.post("/dashboards", status_code=201, responses=CONFLICT)
def create_dashboard(conn: Conn, user: User, body: DashboardCreate) -> dict[str, Any]:
    """A new dashboard: your own, or shared (with a role, with the viewers of a unit, or with everyone)."""
    return dashboards.create_dashboard(conn, principal=user, code=body.code, name_zh=body.name_zh,
                                       name_en=body.name_en, shared=body.shared, role=body.role,
                                       unit=body.orgUnit).as_dict()


@router.get("/dashboards/{ref}")
def get_dashboard(conn: Conn, user: User, ref: Ref) -> dict[str, Any]:
    """One dashboard with its items (as saved: the figures are computed when it is shown)."""
    return dashboards.get_dashboard(conn, principal=user, dashboard=ref).as_dict()


@router.put("/dashboards/{ref}")
def change_dashboard(conn: Conn, user: User, ref: Ref, body: DashboardChange) -> dict[str, Any]:
    """Rename a dashboard you may change."""
    return dashboards.update_dashboard(conn, principal=user, dashboard=ref, name_zh=body.name_zh,
                                       name_en=body.name_en).as_dict()


@router.delete("/dashboards/{ref}", status_code=204)
def delete_dashboard(conn: Conn, user: User, ref: Ref) -> Response:
    """Delete a dashboard you may change, with its items."""
    dashboards.delete_dashboard(conn, principal=user, dashboard=ref)
    return Response(status_code=204)


@router.post("/dashboards/{ref}/items", status_code=201, responses=CONFLICT)
def add_item(conn: Conn, user: User, ref: Ref, body: ItemCreate) -> dict[str, Any]:
    """Add an item at the end; to "home", your home dashboard is made on the first item."""
    spec = ItemSpec(kind=body.kind, title=body.title, query=body.query, chart_type=body.chartType,
                    indicator=body.indicator, unit=body.orgUnit, period=body.period, width=body.width)
    return dashboards.add_item(conn, principal=user, dashboard=ref, spec=spec).as_dict()


@router.put("/dashboards/{ref}/items/{item}")
def change_item(conn: Conn, user: User, ref: Ref, item: ItemRef, body: ItemChange) -> dict[str, Any]:
    """Change an item's title, chart type or width, or move it (``position``)."""
    return dashboards.update_item(conn, principal=user, dashboard=ref, item=item, title=body.title,
                                  width=body.width, chart_type=body.chartType,
                                  position=body.position).as_dict()


@router.delete("/dashboards/{ref}/items/{item}", status_code=204)
def remove_item(conn: Conn, user: User, ref: Ref, item: ItemRef) -> Response:
    """Take an item off a dashboard you may change."""
    dashboards.remove_item(conn, principal=user, dashboard=ref, item=item)
    return Response(status_code=204)
