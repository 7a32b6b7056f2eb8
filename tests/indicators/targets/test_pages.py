"""The indicator pages through the test client, in both languages, on both databases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir, extract_from_file
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.i18n import catalog
from jiaowei.indicators.targets import queries
from jiaowei.indicators.targets import service as targets
from tests.factories import login, make_user, mentions
from tests.indicators.targets.test_service import coverage_setup

SRC = Path(__file__).resolve().parents[3] / "src" / "jiaowei"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh_CN", ["指标", "普惠性学前教育覆盖率", "86.0%", "已达成", "国家标准", "目标"]),
        ("en", ["Indicators", "Inclusive pre-school coverage", "86.0%", "Met", "国家标准", "Target"]),
    ],
)
def test_the_indicator_list_speaks_the_chosen_language(
    browser: TestClient, conn: Connection, lang: str, words: list[str]
) -> None:
    coverage_setup(conn)
    targets.set_target(
        conn,
        principal=SYSTEM,
        indicator="COVERAGE",
        unit="SH",
        period="2020",
        value=86,
        benchmark=80,
        benchmark_label="国家标准",
    )
    make_user(conn, "wang")
    login(browser, "wang")
    browser.cookies.set("jiaowei_lang", lang)
    listing = browser.get("/indicators")
    assert listing.status_code == 200
    text = _text(listing.text)
    for word in words:
        assert word in text, word
    assert "badge--met" in listing.text and "/indicators/COVERAGE?ou=SH&amp;pe=2020" in listing.text
    detail = browser.get("/indicators/COVERAGE", params={"ou": "SH", "pe": "2020"})
    assert detail.status_code == 200
    detail_text = _text(detail.text)
    assert all(code in detail_text for code in ("D1", "D2", "90.0%", "82.0%", "2016"))
    assert 'action="/indicators/COVERAGE/targets"' in detail.text
    assert re.search(r'card__title">\s*<a href="/indicators">', browser.get("/").text)  # the home page's tile


def test_staff_set_and_cascade_a_target_through_the_forms(browser: TestClient, conn: Connection) -> None:
    coverage_setup(conn)
    make_user(conn, "wang", role="commission_staff", capture=["SH"])
    csrf = login(browser, "wang")
    saved = browser.post(
        "/indicators/COVERAGE/targets",
        follow_redirects=False,
        data={
            "csrf_token": csrf,
            "ou": "SH",
            "pe": "2020",
            "value": "86%",
            "at_risk_margin": "1",
            "benchmark": "80",
            "benchmark_label": "国家标准",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"].startswith(
        "/indicators/COVERAGE?ou=SH&pe=2020"
    )
    cascaded = browser.post(
        "/indicators/COVERAGE/cascade",
        follow_redirects=False,
        data={"csrf_token": csrf, "ou": "SH", "pe": "2020", "method": "same"},
    )
    assert cascaded.status_code == 303
    d2 = queries.targets_of(conn, principal=SYSTEM, indicator="COVERAGE", unit="D2", period="2020")
    assert d2[0].value == 86 and d2[0].cascaded_from == "SH"
    page = browser.get("/indicators/COVERAGE?ou=SH&pe=2020&lang=en")
    assert "Missed" in page.text and "target cascaded from SH" in page.text
    bad = browser.post(
        "/indicators/COVERAGE/targets", data={"csrf_token": csrf, "ou": "SH", "pe": "2020", "value": "lots"}
    )
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text and "lots" in bad.text
    refused = browser.post(
        "/indicators/COVERAGE/cascade",
        data={"csrf_token": csrf, "ou": "SH", "pe": "2020", "method": "current_share"},
    )
    assert refused.status_code == 422


def test_a_ratio_target_can_be_typed_as_one_to_n(browser: TestClient, conn: Connection) -> None:
    from jiaowei.indicators.metadata import service as metadata

    coverage_setup(conn)
    metadata.save_indicator(
        conn,
        principal=SYSTEM,
        code="COUNSELLORS",
        name_zh="辅导员师生比",
        name_en="Counsellors to students",
        numerator="#{INCLUSIVE}",
        denominator="#{CHILDREN}",
        display="ratio",
        decimals=0,
    )
    make_user(conn, "wang")
    csrf = login(browser, "wang")
    browser.post(
        "/indicators/COUNSELLORS/targets",
        data={"csrf_token": csrf, "ou": "SH", "pe": "2020", "value": "1:200"},
    )
    found = queries.targets_of(conn, principal=SYSTEM, indicator="COUNSELLORS", unit="SH")
    assert found[0].value == pytest.approx(0.005) and found[0].formatted == "1:200"


def test_a_district_user_sees_their_district_only(browser: TestClient, conn: Connection) -> None:
    coverage_setup(conn)
    make_user(conn, "d1", role="district_staff", capture=["D1"])
    csrf = login(browser, "d1")
    own = browser.get("/indicators")
    assert own.status_code == 200 and "D1" in _text(own.text) and not mentions(_text(own.text), "D2")
    for unit in ("D2", "S2", "SH"):
        assert browser.get("/indicators", params={"ou": unit, "pe": "2020"}).status_code == 404
        assert browser.get("/indicators/COVERAGE", params={"ou": unit, "pe": "2020"}).status_code == 404
        refused = browser.post(
            "/indicators/COVERAGE/targets", data={"csrf_token": csrf, "ou": unit, "pe": "2020", "value": "1"}
        )
        assert refused.status_code == 404
    assert queries.targets_of(conn, principal=SYSTEM, indicator="COVERAGE", unit="SH") == []


def test_every_string_of_the_indicator_pages_has_a_chinese_translation() -> None:
    zh = catalog("zh_CN")
    mine = [(f"templates/indicators/{name}", "jinja2") for name in ("indicator.html", "indicator*.html")]
    templates = extract_from_dir(SRC / "indicators", mine)
    messages = {found[2] for found in templates}
    messages |= {
        found[1]
        for found in extract_from_file(
            "python", SRC / "indicators" / "targets" / "pages.py", keywords={"N_": None}
        )
    }
    missing = sorted(m for m in messages if isinstance(m, str) and m not in zh)
    assert len(messages) > 40 and not missing, f"untranslated: {missing}"


def test_a_unit_with_hundreds_of_units_below_shows_them_a_page_at_a_time(
    browser: TestClient, conn: Connection
) -> None:
    """浦东 has 516 units below it (5,160 at ten times the demo): the page shows 200 at a time."""
    from jiaowei.indicators.model import ValueRow
    from jiaowei.indicators.values import service as values
    from tests.factories import make_unit

    coverage_setup(conn)
    codes = [make_unit(conn, f"K{n:03d}", parent="D1") for n in range(205)]
    cells = [(code, de, v) for code in codes for de, v in (("INCLUSIVE", "9"), ("CHILDREN", "10"))]
    rows = [ValueRow(data_element=de, period="2020", org_unit=code, value=v, row=i)
            for i, (code, de, v) in enumerate(cells, 1)]
    assert values.import_values(conn, principal=SYSTEM, rows=rows, source="dhis2-json").status == "SUCCESS"
    make_user(conn, "wang")
    login(browser, "wang")
    browser.cookies.set("jiaowei_lang", "en")
    first = browser.get("/indicators/COVERAGE", params={"ou": "D1", "pe": "2020"})
    assert first.status_code == 200
    shown = set(re.findall(r"<code>(K\d{3}|S\d)</code>", first.text))
    assert len(shown) == 200 and "Units 1–200 of 206" in _text(first.text)
    second = browser.get("/indicators/COVERAGE", params={"ou": "D1", "pe": "2020", "offset": 200})
    rest = set(re.findall(r"<code>(K\d{3}|S\d)</code>", second.text))
    assert rest and not rest & shown and len(shown | rest) == 206
    assert "Units 201–206 of 206" in _text(second.text)
    assert browser.get("/indicators/COVERAGE", params={"ou": "D1", "offset": -1}).status_code == 422
