"""The indicator value and target routes through the API, on both databases."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.targets import queries
from jiaowei.indicators.targets import service as targets
from tests.factories import make_user, token_for
from tests.indicators.targets.test_service import coverage_setup
from tests.statements import counting


def test_indicator_values_have_the_documented_shape(client: TestClient, conn: Connection) -> None:
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
    headers = token_for(conn, make_user(conn, "admin"))
    response = client.get(
        "/api/indicatorValues", params={"indicator": "COVERAGE", "ou": "SH", "pe": "2020"}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["orgUnit"], body["period"]) == ("SH", "2020")
    city, d1, d2 = body["rows"]
    assert (city["orgUnit"], d1["orgUnit"], d2["orgUnit"]) == ("SH", "D1", "D2")
    assert city["value"] == 86.0 and city["formatted"] == "86.0%"
    assert (city["numerator"], city["denominator"], city["source"], city["synthetic"]) == (
        172,
        200,
        "data",
        False,
    )
    assert city["target"]["value"] == 86 and city["status"] == "met"
    assert city["benchmark"] == {"value": 80.0, "formatted": "80.0%", "label": "国家标准", "met": True}
    assert d1["target"] is None and d1["status"] is None and d1["formatted"] == "90.0%"
    alone = client.get(
        "/api/indicatorValues",
        headers=headers,
        params={"indicator": "COVERAGE", "ou": "D2", "pe": "2020", "children": "false"},
    )
    assert [r["orgUnit"] for r in alone.json()["rows"]] == ["D2"]
    every = client.get("/api/indicatorValues", headers=headers)  # defaults: the commission, latest year
    assert every.json()["orgUnit"] == "SH" and every.json()["period"] == "2020"
    assert {r["indicator"] for r in every.json()["rows"]} == {"COVERAGE", "PTR"}


@pytest.fixture
def staff(conn: Connection) -> dict[str, str]:
    """The coverage set-up, and the headers of the commission's staff."""
    coverage_setup(conn)
    return token_for(conn, make_user(conn, "staff", role="commission_staff", capture=["SH"]))


def set_the_city_target(client: TestClient, headers: dict[str, str]) -> Response:
    """86% for SH in 2020, at risk within 1, against the national standard of 80%."""
    return client.post(
        "/api/targets",
        headers=headers,
        json={
            "indicator": "COVERAGE",
            "orgUnit": "SH",
            "period": "2020",
            "value": 86,
            "atRiskMargin": 1,
            "benchmark": 80,
            "benchmarkLabel": "国家标准",
        },
    )


def set_the_next_city_targets(client: TestClient, headers: dict[str, str]) -> Response:
    """87% and 88% for SH in 2021 and 2022, posted as a list."""
    return client.post(
        "/api/targets",
        headers=headers,
        json=[
            {"indicator": "COVERAGE", "orgUnit": "SH", "period": p, "value": v}
            for p, v in (("2021", 87), ("2022", 88))
        ],
    )


def set_a_district_trajectory(client: TestClient, headers: dict[str, str]) -> Response:
    """D1 from 88% in 2020 to 92% in 2022."""
    return client.post(
        "/api/targets/trajectory",
        headers=headers,
        json={
            "indicator": "COVERAGE",
            "orgUnit": "D1",
            "startPeriod": "2020",
            "endPeriod": "2022",
            "startValue": 88,
            "endValue": 92,
        },
    )


def test_a_target_is_set_and_formatted(client: TestClient, staff: dict[str, str]) -> None:
    one = set_the_city_target(client, staff)
    assert one.status_code == 200, one.text
    saved = one.json()["targets"][0]
    assert saved["formatted"] == "86.0%" and saved["setBy"] == "staff" and saved["cascadedFrom"] is None


def test_a_list_of_targets_is_set(client: TestClient, staff: dict[str, str]) -> None:
    many = set_the_next_city_targets(client, staff)
    assert [t["period"] for t in many.json()["targets"]] == ["2021", "2022"]


def test_a_trajectory_sets_a_target_each_year(client: TestClient, staff: dict[str, str]) -> None:
    line = set_a_district_trajectory(client, staff)
    assert [t["value"] for t in line.json()["targets"]] == [88, 90, 92]


def test_a_cascade_keeps_a_childs_own_target(client: TestClient, staff: dict[str, str]) -> None:
    set_the_city_target(client, staff)
    set_a_district_trajectory(client, staff)
    cascaded = client.post(
        "/api/targets/cascade",
        headers=staff,
        json={"indicator": "COVERAGE", "orgUnit": "SH", "period": "2020"},
    )
    assert cascaded.json()["kept"] == ["D1"] and cascaded.json()["basisPeriod"] is None
    assert [(t["orgUnit"], t["cascadedFrom"]) for t in cascaded.json()["targets"]] == [("D2", "SH")]


