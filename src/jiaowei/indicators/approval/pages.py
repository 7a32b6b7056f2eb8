"""Approval and completeness pages.

``/data/approval?ds=&pe=&ou=`` shows a unit's own approval and lock, and a table of its direct
children with their completeness and approval, with approve and unapprove buttons where the
user may use them (unapprove asks why). ``/data/completeness?ds=&pe=&ou=`` is the
completeness and timeliness report. Both list only the children that report the data set, 50 at a
time (``page``), filtered by ``status`` and a search (``q``). ``/data/my-forms`` is the user's
work list: forms due, late, sent back or waiting for approval, each one click from its form.
The choices live in the query string, so a page can be bookmarked; problems with them are shown
above the form, never as an error page.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from jiaowei import clock
from jiaowei.auth.model import Principal
from jiaowei.errors import JiaoweiError
from jiaowei.indicators import defaults
from jiaowei.indicators.approval import completeness, listing, queries, worklist
from jiaowei.indicators.approval import service as approval
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.registry import queries as registry
from jiaowei.web.deps import AsOf, Conn, User, language
from jiaowei.web.forms import N_, Form, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Query(max_length=64)]

STATES = {
    "unapproved": N_("Not approved"),
    "approved": N_("Approved"),
    "approved_above": N_("Approved above"),
}
LOCKS = {
    "open": N_("Open: this data set never closes"),
    "closes": N_("Open until"),
    "locked": N_("Closed since"),
    "exception": N_("Closed, but re-opened for this unit until"),
}


def _data_sets(conn: Connection, zh: bool) -> list[dict[str, str]]:
    catalog = load_catalog(conn)
    unique = {ds.id: ds for ds in catalog.data_sets.values()}.values()
    return [
        {"code": ds.code, "name": ds.name_zh if zh else ds.name_en, "period_type": ds.period_type}
        for ds in sorted(unique, key=lambda d: d.code)
    ]


def _context(request: Request, conn: Connection, ds: str, pe: str, ou: str, active: str) -> dict[str, Any]:
    zh = language(request) == "zh_CN"
    return {
        "active": active,
        "zh": zh,
        "data_sets": _data_sets(conn, zh),
        "states": STATES,
        "locks": LOCKS,
        "query": {"ds": ds, "pe": pe, "ou": ou},
    }


def _approval_view(
    conn: Connection, user: Principal, ds: str, pe: str, ou: str, filters: listing.Filters | None = None
) -> dict[str, Any]:
    """The unit's status, and the completeness next to the approval of each child that reports the
    data set: those of the filters, one page of them."""
    names = {"data_set": ds, "period": pe, "unit": ou}
    status = queries.approval_status(conn, principal=user, **names)
    rows = completeness.completeness(conn, principal=user, data_set=ds, periods=[pe], unit=ou)
    counts = {r.unit: asdict(r) for r in rows}
    children = queries.children_status(conn, principal=user, **names)
    chosen = filters or listing.Filters()
    listed = listing.approval_children([{**asdict(c), **counts.get(c.unit, {})} for c in children], chosen)
    found = listing.page_of(listed, chosen.page)
    return {"status": status, "own": counts.get(ou), "children": found.items, "children_page": found,
            "unit_shown": _unit_shown(conn, ou)}


def _unit_shown(conn: Connection, code: str) -> Any:
    """The unit as it stands today (for its names beside the code), or None."""
    unit_id = registry.id_of(conn, code)
    return registry.unit_on(conn, unit_id, clock.today()) if unit_id is not None else None


def _filters(status: str, q: str, page_number: int) -> listing.Filters:
    return listing.Filters(status=status, q=q.strip(), page=page_number)


@router.get("/data/approval", response_class=HTMLResponse)
def approval_page(
    request: Request, conn: Conn, user: User, ds: Text = "", pe: Text = "", ou: Text = "",
    status: Text = "", q: Text = "", page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Choose a data set, period and unit; see its approval and its children's, and approve them."""
    ds, pe, ou = defaults.filled(conn, user, ds=ds, pe=pe, ou=ou)  # empty: the first, current, your own
    context = _context(request, conn, ds, pe, ou, "approval")
    context.update({"filters": _filters(status, q, page_number), "filter_states": listing.APPROVAL_FILTERS})
    if ds and pe and ou:
        try:
            context.update(_approval_view(conn, user, ds, pe, ou, context["filters"]))
        except JiaoweiError as error:
            context["error"] = error
    return page(request, "indicators/approval.html", context)


