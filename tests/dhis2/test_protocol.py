"""DHIS2's Web API protocol through the API: versioned paths, suffixes and Accept, the list
parameters on every DHIS2 list route, unsupported parameters, /api/system/info, /api/me and the
category option routes; on both databases."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.factories import indicator_setup, make_user, token_for

VALUES = [
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S1", "categoryOptionCombo": "M", "value": "120"},
    {"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S1", "value": "15"},
]


def staff(conn: Connection) -> dict[str, str]:
    indicator_setup(conn)
    return token_for(conn, make_user(conn, role="commission_staff", capture=["SH"]))


def test_versioned_paths_are_answered_like_the_plain_ones(client: TestClient, conn: Connection) -> None:
    headers = staff(conn)
    plain = client.get("/api/dataElements", headers=headers)
    assert plain.status_code == 200
    for version in ("28", "40", "43"):
        versioned = client.get(f"/api/{version}/dataElements", headers=headers)
        assert versioned.status_code == 200 and versioned.json() == plain.json(), version
    assert client.get("/api/27/dataElements", headers=headers).status_code == 404
    assert client.get("/api/44/dataElements", headers=headers).status_code == 404


def test_suffixes_strip_and_ask_for_their_media_type(client: TestClient, conn: Connection) -> None:
    headers = staff(conn)
    assert client.post("/api/dataValueSets", content=json.dumps({"dataValues": VALUES}),
                       headers=headers).status_code == 200
    asked = {"orgUnit": "SH", "children": "true", "period": "2020"}
    as_json = client.get("/api/40/dataValueSets.json", params=asked, headers=headers)
    assert as_json.status_code == 200 and len(as_json.json()["dataValues"]) == 2
    as_csv = client.get("/api/dataValueSets.csv", params=asked, headers=headers)
    assert as_csv.status_code == 200, as_csv.text
    assert "csv" in as_csv.headers["content-type"] and "PUPILS" in as_csv.text.replace('"', "")
    as_adx = client.get("/api/40/dataValueSets.adx", params=asked, headers=headers)
    assert as_adx.status_code == 200 and "adx" in as_adx.text[:400]
    one = client.get("/api/dataElements/PUPILS.json", headers=headers)
    assert one.status_code == 200 and one.json()["code"] == "PUPILS"


def test_format_overrides_the_suffix(client: TestClient, conn: Connection) -> None:
    headers = staff(conn)
    client.post("/api/dataValueSets", content=json.dumps({"dataValues": VALUES}), headers=headers)
    asked = {"orgUnit": "SH", "children": "true", "period": "2020", "format": "dhis2-json"}
    answer = client.get("/api/dataValueSets.csv", params=asked, headers=headers)
    assert answer.status_code == 200 and len(answer.json()["dataValues"]) == 2


def test_metadata_lists_answer_only_json(client: TestClient, conn: Connection) -> None:
    headers = staff(conn)
    for path in ("/api/dataElements.xml", "/api/40/dataSets.csv", "/api/categoryOptionCombos.xml",
                 "/api/dataElements/PUPILS.xml"):
        refused = client.get(path, headers=headers)
        assert refused.status_code == 406, (path, refused.text)
        assert "application/json" in refused.json()["detail"]
    chinese = client.get("/api/dataElements.xml", headers={**headers, "accept-language": "zh-CN"})
    assert "仅" in chinese.json()["detail"]


def test_an_unsupported_parameter_is_a_400_naming_it(client: TestClient, conn: Connection) -> None:
    headers = staff(conn)
    refused = client.get("/api/dataElements", params={"fields": "id", "skipMeta": "true"}, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["problems"][0]["field"] == "skipMeta" and "skipMeta" in refused.json()["detail"]
    assert client.get("/api/40/system/info", params={"nope": "1"}, headers=headers).status_code == 400
    assert client.get("/api/units", params={"limit": 5, "bogus": 1}, headers=headers).status_code == 400
    # the protocol's own parameters pass everywhere, as do each route's declared ones
    assert client.get("/api/units", params={"limit": 5, "lang": "en"}, headers=headers).status_code == 200


def test_fields_filter_order_and_paging_on_metadata_lists(client: TestClient, conn: Connection) -> None:
    headers = staff(conn)
    cut = client.get("/api/dataElements", params={"fields": "id,code,categoryCombo[code]", "paging": "false",
                                                  "order": "code:desc"}, headers=headers).json()
    assert "pager" not in cut
    assert [e["code"] for e in cut["dataElements"]] == ["TEACHERS", "RATE", "PUPILS"]
    assert set(cut["dataElements"][2]) == {"id", "code", "categoryCombo"}
    assert cut["dataElements"][2]["categoryCombo"] == {"code": "BY_SEX"}
    found = client.get("/api/dataElements", params=[("filter", "valueType:eq:INTEGER"),
                                                    ("filter", "name:ilike:pupil"), ("fields", "code")],
                       headers=headers).json()
    assert found["dataElements"] == [{"code": "PUPILS"}]
    either = client.get("/api/dataElements", params=[("filter", "code:eq:RATE"), ("filter", "code:eq:PUPILS"),
                                                     ("rootJunction", "OR"), ("fields", "code")],
                        headers=headers).json()
    assert sorted(e["code"] for e in either["dataElements"]) == ["PUPILS", "RATE"]
    nested = client.get("/api/dataSets", params={"filter": "dataSetElements.dataElement.code:in:[RATE]",
                                                 "fields": "code,dataSetElements[dataElement[code]]"},
                        headers=headers).json()
    assert nested["dataSets"][0]["code"] == "SCHOOL_Y"
    assert nested["dataSets"][0]["dataSetElements"][0] == {"dataElement": {"code": "PUPILS"}}
    bad = client.get("/api/dataElements", params={"filter": "code:sortof:x"}, headers=headers)
    assert bad.status_code == 400 and "sortof" in bad.json()["detail"]
    assert client.get("/api/dataElements", params={"fields": "id,[code"}, headers=headers).status_code == 400


def test_the_pager_links_the_next_and_previous_pages(client: TestClient, conn: Connection) -> None:
    headers = staff(conn)
    first = client.get("/api/40/dataElements.json", params={"pageSize": 2, "fields": "code"},
                       headers=headers).json()
    assert first["pager"]["nextPage"] == "http://testserver/api/40/dataElements.json?pageSize=2&fields=code&page=2"
    second = client.get(first["pager"]["nextPage"], headers=headers).json()
    assert second["dataElements"] == [{"code": "TEACHERS"}] and "nextPage" not in second["pager"]
    assert second["pager"]["prevPage"].endswith("page=1")


def test_system_info_says_what_dhis2_clients_read(client: TestClient, conn: Connection) -> None:
    headers = staff(conn)
    info = client.get("/api/system/info", headers=headers).json()
    assert info["version"] == "2.40.0" and info["jiaowei"] is True
    assert info["calendar"] == "iso8601" and info["dateFormat"] == "yyyy-mm-dd"
    assert info["serverTimeZoneId"] == "Asia/Shanghai" and info["contextPath"] == "http://testserver"
    assert info["serverDate"][:2] == "20" and "T" in info["serverDate"]
    assert client.get("/api/system/info").status_code == 401


def test_me_gives_dhis2_fields_beside_jiaoweis(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    user = make_user(conn, "ward", role="district_staff", capture=["D1"])
    me = client.get("/api/40/me", headers=token_for(conn, user)).json()
    assert me["username"] == "ward" and me["role"] == "district_staff" and me["capture"] == ["D1"]
    assert len(me["id"]) == 11 and me["id"][0].isalpha() and me["name"] == me["displayName"]
    assert [u["code"] for u in me["organisationUnits"]] == ["D1"]
    assert me["organisationUnits"][0]["id"] and me["userRoles"][0]["id"] == "district_staff"
    assert "data.capture" in me["authorities"] and "ALL" not in me["authorities"]
    assert me["settings"]["keyUiLocale"]
    cut = client.get("/api/me", params={"fields": "username,organisationUnits[code]"},
                     headers=token_for(conn, user)).json()
    assert cut == {"username": "ward", "organisationUnits": [{"code": "D1"}]}
    root = client.get("/api/me", headers=token_for(conn, make_user(conn, "root"))).json()
    assert [u["code"] for u in root["organisationUnits"]] == ["SH"] and "ALL" in root["authorities"]


def test_category_option_combos_and_options(client: TestClient, conn: Connection) -> None:
    headers = staff(conn)
    combos = client.get("/api/categoryOptionCombos", params={"paging": "false"}, headers=headers).json()
    by_code = {c["code"]: c for c in combos["categoryOptionCombos"]}
    assert {"M", "F", "default"} <= set(by_code)
    male = by_code["M"]
    assert male["categoryCombo"]["code"] == "BY_SEX" and male["categoryOptions"][0]["code"] == "M"
    assert male["categoryOptions"][0]["id"] and len(male["id"]) == 11
    assert client.get(f"/api/categoryOptionCombos/{male['id']}", headers=headers).json() == male
    filtered = client.get("/api/categoryOptionCombos", params={"filter": "categoryCombo.code:eq:BY_SEX",
                                                               "fields": "code", "order": "code:asc"},
                          headers=headers).json()
    assert filtered["categoryOptionCombos"] == [{"code": "F"}, {"code": "M"}]
    options = client.get("/api/categoryOptions", headers=headers).json()
    female = next(o for o in options["categoryOptions"] if o["code"] == "F")
    assert female["categories"][0]["code"] == "SEX" and female["categoryOptionCombos"][0]["code"] == "F"
    one = client.get("/api/categoryOptions/F", params={"fields": "id,code"}, headers=headers).json()
    assert one == {"id": female["id"], "code": "F"}
    assert client.get("/api/categoryOptions/NOPE", headers=headers).status_code == 404
    assert client.get("/api/categoryOptionCombos").status_code == 401
