"""The indicator value and target routes through the API, on both databases."""

from __future__ import annotations

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.targets import service as targets
from tests.factories import make_user, token_for
from tests.indicators.targets.test_service import coverage_setup


def test_indicator_values_have_the_documented_shape(client, conn) -> None:  # type: ignore[no-untyped-def]
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


def test_targets_are_set_listed_cascaded_and_deleted(client, conn) -> None:  # type: ignore[no-untyped-def]
    coverage_setup(conn)
    headers = token_for(conn, make_user(conn, "staff", role="commission_staff", capture=["SH"]))
    one = client.post(
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
    assert one.status_code == 200, one.text
    saved = one.json()["targets"][0]
    assert saved["formatted"] == "86.0%" and saved["setBy"] == "staff" and saved["cascadedFrom"] is None
    many = client.post(
        "/api/targets",
        headers=headers,
        json=[
            {"indicator": "COVERAGE", "orgUnit": "SH", "period": p, "value": v}
            for p, v in (("2021", 87), ("2022", 88))
        ],
    )
    assert [t["period"] for t in many.json()["targets"]] == ["2021", "2022"]
    line = client.post(
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
    assert [t["value"] for t in line.json()["targets"]] == [88, 90, 92]
    cascaded = client.post(
        "/api/targets/cascade",
        headers=headers,
        json={"indicator": "COVERAGE", "orgUnit": "SH", "period": "2020"},
    )
    assert cascaded.json()["kept"] == ["D1"] and cascaded.json()["basisPeriod"] is None
    assert [(t["orgUnit"], t["cascadedFrom"]) for t in cascaded.json()["targets"]] == [("D2", "SH")]
    listed = client.get("/api/targets", headers=headers, params={"indicator": "COVERAGE", "ou": "SH"})
    assert [t["period"] for t in listed.json()["targets"]] == ["2020", "2021", "2022"]
    gone = client.delete(
        "/api/targets", headers=headers, params={"indicator": "COVERAGE", "ou": "SH", "pe": "2021"}
    )
    assert gone.status_code == 200 and gone.json()["deleted"]["period"] == "2021"
    again = client.get(
        "/api/targets", headers=headers, params={"indicator": "COVERAGE", "ou": "SH", "pe": "2021"}
    )
    assert again.json() == {"targets": []}


def test_a_list_of_targets_is_all_or_nothing(client, conn) -> None:  # type: ignore[no-untyped-def]
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


def test_a_district_user_sees_and_sets_only_their_district(client, conn) -> None:  # type: ignore[no-untyped-def]
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
    assert targets.targets_of(conn, principal=SYSTEM, indicator="COVERAGE", unit="D2")[0].value == 99
