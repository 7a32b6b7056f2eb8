"""The data quality routes: shapes, limits and scope, on both databases."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.quality import outliers
from jiaowei.indicators.quality import queries as quality
from tests.factories import login, make_user, token_for
from tests.indicators.quality.test_queries import SERIES, YEARS, rule, setup, store_values

RUN = "/api/dataAnalysis/validationRules"
YEAR_2020 = {"startDate": "2020-01-01", "endDate": "2020-12-31"}


def world(conn: Connection) -> tuple[dict[str, str], dict[str, str]]:
    """Values at S1 and S2 that break a rule and hold an outlier; (admin headers, D1 user headers)."""
    setup(conn)
    cells = [
        ("TEACHERS", None, ou, y, str(300 if y == "2015" else v))
        for ou in ("S1", "S2")
        for y, v in zip(YEARS, SERIES, strict=True)
    ]
    store_values(conn, *cells, ("TEACHERS", None, "S1", "2020", "15"), ("TEACHERS", None, "S2", "2020", "15"))
    rule(conn, "EQ_BAD", "#{TEACHERS}", "equal_to", "16", importance="HIGH")
    admin = token_for(conn, make_user(conn, "quality-admin"))
    d1 = token_for(conn, make_user(conn, "quality-d1", role="district_staff", capture=["D1"]))
    return admin, d1


def test_validation_analysis_in_dhis2_shape(client: TestClient, conn: Connection) -> None:
    admin, _ = world(conn)
    response = client.post(
        RUN, headers=admin, params={"lang": "en"}, json={"ou": "SH", **YEAR_2020, "notification": False}
    )
    assert response.status_code == 200, response.text
    found = response.json()
    assert {(v["validationRuleId"], v["organisationUnitId"], v["periodId"]) for v in found} == {
        ("EQ_BAD", "S1", "2020"),
        ("EQ_BAD", "S2", "2020"),
    }
    first = found[0]
    assert (first["leftSideValue"], first["operator"], first["rightSideValue"]) == (15, "==", 16)
    assert first["importance"] == "HIGH" and first["validationRuleDescription"] == "Rule EQ_BAD"
    assert first["message"] == first["message_en"] == "Teachers (15) must equal 16: 15 ≠ 16"
    assert first["message_zh"] == "专任教师数 (15) 应等于 16：实际 15 ≠ 16"
    none = client.post(
        RUN, headers=admin, json={"ou": "SH", "startDate": "2021-01-01", "endDate": "2021-12-31"}
    )
    assert none.status_code == 200 and none.json() == []
    bad = client.post(
        RUN, headers=admin, json={"ou": "SH", "startDate": "2021-01-01", "endDate": "2020-12-31"}
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


def test_too_large_a_run_asks_to_narrow_it(
    client: TestClient, conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, _ = world(conn)
    monkeypatch.setattr(quality, "MAX_PAIRS", 10)
    response = client.post(
        RUN, headers=admin, json={"ou": "SH", "startDate": "2000-01-01", "endDate": "2020-12-31"}
    )
    assert response.status_code == 422
    assert "smaller unit or a shorter date range" in response.text


def test_one_form_is_validated_with_its_bounds(client: TestClient, conn: Connection) -> None:
    admin, _ = world(conn)
    outliers.set_min_max(
        conn, principal=SYSTEM, unit="S1", element="TEACHERS", coc=None, min_value=20, max_value=40
    )
    response = client.get(
        "/api/validation/dataSet/SCHOOL_Y", headers=admin, params={"pe": "2020", "ou": "S1", "lang": "zh_CN"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["commentRequiredViolations"] == []
    assert [(v["validationRuleId"], v["importance"]) for v in body["validationRuleViolations"]] == [
        ("EQ_BAD", "HIGH"),
        ("MIN_MAX", "MEDIUM"),
    ]
    assert body["validationRuleViolations"][1]["message"] == "专任教师数 (15) 低于最小值：正常范围为 20–40"


def test_outlier_detection_in_dhis2_shape(client: TestClient, conn: Connection) -> None:
    admin, _ = world(conn)
    response = client.get(
        "/api/outlierDetection",
        headers=admin,
        params={
            "ds": "SCHOOL_Y",
            "ou": "SH",
            "startDate": "2000-01-01",
            "endDate": "2019-12-31",
            "algorithm": "MOD_Z_SCORE",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["metadata"]["algorithm"] == "MOD_Z_SCORE" and body["metadata"]["threshold"] == 3.5
    assert {(o["ou"], o["pe"], o["value"]) for o in body["outlierValues"]} == {
        ("S1", "2015", 300),
        ("S2", "2015", 300),
    }
    assert {
        "de",
        "coc",
        "median",
        "medianAbsDeviation",
        "modifiedZScore",
        "absDev",
        "lowerBound",
        "upperBound",
        "reason_zh",
        "reason_en",
    } <= body["outlierValues"][0].keys()
    assert (
        client.get(
            "/api/outlierDetection",
            headers=admin,
            params={"ou": "SH", "startDate": "2000-01-01", "endDate": "2019-12-31"},
        ).status_code
        == 422
    )  # no ds, no de


def test_min_max_routes(client: TestClient, conn: Connection) -> None:
    admin, _ = world(conn)
    cell = {"source": {"code": "S1"}, "dataElement": {"code": "TEACHERS"}}
    saved = client.post("/api/minMaxDataElements", headers=admin, json={**cell, "min": 90, "max": 110})
    assert saved.status_code == 201, saved.text
    assert saved.json() == {
        "source": "S1",
        "dataElement": "TEACHERS",
        "optionCombo": "default",
        "min": 90,
        "max": 110,
        "generated": False,
    }
    bad = client.post("/api/minMaxDataElements", headers=admin, json={**cell, "min": 5, "max": 1})
    assert bad.status_code == 422
    generated = client.post(
        "/api/minMaxValues/generate", headers=admin, json={"dataSet": "SCHOOL_Y", "orgUnit": "SH"}
    )
    assert generated.json() == {"generated": 1, "keptManual": 1, "skipped": 0}  # S2 generated, S1 kept
    listed = client.get("/api/minMaxDataElements", headers=admin, params={"ou": "SH", "children": "true"})
    assert [(b["source"], b["generated"]) for b in listed.json()["minMaxDataElements"]] == [
        ("S1", False),
        ("S2", True),
    ]
    gone = client.request("DELETE", "/api/minMaxDataElements", headers=admin, json=cell)
    assert gone.status_code == 200
    again = client.request("DELETE", "/api/minMaxDataElements", headers=admin, json=cell)
    assert again.status_code == 404


def test_a_district_user_sees_and_changes_only_their_district(client: TestClient, conn: Connection) -> None:
    _, d1 = world(conn)
    mine = client.post(RUN, headers=d1, json={"ou": "D1", **YEAR_2020})
    assert [v["organisationUnitId"] for v in mine.json()] == ["S1"]
    flagged = client.get(
        "/api/outlierDetection",
        headers=d1,
        params={"ds": "SCHOOL_Y", "ou": "D1", "startDate": "2000-01-01", "endDate": "2019-12-31"},
    )
    assert {o["ou"] for o in flagged.json()["outlierValues"]} == {"S1"}
    for out in ("D2", "S2", "SH"):
        calls = [
            client.post(RUN, headers=d1, json={"ou": out, **YEAR_2020}),
            client.get("/api/validation/dataSet/SCHOOL_Y", headers=d1, params={"pe": "2020", "ou": out}),
            client.get(
                "/api/outlierDetection",
                headers=d1,
                params={"ds": "SCHOOL_Y", "ou": out, "startDate": "2000-01-01", "endDate": "2019-12-31"},
            ),
            client.get("/api/minMaxDataElements", headers=d1, params={"ou": out}),
            client.post(
                "/api/minMaxDataElements",
                headers=d1,
                json={"source": {"code": out}, "dataElement": {"code": "TEACHERS"}, "min": 1, "max": 2},
            ),
            client.post(
                "/api/minMaxValues/generate", headers=d1, json={"dataSet": "SCHOOL_Y", "orgUnit": out}
            ),
        ]
        for response in calls:
            assert response.status_code == 404, response.text
            assert "Unit S2" not in response.text and "Unit D2" not in response.text
    assert outliers.min_max_of(conn, principal=SYSTEM, units=["SH"], children=True) == []


def test_the_pages_show_plain_messages_in_the_chosen_language(client: TestClient, conn: Connection) -> None:
    world(conn)
    make_user(conn, "quality-d1-page", role="district_staff", capture=["D1"])
    login(client, "quality-d1-page")
    english = client.get(
        "/quality/validation", params={"ou": "D1", "start": "2020-01-01", "end": "2020-12-31", "lang": "en"}
    )
    assert english.status_code == 200
    assert "Teachers (15) must equal 16: 15 ≠ 16" in english.text and "Unit S2" not in english.text
    chinese = client.get(
        "/quality/validation",
        params={"ou": "D1", "start": "2020-01-01", "end": "2020-12-31", "lang": "zh_CN"},
    )
    assert "专任教师数 (15) 应等于 16：实际 15 ≠ 16" in chinese.text and "校验规则分析" in chinese.text
    outside = client.get("/quality/validation", params={"ou": "D2", "lang": "en"})
    assert outside.status_code == 200 and "No unit with code" in outside.text
    found = client.get(
        "/quality/outliers",
        params={"ou": "D1", "ds": "SCHOOL_Y", "start": "2000-01-01", "end": "2019-12-31", "lang": "en"},
    )
    assert found.status_code == 200 and 'id="outliers"' in found.text and "2015" in found.text
    assert "Unit S2" not in found.text
    bad = client.get("/quality/outliers", params={"ou": "D1", "threshold": "lots", "lang": "en"})
    assert bad.status_code == 200 and "not a number" in bad.text
