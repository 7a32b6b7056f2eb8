"""User administration pages (/users) and one's own account (/me): new users (a generated one-time
password shown once), role and scopes, disable and enable, password resets (the one-time password
shown once), tokens; the change of one's password.

Scopes are chosen with the unit picker of the other pages (an input with the units as choices);
the services check every permission.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from jiaowei.auth import admin, queries
from jiaowei.auth.model import Action, Principal, Role
from jiaowei.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from jiaowei.i18n import LANGUAGES
from jiaowei.registry import queries as registry
from jiaowei.web.deps import Conn, User, language
from jiaowei.web.forms import N_, Form, in_language, local_path, problems_by_field, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

ROLE_NAMES = {Role.ADMINISTRATOR.value: N_("Administrator"),
              Role.COMMISSION_STAFF.value: N_("Commission staff"),
              Role.DISTRICT_STAFF.value: N_("District staff"),
              Role.UNIT_REPORTER.value: N_("Unit reporter"),
              Role.VIEWER.value: N_("Viewer")}
STATUS = {"": N_("All"), "true": N_("Enabled"), "false": N_("Disabled")}
NEW_USER_LANGUAGES = {"": N_("The browser's language"), **LANGUAGES}
SCOPE_SLOTS = 3  # empty unit pickers offered below a user's scopes
REFUSED = (ValidationError, Conflict, PermissionDenied, NotFound)


async def form_lists(request: Request) -> dict[str, list[str]]:
    """Every text field of a posted form with all its values (the scope pickers repeat)."""
    form = await request.form()
    found: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            found.setdefault(key, []).append(value)
    return found


FormLists = Annotated[dict[str, list[str]], Depends(form_lists)]


def _user_url(username: str) -> str:
    return f"/users/{quote(username, safe='')}"


def _unit_choices(conn: Connection, user: Principal, zh: bool) -> list[dict[str, str]]:
    """Units for the scope pickers: those the user sees (up to 500, the tree's top first)."""
    units = registry.list_units(conn, principal=user, limit=registry.MAX_PAGE).items
    return [{"code": u.code, "name": u.name_zh if zh else u.name_en} for u in units]


def _roles(user: Principal) -> dict[str, str]:
    if user.may(Action.MANAGE_USERS):
        return ROLE_NAMES
    return {Role.UNIT_REPORTER.value: ROLE_NAMES[Role.UNIT_REPORTER.value]}


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, conn: Conn, user: User, q: str = "", role: str = "", unit: str = "",
               active: str = "", offset: int = 0) -> HTMLResponse:
    """The users the visitor manages, searched by name, role, scope unit and status; the New user form."""
    query = {"q": q, "role": role, "unit": unit, "active": active}
    return _users_page(request, conn, user, query, offset)


