"""Campus daily health: the completeness rule that reads what was reported, a daily form due the
same day, and the daily dashboard (``GET /api/dailyHealth``, ``/data/daily``), on both databases."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei import clock
from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.approval import completeness
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import service as values
from tests.factories import indicator_setup, login, make_unit, make_user, mentions, token_for

API = "/api/dailyHealth"
ELEMENTS = [
    ("ABSENT_ILL", "因病缺课学生数", "Pupils absent through illness"),
    ("FEVER", "发热学生数", "Pupils with fever"),
    ("CASES", "确诊或疑似病例数", "Confirmed or suspected cases"),
]


def daily_metadata(conn: Connection, unit_types: tuple[str, ...] = ("primary_school",)) -> None:
    """A daily data set ``DAILY_H`` (due the same day) of three counts, and the rule ``CASES <= 0``."""
    for code, zh, en in ELEMENTS:
        metadata.save_data_element(
            conn,
            principal=SYSTEM,
            code=code,
            name_zh=zh,
            name_en=en,
            value_type="INTEGER",
            zero_is_significant=True,
        )
    metadata.save_data_set(
        conn,
        principal=SYSTEM,
        code="DAILY_H",
        name_zh="校园每日健康",
        name_en="Daily health",
        period_type="Daily",
        elements=[e for e, _, _ in ELEMENTS],
        unit_types=list(unit_types),
        due_days=0,
    )
    metadata.save_validation_rule(
        conn,
        principal=SYSTEM,
        code="RULE_CASES",
        name_zh="病例数应为零",
        name_en="No cases",
        left="#{CASES}",
        operator="less_than_or_equal_to",
        right="0",
        period_type="Daily",
        left_missing="SKIP_IF_ALL_VALUES_MISSING",
    )


def report(conn: Connection, unit: str, day: str, absent: int = 3, fever: int = 1, cases: int = 0) -> None:
    counts = {"ABSENT_ILL": absent, "FEVER": fever, "CASES": cases}
    rows = [ValueRow(data_element=e, period=day, org_unit=unit, value=str(v)) for e, v in counts.items()]
    assert not values.import_values(conn, principal=SYSTEM, rows=rows, source="test").conflicts


def noon(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=dt.UTC)


@pytest.fixture
def daily(conn: Connection) -> Connection:
    """SH → D1 (S1, S3), D2 (S2); S4 (D2) opens in 2021. On 1 December S1 and S2 report, S3 does
    not; on 2 December all three do."""
    indicator_setup(conn)
    make_unit(conn, "S3", parent="D1")
    make_unit(conn, "S4", parent="D2", opened=dt.date(2021, 3, 1))
    daily_metadata(conn)
    for unit, day in (
        ("S1", "20201201"),
        ("S2", "20201201"),
        ("S1", "20201202"),
        ("S2", "20201202"),
        ("S3", "20201202"),
    ):
        report(conn, unit, day, absent=int(day[-1]) + 2)
    return conn


def health(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = client.get(API, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def rate(found: dict[str, Any]) -> tuple[Any, ...]:
    today = found["today"]
    return today["expected"], today["received"], today["received_percent"]


# ---------------------------------------------------------------- completeness reads what was reported


def test_values_count_as_received_and_a_registration_decides_timeliness(
    client: TestClient, conn: Connection
) -> None:
    indicator_setup(conn)
    make_unit(conn, "S3", parent="D1")
    cells = [ValueRow(data_element="TEACHERS", period="2020", org_unit=u, value="9") for u in ("S1", "S2")]
    values.import_values(conn, principal=SYSTEM, rows=cells, source="test")
    completeness.complete(
        conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S2", at=noon("2021-01-05")
    )  # on time, though its values came in later
    headers = token_for(conn, make_user(conn))
    found = client.get(
        "/api/completeness", params={"ds": "SCHOOL_Y", "pe": "2020", "ou": "SH"}, headers=headers
    )
    rows = {r["unit"]: (r["expected"], r["received"], r["on_time"]) for r in found.json()["rows"]}
    # S1: values only, imported now, long after the due day (2021-01-15): received, late. S3: nothing.
    assert rows == {"SH": (3, 2, 1), "D1": (2, 1, 0), "D2": (1, 1, 1)}


def test_a_daily_form_is_due_the_same_day(client: TestClient, daily: Connection) -> None:
    completeness.complete(
        daily, principal=SYSTEM, data_set="DAILY_H", period="20201201", unit="S1", at=noon("2020-12-01")
    )
    completeness.complete(
        daily, principal=SYSTEM, data_set="DAILY_H", period="20201202", unit="S1", at=noon("2020-12-03")
    )
    tomorrow = clock.today() + dt.timedelta(days=1)
    report(daily, "S3", tomorrow.strftime("%Y%m%d"))  # imported now: before the end of its day
    headers = token_for(daily, make_user(daily))
    rows = {}
    for day in ("20201201", "20201202", tomorrow.strftime("%Y%m%d")):
        got = client.get(
            "/api/completeness", params={"ds": "DAILY_H", "pe": day, "ou": "D1"}, headers=headers
        )
        (row,) = [r for r in got.json()["rows"] if r["unit"] == "D1"]
        rows[day[-2:] if day.startswith("2020") else "tomorrow"] = (
            row["due"],
            row["received"],
            row["on_time"],
        )
    assert rows == {
        "01": ("2020-12-01", 1, 1),  # S1 registered at noon that day; S3 never reported
        "02": ("2020-12-02", 2, 0),  # S1 registered the day after; S3's values came later
        "tomorrow": (tomorrow.isoformat(), 1, 1),
    }
    registration = client.get(
        "/api/completeDataSetRegistrations",
        headers=headers,
        params={"ds": "DAILY_H", "pe": "20201201", "ou": "S1"},
    ).json()
    assert [(r["due"], r["onTime"]) for r in registration["completeDataSetRegistrations"]] == [
        ("2020-12-01", True)
    ]


# ---------------------------------------------------------------- the dashboard


def test_the_dashboard_defaults_to_the_latest_day_with_reports_and_the_users_unit(
    client: TestClient, daily: Connection
) -> None:
    found = health(client, token_for(daily, make_user(daily)))
    assert (found["data_set"]["code"], found["unit"]["code"], found["day"], found["due"]) == (
        "DAILY_H",
        "SH",
        "2020-12-02",
        "2020-12-02",
    )
    assert rate(found) == (3, 3, 100.0) and found["not_reported"] == [] and found["alerts"] == []
    assert {t["element"]: t["value"] for t in found["totals"]} == {
        "ABSENT_ILL": 12.0,
        "FEVER": 3.0,
        "CASES": 0.0,
    }
    assert [(d["day"], d["expected"], d["received"], d["received_percent"]) for d in found["trend"]] == [
        ("2020-12-01", 3, 2, 66.7),
        ("2020-12-02", 3, 3, 100.0),
    ]


def test_the_dashboard_lists_the_units_not_reported_with_their_forms(
    client: TestClient, daily: Connection
) -> None:
    headers = token_for(daily, make_user(daily))
    for day in ("2020-12-01", "20201201"):
        found = health(client, headers, ds="DAILY_H", day=day, ou="SH")
        assert found["day"] == "2020-12-01" and rate(found) == (3, 2, 66.7)
        assert [(m["unit"], m["parent"], m["entry"]) for m in found["not_reported"]] == [
            ("S3", "D1", "/data/entry?ds=DAILY_H&pe=20201201&ou=S3")
        ]
        assert [d["day"] for d in found["trend"]] == ["2020-12-01"]


def test_a_count_above_zero_saved_through_the_api_is_an_alert(client: TestClient, daily: Connection) -> None:
    headers = token_for(daily, make_user(daily, role="district_staff", capture=["D1"]))
    saved = client.post(
        "/api/dataValues",
        headers=headers,
        json={"dataElement": "CASES", "period": "20201202", "orgUnit": "S1", "value": "2"},
    )
    assert saved.status_code == 200, saved.text
    found = health(client, headers, day="2020-12-02")
    assert found["unit"]["code"] == "D1"
    (alert,) = found["alerts"]
    assert (alert["unit"], alert["rule"], alert["entry"]) == (
        "S1",
        "RULE_CASES",
        "/data/entry?ds=DAILY_H&pe=20201202&ou=S1",
    )
    assert [(v["element"], v["value"]) for v in alert["values"]] == [("CASES", 2.0)]
    assert "2 > 0" in alert["message_en"] and "确诊或疑似病例数" in alert["message_zh"]
    assert {t["element"]: t["value"] for t in found["totals"]}["CASES"] == 2.0
    assert health(client, headers, day="2020-12-01")["alerts"] == []


def test_a_district_sees_only_its_district_and_a_school_only_itself(
    client: TestClient, daily: Connection
) -> None:
    district = token_for(daily, make_user(daily, role="district_staff", capture=["D1"]))
    found = health(client, district, day="2020-12-01")
    assert found["unit"]["code"] == "D1" and rate(found) == (2, 1, 50.0)
    assert [m["unit"] for m in found["not_reported"]] == ["S3"]
    assert not mentions(found, "S2") and not mentions(found, "D2")
    for outside in ("D2", "S2", "SH"):
        refused = client.get(API, params={"ou": outside}, headers=district)
        assert refused.status_code == 404 and refused.headers["content-type"].startswith(
            "application/problem+json"
        )
    school = token_for(daily, make_user(daily, role="unit_reporter", capture=["S3"]))
    own = health(client, school, day="2020-12-01")
    assert own["unit"]["code"] == "S3" and rate(own) == (1, 0, 0.0)
    assert [d["received_percent"] for d in health(client, school)["trend"]] == [0.0, 100.0]
    assert client.get(API, params={"ou": "S1"}, headers=school).status_code == 404


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"ds": "SCHOOL_Y"}, 422, "ds"),
        ({"ds": "NOPE"}, 404, "ds"),
        ({"day": "2020-13-45"}, 422, "day"),
        ({"day": "yesterday"}, 422, "day"),
        ({"ou": "NOPE"}, 404, "ou"),
        ({"ou": "S4", "day": "2020-12-01"}, 422, "ou"),  # not open until 2021
    ],
)
def test_a_bad_parameter_is_named_in_a_problem(
    client: TestClient, daily: Connection, params: dict[str, str], status: int, field: str
) -> None:
    response = client.get(API, params=params, headers=token_for(daily, make_user(daily)))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [p["field"] for p in response.json()["problems"]] == [field]


def test_without_a_daily_data_set_the_problem_names_ds(client: TestClient, conn: Connection) -> None:
    indicator_setup(conn)
    response = client.get(API, headers=token_for(conn, make_user(conn)))
    assert response.status_code == 404 and response.json()["problems"][0]["field"] == "ds"


# ---------------------------------------------------------------- the page


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_page_shows_the_rate_the_schools_missing_the_alerts_and_the_chart(
    client: TestClient, daily: Connection, lang: str
) -> None:
    report(daily, "S2", "20201201", cases=1)
    make_user(daily, "d1daily", role="district_staff", capture=["D1"])
    make_user(daily, "shdaily", role="commission_staff", capture=["SH"])
    client.headers["accept"] = "text/html"
    login(client, "shdaily")
    page = client.get("/data/daily", params={"day": "2020-12-01", "lang": lang})
    assert page.status_code == 200
    text = page.text
    assert "66.7%" in text and "2 / 3" in text
    assert 'href="/data/entry?ds=DAILY_H&amp;pe=20201201&amp;ou=S3"' in text  # S3 has not reported
    assert 'href="/data/entry?ds=DAILY_H&amp;pe=20201201&amp;ou=S2"' in text  # S2's case is an alert
    assert "data-chart=" not in text  # one reporting day makes no line
    assert ("校园每日健康报告" if lang == "zh_CN" else "Campus daily health") in text
    assert ("未报送" if lang == "zh_CN" else "Not reported") in text
    later = client.get("/data/daily", params={"day": "2020-12-02", "lang": lang}).text
    assert 'id="daily-trend"' in later and "data-chart=" in later and "/static/charts.js" in later
    bad = client.get("/data/daily", params={"ds": "SCHOOL_Y", "lang": lang})
    assert bad.status_code == 200 and "<code>ds</code>" in bad.text


def test_the_page_keeps_to_the_district(client: TestClient, daily: Connection) -> None:
    make_user(daily, "d1daily", role="district_staff", capture=["D1"])
    client.headers["accept"] = "text/html"
    login(client, "d1daily")
    page = client.get("/data/daily", params={"day": "2020-12-01", "lang": "en"}).text
    assert "Unit S3" in page and "Unit S1" not in page.split('id="daily-missing"')[1]
    assert "Unit S2" not in page and "Unit D2" not in page
    refused = client.get("/data/daily", params={"ou": "D2", "lang": "en"}).text
    assert "Unit D2" not in refused and 'id="daily-summary"' not in refused
