"""/api/dataValueSets with DHIS2's parameters: id schemes in and out, import strategies, the
WebMessage envelope and the format chosen by the Accept header."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from jiaowei.indicators.metadata.catalog import load_catalog
from tests.factories import indicator_setup, make_unit, make_user, mentions, token_for


def post(
    client: TestClient, headers: dict[str, str], values: list[dict[str, Any]], **params: str
) -> tuple[int, dict[str, Any]]:
    body = json.dumps({"dataValues": values}).encode()
    response = client.post(
        "/api/dataValueSets",
        content=body,
        params={"format": "dhis2-json", **params},
        headers={**headers, "content-type": "application/json"},
    )
    return response.status_code, response.json()


def stored(client: TestClient, headers: dict[str, str], **params: str) -> dict[tuple[str, str, str], str]:
    response = client.get(
        "/api/dataValueSets", headers=headers, params={"orgUnit": ["S1", "S2"], "period": "2020", **params}
    )
    assert response.status_code == 200, response.text
    return {
        (v["dataElement"], v.get("categoryOptionCombo", ""), v["orgUnit"]): v["value"]
        for v in response.json()["dataValues"]
    }


def value(element: str, amount: str, unit: str = "S1", combo: str | None = None) -> dict[str, Any]:
    return {
        "dataElement": element,
        "period": "2020",
        "orgUnit": unit,
        "value": amount,
        **({"categoryOptionCombo": combo} if combo else {}),
    }


@pytest.fixture
def admin(conn: Connection) -> dict[str, str]:
    indicator_setup(conn)
    return token_for(conn, make_user(conn, "admin13"))


# ---------------------------------------------------------------- import strategies and the envelope


def test_each_import_strategy_counts_as_dhis2_does(client: TestClient, admin: dict[str, str]) -> None:
    assert post(client, admin, [value("TEACHERS", "10")])[1]["response"]["importCount"]["imported"] == 1
    status, body = post(
        client, admin, [value("TEACHERS", "11"), value("PUPILS", "5", combo="M")], importStrategy="CREATE"
    )
    assert status == 200 and body["response"]["importCount"] == {
        "imported": 1,
        "updated": 0,
        "ignored": 1,
        "deleted": 0,
    }
    status, body = post(
        client, admin, [value("TEACHERS", "12"), value("PUPILS", "6", combo="F")], importStrategy="UPDATE"
    )
    assert body["response"]["importCount"] == {"imported": 0, "updated": 1, "ignored": 1, "deleted": 0}
    status, body = post(
        client,
        admin,
        [value("TEACHERS", "13"), value("PUPILS", "6", combo="F")],
        importStrategy="CREATE_AND_UPDATE",
    )
    assert body["response"]["importCount"] == {"imported": 1, "updated": 1, "ignored": 0, "deleted": 0}
    status, body = post(
        client,
        admin,
        [value("TEACHERS", ""), {**value("PUPILS", "5", combo="M"), "deleted": True}],
        importStrategy="CREATE",
    )
    assert body["response"]["importCount"] == {"imported": 0, "updated": 0, "ignored": 2, "deleted": 0}
    status, body = post(
        client,
        admin,
        [value("TEACHERS", "1"), value("PUPILS", "9", unit="S2", combo="M")],
        importStrategy="DELETE",
    )
    assert body["response"]["importCount"] == {"imported": 0, "updated": 0, "ignored": 1, "deleted": 1}
    assert stored(client, admin) == {("PUPILS", "M", "S1"): "5", ("PUPILS", "F", "S1"): "6"}


def test_the_summary_comes_in_dhis2s_web_message(client: TestClient, admin: dict[str, str]) -> None:
    status, body = post(client, admin, [value("TEACHERS", "10")])
    assert status == 200
    assert {k: body[k] for k in ("httpStatus", "httpStatusCode", "status", "message")} == {
        "httpStatus": "OK",
        "httpStatusCode": 200,
        "status": "OK",
        "message": "Import was successful.",
    }
    assert body["response"]["responseType"] == "ImportSummary" and body["response"]["status"] == "SUCCESS"
    bad = [value("TEACHERS", "20"), value("NOPE", "1")]
    status, body = post(client, admin, bad)
    assert (status, body["httpStatus"], body["httpStatusCode"], body["status"]) == (
        409,
        "Conflict",
        409,
        "ERROR",
    )
    assert (
        body["response"]["conflicts"][0]["row"] == 2
        and body["response"]["conflicts"][0]["field"] == "dataElement"
    )
    assert stored(client, admin) == {("TEACHERS", "default", "S1"): "10"}
    status, body = post(client, admin, bad, atomicMode="NONE")
    assert (status, body["httpStatus"], body["status"]) == (200, "OK", "WARNING")
    assert body["response"]["importCount"]["updated"] == 1 and body["response"]["conflictCount"] == 1


# ---------------------------------------------------------------- id schemes


def test_names_in_either_language_are_read_under_the_name_scheme(
    client: TestClient, admin: dict[str, str]
) -> None:
    values = [
        {
            "dataElement": "Pupils",
            "categoryOptionCombo": "Male",
            "orgUnit": "Unit S1",
            "period": "2020",
            "value": "7",
        },
        {
            "dataElement": "在校学生数",
            "categoryOptionCombo": "女",
            "orgUnit": "单位S1",
            "period": "2020",
            "value": "8",
        },
    ]
    status, body = post(client, admin, values, idScheme="NAME")
    assert status == 200, body
    assert body["response"]["importCount"]["imported"] == 2
    assert stored(client, admin) == {("PUPILS", "M", "S1"): "7", ("PUPILS", "F", "S1"): "8"}
    # The same names under the default scheme (code, else uid) name nothing.
    status, body = post(client, admin, values)
    assert status == 409 and {c["field"] for c in body["response"]["conflicts"]} == {"dataElement"}


def test_an_ambiguous_or_unknown_name_is_a_conflict_naming_row_field_and_value(
    client: TestClient, conn: Connection, admin: dict[str, str]
) -> None:
    make_unit(conn, "S3", parent="D1", name_en="Twin school")
    make_unit(conn, "S4", parent="D2", name_en="Twin school")
    status, body = post(
        client,
        admin,
        [
            value("TEACHERS", "3"),
            value("TEACHERS", "4", unit="Twin school"),
            value("TEACHERS", "5", unit="Nowhere school"),
        ],
        orgUnitIdScheme="NAME",
        dataElementIdScheme="CODE",
    )
    assert status == 409
    conflicts = [(c["row"], c["field"], c["object"]) for c in body["response"]["conflicts"]]
    assert conflicts == [
        (1, "orgUnit", "S1"),
        (2, "orgUnit", "Twin school"),
        (3, "orgUnit", "Nowhere school"),
    ]
    assert "S3, S4" in body["response"]["conflicts"][1]["reason"]
    assert stored(client, admin) == {}


def test_uids_are_written_and_read_back_under_the_uid_scheme(
    client: TestClient, conn: Connection, admin: dict[str, str]
) -> None:
    post(client, admin, [value("PUPILS", "5", combo="M"), value("TEACHERS", "2")])
    catalog = load_catalog(conn)
    pupils, male = catalog.element("PUPILS"), None
    assert pupils is not None
    male = catalog.option_combo(pupils, "M")
    teachers = catalog.element("TEACHERS")
    assert male is not None and teachers is not None
    response = client.get(
        "/api/dataValueSets",
        headers=admin,
        params={
            "orgUnit": "S1",
            "period": "2020",
            "dataElementIdScheme": "UID",
            "categoryOptionComboIdScheme": "uid",
            "attributeOptionComboIdScheme": "UID",
        },
    )
    exported = response.json()["dataValues"]
    assert {
        (v["dataElement"], v["categoryOptionCombo"], v["attributeOptionCombo"], v["orgUnit"])
        for v in exported
    } == {(pupils.uid, male.uid, "HllvX50cXC0", "S1"), (teachers.uid, "HllvX50cXC0", "HllvX50cXC0", "S1")}
    for item in exported:
        item["value"] = str(int(item["value"]) + 1)
    status, body = post(
        client,
        admin,
        exported,
        dataElementIdScheme="UID",
        categoryOptionComboIdScheme="UID",
        attributeOptionComboIdScheme="UID",
    )
    assert status == 200 and body["response"]["importCount"]["updated"] == 2
    assert stored(client, admin) == {("PUPILS", "M", "S1"): "6", ("TEACHERS", "default", "S1"): "3"}
    # Under the code scheme a uid names nothing.
    status, body = post(client, admin, exported[:1], idScheme="CODE")
    assert status == 409 and body["response"]["conflicts"][0]["object"] == pupils.uid


def test_unit_uids_are_written_and_read_back(client: TestClient, admin: dict[str, str]) -> None:
    post(client, admin, [value("TEACHERS", "2"), value("TEACHERS", "4", unit="S2")])
    params = {"orgUnit": ["S1", "S2"], "period": "2020", "idScheme": "UID"}
    exported = client.get("/api/dataValueSets", headers=admin, params=params).json()["dataValues"]
    uids = {item["orgUnit"] for item in exported}
    assert len(uids) == 2 and all(len(uid) == 11 and uid not in ("S1", "S2") for uid in uids)
    status, body = post(client, admin, exported, idScheme="UID")
    assert status == 200 and body["response"]["importCount"]["ignored"] == 2, body
    status, body = post(client, admin, exported, orgUnitIdScheme="CODE")
    assert status == 409 and {c["field"] for c in body["response"]["conflicts"]} == {"orgUnit"}


def test_names_are_written_under_the_name_scheme(client: TestClient, admin: dict[str, str]) -> None:
    post(client, admin, [value("PUPILS", "5", combo="M")])
    response = client.get(
        "/api/dataValueSets", headers=admin, params={"orgUnit": "S1", "period": "2020", "idScheme": "NAME"}
    )
    [item] = response.json()["dataValues"]
    assert (item["dataElement"], item["categoryOptionCombo"], item["orgUnit"]) == (
        "Pupils",
        "Male",
        "Unit S1",
    )
    assert item["attributeOptionCombo"] == "default"


def test_a_district_user_cannot_reach_another_district_through_names(
    client: TestClient, conn: Connection, admin: dict[str, str]
) -> None:
    district = token_for(
        conn, make_user(conn, "d1capture", role="district_staff", capture=["D1"], view=["D1"])
    )
    status, body = post(client, district, [value("TEACHERS", "3", unit="Unit S2")], orgUnitIdScheme="NAME")
    assert status == 409
    [conflict] = body["response"]["conflicts"]
    assert (conflict["field"], conflict["object"]) == ("orgUnit", "Unit S2")  # as sent: never its code
    response = client.get(
        "/api/dataValueSets",
        headers=district,
        params={"orgUnit": "S2", "lastUpdatedDuration": "1d", "idScheme": "NAME"},
    )
    assert response.status_code == 404  # a unit out of sight is not found, as everywhere


# ---------------------------------------------------------------- the format from the Accept header


@pytest.mark.parametrize(
    ("accept", "starts"),
    [
        ("application/json", b"{"),
        ("text/csv", b"dataelement,"),
        ("application/csv", b"dataelement,"),
        ("application/adx+xml", b"urn:ihe:qrph:adx:2015"),
        ("application/xml", b"http://dhis2.org/schema/dxf/2.0"),
        ("text/xml", b"http://dhis2.org/schema/dxf/2.0"),
        ("text/html, application/json;q=0.9", b"{"),
        (None, b"{"),
    ],
)
def test_the_accept_header_chooses_the_export_format(
    client: TestClient, admin: dict[str, str], accept: str | None, starts: bytes
) -> None:
    post(client, admin, [value("TEACHERS", "10")])
    headers = {**admin, **({"accept": accept} if accept else {})}
    response = client.get("/api/dataValueSets", headers=headers, params={"orgUnit": "S1", "period": "2020"})
    assert response.status_code == 200 and starts in response.content[:200]
    assert response.content.startswith(starts) or response.content.startswith(b"<?xml")
    if starts == b"dataelement,":
        [header, row] = list(csv.reader(io.StringIO(response.text)))
        assert row[:6] == ["TEACHERS", "2020", "S1", "default", "default", "10"]
    # A format parameter wins over the header.
    response = client.get(
        "/api/dataValueSets",
        headers=headers,
        params={"orgUnit": "S1", "period": "2020", "format": "dhis2-csv"},
    )
    assert response.content.startswith(b"dataelement,")


# ---------------------------------------------------------------- units named by DHIS2 uid, with no scheme


def unit_uid(conn: Connection, code: str) -> str:
    from jiaowei.registry import queries as registry

    codes = registry.unit_codes("u")
    return str(conn.execute(select(codes.c.uid).where(codes.c.code == code)).scalar_one())


def test_with_no_scheme_a_unit_is_its_code_else_its_uid(
    client: TestClient, conn: Connection, admin: dict[str, str]
) -> None:
    s1 = unit_uid(conn, "S1")
    status, body = post(client, admin, [value("TEACHERS", "31", unit=s1)])
    assert status == 200, body
    assert stored(client, admin)[("TEACHERS", "default", "S1")] == "31"
    exported = client.get("/api/dataValueSets", headers=admin, params={"orgUnit": s1, "period": "2020"})
    assert exported.status_code == 200, exported.text
    assert [(v["orgUnit"], v["value"]) for v in exported.json()["dataValues"]] == [("S1", "31")]


def test_a_refused_unit_named_by_uid_is_shown_as_sent_never_by_its_code(
    client: TestClient, conn: Connection, admin: dict[str, str]
) -> None:
    district = token_for(conn, make_user(conn, "d1uid", role="district_staff", capture=["D1"], view=["D1"]))
    s2 = unit_uid(conn, "S2")
    status, body = post(client, district, [value("TEACHERS", "31", unit=s2)])
    assert status == 409, body
    conflict = body["response"]["conflicts"][0]
    assert (conflict["field"], conflict["object"]) == ("orgUnit", s2)
    assert not mentions(body, "S2")
    assert ("TEACHERS", "default", "S2") not in stored(client, admin)