def _users_page(request: Request, conn: Connection, user: Principal, query: dict[str, str], offset: int = 0,
                extra: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    extra = extra or {}
    context: dict[str, Any] = {
        "active": "users", "query": query, "roles": ROLE_NAMES, "statuses": STATUS,
        "units": _unit_choices(conn, user, request_zh(request)), "new_roles": _roles(user),
        "new_languages": NEW_USER_LANGUAGES, "slots": SCOPE_SLOTS, "new": extra.get("new", {}),
        "new_error": extra.get("new_error"), "new_errors": problems_by_field(extra.get("new_error"))}
    try:
        flag = {"true": True, "false": False}.get(query["active"])
        context["page"] = admin.list_users(conn, principal=user, q=query["q"] or None,
                                           role=query["role"] or None, unit=query["unit"] or None,
                                           active=flag, offset=max(offset, 0), limit=50)
    except ValidationError as error:
        context["error"] = error
        return page(request, "users.html", context, status=error.status)
    return page(request, "users.html", context, status)


NEW_USER_FIELDS = ("username", "display_name", "role", "language", "password", "repeat_password")


def _different_passwords() -> ValidationError:
    return ValidationError(N_("The user cannot be created."), [
        Problem(N_("the two passwords differ"), field="repeat_password",
                expected=N_("the same password twice"))])


def _new_user_form(form: dict[str, list[str]]) -> dict[str, Any]:
    """The New user form's fields: one value each, the scope pickers' codes as lists."""
    fields: dict[str, Any] = {k: (form.get(k) or [""])[0] for k in NEW_USER_FIELDS}
    for kind in ("capture", "view"):
        fields[kind] = [c.strip() for c in form.get(kind, []) if c.strip()]
    return fields


@router.post("/users", response_class=HTMLResponse)
def create_user(request: Request, conn: Conn, user: User, form: FormLists) -> Response:
    """Create a user from the New user form; a generated one-time password is shown once."""
    admin.managed(conn, principal=user)  # 403 for those who manage nobody, before any form handling
    new = _new_user_form(form)
    try:
        if new["password"] != new["repeat_password"]:
            raise _different_passwords()
        with conn.begin_nested():
            created = admin.create_user(
                conn, principal=user, username=new["username"].strip(), role=new["role"],
                capture=new["capture"], view=new["view"], display_name=new["display_name"].strip(),
                language=new["language"] or None, password=new["password"] or None)
    except (ValidationError, Conflict, PermissionDenied) as error:
        kept = {k: v for k, v in new.items() if "password" not in k}
        return _users_page(request, conn, user, dict.fromkeys(("q", "role", "unit", "active"), ""),
                           extra={"new": kept, "new_error": in_language(error, language(request))},
                           status=error.status)
    if created.one_time_password is None:
        return see_other(_user_url(created.user.username) + "?created=1")
    response = _user_page(request, conn, user, created.user.username,
                          {"one_time_password": created.one_time_password, "created": True})
    response.headers["cache-control"] = "no-store"
    return response


def request_zh(request: Request) -> bool:
    return language(request) == "zh_CN"


def _user_page(request: Request, conn: Connection, user: Principal, username: str,
               extra: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    shown = admin.get_user(conn, principal=user, username=username)
    extra = extra or {}
    return page(request, "user.html", {
        "active": "users", "user": shown, "roles": _roles(user), "role_names": ROLE_NAMES,
        "slots": SCOPE_SLOTS, "units": _unit_choices(conn, user, request_zh(request)),
        "tokens": admin.list_tokens(conn, principal=user, username=username),
        "errors": problems_by_field(extra.get("error")), **extra}, status)


@router.get("/users/{username}", response_class=HTMLResponse)
def user_page(request: Request, conn: Conn, user: User, username: str) -> HTMLResponse:
    """One user: role and scopes (a form), status, password reset, tokens."""
    admin.managed(conn, principal=user)
    return _user_page(request, conn, user, username)


@router.post("/users/{username}")
def save_user(request: Request, conn: Conn, user: User, username: str, form: FormLists) -> Response:
    """Save the role and the scopes chosen in the pickers."""
    role = (form.get("role") or [""])[0] or None
    capture = [c.strip() for c in form.get("capture", []) if c.strip()]
    view = [c.strip() for c in form.get("view", []) if c.strip()]
    try:
        with conn.begin_nested():
            admin.change_user(conn, principal=user, username=username, role=role, capture=capture, view=view)
    except REFUSED as error:
        return _user_page(request, conn, user, username, {"error": error}, status=error.status)
    return see_other(_user_url(username) + "?saved=1")


@router.post("/users/{username}/disable")
def disable_user(request: Request, conn: Conn, user: User, username: str, form: Form) -> Response:
    return _set_active(request, conn, user, username, form, active=False)


@router.post("/users/{username}/enable")
def enable_user(request: Request, conn: Conn, user: User, username: str, form: Form) -> Response:
    return _set_active(request, conn, user, username, form, active=True)


def _set_active(request: Request, conn: Connection, user: Principal, username: str, form: dict[str, str],
                *, active: bool) -> Response:
    try:
        with conn.begin_nested():
            admin.set_active(conn, principal=user, username=username, active=active,
                             note=form.get("note", ""))
    except (Conflict, ValidationError) as error:
        return _user_page(request, conn, user, username, {"error": error}, status=error.status)
    return see_other(_user_url(username))


@router.post("/users/{username}/reset-password", response_class=HTMLResponse)
def reset_password(request: Request, conn: Conn, user: User, username: str) -> HTMLResponse:
    """Reset the password and show the one-time password, once (this answer is not cached)."""
    try:
        with conn.begin_nested():
            one_time = admin.reset_password(conn, principal=user, username=username)
    except Conflict as error:
        return _user_page(request, conn, user, username, {"error": error}, status=error.status)
    response = _user_page(request, conn, user, username, {"one_time_password": one_time})
    response.headers["cache-control"] = "no-store"
    return response


@router.post("/tokens/{token_id}/revoke")
def revoke_token(request: Request, conn: Conn, user: User, token_id: int, form: Form) -> Response:
    """Revoke a token, then go back to the page it was listed on."""
    target = local_path(form.get("next"), "/me")
    try:
        with conn.begin_nested():
            admin.revoke_token(conn, principal=user, token_id=token_id)
    except Conflict:
        pass  # revoked already (a second click): the page shows it so
    return see_other(target)


@router.get("/me", response_class=HTMLResponse)
def account_page(request: Request, conn: Conn, user: User) -> HTMLResponse:
    """My account: who I am, my password, my tokens."""
    return _account(request, conn, user, {})


def _account(request: Request, conn: Connection, user: Principal, extra: dict[str, Any],
             template: str = "account.html", status: int = 200) -> HTMLResponse:
    shown = queries.get_user(conn, username=user.username) if user.user_id is not None else None
    tokens = admin.list_tokens(conn, principal=user, username=user.username)
    context = {"active": "account", "me": shown, "role_names": ROLE_NAMES, "tokens": tokens,
               "errors": problems_by_field(extra.get("error")), **extra}
    return page(request, template, context, status)


@router.get("/me/password", response_class=HTMLResponse)
def password_form(request: Request, conn: Conn, user: User, next: str = "/") -> HTMLResponse:
    """Change my password (the page a reset password leads to)."""
    return _account(request, conn, user, {"next": local_path(next)}, template="password.html")


@router.post("/me/password")
def change_password(request: Request, conn: Conn, user: User, form: Form) -> Response:
    target = local_path(form.get("next"), "/me")
    problems = []
    if form.get("new_password", "") != form.get("repeat_password", ""):
        problems.append(Problem(N_("the two new passwords differ"), field="repeat_password",
                                expected=N_("the same new password twice")))
    try:
        if problems:
            raise ValidationError(N_("The password was not changed."), problems)
        with conn.begin_nested():
            admin.change_own_password(conn, principal=user, old_password=form.get("old_password", ""),
                                      new_password=form.get("new_password", ""))
    except ValidationError as error:
        return _account(request, conn, user, {"error": error, "next": target}, template="password.html",
                        status=error.status)
    return see_other(target if target != "/me/password" else "/me")