def _back(form: dict[str, str]) -> str:
    shown = form.get("back", "") or form.get("ou", "")
    return "/data/approval?" + urlencode({"ds": form.get("ds", ""), "pe": form.get("pe", ""), "ou": shown})


def _act(
    request: Request, conn: Connection, user: Principal, form: dict[str, str], unapprove: bool
) -> Response:
    names = {
        "data_set": form.get("ds", "")[:50],
        "period": form.get("pe", "")[:16],
        "unit": form.get("ou", "")[:64],
    }
    try:
        with conn.begin_nested():
            if unapprove:
                approval.unapprove(conn, principal=user, reason=form.get("reason", ""), **names)
            else:
                approval.approve(conn, principal=user, **names)
    except JiaoweiError as error:
        back = form.get("back", "") or names["unit"]
        context = _context(request, conn, names["data_set"], names["period"], back, "approval")
        with contextlib.suppress(JiaoweiError):  # the page shows what it can besides the error
            context.update(_approval_view(conn, user, names["data_set"], names["period"], back))
        context.update({"error": error, "failed_unit": names["unit"], "reason": form.get("reason", "")})
        return page(request, "indicators/approval.html", context, status=error.status)
    return see_other(_back(form))


@router.post("/data/approval/approve", response_model=None)
def approve(request: Request, conn: Conn, user: User, form: Form) -> Response:
    return _act(request, conn, user, form, unapprove=False)


@router.post("/data/approval/unapprove", response_model=None)
def unapprove(request: Request, conn: Conn, user: User, form: Form) -> Response:
    return _act(request, conn, user, form, unapprove=True)


@router.get("/data/completeness", response_class=HTMLResponse)
def completeness_page(
    request: Request, conn: Conn, user: User, ds: Text = "", pe: Text = "", ou: Text = "",
    status: Text = "", q: Text = "", page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The completeness and timeliness report of a data set for periods (comma-separated) at a unit:
    the unit's own rows, then those of its children that report the data set (filtered, paged)."""
    ds, pe, ou = defaults.filled(conn, user, ds=ds, pe=pe, ou=ou)  # empty: the first, current, your own
    context = _context(request, conn, ds, pe, ou, "completeness")
    filters = _filters(status, q, page_number)
    context.update({"filters": filters, "filter_states": listing.COMPLETENESS_FILTERS})
    if ds and pe and ou:
        periods = [p.strip() for p in pe.replace(";", ",").split(",") if p.strip()]
        try:
            rows = completeness.completeness(conn, principal=user, data_set=ds, periods=periods, unit=ou)
            own, below = listing.completeness_rows(rows, filters)
            found = listing.page_of(below, filters.page)
            context.update({"rows": own + found.items, "rows_page": found})
        except JiaoweiError as error:
            context["error"] = error
    return page(request, "indicators/completeness.html", context)


@router.get("/data/my-forms", response_class=HTMLResponse)
def my_forms_page(request: Request, conn: Conn, user: User, as_of: AsOf, status: Text = "") -> HTMLResponse:
    """The user's work list: forms due, late, sent back or waiting for approval, and approvals to give."""
    lang = language(request)
    found = worklist.work_list(conn, principal=user, today=as_of or clock.today(), status=status or None)
    context = {
        "active": "my_forms", "zh": lang == "zh_CN", "found": found, "status": status,
        "statuses": listing.WORK_STATUSES, "chart": listing.work_chart(found, language=lang),
        "as_of": as_of.isoformat() if as_of else "",
    }
    return page(request, "indicators/my_forms.html", context)
