"""The HTML pages through the test client, on both databases: login, language, unit forms, import."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from sqlalchemy import func, select

from jiaowei.auth.model import SYSTEM
from jiaowei.auth.store import login_attempts
from jiaowei.i18n import catalog
from jiaowei.registry import service as registry
from jiaowei.web.render import DOMAINS
from tests.factories import PASSWORD, login, make_unit, make_user, small_tree

SRC = Path(__file__).resolve().parents[2] / "src" / "jiaowei"


@pytest.fixture
def browser(client):  # type: ignore[no-untyped-def]
    """The test client, asking for HTML as a browser does."""
    client.headers["accept"] = "text/html,application/xhtml+xml"
    return client


def _failures(conn, username: str) -> int:  # type: ignore[no-untyped-def]
    return conn.scalar(select(func.count()).select_from(login_attempts).where(
        login_attempts.c.username == username, login_attempts.c.succeeded.is_(False)))


def _visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# ---------------------------------------------------------------- login and logout


def test_login_sets_an_httponly_session_cookie_and_goes_to_next(browser, conn):
    make_user(conn, "wang")
    response = browser.post("/login", data={"username": "wang", "password": PASSWORD, "next": "/units"},
                            follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/units"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("jiaowei_session=") and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower() and "Secure" not in cookie
    assert browser.get("/units").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_the_site(browser, conn, target):
    make_user(conn, "wang")
    response = browser.post("/login", data={"username": "wang", "password": PASSWORD, "next": target},
                            follow_redirects=False)
    assert response.headers["location"] == "/"


def test_wrong_password_rerenders_the_form_and_is_recorded(browser, conn):
    make_user(conn, "wang")
    response = browser.post("/login", data={"username": "wang", "password": "wrong password"})
    assert response.status_code == 401
    assert 'name="username"' in response.text and 'value="wang"' in response.text
    assert "jiaowei_session" not in response.headers.get("set-cookie", "")
    assert _failures(conn, "wang") == 1


def test_sixth_attempt_after_five_failures_is_throttled(browser, conn):
    make_user(conn, "wang")
    for _ in range(5):
        assert browser.post("/login", data={"username": "wang", "password": "nope nope"}).status_code == 401
    response = browser.post("/login", data={"username": "wang", "password": PASSWORD, "lang": "en"})
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
    assert registry.get_unit(conn, principal=SYSTEM, code="S1")["closed"] is None
    assert browser.post("/logout", data={"csrf_token": "stale"}).status_code == 403


def test_pages_need_a_login(browser):
    response = browser.get("/units/S1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/units/S1"


# ---------------------------------------------------------------- languages


@pytest.mark.parametrize(("lang", "words"), [
    ("zh_CN", ["单位名录", "上海市教委", "区教育局", "查询日期"]),
    ("en", ["Unit registry", "Commission", "District education bureau", "As of"]),
])
def test_pages_speak_the_chosen_language(browser, conn, lang, words):
    small_tree(conn)
    make_user(conn, "wang")
    login(browser, "wang")
    browser.cookies.set("jiaowei_lang", lang)
    pages = [browser.get(path) for path in ("/", "/units", "/units/D1", "/units/new", "/units/D1/edit",
                                            "/units/import", "/units/D1/children")]
    assert [p.status_code for p in pages] == [200] * len(pages)
    text = " ".join(_visible_text(p.text) for p in pages)
    for word in words:
        assert word in text
    assert f'<html lang="{"zh-CN" if lang == "zh_CN" else "en"}">' in pages[0].text


def test_switching_language_is_remembered_on_the_account(browser, conn):
    make_user(conn, "wang")
    csrf = login(browser, "wang")
    response = browser.post("/language", follow_redirects=False,
                            data={"csrf_token": csrf, "lang": "en", "next": "/units?as_of=2020-01-01"})
    assert response.headers["location"] == "/units?as_of=2020-01-01"
    assert "jiaowei_lang=en" in response.headers["set-cookie"]
    browser.cookies.delete("jiaowei_lang")
    assert "Unit registry" in browser.get("/units").text


def test_every_ui_string_has_a_chinese_translation():
    zh = catalog("zh_CN")
    missing, seen = set(), 0
    for domain in DOMAINS:  # every domain whose templates the pages render
        method_map = [("templates/**.html", "jinja2"), ("**/pages.py", "python"), ("**/*_pages.py", "python"),
                      ("forms.py", "python")]
        for found in extract_from_dir(SRC / domain, method_map):
            message = found[2]
            seen += 1
            if isinstance(message, str) and message not in zh:
                missing.add(message)
    assert seen > 100 and not missing, f"untranslated: {sorted(missing)}"


# ---------------------------------------------------------------- unit forms


def test_create_change_and_close_a_unit_through_the_forms(browser, conn):
    small_tree(conn)
    make_user(conn, "wang")
    csrf = login(browser, "wang")
    created = browser.post("/units/new", follow_redirects=False, data={
        "csrf_token": csrf, "code": "S9", "name_zh": "徐汇区第九小学", "name_en": "Xuhui No. 9 Primary",
        "type": "primary_school", "ownership": "public", "sector": "education", "parent": "D1",
        "opened": "2019-09-01", "synthetic": "on", "attributes": '{"双一流": false}'})
    assert created.status_code == 303 and created.headers["location"] == "/units/S9?as_of=2019-09-01"
    changed = browser.post("/units/S9/edit", follow_redirects=False, data={
        "csrf_token": csrf, "effective": "2020-09-01", "name_zh": "徐汇区实验小学",
        "name_en": "Xuhui No. 9 Primary",
        "type": "primary_school", "ownership": "public", "sector": "education", "parent": "D2",
        "attributes": '{"双一流": false}', "note": "合并调整"})
    assert changed.status_code == 303
    closed = browser.post("/units/S9/close", follow_redirects=False,
                          data={"csrf_token": csrf, "effective": "2021-07-01", "note": "撤销"})
    assert closed.status_code == 303
    unit = registry.get_unit(conn, principal=SYSTEM, code="S9", as_of=dt.date(2020, 10, 1))
    assert unit["synthetic"] and unit["closed"] == "2021-07-01"
    assert [e["kind"] for e in unit["events"]] == ["open", "rename", "move", "close"]
    page = browser.get("/units/S9?as_of=2020-10-01&lang=zh_CN")
    assert "徐汇区实验小学" in page.text and "合成数据" in page.text and "调整隶属" in page.text


def test_a_bad_form_is_shown_again_with_each_problem_and_nothing_is_written(browser, conn):
    small_tree(conn)
    make_user(conn, "wang")
    csrf = login(browser, "wang")
    response = browser.post("/units/new", data={
        "csrf_token": csrf, "code": "S1", "name_zh": "", "name_en": "Again", "type": "castle",
        "parent": "D1", "opened": "2020-01-01"})
    assert response.status_code == 422
    assert 'id="code" name="code" type="text" value="S1"' in response.text
    assert 'aria-invalid="true"' in response.text and "castle" in response.text
    refused = browser.post("/units/D1/close", data={"csrf_token": csrf, "effective": "2020-01-01"})
    assert refused.status_code == 422 and "S1" in refused.text
    assert registry.get_unit(conn, principal=SYSTEM, code="D1")["closed"] is None


def test_a_district_user_cannot_change_a_unit_outside_their_district(browser, conn):
    small_tree(conn)
    make_user(conn, "district", role="district_staff", capture=["D1"])
    csrf = login(browser, "district")
    assert browser.get("/units/S2").status_code == 404
    refused = browser.post("/units/S2/close", data={"csrf_token": csrf, "effective": "2021-01-01"})
    assert refused.status_code == 404
    tree = browser.get("/units?lang=en")
    assert "/units/D1?" in tree.text and "/units/D2?" not in tree.text


def test_the_tree_follows_the_as_of_date(browser, conn):
    small_tree(conn)
    make_unit(conn, "S3", parent="D1", name_zh="将撤销的小学")
    registry.close_unit(conn, principal=SYSTEM, code="S3", effective=dt.date(2021, 7, 1))
    make_user(conn, "wang")
    login(browser, "wang")
    before = browser.get("/units", params={"as_of": "2021-06-30", "open": "SH,D1"})
    after = browser.get("/units", params={"as_of": "2021-07-01", "open": "SH,D1"})
    assert "将撤销的小学" in before.text and "将撤销的小学" not in after.text
    found = browser.get("/units", params={"q": "将撤销", "as_of": "2021-06-30"})
    assert "/units/S3?as_of=2021-06-30" in found.text


def test_import_with_a_bad_row_lists_it_and_imports_nothing(browser, conn):
    small_tree(conn)
    make_user(conn, "wang")
    csrf = login(browser, "wang")
    data = ("code,name_zh,name_en,type,parent,valid_from\n"
            "N1,新小学,New School,primary_school,D1,2020-09-01\n"
            "N2,坏学校,Bad School,castle,D1,2020-09-01\n").encode()
    response = browser.post("/units/import", data={"csrf_token": csrf},
                            files={"file": ("units.csv", data, "text/csv")})
    assert response.status_code == 422
    text = _visible_text(response.text)
    assert re.search(r"\b3\b.*type.*castle", text), text
    assert registry.list_units(conn, principal=SYSTEM, q="N1").total == 0
    good = browser.post("/units/import", data={"csrf_token": csrf, "dry_run": "on"},
                        files={"file": ("units.csv", data.split(b"N2,")[0], "text/csv")})
    assert good.status_code == 200 and registry.list_units(conn, principal=SYSTEM, q="N1").total == 0
