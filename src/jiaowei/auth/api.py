"""JSON routes of accounts: users under /api/users, API tokens under /api/tokens, oneself under /api/me.

Administrators manage every user; district staff the unit reporters of their own district
(see :mod:`jiaowei.auth.admin`). Every change is audited.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from jiaowei.auth import admin, queries
from jiaowei.auth import service as auth
from jiaowei.auth.service import MAX_TOKEN_DAYS
from jiaowei.web.deps import Conn, User

router = APIRouter(prefix="/api", tags=["accounts"])

Codes = list[Annotated[str, Field(max_length=64)]]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=64, description="login name: 2-64 letters, digits or _ . @ -")
    display_name: str = Field(default="", max_length=200, description="the name shown; default the username")
    role: str = Field(max_length=32, description="administrator, commission_staff, district_staff, "
                      "unit_reporter or viewer (district staff: unit_reporter only)")
    capture: Codes = Field(default_factory=list, max_length=1000,
                           description="unit codes where the user may write, with the units below them")
    view: Codes = Field(default_factory=list, max_length=1000,
                        description="unit codes the user may read, with the units below them")
    language: str | None = Field(default=None, max_length=8, description="zh_CN or en; default the browser's")
    password: str | None = Field(default=None, max_length=1000,
                                 description="omit it to get a one-time password, answered once, that "
                                             "the user must change at first login")


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str | None = Field(default=None, max_length=32, description="administrator, commission_staff, "
                             "district_staff, unit_reporter or viewer")
    capture: Codes | None = Field(default=None, max_length=1000,
                                  description="unit codes where the user may write (replaces the scope)")
    view: Codes | None = Field(default=None, max_length=1000,
                               description="unit codes the user may read (replaces the scope)")


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=500, description="why, kept in the audit log")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old_password: str = Field(max_length=1000)
    new_password: str = Field(max_length=1000)


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(default="", max_length=200, description="what the token is for")
    days: int | None = Field(default=None, ge=1, le=MAX_TOKEN_DAYS,
                             description="valid for this many days; default JIAOWEI_TOKEN_DAYS")
    user: str | None = Field(default=None, max_length=64,
                             description="the user the token acts as (administrators only); default yourself")


@router.get("/users")
def list_users(
    conn: Conn,
    user: User,
    q: Annotated[str | None, Query(max_length=100, description="part of the username or display name")]
    = None,
    role: Annotated[str | None, Query(max_length=32)] = None,
    unit: Annotated[str | None, Query(max_length=64, description="users with a scope on this unit code")]
    = None,
    active: Annotated[bool | None, Query(description="only enabled (true) or disabled (false) users")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
) -> dict[str, Any]:
    """The users the caller manages (every user for administrators), searched and paged."""
    page = admin.list_users(conn, principal=user, q=q, role=role, unit=unit, active=active, offset=offset,
                            limit=limit)
    return {"items": [asdict(u) for u in page.items], "total": page.total, "offset": page.offset,
            "limit": page.limit}


@router.post("/users", status_code=201, responses={
    201: {"description": "The user as GET /api/users/{username} shows it, and the one-time password "
                         "(null when a password was given)", "headers": {"Location": {
                             "description": "/api/users/{username}", "schema": {"type": "string"}}}},
    409: {"description": "The username is taken"}})
def create_user(conn: Conn, user: User, body: UserCreate, response: Response) -> dict[str, Any]:
    """Create a user (administrators: any; district staff: unit reporters inside their district)."""
    created = admin.create_user(conn, principal=user, username=body.username, role=body.role,
                                capture=body.capture, view=body.view, display_name=body.display_name,
                                language=body.language, password=body.password)
    response.headers["Location"] = f"/api/users/{quote(body.username, safe='')}"
    response.headers["Cache-Control"] = "no-store"
    return {**asdict(created.user), "one_time_password": created.one_time_password}


@router.get("/users/{username}")
def get_user(conn: Conn, user: User, username: str) -> dict[str, Any]:
    """One user with their role, scopes (unit codes) and status."""
    return asdict(admin.get_user(conn, principal=user, username=username))


@router.patch("/users/{username}")
def change_user(conn: Conn, user: User, username: str, body: UserChange) -> dict[str, Any]:
    """Set the role and/or replace the capture or view scope (given fields only)."""
    return asdict(admin.change_user(conn, principal=user, username=username, role=body.role,
                                    capture=body.capture, view=body.view))


@router.post("/users/{username}/disable")
def disable_user(conn: Conn, user: User, username: str, body: StatusChange | None = None) -> dict[str, Any]:
    """Disable a user: their sessions end and their tokens are refused at once."""
    return asdict(admin.set_active(conn, principal=user, username=username, active=False,
                                   note=body.note if body else ""))


@router.post("/users/{username}/enable")
def enable_user(conn: Conn, user: User, username: str, body: StatusChange | None = None) -> dict[str, Any]:
    """Enable a disabled user again."""
    return asdict(admin.set_active(conn, principal=user, username=username, active=True,
                                   note=body.note if body else ""))


@router.post("/users/{username}/reset-password")
def reset_password(conn: Conn, user: User, username: str) -> dict[str, Any]:
    """Give the user a one-time password (answered once); they must change it when they next log in."""
    one_time = admin.reset_password(conn, principal=user, username=username)
    return {"username": username, "one_time_password": one_time, "must_change_password": True}


@router.get("/tokens")
def list_tokens(
    conn: Conn, user: User,
    username: Annotated[str | None, Query(alias="user", max_length=64, description="one user's tokens")]
    = None,
) -> dict[str, Any]:
    """API tokens (never their secret): every token for administrators, your own for everyone else."""
    return {"items": [asdict(t) for t in admin.list_tokens(conn, principal=user, username=username)]}


@router.post("/tokens", status_code=201)
def create_token(request: Request, conn: Conn, user: User, body: TokenCreate) -> dict[str, Any]:
    """Create an API token, your own by default; the secret is answered once."""
    days = body.days or request.app.state.settings.token_days
    username = body.user or user.username
    token = auth.create_token(conn, principal=user, username=username, label=body.label, days=days)
    created = queries.list_tokens(conn, user_id=auth.user_id_for(conn, username=username))[0]
    return {**asdict(created), "token": token}


@router.delete("/tokens/{token_id}")
def revoke_token(conn: Conn, user: User, token_id: int) -> dict[str, Any]:
    """Revoke a token: your own, any for administrators, a reporter's of your district for district staff."""
    return asdict(admin.revoke_token(conn, principal=user, token_id=token_id))


# GET /api/me is jiaowei.dhis2.api's: these fields with DHIS2's beside them.


@router.post("/me/password", status_code=204)
def change_password(conn: Conn, user: User, body: PasswordChange) -> Response:
    """Change your own password; the current one is required."""
    admin.change_own_password(conn, principal=user, old_password=body.old_password,
                              new_password=body.new_password)
    return Response(status_code=204)
