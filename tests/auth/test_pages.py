"""The login and logout pages through the test client, on both databases: sessions, throttling, CSRF."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from jiaowei.auth.model import SYSTEM
from jiaowei.auth.store import login_attempts
from jiaowei.registry import queries
from tests.factories import PASSWORD, login, login_token, make_user, small_tree


def _failures(conn, username: str) -> int:  # type: ignore[no-untyped-def]
    return conn.scalar(select(func.count()).select_from(login_attempts).where(
        login_attempts.c.username == username, login_attempts.c.succeeded.is_(False)))


def test_login_sets_an_httponly_session_cookie_and_goes_to_next(browser, conn):
    make_user(conn, "wang")
    response = browser.post("/login", data={**login_token(browser), "username": "wang", "password": PASSWORD,
                                            "next": "/units"},
                            follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/units"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("jiaowei_session=") and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower() and "Secure" not in cookie
    assert browser.get("/units").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_the_site(browser, conn, target):
    make_user(conn, "wang")
    response = browser.post("/login", data={**login_token(browser), "username": "wang", "password": PASSWORD,
                                            "next": target},
                            follow_redirects=False)
    assert response.headers["location"] == "/"


def test_wrong_password_rerenders_the_form_and_is_recorded(browser, conn):
    make_user(conn, "wang")
    response = browser.post("/login", data={**login_token(browser), "username": "wang",
                                            "password": "wrong password"})
    assert response.status_code == 401
    assert 'name="username"' in response.text and 'value="wang"' in response.text
    assert "jiaowei_session" not in response.headers.get("set-cookie", "")
    assert _failures(conn, "wang") == 1


def test_sixth_attempt_after_five_failures_is_throttled(browser, conn):
    make_user(conn, "wang")
    for _ in range(5):
        wrong = {**login_token(browser), "username": "wang", "password": "nope nope"}
        assert browser.post("/login", data=wrong).status_code == 401
    response = browser.post("/login", data={**login_token(browser), "username": "wang", "password": PASSWORD,
                                            "lang": "en"})
    assert response.status_code == 429
    assert "jiaowei_session" not in response.headers.get("set-cookie", "")


def test_logout_ends_the_session(browser, conn):
    make_user(conn, "wang")
    csrf = login(browser, "wang")
    response = browser.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    browser.cookies.clear()
    assert browser.get("/units", follow_redirects=False).headers["location"] == "/login?next=/units"


def test_a_form_post_without_the_csrf_token_is_refused(browser, conn):
    small_tree(conn)
    make_user(conn, "wang")
    login(browser, "wang")
    response = browser.post("/units/S1/close", data={"effective": "2021-01-01"})
    assert response.status_code == 403
    assert queries.get_unit(conn, principal=SYSTEM, code="S1").closed is None
    assert browser.post("/logout", data={"csrf_token": "stale"}).status_code == 403


def test_pages_need_a_login(browser):
    response = browser.get("/units/S1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/units/S1"


def test_the_login_form_carries_a_csrf_token_bound_to_a_cookie(browser, conn):
    response = browser.get("/login")
    token = login_token(browser)["csrf_token"]
    assert token and f'name="csrf_token" value="{token}"' in response.text
    assert "jiaowei_login=" in response.headers["set-cookie"] and "HttpOnly" in response.headers["set-cookie"]


@pytest.mark.parametrize("forged", [None, "", "0" * 64])
def test_a_login_without_the_form_token_is_refused(browser, conn, forged):
    """Login CSRF: another site must not log the victim's browser into the attacker's account."""
    make_user(conn, "wang")
    browser.get("/login")  # the victim's browser holds its own login cookie
    data = {"username": "wang", "password": PASSWORD, **({} if forged is None else {"csrf_token": forged})}
    response = browser.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert "jiaowei_session" not in response.headers.get("set-cookie", "")
    assert 'name="username"' in response.text  # the form again, with a fresh token


def test_a_login_token_from_another_browser_is_refused(browser, conn):
    make_user(conn, "wang")
    attacker = login_token(browser)  # fetched by the attacker, with the attacker's cookie
    browser.cookies.clear()
    browser.get("/login")
    response = browser.post("/login", data={**attacker, "username": "wang", "password": PASSWORD},
                            follow_redirects=False)
    assert response.status_code == 403
