"""``GET /api/analytics`` on both databases: DHIS2's parameters in, DHIS2's grid out."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.registry import groups
from tests.factories import indicator_setup, make_unit, make_user, token_for

VALUES = [
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S1", "categoryOptionCombo": "M", "value": "120"},
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S1", "categoryOptionCombo": "F", "value": "110"},
    {"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S1", "value": "15"},
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S2", "categoryOptionCombo": "M", "value": "50"},
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S2", "categoryOptionCombo": "F", "value": "40"},
    {"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S2", "value": "10"},
    {"dataElement": "PUPILS", "period": "2019", "orgUnit": "S1", "categoryOptionCombo": "M", "value": "100"},
]


@pytest.fixture
def admin(client: TestClient, conn: Connection) -> dict[str, str]:
    """The small tree (SH → D1, D2 → S1, S2) with 2019 and 2020 values; an administrator's token."""
    indicator_setup(conn)
    headers = token_for(conn, make_user(conn, "analyst"))
    response = client.post(
        "/api/dataValueSets", content=json.dumps({"dataValues": VALUES}).encode(), headers=headers
    )
    assert response.status_code == 200, response.text
    return headers


def ask(
    client: TestClient,
    headers: dict[str, str],
    *params: tuple[str, str],
    status: int = 200,
    path: str = "/api/analytics",
) -> Any:
    response = client.get(path, params=list(params), headers=headers)
    assert response.status_code == status, response.text
    return response.json()


def rows(body: dict[str, Any]) -> list[list[str]]:
    return [list(r) for r in body["rows"]]


def test_the_answer_has_dhis2s_shape(client: TestClient, admin: dict[str, str]) -> None:
    body = ask(
        client,
        admin,
        ("dimension", "dx:PUPILS;TEACHERS"),
        ("dimension", "ou:SH;D1"),
        ("filter", "pe:2020"),
        ("locale", "en"),
    )
    assert [h["name"] for h in body["headers"]] == ["dx", "ou", "value"]
    assert body["headers"][0] == {
        "name": "dx",
        "column": "Data",
        "valueType": "TEXT",
        "type": "java.lang.String",
        "hidden": False,
        "meta": True,
    }
    assert body["headers"][2] == {
        "name": "value",
        "column": "Value",
        "valueType": "NUMBER",
        "type": "java.lang.Double",
        "hidden": False,
        "meta": False,
    }
    assert rows(body) == [
        ["PUPILS", "SH", "320"],
        ["PUPILS", "D1", "230"],
        ["TEACHERS", "SH", "25"],
        ["TEACHERS", "D1", "15"],
    ]
    assert (body["height"], body["width"], body["headerWidth"]) == (4, 3, 3)
    assert body["metaData"]["dimensions"] == {
        "dx": ["PUPILS", "TEACHERS"],
        "pe": ["2020"],
        "ou": ["SH", "D1"],
        "co": [],
    }
    items = body["metaData"]["items"]
    assert items["PUPILS"] == {"name": "Pupils"} and items["ou"] == {"name": "Organisation unit"}
    assert items["2020"] == {"name": "2020"} and items["SH"] == {"name": "Commission"}


def test_names_follow_the_language(client: TestClient, admin: dict[str, str]) -> None:
    body = ask(
        client,
        admin,
        ("dimension", "dx:PUPILS,pe:THIS_YEAR"),
        ("filter", "ou:SH"),
        ("relativePeriodDate", "2020-06-01"),
        ("locale", "zh"),
    )
    items = body["metaData"]["items"]
    assert items["PUPILS"]["name"] == "在校学生数" and items["THIS_YEAR"]["name"] == "今年"
    assert items["dx"]["name"] == "数据" and items["2020"]["name"] == "2020年"
    assert body["headers"][-1]["column"] == "值"
    assert rows(body) == [["PUPILS", "2020", "320"]]


