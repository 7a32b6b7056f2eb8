"""Who may see, review and change which risks: view scope on the risk's unit (404 outside),
``plans.report`` within the capture scope to review, ``plans.manage`` to register, change and close."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select

from jiaowei.auth.model import SYSTEM
from jiaowei.plans.risks import service
from jiaowei.plans.risks.store import risk_reviews, risks
from tests.factories import make_user, small_tree, token_for

API = "/api/plans/risks"
DAY = dt.date(2020, 3, 1)


@pytest.fixture
def uids(conn: Connection) -> dict[str, str]:
    small_tree(conn)
    return {
        unit: service.create_risk(
            conn,
            principal=SYSTEM,
            category="finance",
            title=f"风险{unit}",
            unit=unit,
            likelihood=3,
            impact=3,
            cadence="monthly",
            today=DAY,
        )
        for unit in ("SH", "D1", "S1", "S2")
    }


def headers(
    conn: Connection, role: str, capture: list[str] | None = None, view: list[str] | None = None
) -> dict[str, str]:
    return token_for(conn, make_user(conn, role=role, capture=capture, view=view))


def test_a_district_user_sees_only_the_risks_of_their_district(
    client: TestClient, conn: Connection, uids: dict[str, str]
) -> None:
    d1 = headers(conn, "district_staff", capture=["D1"])
    listed = client.get(API, headers=d1).json()
    assert sorted(r["orgUnit"] for r in listed["risks"]) == ["D1", "S1"]
    assert sum(map(sum, listed["matrix"])) == 2
    assert {
        r["orgUnit"] for r in client.get(API, headers=d1, params={"as_of": "2020-06-01"}).json()["due"]
    } == {"D1", "S1"}
    for unit in ("SH", "S2"):
        assert client.get(f"{API}/{uids[unit]}", headers=d1).status_code == 404
        assert client.get(f"/plans/risks/{uids[unit]}", headers=d1).status_code == 404
    assert client.get(API, headers=d1, params={"ou": "S2"}).status_code == 404
    assert client.get(f"{API}/{uids['S1']}", headers=d1).status_code == 200


def test_reporters_review_the_risks_of_their_own_units_only(
    client: TestClient, conn: Connection, uids: dict[str, str]
) -> None:
    rep = headers(conn, "unit_reporter", capture=["S1"], view=["D1"])
    body = {"likelihood": 2, "impact": 2, "note": "复核"}
    assert client.post(f"{API}/{uids['S1']}/reviews", headers=rep, json=body).status_code == 201
    assert (
        client.post(f"{API}/{uids['D1']}/reviews", headers=rep, json=body).status_code == 403
    )  # seen, not theirs
    assert client.post(f"{API}/{uids['S2']}/reviews", headers=rep, json=body).status_code == 404
    assert conn.scalar(select(func.count()).select_from(risk_reviews)) == 1
    viewer = headers(conn, "viewer", view=["SH"])
    assert client.post(f"{API}/{uids['S1']}/reviews", headers=viewer, json=body).status_code == 403


def test_only_plans_managers_register_change_and_close_risks(
    client: TestClient, conn: Connection, uids: dict[str, str]
) -> None:
    body = {"category": "finance", "title": "新", "orgUnit": "S1", "likelihood": 1, "impact": 1}
    d1 = headers(conn, "district_staff", capture=["D1"])
    assert client.post(API, headers=d1, json=body).status_code == 403
    assert client.patch(f"{API}/{uids['S1']}", headers=d1, json={"impact": 5}).status_code == 403
    assert client.post(f"{API}/{uids['S1']}/close", headers=d1, json={}).status_code == 403
    staff = headers(conn, "commission_staff", capture=["D1"])  # a commission user limited to D1
    assert client.post(API, headers=staff, json={**body, "orgUnit": "S2"}).status_code == 404
    assert client.post(API, headers=staff, json=body).status_code == 201
    moved = client.patch(f"{API}/{uids['S1']}", headers=staff, json={"orgUnit": "S2"})
    assert moved.status_code == 404
    assert conn.scalar(select(risks.c.impact).where(risks.c.uid == uids["S1"])) == 3
    assert conn.scalar(select(func.count()).select_from(risks)) == 5


def test_the_pages_answer_not_found_outside_the_scope(
    client: TestClient, conn: Connection, uids: dict[str, str]
) -> None:
    d1 = headers(conn, "district_staff", capture=["D1"])
    page = client.get("/plans/risks", headers={**d1, "accept": "text/html"})
    assert (
        page.status_code == 200
        and "风险S1" in page.text
        and "风险S2" not in page.text
        and "风险SH" not in page.text
    )
    assert client.get(f"/plans/risks/{uids['S2']}/edit", headers=d1).status_code == 404
