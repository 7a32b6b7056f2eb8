"""Log in and log out through HTML forms; the session lives in an HttpOnly cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jiaowei.auth import service
from jiaowei.errors import NotAuthenticated, TooManyAttempts
from jiaowei.web.deps import SESSION_COOKIE, Conn, MaybeUser
from jiaowei.web.forms import Form, is_https, local_path, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: MaybeUser, next: str = "/") -> HTMLResponse:
    return page(request, "login.html", {"next": local_path(next), "username": ""})


@router.post("/login")
def login(request: Request, conn: Conn, form: Form) -> Response:
    """Check the password; on success start a session and go where the user was heading."""
    settings = request.app.state.settings
    username, remote = form.get("username", "").strip(), request.client.host if request.client else ""
    target = local_path(form.get("next"))
    try:
        principal = service.authenticate(
            conn, username=username, password=form.get("password", ""), remote=remote,
            max_failures=settings.login_max_failures, window_minutes=settings.login_window_minutes)
    except (NotAuthenticated, TooManyAttempts) as error:
        # The failure is answered, not raised, so the request's transaction keeps the attempt.
        service.record_attempt(conn, username=username, remote=remote, succeeded=False)
        return page(request, "login.html", {"next": target, "username": username, "error": error},
                    status=error.status)
    service.record_attempt(conn, username=username, remote=remote, succeeded=True)
    token, _csrf = service.start_session(conn, principal=principal, hours=settings.session_hours)
    response = see_other(target)
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_hours * 3600, httponly=True,
                        samesite="lax", secure=is_https(request))
    return response


@router.post("/logout")
def logout(request: Request, conn: Conn, user: MaybeUser) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if user is not None and token:
        service.end_session(conn, token=token)
    response = see_other("/login")
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=is_https(request))
    return response