@pytest.fixture
def three_years(client: TestClient, staff: dict[str, str]) -> dict[str, str]:
    """SH has targets for 2020, 2021 and 2022."""
    set_the_city_target(client, staff)
    set_the_next_city_targets(client, staff)
    return staff


def test_targets_are_listed_by_period(client: TestClient, three_years: dict[str, str]) -> None:
    listed = client.get("/api/targets", headers=three_years, params={"indicator": "COVERAGE", "ou": "SH"})
    assert [t["period"] for t in listed.json()["targets"]] == ["2020", "2021", "2022"]


def test_a_target_is_deleted(client: TestClient, three_years: dict[str, str]) -> None:
    params = {"indicator": "COVERAGE", "ou": "SH", "pe": "2021"}
    gone = client.delete("/api/targets", headers=three_years, params=params)
    assert gone.status_code == 200 and gone.json()["deleted"]["period"] == "2021"
    again = client.get("/api/targets", headers=three_years, params=params)
    assert again.json() == {"targets": []}


def test_a_list_of_targets_is_all_or_nothing(client: TestClient, conn: Connection) -> None:
    coverage_setup(conn)
    headers = token_for(conn, make_user(conn, "admin"))
    bad = client.post(
        "/api/targets",
        headers=headers,
        json=[
            {"indicator": "COVERAGE", "orgUnit": "SH", "period": "2020", "value": 86},
            {"indicator": "COVERAGE", "orgUnit": "SH", "period": "2020-13", "value": 86},
        ],
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["problems"][0]["field"] == "pe"
    listed = client.get("/api/targets", headers=headers, params={"indicator": "COVERAGE", "ou": "SH"})
    assert listed.json() == {"targets": []}
    junk = client.post(
        "/api/targets",
        headers=headers,
        json={"indicator": "COVERAGE", "orgUnit": "SH", "period": "2020", "value": 1, "colour": "red"},
    )
    assert junk.status_code == 422


def test_a_district_user_sees_and_sets_only_their_district(client: TestClient, conn: Connection) -> None:
    coverage_setup(conn)
    targets.set_target(
        conn,
        principal=SYSTEM,
        indicator="COVERAGE",
        unit="D2",
        period="2020",
        value=99,
        note="mark-d2-target",
    )
    headers = token_for(conn, make_user(conn, "d1", role="district_staff", capture=["D1"]))
    for unit in ("D2", "S2", "SH"):
        read = client.get(
            "/api/indicatorValues",
            headers=headers,
            params={"indicator": "COVERAGE", "ou": unit, "pe": "2020"},
        )
        assert read.status_code == 404 and "mark-d2-target" not in read.text
        listed = client.get("/api/targets", headers=headers, params={"indicator": "COVERAGE", "ou": unit})
        assert listed.status_code == 404
        refused = client.post(
            "/api/targets",
            headers=headers,
            json={"indicator": "COVERAGE", "orgUnit": unit, "period": "2020", "value": 1},
        )
        assert refused.status_code == 404
        assert (
            client.delete(
                "/api/targets", headers=headers, params={"indicator": "COVERAGE", "ou": unit, "pe": "2020"}
            ).status_code
            == 404
        )
    mine = client.get("/api/indicatorValues", headers=headers)  # default: their district
    assert [r["orgUnit"] for r in mine.json()["rows"]] == ["D1", "D1"]
    assert queries.targets_of(conn, principal=SYSTEM, indicator="COVERAGE", unit="D2")[0].value == 99



def test_every_indicator_at_a_unit_is_read_with_its_target_in_as_many_statements_whatever_their_number(
    client: TestClient, conn: Connection
) -> None:
    """The targets of all the indicators asked are read in one query, not one per indicator."""
    coverage_setup(conn)
    headers = token_for(conn, make_user(conn, "admin"))
    codes = ("COVERAGE", "COVERAGE_2", "COVERAGE_3")
    counts = []
    for n, code in enumerate(codes, start=1):
        if code != "COVERAGE":
            metadata.save_indicator(conn, principal=SYSTEM, code=code, name_zh=f"覆盖率{n}",
                                    name_en=f"Coverage {n}", numerator="#{INCLUSIVE}",
                                    denominator="#{CHILDREN}", display="percent")
        targets.set_target(conn, principal=SYSTEM, indicator=code, unit="SH", period="2020", value=86)
        client.get("/api/indicatorValues", params={"ou": "SH", "pe": "2020"}, headers=headers)  # warm
        with counting(conn) as count:
            answer = client.get("/api/indicatorValues", params={"ou": "SH", "pe": "2020"}, headers=headers)
        rows = {r["indicator"]: r for r in answer.json()["rows"]}
        assert [(rows[c]["target"]["value"], rows[c]["status"]) for c in codes[:n]] == [(86, "met")] * n
        counts.append(count.statements)
    assert counts[0] == counts[1] == counts[2], counts
