"""Request plumbing: the transaction, the principal, CSRF, the language, the as-of date."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Query, Request
from sqlalchemy import Connection

from jiaowei.auth import service as auth
from jiaowei.auth.admin import require_password_changed
from jiaowei.auth.login import LoginPolicy, log_in
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
    """The request's one connection from the pool; the body has been received already, except a file
    route's, which its own dependency reads as it streams, before ``Conn`` (``web/body.py``)."""
    with request.app.state.db.connect() as connection:
        yield connection


RequestConnection = Annotated[Connection, Depends(request_connection, scope="function")]


def get_conn(request: Request, connection: RequestConnection) -> Iterator[Connection]:
    """The request's one transaction: committed if the handler returns, rolled back if it raises. A GET
    (HEAD, OPTIONS) request's is read-only: a statement that writes fails it (``WriteWhileReading``).

    A route that parses a file before writing names the file's dependency before ``Conn`` (and
    ``User`` before both): FastAPI solves them in that order, so no lock is held while it parses.
    """
    unsafe = request.method in UNSAFE
    with request.app.state.db.transaction_on(connection, write=unsafe, read_only=not unsafe) as conn:
        yield conn


Conn = Annotated[Connection, Depends(get_conn, scope="function")]


def get_write_conn(request: Request, connection: RequestConnection) -> Iterator[Connection]:
    """The request's one transaction, that may write whatever the method: a GET that records what it
    served (an audited download) names ``WriteConn`` instead of ``Conn``."""
    with request.app.state.db.transaction_on(connection, write=True) as conn:
        yield conn


WriteConn = Annotated[Connection, Depends(get_write_conn, scope="function")]


def token_uses(request: Request) -> TokenUses:
    """The app's record of token uses, written after responses (created on first use)."""
    state = request.app.state
    if getattr(state, "token_uses", None) is None:
        state.token_uses = TokenUses()
    uses: TokenUses = state.token_uses
    return uses


def _token_principal(request: Request, conn: Connection, background: BackgroundTasks,
                     token: str) -> Principal:
    """The principal of an API token, sent as ``Bearer`` or as DHIS2's ``ApiToken``."""
    uses = token_uses(request)
    principal = auth.resolve_token(conn, token=token, uses=uses)
    if principal is None:
        raise NotAuthenticated(N_("The API token is unknown, revoked or expired."))
    if uses.pending:
        background.add_task(uses.flush, request.app.state.db)
    request.state.via = "token"
    return principal


def _basic_credentials(header: str) -> tuple[str, str]:
    """``username:password`` from an HTTP Basic header (RFC 7617; UTF-8, as browsers and requests send)."""
    try:
        decoded = base64.b64decode(header.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    username, colon, password = decoded.partition(":")
    if not colon or not username:
        raise NotAuthenticated(N_("The Basic credentials are not base64 of username:password."))
    return username.strip(), password


def _basic_principal(request: Request, connection: Connection, header: str) -> Principal:
    """HTTP Basic, checked as the login form checks a password, with its throttle: a refused try
    answers 429 with Retry-After and checks nothing; a failure is recorded (and committed) and counts
    toward the same limits. No session is created."""
    username, password = _basic_credentials(header)
    database = request.app.state.db
    writing = nullcontext(connection) if connection.in_transaction() else database.transaction_on(
        connection, write=True)
    failed: NotAuthenticated | None = None
    with writing as conn:
        try:
            principal = log_in(conn, username=username, password=password, remote=client_address(request),
                               policy=LoginPolicy.from_settings(request.app.state.settings))
        except NotAuthenticated as error:
            failed = error  # raised after the block, so that the recorded failure is committed
    if failed is not None:
        raise failed
    request.state.via = "basic"
    return principal


def _principal(request: Request, connection: Connection, background: BackgroundTasks) -> Principal | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "basic":
        return _basic_principal(request, connection, credentials)
    with request.app.state.db.reading_on(connection) as conn:
        if scheme.lower() in ("bearer", "apitoken"):
            return _token_principal(request, conn, background, credentials.strip())
        return _session_principal(request, conn)


def _session_principal(request: Request, conn: Connection) -> Principal | None:
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


def basic_first(request: Request) -> None:
    """Check HTTP Basic credentials before the route's transaction begins (every router has this as
    its first dependency; sync, so off the event loop), so that a failed password's record is
    committed although the request answers 401. Other requests take no connection here."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        with request.app.state.db.connect() as connection:
            request.state.basic = _basic_principal(request, connection, header[6:])


BASIC_FIRST = Depends(basic_first)


def resolve_principal(request: Request, connection: RequestConnection,
                      background: BackgroundTasks) -> Principal | None:
    """The principal of the session, the API token (``Bearer`` or ``ApiToken``) or HTTP Basic (sync:
    FastAPI runs it in its threadpool, off the event loop).

    It reads inside the request's transaction if that has begun, else in a short one of its own; HTTP
    Basic records its attempt in a short write transaction of its own when it can.
    """
    if hasattr(request.state, "basic"):
        principal = request.state.basic
    else:
        principal = _principal(request, connection, background)
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
