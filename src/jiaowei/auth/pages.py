"""Log in and log out through HTML forms; the session lives in an HttpOnly cookie.

The login form carries a CSRF token too, bound to a cookie of its own (see :func:`_login_page`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jiaowei.auth import service
from jiaowei.auth.login import LoginPolicy, LoginThrottled, log_in
from jiaowei.domains import N_
from jiaowei.errors import NotAuthenticated, PermissionDenied
from jiaowei.web.deps import SESSION_COOKIE, Conn, MaybeUser
from jiaowei.web.forms import Form, is_https, local_path, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "jiaowei_login"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: MaybeUser, next: str = "/") -> HTMLResponse:
    return _login_page(request, {"next": local_path(next), "username": ""})


def _login_page(request: Request, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """The login form, with a CSRF token bound to this browser's login cookie (set here if new).

    No session exists yet, so the token is the HMAC of a random value kept in an HttpOnly,
    SameSite=Strict cookie: another site can neither read it nor send it (login CSRF).
    """
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    token = _login_token(request.app.state.settings.secret_key, nonce)
    response = page(request, "login.html", {**context, "csrf_token": token}, status=status)
    response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict", secure=is_https(request))
    return response


def _login_token(secret_key: str, nonce: str) -> str:
    return hmac.new(secret_key.encode(), f"login:{nonce}".encode(), hashlib.sha256).hexdigest()


def _login_csrf_ok(request: Request, sent: str) -> bool:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    expected = _login_token(request.app.state.settings.secret_key, nonce)
    return bool(nonce and sent) and hmac.compare_digest(sent, expected)


@router.post("/login")
def login(request: Request, conn: Conn, form: Form) -> Response:
    """Check the password; on success start a session and go where the user was heading."""
    settings = request.app.state.settings
    username, remote = form.get("username", "").strip(), request.client.host if request.client else ""
    target = local_path(form.get("next"))
    if not _login_csrf_ok(request, form.get("csrf_token", "")):
        refused = PermissionDenied(N_("The login form has expired or came from another site; log in again."))
        return _login_page(request, {"next": target, "username": username, "error": refused}, status=403)
    try:
        principal = log_in(conn, username=username, password=form.get("password", ""), remote=remote,
                           policy=LoginPolicy.from_settings(settings))
    except LoginThrottled as error:
        throttled = _login_page(request, {"next": target, "username": username, "error": error,
                                          "retry_after": error.retry_after}, status=error.status)
        throttled.headers["Retry-After"] = str(error.retry_after)
        return throttled
    except NotAuthenticated as error:
        # Answered, not raised, so that the request's transaction keeps the recorded failure.
        return _login_page(request, {"next": target, "username": username, "error": error},
                           status=error.status)
    token, _csrf = service.start_session(conn, principal=principal, hours=settings.session_hours)
    if principal.must_change_password:  # after a reset: choose a new password first (auth.admin)
        target = f"/me/password?next={quote(target, safe='/')}"
    response = see_other(target)
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_hours * 3600, httponly=True,
                        samesite="lax", secure=is_https(request))
    response.delete_cookie(LOGIN_COOKIE, httponly=True, samesite="strict", secure=is_https(request))
    return response


@router.post("/logout")
def logout(request: Request, conn: Conn, user: MaybeUser) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if user is not None and token:
        service.end_session(conn, token=token)
    response = see_other("/login")
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=is_https(request))
    return response
