"""The metadata API in DHIS2's shapes, through the test client, on both databases."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select

from jiaowei.indicators import store
from tests.factories import indicator_setup, make_user, token_for
from tests.indicators.metadata.test_bundle import dhis2_document


def admin(conn: Connection) -> dict[str, str]:
    return token_for(conn, make_user(conn, role="commission_staff", capture=["SH"]))


def elements(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(store.data_elements)).scalar_one()


def test_lists_are_paged_like_dhis2(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    headers = admin(conn)
    first = client.get("/api/dataElements", params={"pageSize": 2, "fields": "id,name,code"}, headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["pager"] == {"page": 1, "pageCount": 2, "total": 3, "pageSize": 2,
                             "nextPage": "http://testserver/api/dataElements?pageSize=2&fields=id%2Cname%2Ccode&page=2"}
    assert set(body["dataElements"][0]) == {"id", "name", "code"}
    assert [e["code"] for e in body["dataElements"]] == ["PUPILS", "RATE"]
    second = client.get("/api/dataElements", params={"pageSize": 2, "page": 2}, headers=headers).json()
    assert [e["code"] for e in second["dataElements"]] == ["TEACHERS"]
    for kind in ("categories", "categoryCombos", "dataSets", "indicators", "validationRules"):
        listed = client.get(f"/api/{kind}", headers=headers)
        assert listed.status_code == 200 and kind in listed.json(), kind
    assert client.get("/api/dataElements", params={"pageSize": 501}, headers=headers).status_code == 422
    assert client.get("/api/dataElements").status_code == 401


def test_one_object_by_code_or_id_and_404(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    headers = admin(conn)
    pupils = client.get("/api/dataElements/PUPILS", headers=headers).json()
    assert pupils["categoryCombo"]["code"] == "BY_SEX" and pupils["translations"][0]["value"] == "在校学生数"
    by_uid = client.get(f"/api/dataElements/{pupils['id']}", headers=headers).json()
    assert by_uid == pupils
    missing = client.get("/api/dataElements/NOPE", headers=headers)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )


def test_post_one_object_or_a_list_and_update(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    headers = admin(conn)
    one = {
        "code": "BOOKS",
        "name": "Library books",
        "translations": [{"locale": "zh_CN", "property": "NAME", "value": "图书册数"}],
        "valueType": "INTEGER",
    }
    created = client.post("/api/dataElements", json=one, headers=headers)
    assert created.status_code == 200, created.text
    assert created.json()["stats"]["created"] == 1
    listed = {"dataElements": [{**one, "name": "Books"}, {"code": "ROOMS", "name": "Rooms"}]}
    again = client.post("/api/dataElements", json=listed, headers=headers).json()
    assert again["typeReports"][0]["stats"] == {
        "created": 1,
        "updated": 1,
        "deleted": 0,
        "ignored": 0,
        "total": 2,
    }
    assert client.get("/api/dataElements/BOOKS", headers=headers).json()["name"] == "Books"


def test_bad_objects_get_problems_naming_the_place_and_write_nothing(
    client: TestClient, conn: Connection
) -> None:
    indicator_setup(conn)
    headers = admin(conn)
    before = elements(conn)
    bad = {
        "dataElements": [{"code": "OK1", "name": "Fine"},
                         {"code": "BAD", "name": "Bad", "valueType": "WORDS"}]
    }
    response = client.post("/api/dataElements", json=bad, headers=headers)
    assert response.status_code == 409  # DHIS2's ImportReport, jiaowei's problems beside it
    problems = response.json()["problems"]
    assert {"field": "dataElements[1].valueType", "row": 2, "value": "WORDS"}.items() <= problems[0].items()
    assert elements(conn) == before


def test_the_whole_bundle_dry_run_then_for_real_then_export(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    headers = admin(conn)
    document = {k: v for k, v in dhis2_document().items() if k != "dataSets"}
    document["dataElements"] = [
        {**e, "code": "X" + e["code"]} | ({"id": None} if "id" in e else {}) for e in document["dataElements"]
    ]
    document["indicators"] = document["validationRules"] = []
    dry = client.post("/api/metadata", params={"dryRun": "true"}, json=document, headers=headers)
    assert dry.status_code == 200, dry.text
    assert dry.json()["dryRun"] is True and elements(conn) == 3
    real = client.post("/api/metadata", json=document, headers=headers)
    assert real.status_code == 200 and elements(conn) == 6
    refused = client.post(
        "/api/metadata", params={"importStrategy": "DELETE"}, json=document, headers=headers
    )
    assert refused.status_code == 422
    exported = client.get("/api/metadata", params={"kinds": "dataElements,categoryCombos"}, headers=headers)
    assert {e["code"] for e in exported.json()["dataElements"]} >= {"XPUPILS", "PUPILS"}
    assert "categoryOptionCombos" in exported.json()["categoryCombos"][0]
    assert client.get("/api/metadata", params={"kinds": "users"}, headers=headers).status_code == 422


def test_delete_and_refusals(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    headers = admin(conn)
    assert client.delete("/api/categories/SEX", headers=headers).status_code == 409  # BY_SEX uses it
    assert client.delete("/api/categoryCombos/BY_SEX", headers=headers).status_code == 409  # PUPILS uses it
    assert client.delete("/api/indicators/PTR", headers=headers).status_code == 200
    assert client.delete("/api/dataElements/PUPILS", headers=headers).status_code == 200
    assert client.delete("/api/categoryCombos/BY_SEX", headers=headers).status_code == 200
    assert client.delete("/api/categories/SEX", headers=headers).status_code == 200
    assert client.delete("/api/categories/SEX", headers=headers).status_code == 404
    assert client.get("/api/indicators/PTR", headers=headers).status_code == 404


def test_a_district_user_reads_but_never_writes(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    headers = token_for(conn, make_user(conn, role="district_staff", capture=["D1"]))
    assert client.get("/api/dataElements", headers=headers).status_code == 200
    before = elements(conn)
    writes: list[Any] = [
        client.post("/api/dataElements", json={"code": "NEW", "name": "New"}, headers=headers),
        client.post("/api/metadata", json=dhis2_document(), headers=headers),
        client.delete("/api/dataElements/RATE", headers=headers),
        client.delete("/api/categoryCombos/NOPE", headers=headers),
    ]
    assert [w.status_code for w in writes] == [403, 403, 403, 403]
    assert elements(conn) == before


def test_a_district_user_sees_only_its_own_units_of_a_data_set(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    client.post(
        "/api/dataSets",
        headers=admin(conn),
        json={
            "code": "SCHOOL_Y",
            "name": "School annual",
            "periodType": "Yearly",
            "organisationUnits": [{"code": "S1"}, {"code": "S2"}],
            "dataSetElements": [{"dataElement": {"code": "PUPILS"}}],
        },
    )
    headers = token_for(conn, make_user(conn, role="district_staff", capture=["D1"]))
    shown = client.get("/api/dataSets/SCHOOL_Y", headers=headers).json()
    assert shown["organisationUnits"] == [{"code": "S1"}]
    whole = client.get("/api/metadata", headers=headers).text
    assert '"S2"' not in whole


def test_combination_preview(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    headers = admin(conn)
    client.post(
        "/api/metadata",
        headers=headers,
        json={
            "categories": [
                {
                    "code": "STAGE",
                    "name": "Stage",
                    "categoryOptions": [{"code": c, "name": c} for c in ("PRI", "JUN", "SEN")],
                }
            ]
        },
    )
    preview = client.get("/api/categoryCombos/preview", params={"categories": "SEX,STAGE"}, headers=headers)
    assert preview.json() == {"categories": ["SEX", "STAGE"], "combinations": 6, "limit": 10_000}
    unknown = client.get("/api/categoryCombos/preview", params={"categories": "SEX,NOPE"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["problems"][0]["value"] == "NOPE"


def test_junk_bodies_get_problems(client: TestClient, conn: Connection) -> None:
    headers = token_for(conn, make_user(conn, role="administrator"))
    for body in ([1, 2], "text", {"dataElements": "x"}, {"x": 1}):
        response = client.post("/api/metadata", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    refused = client.post("/api/metadata", json={"dataSets": [{"code": 5}]}, headers=headers)
    assert refused.status_code == 409 and refused.json()["status"] == "ERROR"  # DHIS2's ImportReport
    assert refused.json()["problems"][0]["field"].startswith("dataSets[0]")
    assert client.post("/api/indicators", json={"numerator": []}, headers=headers).status_code == 409
