"""DHIS2's own metadata bundle through /api/metadata: option combo ids kept, skipped kinds reported,
refusals as DHIS2's 409 ImportReport, then DHIS2's data for it through /api/dataValueSets.

The files are dhis2-core's end-to-end test resources (tests/fixtures/dhis2/README.md): a malaria
bundle with 12 option combos, 75 data elements, 2 data sets, 19 indicators, 12 validation rules and
kinds jiaowei does not import (groups, legend sets); and a data value set naming disaggregations
by the bundle's option combo ids. The bundle's tenth validation rule has a broken expression
(``#jtyuEfbNbkb}``): as it is, the file is refused, which is the refusal test.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select

from jiaowei.indicators import store
from tests.factories import make_unit, make_user, small_tree, token_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dhis2"
UNITS = ("ImspTQPwCqd", "O6uvpzGd5pu", "g8upMTyEZGZ", "YuQRtpLP10I")
"""The units the bundle's data sets name by id, made here as registry units with those codes."""
SKIPPED = {"validationRuleGroups": 1, "indicatorGroups": 1, "dataElementGroups": 7, "legendSets": 2}


def dhis2_bundle() -> dict[str, Any]:
    text = (FIXTURES / "metadata" / "aggregate_metadata.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def without_broken_rule(document: dict[str, Any]) -> dict[str, Any]:
    fixed = copy.deepcopy(document)
    assert "#jtyuEfbNbkb}" in fixed["validationRules"][9]["rightSide"]["expression"]
    del fixed["validationRules"][9]
    return fixed


@pytest.fixture
def headers(conn: Connection) -> dict[str, str]:
    small_tree(conn)
    for code in UNITS:
        make_unit(conn, code, parent="D1", type="hospital")
    return token_for(conn, make_user(conn, role="administrator"))


def counts(conn: Connection) -> tuple[int, ...]:
    tables = (store.data_elements, store.category_option_combos, store.data_sets, store.indicators,
              store.validation_rules, store.categories)
    return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables)


def type_report(report: dict[str, Any], kind: str) -> dict[str, Any]:
    [found] = [t for t in report["typeReports"] if t["klass"] == kind]
    return found


