"""Dashboard pages: the list, one dashboard with its items, and the forms that change them.

``POST /dashboards/items`` is where the pivot page's "save to dashboard" form posts (dashboard
"home" is the user's home page, created on first save); the home page itself is ``web/pages.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from jiaowei.analytics import dashboards, tiles
from jiaowei.analytics.dashboards import HOME, ItemSpec
from jiaowei.auth.model import Action, Principal
from jiaowei.errors import JiaoweiError
from jiaowei.indicators.targets import compute
from jiaowei.registry.queries import today
from jiaowei.web.deps import Conn, User, language
from jiaowei.web.forms import N_, Form, in_language, local_path, problems_by_field, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

STATUS_LABELS = {"met": N_("Met"), "at_risk": N_("At risk"), "missed": N_("Missed"), "no_data": N_("No data")}
SOURCE_LABELS = {"data": N_("Computed from data"), "fact": N_("Published figure")}
KIND_LABELS = {"pivot": N_("Pivot table"), "chart": N_("Chart"), "indicator": N_("Indicator tile")}
CHART_LABELS = {"line": N_("Line"), "bar": N_("Bar"), "stacked": N_("Stacked bars"), "pie": N_("Pie"),
                "yoy": N_("Year on year")}
FORM_STATES = {"complete": N_("Complete"), "complete_late": N_("Complete, late"), "returned": N_("Returned"),
               "late": N_("Late"), "due": N_("To report")}
FIELDS = {"name_zh": N_("Chinese name"), "name_en": N_("English name"), "kind": N_("Kind"),
          "query": N_("Pivot query"), "title": N_("Title"), "indicator": N_("Indicator"),
          "orgUnit": N_("Unit"), "period": N_("Period"), "width": N_("Width"), "chartType": N_("Chart type"),
          "dashboard": N_("Dashboard")}
LABELS = {"status_labels": STATUS_LABELS, "source_labels": SOURCE_LABELS, "kind_labels": KIND_LABELS,
          "chart_labels": CHART_LABELS, "form_states": FORM_STATES, "fields": FIELDS}


def dashboard_url(ref: str) -> str:
    return "/" if ref == HOME else f"/dashboards/{quote(ref, safe='')}"


def _render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    error = context.get("error")
    if error is not None:
        context = {**context, "error": in_language(error, language(request))}
    return page(request, template, {**LABELS, "active": "dashboards",
                                    "errors": problems_by_field(context.get("error")), **context}, status)


def _list_page(request: Request, conn: Connection, user: Principal, extra: dict[str, Any],
               status: int = 200) -> HTMLResponse:
    return _render(request, "dashboard_list.html", {
        "dashboards": dashboards.list_dashboards(conn, principal=user), "values": {},
        "may_share": user.may(Action.METADATA_WRITE), **extra}, status)


@router.get("/dashboards", response_class=HTMLResponse)
def list_page(request: Request, conn: Conn, user: User) -> HTMLResponse:
    """The user's own dashboards and those shared with them; a form to make a new one."""
    return _list_page(request, conn, user, {})


@router.post("/dashboards")
def create(request: Request, conn: Conn, user: User, form: Form) -> Response:
    """Make a dashboard (shared with everyone when ``shared`` is ticked)."""
    try:
        with conn.begin_nested():
            made = dashboards.create_dashboard(
                conn, principal=user, name_zh=form.get("name_zh", ""), name_en=form.get("name_en", ""),
                shared=bool(form.get("shared")))
    except JiaoweiError as error:
        return _list_page(request, conn, user, {"error": error, "values": form}, error.status)
    return see_other(dashboard_url(made.uid))


def _dashboard_page(request: Request, conn: Connection, user: Principal, ref: str, extra: dict[str, Any],
                    status: int = 200) -> HTMLResponse:
    board = dashboards.get_dashboard(conn, principal=user, dashboard=ref)
    day = today()
    shown = tiles.show_dashboard(conn, principal=user, dashboard=board, today=day, language=language(request))
    return _render(request, "dashboard_detail.html", {
        "dashboard": board, "items": shown, "indicators": compute.all_indicators(conn),
        "values": {"ou": compute.default_unit(conn, user, day) or "",
                   "pe": compute.default_period(conn, day)},
        "has_charts": any(s.chart for s in shown), **extra}, status)


@router.get("/dashboards/{ref}", response_class=HTMLResponse)
def dashboard_page(request: Request, conn: Conn, user: User, ref: str) -> HTMLResponse:
    """One dashboard, each item computed now for the viewer."""
    return _dashboard_page(request, conn, user, ref[:64], {})


def _spec(form: dict[str, str]) -> ItemSpec:
    return ItemSpec(kind=form.get("kind", "")[:16], title=form.get("title", "")[:400],
                    query=form.get("query", "")[:4000], chart_type=form.get("chart_type") or None,
                    indicator=form.get("indicator") or None, unit=form.get("ou") or form.get("unit") or None,
                    period=form.get("pe") or form.get("period") or None, width=form.get("width") or "half")


@router.post("/dashboards/items")
def add_item(request: Request, conn: Conn, user: User, form: Form) -> Response:
    """Add an item (a pivot, a chart or an indicator tile) to a dashboard; "home" is the user's home
    page, made the first time. Back to ``next`` if it is a path here, else to the dashboard."""
    ref = form.get("dashboard", "")[:64] or HOME
    try:
        with conn.begin_nested():
            dashboards.add_item(conn, principal=user, dashboard=ref, spec=_spec(form))
    except JiaoweiError as error:
        context = {"error": error, "values": form, "failed": ref}
        if ref != HOME:
            try:
                return _dashboard_page(request, conn, user, ref, context, error.status)
            except JiaoweiError:
                pass
        return _list_page(request, conn, user, context, error.status)
    return see_other(local_path(form.get("next"), dashboard_url(ref)))


def _change(request: Request, conn: Connection, user: Principal, ref: str, form: dict[str, str],
            action: Any) -> Response:
    try:
        with conn.begin_nested():
            action()
    except JiaoweiError as error:
        if error.status == 404:
            raise
        return _dashboard_page(request, conn, user, ref, {"error": error}, error.status)
    return see_other(local_path(form.get("next"), dashboard_url(ref)))


@router.post("/dashboards/{ref}/items/{item}/move")
def move_item(request: Request, conn: Conn, user: User, ref: str, item: str, form: Form) -> Response:
    """Move an item one place up (``direction=up``) or down."""
    board = dashboards.get_dashboard(conn, principal=user, dashboard=ref[:64])
    current = next((i.position for i in board.items if i.uid == item), 0)
    step = -1 if form.get("direction") == "up" else 1
    return _change(request, conn, user, ref, form, lambda: dashboards.update_item(
        conn, principal=user, dashboard=board.uid, item=item[:64], position=max(current + step, 1)))


@router.post("/dashboards/{ref}/items/{item}/remove")
def remove_item(request: Request, conn: Conn, user: User, ref: str, item: str, form: Form) -> Response:
    """Take an item off the dashboard."""
    return _change(request, conn, user, ref, form, lambda: dashboards.remove_item(
        conn, principal=user, dashboard=ref[:64], item=item[:64]))


@router.post("/dashboards/{ref}/delete")
def delete(request: Request, conn: Conn, user: User, ref: str) -> Response:
    """Delete the dashboard and its items."""
    try:
        with conn.begin_nested():
            dashboards.delete_dashboard(conn, principal=user, dashboard=ref[:64])
    except JiaoweiError as error:
        if error.status == 404:
            raise
        return _dashboard_page(request, conn, user, ref, {"error": error}, error.status)
    return see_other("/dashboards")