def test_an_unknown_data_item_is_a_problem_naming_it(client: TestClient, admin: dict[str, str]) -> None:
    response = client.get(
        "/api/analytics", params=[("dimension", "dx:PUPILS;NOPE"), ("dimension", "pe:2020")], headers=admin
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert "NOPE" in problem["detail"]
    assert problem["problems"] == [
        {
            "message": "no such data item",
            "field": "dx",
            "value": "NOPE",
            "expected": problem["problems"][0]["expected"],
        }
    ]
    bad_period = ask(client, admin, ("dimension", "dx:PUPILS"), ("dimension", "pe:LAST_7_YEARS"), status=409)
    assert bad_period["problems"][0]["field"] == "pe" and bad_period["problems"][0]["value"] == "LAST_7_YEARS"
    no_ou = ask(
        client, admin, ("dimension", "dx:PUPILS"), ("dimension", "pe:2020"), ("filter", "ou:ZZ"), status=409
    )
    assert (no_ou["problems"][0]["field"], no_ou["problems"][0]["value"]) == ("ou", "ZZ")


def test_unauthenticated_requests_are_refused(client: TestClient, admin: dict[str, str]) -> None:
    response = client.get("/api/analytics", params={"dimension": "dx:PUPILS", "filter": "pe:2020"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_level_and_unit_level(client: TestClient, admin: dict[str, str]) -> None:
    level = ask(client, admin, ("dimension", "dx:PUPILS"), ("dimension", "ou:LEVEL-2"), ("filter", "pe:2020"))
    assert rows(level) == [["PUPILS", "D1", "230"], ["PUPILS", "D2", "90"]]
    assert level["metaData"]["dimensions"]["ou"] == ["D1", "D2"]
    under = ask(
        client, admin, ("dimension", "dx:PUPILS"), ("dimension", "ou:D2;LEVEL-3"), ("filter", "pe:2020")
    )
    assert rows(under) == [["PUPILS", "S2", "90"]]


def test_operands_categories_and_filters(client: TestClient, admin: dict[str, str]) -> None:
    operand = ask(
        client,
        admin,
        ("dimension", "dx:PUPILS.M;PUPILS.F"),
        ("dimension", "pe:2019;2020"),
        ("filter", "ou:SH"),
    )
    assert rows(operand) == [
        ["PUPILS.M", "2019", "100"],
        ["PUPILS.M", "2020", "170"],
        ["PUPILS.F", "2020", "150"],
    ]
    by_sex = ask(
        client,
        admin,
        ("dimension", "dx:PUPILS"),
        ("dimension", "SEX:F;M"),
        ("dimension", "ou:D1;D2"),
        ("filter", "pe:2020"),
        ("locale", "en"),
    )
    assert [h["name"] for h in by_sex["headers"]] == ["dx", "SEX", "ou", "value"]
    assert by_sex["headers"][1]["column"] == "Sex"
    assert rows(by_sex) == [
        ["PUPILS", "F", "D1", "110"],
        ["PUPILS", "F", "D2", "40"],
        ["PUPILS", "M", "D1", "120"],
        ["PUPILS", "M", "D2", "50"],
    ]
    only_boys = ask(
        client,
        admin,
        ("dimension", "dx:PUPILS"),
        ("filter", "SEX:M"),
        ("dimension", "ou:D1"),
        ("filter", "pe:2019;2020"),
    )
    assert rows(only_boys) == [["PUPILS", "D1", "220"]]  # 2019 and 2020 summed under the filter


def test_indicators_with_numerator_and_denominator(client: TestClient, admin: dict[str, str]) -> None:
    body = ask(
        client,
        admin,
        ("dimension", "dx:PTR;TEACHERS"),
        ("dimension", "ou:D1;SH"),
        ("filter", "pe:2020"),
        ("includeNumDen", "true"),
    )
    assert [h["name"] for h in body["headers"]] == [
        "dx",
        "ou",
        "value",
        "numerator",
        "denominator",
        "factor",
        "multiplier",
        "divisor",
    ]
    assert rows(body) == [
        ["PTR", "D1", "15.3", "230.0", "15.0", "1.0", "1", "1"],
        ["PTR", "SH", "12.8", "320.0", "25.0", "1.0", "1", "1"],
        ["TEACHERS", "D1", "15", "", "", "", "", ""],
        ["TEACHERS", "SH", "25", "", "", "", "", ""],
    ]
    raw = ask(
        client,
        admin,
        ("dimension", "dx:PTR"),
        ("filter", "ou:D1"),
        ("filter", "pe:2020"),
        ("skipRounding", "true"),
    )
    assert rows(raw) == [["PTR", repr(230 / 15)]]


def test_uids_on_request(client: TestClient, conn: Connection, admin: dict[str, str]) -> None:
    element = load_catalog(conn).element("PUPILS")
    assert element is not None
    body = ask(
        client,
        admin,
        ("dimension", f"dx:{element.uid}"),
        ("dimension", "ou:SH"),
        ("filter", "pe:2020"),
        ("outputIdScheme", "UID"),
    )
    assert rows(body) == [[element.uid, "SH", "320"]]  # units have no uid: their codes stand for them
    assert body["metaData"]["dimensions"]["dx"] == [element.uid]
    by_code = ask(
        client, admin, ("dimension", f"dx:{element.uid}"), ("dimension", "ou:SH"), ("filter", "pe:2020")
    )
    assert rows(by_code) == [["PUPILS", "SH", "320"]]


def test_a_saved_value_is_in_the_next_answer(client: TestClient, admin: dict[str, str]) -> None:
    before = ask(client, admin, ("dimension", "dx:TEACHERS"), ("dimension", "ou:D2"), ("filter", "pe:2021"))
    assert rows(before) == []
    saved = client.post(
        "/api/dataValues",
        headers=admin,
        json={"dataElement": "TEACHERS", "period": "2021", "orgUnit": "S2", "value": "12"},
    )
    assert saved.status_code == 200, saved.text
    started = time.monotonic()
    after = ask(client, admin, ("dimension", "dx:TEACHERS"), ("dimension", "ou:D2"), ("filter", "pe:2021"))
    assert rows(after) == [["TEACHERS", "D2", "12"]]
    assert time.monotonic() - started < 1.0  # the freshness: read back within a second of the save
    changed = client.post(
        "/api/dataValues",
        headers=admin,
        json={"dataElement": "TEACHERS", "period": "2021", "orgUnit": "S2", "value": "14"},
    )
    assert changed.status_code == 200, changed.text
    again = ask(client, admin, ("dimension", "dx:TEACHERS"), ("dimension", "ou:D2"), ("filter", "pe:2021"))
    assert rows(again) == [["TEACHERS", "D2", "14"]]


def test_a_district_user_sees_only_their_district(
    client: TestClient, conn: Connection, admin: dict[str, str]
) -> None:
    district = token_for(conn, make_user(conn, "d1staff", role="district_staff", capture=["D1"]))
    body = ask(
        client, district, ("dimension", "dx:PUPILS"), ("dimension", "ou:LEVEL-2"), ("filter", "pe:2020")
    )
    assert rows(body) == [["PUPILS", "D1", "230"]]
    assert body["metaData"]["dimensions"]["ou"] == ["D1"]
    own = ask(
        client,
        district,
        ("dimension", "dx:PUPILS"),
        ("dimension", "ou:USER_ORGUNIT;USER_ORGUNIT_CHILDREN"),
        ("filter", "pe:2020"),
    )
    assert rows(own) == [["PUPILS", "D1", "230"], ["PUPILS", "S1", "230"]]
    assert own["metaData"]["items"]["USER_ORGUNIT"] == {"organisationUnits": ["D1"]}
    outside = ask(
        client,
        district,
        ("dimension", "dx:PUPILS"),
        ("dimension", "ou:D2"),
        ("filter", "pe:2020"),
        status=409,
    )
    assert outside["problems"][0]["value"] == "D2"


def test_reporting_rates(client: TestClient, conn: Connection, admin: dict[str, str]) -> None:
    make_unit(conn, "S3", parent="D2")  # expected to report, has not
    body = ask(
        client,
        admin,
        ("dimension", "dx:SCHOOL_Y.REPORTING_RATE"),
        ("dimension", "ou:D1;D2;SH"),
        ("filter", "pe:2020"),
        ("includeNumDen", "true"),
    )
    assert rows(body) == [
        ["SCHOOL_Y.REPORTING_RATE", "D1", "100.0", "1.0", "1.0", "100.0", "100", "1"],
        ["SCHOOL_Y.REPORTING_RATE", "D2", "50.0", "1.0", "2.0", "100.0", "100", "1"],
        ["SCHOOL_Y.REPORTING_RATE", "SH", "66.67", "2.0", "3.0", "100.0", "100", "1"],
    ]
    by_level = ask(
        client,
        admin,
        ("dimension", "dx:SCHOOL_Y.REPORTING_RATE"),
        ("dimension", "ou:LEVEL-3"),
        ("filter", "pe:2020"),
    )
    assert rows(by_level) == [
        ["SCHOOL_Y.REPORTING_RATE", "S1", "100.0"],
        ["SCHOOL_Y.REPORTING_RATE", "S2", "100.0"],
        ["SCHOOL_Y.REPORTING_RATE", "S3", "0.0"],
    ]
    district = token_for(conn, make_user(conn, "d2staff", role="district_staff", capture=["D2"]))
    own = ask(client, district, ("dimension", "dx:SCHOOL_Y.REPORTING_RATE"), ("filter", "pe:2020"))
    assert rows(own) == [["SCHOOL_Y.REPORTING_RATE", "50.0"]]  # no ou: their district, S2 and S3 only


def test_skip_meta_and_skip_data(client: TestClient, admin: dict[str, str]) -> None:
    params = [("dimension", "dx:PUPILS"), ("dimension", "ou:LEVEL-2"), ("filter", "pe:2020")]
    bare = ask(client, admin, *params, ("skipMeta", "true"))
    assert "metaData" not in bare and rows(bare) == [["PUPILS", "D1", "230"], ["PUPILS", "D2", "90"]]
    empty = ask(client, admin, *params, ("skipData", "true"))
    assert rows(empty) == [] and empty["metaData"]["dimensions"]["ou"] == ["D1", "D2"]


def test_csv_and_the_json_suffix(client: TestClient, admin: dict[str, str]) -> None:
    params = [
        ("dimension", "dx:PUPILS"),
        ("dimension", "ou:LEVEL-2"),
        ("filter", "pe:2020"),
        ("locale", "en"),
    ]
    response = client.get("/api/analytics.csv", params=params, headers=admin)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines() == ["Data,Organisation unit,Value", "PUPILS,D1,230", "PUPILS,D2,90"]
    assert rows(ask(client, admin, *params, path="/api/analytics.json")) == [
        ["PUPILS", "D1", "230"],
        ["PUPILS", "D2", "90"],
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ([("dimension", "pe:2020")], "dimension"),
        (
            [("dimension", "dx:PUPILS"), ("dimension", "pe:2020"), ("aggregationType", "MEDIAN")],
            "aggregationType",
        ),
        ([("dimension", "dx:PUPILS"), ("dimension", "pe:2020"), ("outputIdScheme", "ID")], "outputIdScheme"),
        ([("dimension", "dx:PUPILS"), ("dimension", "pe:2020"), ("dimension", "NOSUCH:A")], "dimension"),
        ([("dimension", "dx:PUPILS"), ("dimension", "pe:2020"), ("dimension", "SEX:X")], "SEX"),
        ([("dimension", "dx:PUPILS"), ("dimension", "pe:2020"), ("dimension", "ou:LEVEL-9")], "ou"),
    ],
)
def test_bad_parameters_are_named(
    client: TestClient, admin: dict[str, str], params: list[tuple[str, str]], field: str
) -> None:
    body = ask(client, admin, *params, status=409)
    assert body["problems"][0]["field"] == field


def test_unit_group_sets_and_groups(client: TestClient, conn: Connection, admin: dict[str, str]) -> None:
    groups.create_group(conn, principal=SYSTEM, code="BIG", name_zh="大校", name_en="Big", members=["S1"])
    groups.create_group(conn, principal=SYSTEM, code="SMALL", name_zh="小校", name_en="Small", members=["S2"])
    groups.create_group_set(
        conn, principal=SYSTEM, code="SIZE", name_zh="规模", name_en="Size", groups=["BIG", "SMALL"]
    )
    body = ask(
        client,
        admin,
        ("dimension", "dx:PUPILS"),
        ("dimension", "SIZE"),
        ("filter", "ou:SH"),
        ("filter", "pe:2020"),
        ("locale", "en"),
    )
    assert [h["column"] for h in body["headers"]] == ["Data", "Size", "Value"]
    assert rows(body) == [["PUPILS", "BIG", "230"], ["PUPILS", "SMALL", "90"]]
    assert body["metaData"]["items"]["SMALL"] == {"name": "Small"}
    only = ask(
        client,
        admin,
        ("dimension", "dx:TEACHERS"),
        ("filter", "SIZE:SMALL"),
        ("dimension", "ou:SH"),
        ("filter", "pe:2020"),
    )
    assert rows(only) == [["TEACHERS", "SH", "10"]]
    members = ask(
        client, admin, ("dimension", "dx:TEACHERS"), ("dimension", "ou:OU_GROUP-BIG"), ("filter", "pe:2020")
    )
    assert rows(members) == [["TEACHERS", "S1", "15"]]
    wrong = ask(
        client, admin, ("dimension", "dx:PTR"), ("dimension", "SIZE"), ("filter", "pe:2020"), status=409
    )
    assert wrong["problems"][0]["field"] == "SIZE"
