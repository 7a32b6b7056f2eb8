"""The user administration pages and My account through the test client, on both databases: the
list and its filters, role and scopes saved from the unit pickers, disable, a reset that shows the
one-time password once and leads to the change of password, tokens revoked, CSRF on every form,
both languages."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM
from tests.factories import login, login_token, make_user, small_tree
from tests.pages_helpers import visible_text

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def people(conn):  # type: ignore[no-untyped-def]
    small_tree(conn)
    make_user(conn, "boss", role="administrator")
    make_user(conn, "d1staff", role="district_staff", capture=["D1"])
    make_user(conn, "rep-in", role="unit_reporter", capture=["S1"])
    make_user(conn, "rep-out", role="unit_reporter", capture=["S2"])
    auth.create_token(conn, principal=SYSTEM, username="rep-in", label="sync job")


def test_the_list_filters_and_the_navigation_shows_users_to_managers_only(browser, conn, people):
    csrf = login(browser, "boss")
    assert csrf
    page = browser.get("/users", params={"role": "unit_reporter", "unit": "S1"})
    assert page.status_code == 200
    listed = re.findall(r'href="/users/([^"]+)"', page.text)
    assert listed == ["rep-in"]
    assert 'list="unit-choices"' in page.text and '<option value="S1">' in page.text
    other = TestClient(browser.app, headers={"accept": "text/html"})
    login(other, "d1staff")
    assert re.findall(r'href="/users/([^"]+)"', other.get("/users").text) == ["rep-in"]
    assert 'href="/users"' in other.get("/").text
    reporter = TestClient(browser.app, headers={"accept": "text/html"})
    login(reporter, "rep-in")
    assert 'href="/users"' not in reporter.get("/").text and 'href="/me"' in reporter.get("/").text
    assert reporter.get("/users").status_code == 403


def test_role_and_scopes_are_saved_from_the_pickers(browser, conn, people):
    csrf = login(browser, "boss")
    page = browser.get("/users/rep-in")
    assert page.status_code == 200 and 'name="capture" value="S1"' in page.text
    saved = browser.post("/users/rep-in", data={"csrf_token": csrf, "role": "district_staff",
                                                "capture": ["S1", "D1", ""], "view": ["", "D2"]},
                         follow_redirects=False)
    assert saved.status_code == 303
    row = conn.execute(text("SELECT role FROM users WHERE username = 'rep-in'")).scalar_one()
    assert row == "district_staff"
    page = browser.get("/users/rep-in")
    assert 'name="capture" value="D1"' in page.text and 'name="view" value="D2"' in page.text
    bad = browser.post("/users/rep-in", data={"csrf_token": csrf, "capture": ["NOPE"]})
    assert bad.status_code == 422 and "NOPE" in bad.text


def test_forms_without_the_csrf_token_are_refused(browser, conn, people):
    login(browser, "boss")
    for path in ("/users/rep-in", "/users/rep-in/disable", "/users/rep-in/reset-password", "/me/password"):
        assert browser.post(path, data={"role": "administrator"}).status_code == 403, path
    assert conn.execute(text("SELECT active FROM users WHERE username = 'rep-in'")).scalar_one()


def test_a_reset_shows_the_password_once_and_leads_to_the_change(browser, conn, people):
    csrf = login(browser, "boss")
    browser.cookies.set("jiaowei_lang", "en")
    shown = browser.post("/users/rep-in/reset-password", data={"csrf_token": csrf})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    one_time = re.search(r'<code class="secret">([^<]+)</code>', shown.text).group(1)  # type: ignore[union-attr]
    assert one_time not in browser.get("/users/rep-in").text
    user = TestClient(browser.app, headers={"accept": "text/html"})
    user.cookies.set("jiaowei_lang", "en")
    response = user.post("/login", data={**login_token(user), "username": "rep-in", "password": one_time,
                                         "next": "/units"}, follow_redirects=False)
    assert response.headers["location"] == "/me/password?next=/units"
    closed = user.get("/units")
    assert closed.status_code == 403 and "Change your password first" in visible_text(closed.text)
    form = user.get("/me/password?next=/units")
    assert "Your password was reset" in form.text
    token = re.search(r'name="csrf-token" content="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    differ = user.post("/me/password", data={"csrf_token": token, "old_password": one_time,
                                              "new_password": NEW_PASSWORD, "repeat_password": "other",
                                              "next": "/units"})
    assert differ.status_code == 422
    done = user.post("/me/password", data={"csrf_token": token, "old_password": one_time,
                                            "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD,
                                            "next": "/units"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/units"
    assert user.get("/units").status_code == 200


def test_disable_enable_and_revoke_from_the_pages(browser, conn, people):
    csrf = login(browser, "boss")
    assert browser.post("/users/rep-in/disable", data={"csrf_token": csrf, "note": "left"},
                        follow_redirects=False).status_code == 303
    page = browser.get("/users/rep-in")
    assert 'action="/users/rep-in/enable"' in page.text and "sync job" in page.text
    token_id = conn.execute(text("SELECT id FROM api_tokens WHERE label = 'sync job'")).scalar_one()
    revoked = browser.post(f"/tokens/{token_id}/revoke", data={"csrf_token": csrf, "next": "/users/rep-in"},
                           follow_redirects=False)
    assert revoked.status_code == 303 and revoked.headers["location"] == "/users/rep-in"
    assert conn.execute(text("SELECT revoked FROM api_tokens WHERE id = :i"), {"i": token_id}).scalar_one()
    enabled = browser.post("/users/rep-in/enable", data={"csrf_token": csrf}, follow_redirects=False)
    assert enabled.status_code == 303


@pytest.mark.parametrize(("lang", "words"), [
    ("zh_CN", ["我的账户", "修改密码", "我的 API 令牌", "sync job"]),
    ("en", ["My account", "Change password", "My API tokens", "sync job"]),
])
def test_my_account_in_both_languages(browser, conn, people, lang, words):
    login(browser, "rep-in")
    browser.cookies.set("jiaowei_lang", lang)
    text_shown = visible_text(browser.get("/me").text) + visible_text(browser.get("/me/password").text)
    for word in words:
        assert word in text_shown
