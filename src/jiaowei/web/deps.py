"""Request plumbing: the transaction, the principal, CSRF, the language, the as-of date."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Query, Request
from sqlalchemy import Connection

from jiaowei.auth import service as auth
from jiaowei.auth.admin import require_password_changed
from jiaowei.auth.model import Principal
from jiaowei.auth.token_use import TokenUses
from jiaowei.domains import N_
from jiaowei.errors import M_, NotAuthenticated, PermissionDenied, Problem, ValidationError
from jiaowei.i18n import DEFAULT_LANGUAGE, negotiate, normalise
from jiaowei.throttle import AddressLimit

SESSION_COOKIE = "jiaowei_session"
LANGUAGE_COOKIE = "jiaowei_lang"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def request_connection(request: Request) -> Iterator[Connection]:
    """The request's one connection from the pool; the body has been received whole already."""
    with request.app.state.db.connect() as connection:
        yield connection


RequestConnection = Annotated[Connection, Depends(request_connection, scope="function")]


def get_conn(request: Request, connection: RequestConnection) -> Iterator[Connection]:
    """The request's one transaction: committed if the handler returns, rolled back if it raises.

    A route that parses a file before writing names the file's dependency before ``Conn`` (and
    ``User`` before both): FastAPI solves them in that order, so no lock is held while it parses.
    """
    with request.app.state.db.transaction_on(connection, write=request.method in UNSAFE) as conn:
        yield conn


Conn = Annotated[Connection, Depends(get_conn, scope="function")]


def token_uses(request: Request) -> TokenUses:
    """The app's record of token uses, written after responses (created on first use)."""
    state = request.app.state
    if getattr(state, "token_uses", None) is None:
        state.token_uses = TokenUses()
    uses: TokenUses = state.token_uses
    return uses


def _principal(request: Request, conn: Connection, background: BackgroundTasks) -> Principal | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        uses = token_uses(request)
        principal = auth.resolve_token(conn, token=header[7:].strip(), uses=uses)
        if principal is None:
            raise NotAuthenticated(N_("The API token is unknown, revoked or expired."))
        if uses.pending:
            background.add_task(uses.flush, request.app.state.db)
        request.state.via = "token"
        return principal
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    found = auth.resolve_session(conn, token=token)
    if found is None:
        return None
    principal, csrf = found
    request.state.via = "session"
    request.state.csrf = csrf
    return principal


async def _form_csrf(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    if "form" not in content_type:
        return ""
    form = await request.form()
    return str(form.get("csrf_token", ""))


async def check_csrf(request: Request) -> None:
    """Cookie-authenticated writes must carry the session's CSRF token."""
    if request.method not in UNSAFE or getattr(request.state, "via", "") != "session":
        return
    sent = request.headers.get("x-csrf-token") or await _form_csrf(request)
    if not sent or not hmac.compare_digest(sent, request.state.csrf):
        raise PermissionDenied(N_("The form's CSRF token is missing or stale; reload the page and try "
                                  "again."))


def resolve_principal(request: Request, connection: RequestConnection,
                      background: BackgroundTasks) -> Principal | None:
    """The session's or token's principal (sync: FastAPI runs it in its threadpool, off the event loop).

    It reads inside the request's transaction if that has begun, else in a short one of its own.
    """
    with request.app.state.db.reading_on(connection) as conn:
        principal = _principal(request, conn, background)
    request.state.principal = principal
    return principal


async def optional_principal(
    request: Request, principal: Annotated[Principal | None, Depends(resolve_principal)]
) -> Principal | None:
    """The principal, if any, with the CSRF check of cookie-authenticated writes (no database here)."""
    require_password_changed(principal, path=request.url.path, language=language(request))
    await check_csrf(request)
    return principal


MaybeUser = Annotated[Principal | None, Depends(optional_principal)]


async def current_principal(principal: MaybeUser) -> Principal:
    if principal is None:
        raise NotAuthenticated(N_("Log in or send an API token (Authorization: Bearer …)."))
    return principal


User = Annotated[Principal, Depends(current_principal)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def lookup_limit(request: Request) -> AddressLimit:
    """The family lookup's limit on failures from the request's client address (a setting)."""
    settings = request.app.state.settings
    return AddressLimit(failures=request.app.state.lookup_failures, address=client_address(request),
                        max_failures=settings.lookup_max_failures_per_address,
                        window_minutes=settings.login_window_minutes)


def language(request: Request) -> str:
    principal = getattr(request.state, "principal", None)
    return (
        normalise(request.query_params.get("lang"))
        or normalise(principal.language if principal else None)
        or normalise(request.cookies.get(LANGUAGE_COOKIE))
        or negotiate(request.headers.get("accept-language"))
        or DEFAULT_LANGUAGE
    )


def asked_language(request: Request) -> str | None:
    """The language the request names (``?lang=``, the account, the cookie, Accept-Language), or None:
    API answers speak it, and stay in English (the source text, stable for programs) when none is named."""
    principal = getattr(request.state, "principal", None)
    return (
        normalise(request.query_params.get("lang"))
        or normalise(principal.language if principal else None)
        or normalise(request.cookies.get(LANGUAGE_COOKIE))
        or negotiate(request.headers.get("accept-language"))
    )


def parse_date(value: str | None, field: str = "as_of") -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(
            M_("Invalid date."),
            [Problem(M_("not a date"), field=field, value=value, expected=M_("YYYY-MM-DD, e.g. 2020-09-01"))],
        ) from None


def as_of_param(
    as_of: Annotated[str | None, Query(description="Date YYYY-MM-DD; default today")] = None,
) -> dt.date | None:
    return parse_date(as_of)


AsOf = Annotated[dt.date | None, Depends(as_of_param)]
