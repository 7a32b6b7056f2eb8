"""The metadata pages in both languages, and the category combo form with its combination preview."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from jiaowei.auth.model import SYSTEM
from jiaowei.i18n import catalog
from jiaowei.indicators import store
from jiaowei.indicators.metadata import service as metadata
from tests.factories import indicator_setup, login, make_user

SRC = Path(__file__).resolve().parents[3] / "src" / "jiaowei"


@pytest.fixture
def browser(client: TestClient) -> TestClient:
    client.headers["accept"] = "text/html,application/xhtml+xml"
    return client


def test_every_metadata_page_string_has_a_chinese_translation() -> None:
    zh = catalog("zh_CN")
    method_map = [("templates/indicators/metadata_*.html", "jinja2"), ("metadata/pages.py", "python")]
    found = [m[2] for m in extract_from_dir(SRC / "indicators", method_map)]
    found += ["Metadata", "Data elements, data sets, disaggregations and indicators, exchanged with DHIS2."]
    missing = sorted({m for m in found if isinstance(m, str) and m not in zh})
    assert len(found) > 40 and not missing, f"untranslated: {missing}"


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        ("zh_CN", ["元数据", "数据元", "在校学生数", "学校年报", "按性别", "男"]),
        ("en", ["Metadata", "Data elements", "Pupils", "School annual", "By sex", "Male"]),
    ],
)
def test_pages_render_in_both_languages(
    browser: TestClient, conn: Connection, lang: str, texts: list[str]
) -> None:
    indicator_setup(conn)
    make_user(conn, "wang", role="viewer")
    login(browser, "wang")
    shown = ""
    for url in ("/metadata", "/metadata/dataElements", "/metadata/dataSets", "/metadata/categoryCombos"):
        response = browser.get(url, params={"lang": lang})
        assert response.status_code == 200, (url, response.text[:300])
        shown += response.text
    for text in texts:
        assert text in shown, text
    assert "INTEGER" in shown and "BY_SEX" in shown and "M" in shown
    assert browser.get("/", params={"lang": lang}).text.count('href="/metadata"') == 1


def test_the_combo_form_previews_the_count_then_saves(browser: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    metadata.save_category(
        conn,
        principal=SYSTEM,
        code="STAGE",
        name_zh="学段",
        name_en="Stage",
        options=[{"code": c, "name_zh": c, "name_en": c} for c in ("PRI", "JUN", "SEN")],
    )
    make_user(conn, "li", role="commission_staff")
    csrf = login(browser, "li")
    form = browser.get("/metadata/categoryCombos/new", params={"lang": "en"})
    assert form.status_code == 200 and 'value="preview"' in form.text and 'value="save"' not in form.text
    fields = {
        "csrf_token": csrf,
        "code": "SEX_STAGE",
        "name_zh": "性别学段",
        "name_en": "Sex and stage",
        "categories": ["SEX", "STAGE"],
    }
    preview = browser.post(
        "/metadata/categoryCombos/new", params={"lang": "en"}, data={**fields, "action": "preview"}
    )
    assert preview.status_code == 200 and "This combo will have 6 combinations." in preview.text
    assert 'value="save"' in preview.text and 'value="SEX_STAGE"' in preview.text
    assert (
        conn.execute(select(store.category_combos).where(store.category_combos.c.code == "SEX_STAGE")).first()
        is None
    )
    saved = browser.post(
        "/metadata/categoryCombos/new", data={**fields, "action": "save"}, follow_redirects=False
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/metadata/categoryCombos"
    listed = browser.get("/metadata/categoryCombos", params={"lang": "en"}).text
    assert "SEX_STAGE" in listed and "F_SEN" in listed


def test_the_form_warns_over_a_thousand_and_refuses_over_the_limit(
    browser: TestClient, conn: Connection
) -> None:
    indicator_setup(conn)
    for code, n in (("BIG", 40), ("MID", 30), ("HUGE", 300)):
        metadata.save_category(
            conn,
            principal=SYSTEM,
            code=code,
            name_zh=code,
            name_en=code,
            options=[{"code": f"{code}{i}", "name_zh": str(i), "name_en": str(i)} for i in range(n)],
        )
    make_user(conn, "li", role="commission_staff")
    csrf = login(browser, "li")
    base = {"csrf_token": csrf, "code": "WIDE", "name_zh": "宽", "name_en": "Wide", "action": "preview"}

    def preview(*categories: str) -> str:
        response = browser.post(
            "/metadata/categoryCombos/new",
            params={"lang": "en"},
            data={**base, "categories": list(categories)},
        )
        assert response.status_code == 200, response.text[:300]
        return response.text

    small = shown(preview("SEX", "BIG"))
    assert "This combo will have 80 combinations." in small and "More than" not in small
    wide = preview("SEX", "BIG", "MID")
    assert "2,400 combinations" in shown(wide) and "More than 1,000 combinations" in shown(wide)
    assert 'value="save"' in wide
    many = preview("BIG", "HUGE")
    assert "12,000 combinations" in shown(many) and "Over the limit of 10,000" in shown(many)
    assert 'value="save"' not in many
    forced = browser.post(
        "/metadata/categoryCombos/new", data={**base, "categories": ["BIG", "HUGE"], "action": "save"}
    )
    assert forced.status_code == 200 and "10,000" in shown(forced.text)
    assert (
        conn.execute(select(store.category_combos).where(store.category_combos.c.code == "WIDE")).first()
        is None
    )


def shown(html: str) -> str:
    """The text of the count paragraph the preview shows (not the script's templates)."""
    start = html.index('id="combo-count-text"')
    return html[start : html.index("</p>", start)]


def test_the_form_names_unknown_or_missing_categories(browser: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    make_user(conn, "li", role="commission_staff")
    csrf = login(browser, "li")
    none = browser.post(
        "/metadata/categoryCombos/new",
        params={"lang": "en"},
        data={"csrf_token": csrf, "code": "X", "name_zh": "X", "name_en": "X", "action": "preview"},
    )
    assert none.status_code == 422 and "Choose at least one category." in none.text
    bad_name = browser.post(
        "/metadata/categoryCombos/new",
        params={"lang": "en"},
        data={
            "csrf_token": csrf,
            "code": "x" * 51,
            "name_zh": "X",
            "name_en": "X",
            "categories": "SEX",
            "action": "save",
        },
    )
    assert bad_name.status_code == 422 and "not a valid code" in bad_name.text


def test_only_metadata_writers_get_the_form(browser: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    make_user(conn, "zhao", role="district_staff", capture=["D1"])
    csrf = login(browser, "zhao")
    assert browser.get("/metadata/categoryCombos/new").status_code == 403
    posted = browser.post(
        "/metadata/categoryCombos/new",
        data={
            "csrf_token": csrf,
            "code": "X",
            "name_zh": "X",
            "name_en": "X",
            "categories": "SEX",
            "action": "save",
        },
    )
    assert posted.status_code == 403
    assert browser.get("/metadata").status_code == 200
    assert 'href="/metadata/categoryCombos/new"' not in browser.get("/metadata/categoryCombos").text
