"""Expressions that arrive with DHIS2's uids are stored with jiaowei's codes, and compute.

DHIS2's malaria bundle (tests/fixtures/dhis2/README.md) writes its indicators and validation rules
as ``#{deUid}`` and ``#{deUid.cocUid}``. After ``POST /api/metadata`` they read with the saved
objects' codes, and on values imported by uid the indicators compute in analytics and the rules run
in the quality API. A reference to an unknown uid refuses the bundle naming the row, field and value.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from jiaowei.indicators import store
from tests.factories import login, make_unit, make_user, small_tree, token_for
from tests.indicators.metadata.test_dhis2_metadata import UNITS, dhis2_bundle, without_broken_rule


@pytest.fixture
def headers(conn: Connection) -> dict[str, str]:
    small_tree(conn)
    for code in UNITS:
        make_unit(conn, code, parent="D1", type="hospital")
    return token_for(conn, make_user(conn, role="administrator"))


def stored(conn: Connection, table: Any, *columns: str) -> dict[str, tuple[str, ...]]:
    rows = conn.execute(select(table.c.code, *(table.c[c] for c in columns))).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def value(element: str, coc: str, unit: str, number: int) -> dict[str, Any]:
    return {"dataElement": element, "categoryOptionCombo": coc, "orgUnit": unit, "period": "201911",
            "value": str(number)}


POSITIVE, TESTED = "enVf9I39FRZ", "DPNsg3wjxGm"  # TA_MAL_CASES_POS_MICR, TA_MAL_CASES_TEST_MICR
FEMALE, MALE = "t5FrQ0GTvGf", "b449dBrOSFK"  # TA 0-4 years, Female / Male (kept DHIS2 ids)


def test_the_malaria_bundles_uid_expressions_are_stored_with_codes_and_compute(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    answer = client.post("/api/metadata", json=without_broken_rule(dhis2_bundle()), headers=headers)
    assert answer.status_code == 200, answer.text[:2000]
    indicators = stored(conn, store.indicators, "numerator", "denominator")
    assert indicators["TA_MAL_SPR_MICR"] == ("#{TA_MAL_CASES_POS_MICR}", "#{TA_MAL_CASES_TEST_MICR}")
    assert indicators["TA_MAL_FOCI_IDENT_NEW_OLD"] == ("#{TA_MAL_FOCI_IDENT_NEW_OLD.default}", "1")
    assert indicators["TA_MAL_PER_CASES_CLASS"][1] == "#{TA_MAL_CASES_POS_MICR}+ #{TA_MAL_CASES_POS_RDT}"
    rules = stored(conn, store.validation_rules, "left_expression", "right_expression")
    assert all("#{" in side for pair in rules.values() for side in pair)
    uids = {e["id"] for e in dhis2_bundle()["dataElements"]}
    for text in [*(t for pair in indicators.values() for t in pair),
                 *(t for pair in rules.values() for t in pair)]:
        assert not any(uid in text for uid in uids), text
    again = client.post("/api/metadata", json=without_broken_rule(dhis2_bundle()), headers=headers).json()
    [report] = [t for t in again["typeReports"] if t["klass"] == "indicators"]
    assert report["stats"]["ignored"] == 19  # the same bundle again changes nothing

    values = [value(POSITIVE, FEMALE, "O6uvpzGd5pu", 3), value(POSITIVE, MALE, "O6uvpzGd5pu", 2),
              value(TESTED, FEMALE, "O6uvpzGd5pu", 10), value(TESTED, MALE, "O6uvpzGd5pu", 10),
              value(POSITIVE, FEMALE, "g8upMTyEZGZ", 9), value(TESTED, FEMALE, "g8upMTyEZGZ", 4),
              value("kC0lyoKVBqC", "HllvX50cXC0", "O6uvpzGd5pu", 7)]
    posted = client.post("/api/dataValueSets", json={"dataValues": values}, headers=headers)
    assert posted.status_code == 200, posted.text[:2000]

    grid = client.get("/api/analytics", headers=headers, params=[
        ("dimension", "dx:TA_MAL_SPR_MICR;TA_MAL_FOCI_IDENT_NEW_OLD"),
        ("dimension", "ou:O6uvpzGd5pu;g8upMTyEZGZ"), ("filter", "pe:201911")])
    assert grid.status_code == 200, grid.text[:2000]
    cells = {(row[0], row[1]): float(row[2]) for row in grid.json()["rows"]}
    assert cells == {("TA_MAL_SPR_MICR", "O6uvpzGd5pu"): 25.0,  # 5 of 20, as a percent
                     ("TA_MAL_SPR_MICR", "g8upMTyEZGZ"): 225.0,
                     ("TA_MAL_FOCI_IDENT_NEW_OLD", "O6uvpzGd5pu"): 7.0}

    run = client.post("/api/dataAnalysis/validationRules", headers={**headers, "Accept-Language": "en"},
                      json={"ou": "D1", "startDate": "2019-11-01", "endDate": "2019-11-30"})
    assert run.status_code == 200, run.text[:2000]
    broken = {(v["validationRuleId"], v["organisationUnitId"], v["leftSideValue"], v["rightSideValue"])
              for v in run.json()}
    assert ("wuTietFyjIc", "g8upMTyEZGZ", 9, 4) in broken  # Positive (Micr) <= Tested (Micr), by its uid
    assert not [b for b in broken if b[0] == "wuTietFyjIc" and b[1] == "O6uvpzGd5pu"]  # 5 <= 20 holds


def small_bundle(numerator: str, right: str = "1") -> dict[str, Any]:
    return {
        "dataElements": [
            {"id": "deDotCode01", "code": "A.B", "name": "Dotted", "valueType": "INTEGER"},
            {"id": "dePlusCode1", "code": "X}+2", "name": "Braced", "valueType": "INTEGER"},
        ],
        "dataSets": [{"code": "DS", "name": "Data set", "periodType": "Yearly", "organisationUnits": [
            {"code": "S1"}], "dataSetElements": [{"dataElement": {"id": "deDotCode01"}},
                                                 {"dataElement": {"id": "dePlusCode1"}}]}],
        "indicators": [{"code": "IND", "name": "Indicator", "numerator": numerator, "denominator": "1",
                        "display": "number"}],
        "validationRules": [{"code": "RULE", "name": "Rule", "operator": "less_than_or_equal_to",
                             "leftSide": {"expression": "#{deDotCode01}"},
                             "rightSide": {"expression": right}, "periodType": "Yearly"}],
    }


def test_codes_written_for_uids_are_escaped_as_the_expression_writer_escapes_them(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    answer = client.post("/api/metadata", json=small_bundle("#{deDotCode01.HllvX50cXC0} + #{dePlusCode1}"),
                         headers=headers)
    assert answer.status_code == 200, answer.text[:2000]
    assert stored(conn, store.indicators, "numerator")["IND"] == ("#{A\\.B.default} + #{X\\}+2}",)
    assert stored(conn, store.validation_rules, "left_expression")["RULE"] == ("#{A\\.B}",)
    posted = client.post("/api/dataValueSets", headers=headers, json={"dataValues": [
        {"dataElement": "deDotCode01", "orgUnit": "S1", "period": "2020", "value": "4"},
        {"dataElement": "dePlusCode1", "orgUnit": "S1", "period": "2020", "value": "5"}]})
    assert posted.status_code == 200, posted.text[:2000]
    grid = client.get("/api/analytics", headers=headers,
                      params=[("dimension", "dx:IND"), ("dimension", "ou:S1"), ("filter", "pe:2020")])
    assert [[row[0], row[1], float(row[2])] for row in grid.json()["rows"]] == [["IND", "S1", 9.0]]


@pytest.mark.parametrize(
    ("numerator", "right", "field", "value"),
    [
        ("#{NoSuchUid01}", "1", "indicators[0].numerator", "NoSuchUid01"),
        ("#{deDotCode01.NoSuchCoc01}", "1", "indicators[0].numerator", "NoSuchCoc01"),
        ("#{dePlusCode1}", "#{dePlusCode1} + #{NoSuchUid02}", "validationRules[0].rightSide.expression",
         "NoSuchUid02"),
    ],
)
def test_an_expression_naming_an_unknown_uid_refuses_the_bundle_naming_row_field_and_value(
    client: TestClient, conn: Connection, headers: dict[str, str], numerator: str, right: str, field: str,
    value: str,
) -> None:
    refused = client.post("/api/metadata", json=small_bundle(numerator, right), headers=headers)
    assert refused.status_code == 409, refused.text[:2000]
    [problem] = refused.json()["problems"]
    assert (problem["row"], problem["field"], problem["value"]) == (1, field, value)
    assert conn.execute(select(store.data_elements.c.code)).all() == []


def test_a_validation_problem_on_an_element_whose_code_has_a_dot_links_to_its_cell(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    answer = client.post("/api/metadata", json=small_bundle("#{deDotCode01}"), headers=headers)
    assert answer.status_code == 200, answer.text[:2000]
    posted = client.post("/api/dataValueSets", headers=headers, json={"dataValues": [
        {"dataElement": "deDotCode01", "orgUnit": "S1", "period": "2020", "value": "4"}]})
    assert posted.status_code == 200, posted.text[:2000]
    make_user(conn, "dotstaff", role="administrator")
    client.headers["accept"] = "text/html"
    login(client, "dotstaff")
    found = client.get("/quality/validation", params={"ou": "S1", "start": "2020-01-01", "end": "2020-12-31"})
    assert found.status_code == 200
    assert re.findall(r'<a class="violation__cell" href="([^"]+)"', found.text) == [
        "/data/entry?ds=DS&amp;pe=2020&amp;ou=S1#cell-A.B.default"]


def test_the_combo_preview_takes_repeated_categories_so_a_code_may_hold_a_comma(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    categories = [{"code": code, "name": code,
                   "categoryOptions": [{"code": f"{code}-{o}", "name": f"{code} {o}"} for o in range(n)]}
                  for code, n in (("AGE,SEX", 2), ("STAGE", 3), ("AGE", 5), ("SEX", 7))]
    assert client.post("/api/metadata", json={"categories": categories}, headers=headers).status_code == 200
    repeated = client.get("/api/categoryCombos/preview", headers=headers,
                          params=[("categories", "AGE,SEX"), ("categories", "STAGE")])
    assert repeated.status_code == 200, repeated.text
    assert repeated.json() == {"categories": ["AGE,SEX", "STAGE"], "combinations": 6, "limit": 10_000}
    joined = client.get("/api/categoryCombos/preview", headers=headers, params={"categories": "AGE,SEX"})
    assert joined.json()["categories"] == ["AGE", "SEX"] and joined.json()["combinations"] == 35
    too_long = client.get("/api/categoryCombos/preview", headers=headers, params={"categories": "A" * 2001})
    assert too_long.status_code == 422
