"""The risk register's pages: the heat map and its cells, the forms, a review with evidence, languages."""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.factories import indicator_metadata, login, make_user, small_tree
from tests.pages_helpers import visible_text

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def csrf(browser: TestClient, conn: Connection) -> str:
    small_tree(conn)
    make_user(conn, "staff", role="commission_staff", capture=["SH"])
    return login(browser, "staff")


def create(browser: TestClient, csrf: str, **fields: str | list[str]) -> str:
    form = {
        "csrf_token": csrf,
        "category": "public_opinion",
        "title": "网络舆情",
        "unit": "S1",
        "likelihood": "4",
        "impact": "3",
        "cadence": "monthly",
        "owner": "宣传处",
        "mitigation": "专人值守",
        "indicators": "",
        **fields,
    }
    response = browser.post("/plans/risks/new", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


def test_the_register_shows_the_heat_map_and_each_cell_lists_its_risks(
    browser: TestClient, csrf: str
) -> None:
    create(browser, csrf)
    create(browser, csrf, title="财务风险", likelihood="1", impact="2", category="finance")
    page = browser.get("/plans/risks", params={"as_of": "2020-01-10"})
    assert page.status_code == 200
    found = re.search(r"data-chart='([^']*)'", page.text)
    assert found is not None
    spec = json.loads(html.unescape(found.group(1)))
    assert spec["kind"] == "heatmap"
    assert {tuple(d) for d in spec["data"] if d[2]} == {
        (2, 3, 1),
        (1, 0, 1),
    }  # [impact-1, likelihood-1, count]
    assert spec["links"][3][2] == "/plans/risks?likelihood=4&impact=3"
    text = visible_text(page.text)
    assert "网络舆情" in text and "财务风险" in text and "风险台账" in text
    cell = browser.get("/plans/risks", params={"likelihood": "4", "impact": "3"})
    assert "网络舆情" in visible_text(cell.text) and "财务风险" not in visible_text(cell.text)


def test_a_review_with_evidence_through_the_risk_page(browser: TestClient, csrf: str) -> None:
    uid = create(browser, csrf)
    risk = browser.get(f"/plans/risks/{uid}")
    assert risk.status_code == 200 and 'name="evidence"' in risk.text
    sent = browser.post(
        f"/plans/risks/{uid}/reviews",
        follow_redirects=False,
        data={"csrf_token": csrf, "likelihood": "2", "impact": "3", "note": "热度下降"},
        files=[("evidence", ("screen.png", PNG, "image/png"))],
    )
    assert sent.status_code == 303, sent.text
    text = visible_text(browser.get(f"/plans/risks/{uid}").text)
    assert "热度下降" in text and "screen.png" in text and "12 → 6" in text
    empty = browser.post(
        f"/plans/risks/{uid}/reviews", data={"csrf_token": csrf, "likelihood": "2", "impact": "3", "note": ""}
    )
    assert empty.status_code == 422 and "note" in empty.text


def test_the_forms_change_and_close_a_risk_and_show_problems(browser: TestClient, csrf: str) -> None:
    bad = browser.post(
        "/plans/risks/new",
        data={
            "csrf_token": csrf,
            "category": "finance",
            "title": "",
            "unit": "NOPE",
            "likelihood": "3",
            "impact": "3",
            "cadence": "monthly",
        },
    )
    assert bad.status_code == 422 and "NOPE" in bad.text
    uid = create(browser, csrf)
    form = browser.get(f"/plans/risks/{uid}/edit")
    assert form.status_code == 200 and "网络舆情" in form.text
    edited = browser.post(
        f"/plans/risks/{uid}/edit",
        follow_redirects=False,
        data={
            "csrf_token": csrf,
            "category": "public_opinion",
            "title": "重大舆情",
            "unit": "S1",
            "likelihood": "5",
            "impact": "5",
            "cadence": "quarterly",
            "owner": "",
            "mitigation": "",
            "description": "",
            "indicators": "",
        },
    )
    assert edited.status_code == 303
    closed = browser.post(
        f"/plans/risks/{uid}/close", data={"csrf_token": csrf, "note": "已处置"}, follow_redirects=False
    )
    assert closed.status_code == 303
    text = visible_text(browser.get(f"/plans/risks/{uid}").text)
    assert "重大舆情" in text and "已销号" in text and "已处置" in text
    again = browser.post(f"/plans/risks/{uid}/close", data={"csrf_token": csrf})
    assert again.status_code == 409
    assert (
        browser.post(
            f"/plans/risks/{uid}/reopen", data={"csrf_token": csrf}, follow_redirects=False
        ).status_code
        == 303
    )


def test_the_register_speaks_english(browser: TestClient, csrf: str) -> None:
    create(browser, csrf)
    browser.cookies.set("jiaowei_lang", "en")
    text = visible_text(browser.get("/plans/risks").text)
    for words in ("Risk register", "Reviews due", "Public opinion", "Likelihood", "Impact", "Medium"):
        assert words in text


def test_the_pickers_offer_units_in_scope_and_indicators_by_name(
    browser: TestClient, conn: Connection
) -> None:
    small_tree(conn)
    indicator_metadata(conn)
    make_user(conn, "d1boss", role="commission_staff", capture=["D1"])
    csrf = login(browser, "d1boss")
    form = browser.get("/plans/risks/new").text
    units = re.search(r'<datalist id="plan-units">(.*?)</datalist>', form, re.S)
    assert units is not None
    assert re.findall(r'<option value="(\w+)">([^<]+)</option>', units.group(1)) == [("D1", "单位D1"),
                                                                                     ("S1", "单位S1")]
    assert re.search(r'<input id="unit" name="unit" type="text" list="plan-units" value="D1"', form)
    assert re.search(r'<option value="PTR">[^<]+ \(PTR\)</option>', form)
    uid = create(browser, csrf, indicators=["PTR"])
    assert "PTR" in visible_text(browser.get(f"/plans/risks/{uid}").text)
    edit = browser.get(f"/plans/risks/{uid}/edit").text
    assert re.search(r'<option value="PTR" selected>', edit)
    register = browser.get("/plans/risks").text
    assert 'list="plan-units"' in register and '<option value="S1">单位S1</option>' in register
    assert '<option value="S2">' not in register
