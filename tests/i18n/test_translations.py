"""Languages: every UI string has a Chinese translation, and the pages speak the language chosen."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from jiaowei.i18n import catalog
from jiaowei.web.render import DOMAINS
from tests.factories import login, make_user, small_tree
from tests.pages_helpers import visible_text

SRC = Path(__file__).resolve().parents[2] / "src" / "jiaowei"


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
    text = " ".join(visible_text(p.text) for p in pages)
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


def test_terms_say_what_they_name():
    """A code that is not a unit's is not 单位代码, and a finished campaign or round is not 撤销 (withdrawn,
    as a closed unit is)."""
    from jiaowei.admissions.pages import STATUSES
    from jiaowei.registry.pages import FIELDS

    zh = catalog("zh_CN")
    assert zh["Code"] == "代码" and zh[FIELDS["code"]] == "单位代码"
    assert zh[STATUSES["closed"]] == "已结束" != zh["Closed"]