def test_dhis2s_bundle_keeps_its_option_combo_ids_and_its_data_set_imports_by_them(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    document = without_broken_rule(dhis2_bundle())
    answer = client.post("/api/metadata", json=document, headers=headers)
    assert answer.status_code == 200, answer.text[:2000]
    report = answer.json()
    assert report["status"] == "WARNING" and report["responseType"] == "ImportReport"
    assert type_report(report, "dataElements")["stats"]["created"] == 75
    assert type_report(report, "categoryOptionCombos")["stats"] == {
        "created": 0, "updated": 12, "deleted": 0, "ignored": 0, "total": 12}
    kept = {r.uid: (r.code, list(r.options)) for r in conn.execute(select(store.category_option_combos))}
    for coc in document["categoryOptionCombos"]:
        assert coc["id"] in kept, coc["name"]
    assert kept["t5FrQ0GTvGf"] == ("TA_P0Y--P5Y_TA_F", ["TA_P0Y--P5Y", "TA_F"])  # jiaowei's code, DHIS2's id
    again = client.post("/api/metadata", json=document, headers=headers).json()
    assert type_report(again, "categoryOptionCombos")["stats"]["ignored"] == 12

    data = (FIXTURES / "datavalueset" / "dataValues_single_dataset.json").read_bytes()
    imported = client.post("/api/dataValueSets", content=data,
                           headers={**headers, "content-type": "application/json"})
    assert imported.status_code == 200, imported.text[:2000]
    stored = conn.execute(
        select(store.category_option_combos.c.uid, store.data_values.c.value)
        .join(store.category_option_combos, store.category_option_combos.c.id == store.data_values.c.coc_id)
        .join(store.data_elements, store.data_elements.c.id == store.data_values.c.data_element_id)
        .where(store.data_elements.c.uid == "BjDrgVrkBI3")
    ).all()
    assert sorted((uid, float(value)) for uid, value in stored) == [("oPcWGgS2Liz", 1000.0),
                                                                    ("rtfSaMjPyq6", 2000.0)]


def test_skipped_kinds_are_reported_each_with_a_warning(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    report = client.post("/api/metadata", json=without_broken_rule(dhis2_bundle()), headers=headers,
                         params={"dryRun": "true"}).json()
    for kind, count in SKIPPED.items():
        found = type_report(report, kind)
        assert found["stats"]["ignored"] == found["stats"]["total"] == count
        [warning] = found["objectReports"][0]["errorReports"]
        assert warning["errorCode"] == "E6002" and warning["mainKlass"] == kind
    assert "system" not in {t["klass"] for t in report["typeReports"]}
    assert report["stats"]["ignored"] >= sum(SKIPPED.values())


def test_skip_unsupported_false_refuses_the_whole_bundle(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    before = counts(conn)
    refused = client.post("/api/metadata", json=without_broken_rule(dhis2_bundle()), headers=headers,
                          params={"atomicMode": "ALL", "skipUnsupported": "false"})
    assert refused.status_code == 409, refused.text[:1000]
    body = refused.json()
    assert body["status"] == "ERROR"
    assert {p["field"] for p in body["problems"]} == set(SKIPPED)
    assert {t["klass"] for t in body["typeReports"]} == set(SKIPPED)
    assert counts(conn) == before
    plain = client.post("/api/metadata", json={"dataElementGroups": []}, headers=headers,
                        params={"skipUnsupported": "false"})
    assert plain.status_code == 409
    partial = client.post("/api/metadata", json={}, headers=headers, params={"atomicMode": "NONE"})
    assert partial.status_code == 422 and partial.json()["problems"][0]["field"] == "atomicMode"


def test_dhis2s_file_as_it_is_gets_dhis2s_409_import_report_and_jiaoweis_problems(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    before = counts(conn)
    refused = client.post("/api/metadata", json=dhis2_bundle(), headers=headers)
    assert refused.status_code == 409 and refused.headers["content-type"].startswith("application/json")
    body = refused.json()
    assert (body["responseType"], body["status"], body["httpStatusCode"]) == ("ImportReport", "ERROR", 409)
    assert body["stats"]["created"] == 0 and body["stats"]["ignored"] == body["stats"]["total"] > 100
    [rules] = body["typeReports"]
    assert rules["klass"] == "validationRules" and rules["stats"]["ignored"] == 12
    [rule] = rules["objectReports"]
    assert (rule["index"], rule["uid"]) == (9, dhis2_bundle()["validationRules"][9]["id"])
    [error] = rule["errorReports"]
    assert error["errorProperty"] == "rightSide.expression" and error["errorCode"] == "E4000"
    assert "#jtyuEfbNbkb}" in error["value"] and "character 50" in error["message"]
    [problem] = body["problems"]
    assert (problem["row"], problem["field"]) == (10, "validationRules[9].rightSide.expression")
    assert counts(conn) == before


def test_an_option_combo_that_is_no_combination_of_its_combo_is_named(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    document = without_broken_rule(dhis2_bundle())
    female = document["categoryOptionCombos"][1]  # TA 0-4 years, Female: age x sex
    assert female["id"] == "t5FrQ0GTvGf"
    female["categoryOptions"] = [{"id": "UPvKbcqTEY3"}, {"id": "pa0cY66MrG6"}]  # two ages, no sex
    document["categoryOptionCombos"][2]["categoryCombo"] = {"id": "NoSuchCombo"}
    body = client.post("/api/metadata", json=document, headers={**headers, "Accept-Language": "zh-CN"}).json()
    problems = {p["field"]: p for p in body["problems"]}
    bad = problems["categoryOptionCombos[1].categoryOptions"]
    assert bad["row"] == 2 and "'UPvKbcqTEY3', 'pa0cY66MrG6'" in bad["value"]
    assert "categoryOptionCombos[2].categoryCombo" in problems
    assert bad["message"] != "not a combination of its category combo's options"  # in Chinese
    [cocs] = [t for t in body["typeReports"] if t["klass"] == "categoryOptionCombos"]
    codes = {r["index"]: r["errorReports"][0]["errorCode"] for r in cocs["objectReports"]}
    assert codes == {1: "E5002", 2: "E5002"}
    assert body["title"] != "Invalid input"


def test_the_per_kind_route_refuses_as_dhis2_does(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    refused = client.post("/api/dataElements", headers=headers,
                          json={"code": "X", "name": "X", "categoryCombo": {"code": "NOPE"}})
    assert refused.status_code == 409
    [report] = refused.json()["typeReports"]
    [error] = report["objectReports"][0]["errorReports"]
    assert (error["errorCode"], error["errorProperty"], error["value"]) == ("E5002", "categoryCombo", "NOPE")


def units_bundle(parent: str) -> dict[str, Any]:
    return {
        "organisationUnits": [{"id": "OuNew000001", "code": "NEW1", "name": "New clinic", "shortName": "New",
                               "openingDate": "2010-01-01T00:00:00.000", "parent": {"code": parent}}],
        "dataElements": [{"id": "DeX00000001", "code": "X", "name": "X"}],
        "dataSets": [{"id": "DsX00000001", "code": "DSX", "name": "DSX", "periodType": "Monthly",
                      "dataSetElements": [{"dataElement": {"id": "DeX00000001"}}],
                      "organisationUnits": [{"id": "OuNew000001"}, {"code": "S1"}]}],
    }


def test_units_come_first_and_data_sets_name_them_by_dhis2_id(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    answer = client.post("/api/metadata", json=units_bundle("D1"), headers=headers)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert [t["klass"] for t in report["typeReports"]] == ["organisationUnits", "dataElements", "dataSets"]
    assert type_report(report, "organisationUnits")["stats"]["created"] == 1
    data_set = client.get("/api/dataSets/DsX00000001", headers=headers).json()
    assert {u["code"] for u in data_set["organisationUnits"]} == {"NEW1", "S1"}


def test_a_units_problem_refuses_the_bundle_in_the_same_report(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    before = counts(conn)
    refused = client.post("/api/metadata", json=units_bundle("NO_SUCH_PARENT"), headers=headers)
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert [p["field"] for p in body["problems"]] == ["organisationUnits[0].parent"]
    assert body["typeReports"][0]["klass"] == "organisationUnits"
    assert client.get("/api/dataSets/DSX", headers=headers).status_code == 404
    assert counts(conn) == before


def test_the_default_option_combo_keeps_dhis2s_usual_id(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    other_default = {"id": "OtherDef001", "name": "default", "categoryCombo": {"id": "bjDvmb4bfuf"},
                     "categoryOptions": [{"id": "xYerKDKCefk"}]}
    report = client.post("/api/metadata", json={"categoryOptionCombos": [other_default]},
                         headers=headers).json()
    assert type_report(report, "categoryOptionCombos")["stats"]["ignored"] == 1
    uids = set(conn.execute(select(store.category_option_combos.c.uid)).scalars())
    assert "HllvX50cXC0" in uids and "OtherDef001" not in uids


def test_the_warnings_speak_the_language_asked(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    bundle = {"legendSets": [{"id": "Legend00001"}]}
    english = client.post("/api/metadata", json=bundle, headers=headers).json()
    chinese = client.post("/api/metadata", json=bundle, headers=headers, params={"lang": "zh_CN"}).json()
    [warning_en] = english["typeReports"][0]["objectReports"][0]["errorReports"]
    [warning_zh] = chinese["typeReports"][0]["objectReports"][0]["errorReports"]
    assert warning_en["message"].startswith("legendSets is not a kind")
    assert "跳过" in warning_zh["message"] and warning_zh["errorCode"] == "E6002"
