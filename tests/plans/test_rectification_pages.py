"""The rectification ledger's pages on both databases, in Chinese and English: the ledger with its
rates, charts and overdue measures as of a day; recording a finding; moving a measure with evidence
through the form; refused moves explained in the page's language; nothing outside the scope."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.plans.ledger import queries, service
from tests.factories import login, make_user, small_tree
from tests.pages_helpers import visible_text

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
LEDGER = "/plans/rectification"
DAY = dt.date(2020, 7, 1)


def seed(conn: Connection) -> dict[str, str]:
    """Two findings: one at S1 (two measures, deadlines June and September 2020), one at S2."""
    small_tree(conn)
    inside = service.record_finding(
        conn, principal=SYSTEM, source_kind="巡视", source="2020年市委巡视", found_on="2020-04-15", unit="S1",
        severity="严重", text="即知即改、边巡边改不到位",
        measures=[{"text": "修订议事规则", "owner": "党委办公室", "deadline": "2020-06-30"},
                  {"text": "开展专题培训", "owner": "组织部", "deadline": "2020-09-30"}])
    outside = service.record_finding(
        conn, principal=SYSTEM, source_kind="audit", source="2020年审计", found_on="2020-05-01", unit="S2",
        severity="low", text="秘密的审计问题",
        measures=[{"text": "外区措施", "owner": "财务处", "deadline": "2020-06-01"}])
    first = queries.finding(conn, principal=SYSTEM, uid=inside, today=DAY).measures[0].uid
    return {"inside": inside, "outside": outside, "first": first}


@pytest.mark.parametrize(("lang", "words"), [
    ("zh_CN", ["整改台账", "分单位整改率", "分来源整改率", "逾期未整改的措施", "修订议事规则", "严重",
               "巡视巡察"]),
    ("en", ["Rectification ledger", "Rectification rate by unit", "Overdue measures", "Serious", "Audit"]),
])
def test_the_ledger_shows_rates_charts_and_overdue_measures_as_of_a_day(browser: TestClient, conn: Connection,
                                                                         lang: str, words: list[str]) -> None:
    seed(conn)
    make_user(conn, "boss")
    login(browser, "boss")
    browser.cookies.set("jiaowei_lang", lang)
    page = browser.get(LEDGER, params={"as_of": "2020-07-02"})
    assert page.status_code == 200, page.text
    text = visible_text(page.text)
    for word in words:
        assert word in text, word
    charts = [json.loads(c.replace("&#34;", '"').replace("&amp;", "&")) for c in
              re.findall(r"data-chart='([^']*)'", page.text)]
    units = ["单位S1", "单位S2"] if lang == "zh_CN" else ["Unit S1", "Unit S2"]
    assert [c["categories"] for c in charts] == [units,
                                                 ["2020年审计", "2020年市委巡视"]]  # newest source first
    assert charts[0]["series"][0]["labels"] == ["0.0% (0/2)", "0.0% (0/1)"]
    assert "/static/charts.js" in page.text
    overdue = page.text[page.text.index('id="overdue-title"'):page.text.index('id="findings-title"')]
    assert "修订议事规则" in overdue and "外区措施" in overdue and "开展专题培训" not in overdue
    assert ">2<" in overdue and ">31<" in overdue  # days overdue on 2 July 2020
    june = browser.get(LEDGER, params={"as_of": "2020-06-30"}).text
    assert "修订议事规则" not in june[june.index('id="overdue-title"'):june.index('id="findings-title"')]


def test_a_finding_is_recorded_through_the_form(browser: TestClient, conn: Connection) -> None:
    small_tree(conn)
    make_user(conn, "staff", role="commission_staff", capture=["SH"])
    csrf = login(browser, "staff")
    bad = browser.post(f"{LEDGER}/findings", data={"csrf_token": csrf, "source_kind": "inspection",
                                                  "source": "",
                                                  "found_on": "2020-04-31", "unit": "S1", "severity": "high",
                                                  "text": "问题"})
    assert bad.status_code == 422
    assert "不是日期" in bad.text and "无法登记该问题。" in bad.text
    made = browser.post(f"{LEDGER}/findings", follow_redirects=False, data={
        "csrf_token": csrf, "source_kind": "inspection", "source": "2020年市委巡视", "found_on": "2020-04-15",
        "unit": "S1", "severity": "medium", "text": "边巡边改", "measure_text": "立行立改",
        "measure_owner": "校长办公室", "measure_deadline": "2020-05-31"})
    assert made.status_code == 303, made.text
    page = browser.get(made.headers["location"])
    text = visible_text(page.text)
    assert "问题：2020年市委巡视" in text and "立行立改" in text and "较重" in text and "未启动" in text
    added = browser.post(made.headers["location"] + "/measures", follow_redirects=False, data={
        "csrf_token": csrf, "text": "建章立制", "owner": "党办", "deadline": "2020-12-31"})
    assert added.status_code == 303
    assert "措施 2" in visible_text(browser.get(made.headers["location"]).text)


def test_a_unit_moves_its_measure_with_evidence_and_a_refused_move_is_explained(browser: TestClient,
                                                                                conn: Connection) -> None:
    ids = seed(conn)
    make_user(conn, "rep1", role="unit_reporter", capture=["S1"])
    csrf = login(browser, "rep1")
    url = f"{LEDGER}/measures/{ids['first']}/transition"
    page = browser.get(f"{LEDGER}/findings/{ids['inside']}")
    assert "启动整改" in page.text and "验收" not in visible_text(page.text)  # a unit does not verify
    moved = browser.post(url, follow_redirects=False, data={"csrf_token": csrf, "to_state": "in_progress",
                                                           "as_of": "2020-07-01"},
                         files=[("evidence", ("整改方案.pdf", PDF, "application/pdf"))])
    assert moved.status_code == 303, moved.text
    back = f"{LEDGER}/findings/{ids['inside']}?as_of=2020-07-01#measure-{ids['first']}"
    assert moved.headers["location"] == back
    shown = browser.get(moved.headers["location"]).text
    assert "整改方案.pdf" in shown and "rep1" in shown and "整改中" in shown
    refused = browser.post(url, data={"csrf_token": csrf, "to_state": "closed"})
    assert refused.status_code == 409
    said = f"整改措施 {ids['first']} 不能从“整改中”变为“已销号”；处于“整改中”时只能变为：已整改。"
    assert said in refused.text
    browser.cookies.set("jiaowei_lang", "en")
    english = browser.post(url, data={"csrf_token": csrf, "to_state": "open"})
    assert (f"Measure {ids['first']} cannot move from In progress to Open; from In progress it may move to "
            "Rectified.") in english.text


def test_outside_the_scope_nothing_is_shown(browser: TestClient, conn: Connection) -> None:
    ids = seed(conn)
    make_user(conn, "rep1", role="unit_reporter", capture=["S1"])
    csrf = login(browser, "rep1")
    ledger = browser.get(LEDGER, params={"as_of": "2020-07-01"}).text
    for secret in ("秘密的审计问题", "外区措施", "2020年审计"):
        assert secret not in ledger
    assert browser.get(f"{LEDGER}/findings/{ids['outside']}").status_code == 404
    outside = queries.finding(conn, principal=SYSTEM, uid=ids["outside"], today=DAY).measures[0].uid
    assert browser.post(f"{LEDGER}/measures/{outside}/transition",
                        data={"csrf_token": csrf, "to_state": "in_progress"}).status_code == 404
    assert "秘密" not in browser.get(LEDGER, params={"unit": "S2"}).text


def test_the_unit_pickers_offer_the_units_in_scope_by_name_and_default_to_ones_own(
        browser: TestClient, conn: Connection) -> None:
    small_tree(conn)
    make_user(conn, "d1boss", role="commission_staff", capture=["D1"])
    login(browser, "d1boss")
    page = browser.get(LEDGER).text
    lists = dict(re.findall(r'<datalist id="([\w-]+)">(.*?)</datalist>', page, re.S))
    for name in ("plan-units", "record-units"):
        options = re.findall(r'<option value="(\w+)">([^<]+)</option>', lists[name])
        assert options == [("D1", "单位D1"), ("S1", "单位S1")], name  # nothing of D2, S2 or the commission
    assert 'id="f-unit" name="unit" type="text" list="plan-units"' in page
    form = page[page.index('id="record-title"'):]
    assert re.search(r'<input id="unit" name="unit" type="text" list="record-units" value="D1"', form)
    browser.cookies.set("jiaowei_lang", "en")
    english = browser.get(LEDGER).text
    assert '<option value="S1">Unit S1</option>' in english
