"""Unit group pages: the groups and group sets on a date, one group's members, the forms."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.errors import Conflict, ValidationError
from jiaowei.registry import groups, queries
from jiaowei.registry.pages import TYPES
from jiaowei.web.deps import AsOf, Conn, User
from jiaowei.web.forms import N_, Form, problems_by_field, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

FIELDS = {"code": N_("Group code"), "name_zh": N_("Chinese name"), "name_en": N_("English name"),
          "members": N_("Members"), "note": N_("Note")}
SEPARATORS = re.compile(r"[\s,，、;；]+")


def unit_codes(text: str | None) -> list[str]:
    """Unit codes typed one a line or separated by commas (Chinese commas too), in order, once each."""
    return list(dict.fromkeys(c for c in SEPARATORS.split(text or "") if c))


def _render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    error = context.get("error")
    return page(request, template, {"types": TYPES, "fields": FIELDS, "errors": problems_by_field(error),
                                    **context}, status)


def _group_url(code: str) -> str:
    return f"/groups/{quote(code, safe='')}"


@router.get("/groups", response_class=HTMLResponse)
def groups_page(request: Request, conn: Conn, user: User, as_of: AsOf) -> HTMLResponse:
    """Every group with its member count on the date, and the group sets."""
    day = as_of or queries.today()
    return _render(request, "groups.html", {
        "as_of": day.isoformat(), "groups": groups.list_groups(conn, principal=user, as_of=day),
        "sets": groups.list_group_sets(conn, principal=user), "may_write": user.may(Action.REGISTRY_WRITE)})


@router.get("/groups/new", response_class=HTMLResponse)
def new_group_form(request: Request, user: User) -> HTMLResponse:
    require_action(user, Action.REGISTRY_WRITE)
    return _render(request, "groups_new.html", {"values": {}})


@router.post("/groups/new")
def create_group(request: Request, conn: Conn, user: User, form: Form) -> Response:
    code = form.get("code", "").strip()
    try:
        with conn.begin_nested():
            groups.create_group(conn, principal=user, code=code, name_zh=form.get("name_zh", ""),
                                name_en=form.get("name_en", ""), members=unit_codes(form.get("members")),
                                note=form.get("note", ""))
    except (ValidationError, Conflict) as error:
        return _render(request, "groups_new.html", {"values": form, "error": error}, status=error.status)
    return see_other(_group_url(code))


def _group_page(request: Request, conn: Connection, user: Principal, code: str, day: dt.date,
                extra: dict[str, Any], status: int = 200) -> HTMLResponse:
    group = groups.get_group(conn, principal=user, code=code, as_of=day)
    return _render(request, "groups_detail.html", {
        "group": group, "as_of": day.isoformat(), "values": {}, "may_write": user.may(Action.REGISTRY_WRITE),
        "may_audit": user.may(Action.AUDIT_READ), **extra}, status)


@router.get("/groups/{code}", response_class=HTMLResponse)
def group_page(request: Request, conn: Conn, user: User, code: str, as_of: AsOf) -> HTMLResponse:
    """One group's members on the date, those within the viewer's scope."""
    return _group_page(request, conn, user, code, as_of or queries.today(), {})


@router.post("/groups/{code}/members")
def change_members(request: Request, conn: Conn, user: User, code: str, form: Form) -> Response:
    """Add the units of the form's ``add`` field to the group and take those of ``remove`` out."""
    try:
        with conn.begin_nested():
            groups.change_members(conn, principal=user, code=code, add=unit_codes(form.get("add")),
                                  remove=unit_codes(form.get("remove")), note=form.get("note", ""))
    except ValidationError as error:
        return _group_page(request, conn, user, code, queries.today(), {"error": error, "values": form},
                           status=error.status)
    return see_other(_group_url(code))
