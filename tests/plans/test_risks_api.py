"""The risk register through its JSON API on both databases: registering, the 5×5 matrix and its
filters, reviews with their history and evidence, the reviews due on a day, closing, linked
indicators with their latest values, refused input, and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from jiaowei.audit.store import audit_log
from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import service as values
from tests.factories import indicator_metadata, make_user, small_tree, token_for

API = "/api/plans/risks"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@dataclass
class World:
    conn: Connection
    client: TestClient
    staff: dict[str, str]
    rep1: dict[str, str]

    def create(self, who: dict[str, str] | None = None, as_of: str = "2020-01-15", **fields: Any) -> Any:
        body = {
            "category": "campus_safety",
            "title": "校园踩踏",
            "orgUnit": "S1",
            "likelihood": 2,
            "impact": 4,
            "cadence": "quarterly",
            "owner": "王校长",
            "mitigation": "错峰放学",
            **fields,
        }
        return self.client.post(API, headers=who or self.staff, json=body, params={"as_of": as_of})

    def get(self, url: str = "", who: dict[str, str] | None = None, **params: Any) -> Any:
        return self.client.get(f"{API}{url}", headers=who or self.staff, params=params)


@pytest.fixture
def world(client: TestClient, conn: Connection) -> World:
    small_tree(conn)
    return World(
        conn,
        client,
        token_for(conn, make_user(conn, "staff", role="commission_staff", capture=["SH"])),
        token_for(conn, make_user(conn, "rep1", role="unit_reporter", capture=["S1"])),
    )


def audit_actions(conn: Connection, key: str) -> list[str]:
    rows = conn.execute(
        select(audit_log.c.action).where(audit_log.c.entity_key == key).order_by(audit_log.c.seq)
    )
    return [r.action for r in rows]


def test_a_registered_risk_has_its_score_level_and_first_review(world: World) -> None:
    created = world.create()
    assert created.status_code == 201, created.text
    risk = created.json()
    assert (risk["score"], risk["level"], risk["state"]) == (8, "medium", "open")
    assert (risk["openedOn"], risk["nextReview"], risk["lastReview"]) == ("2020-01-15", "2020-04-15", None)
    assert risk["orgUnit"] == "S1" and risk["owner"] == "王校长" and risk["reviews"] == []
    assert audit_actions(world.conn, risk["id"]) == ["plans.risks.create"]
    assert world.get(f"/{risk['id']}").json()["title"] == "校园踩踏"


def test_the_matrix_counts_open_risks_per_cell_and_a_cell_lists_its_risks(world: World) -> None:
    for likelihood, impact in ((2, 4), (2, 4), (5, 5), (1, 1)):
        assert (
            world.create(likelihood=likelihood, impact=impact, title=f"r{likelihood}{impact}").status_code
            == 201
        )
    closed = world.create(likelihood=3, impact=3).json()["id"]
    assert (
        world.client.post(f"{API}/{closed}/close", headers=world.staff, json={"note": "化解"}).status_code
        == 200
    )
    found = world.get(as_of="2020-02-01").json()
    matrix = found["matrix"]
    assert matrix[1][3] == 2 and matrix[4][4] == 1 and matrix[0][0] == 1 and matrix[2][2] == 0
    assert sum(map(sum, matrix)) == 4
    assert [r["score"] for r in found["risks"]] == [25, 8, 8, 1]  # highest score first
    assert found["byLevel"] == {"very_high": 1, "medium": 2, "low": 1}
    cell = world.get(likelihood=2, impact=4).json()
    assert [r["title"] for r in cell["risks"]] == ["r24", "r24"] and cell["matrix"] == matrix
    assert [r["id"] for r in world.get(state="closed").json()["risks"]] == [closed]
    assert len(world.get(state="all").json()["risks"]) == 5
    assert [r["level"] for r in world.get(level="very_high").json()["risks"]] == ["very_high"]


def test_filters_by_category_and_unit_take_the_units_below(world: World) -> None:
    world.create(orgUnit="S1", category="finance")
    world.create(orgUnit="D1", category="ideology")
    world.create(orgUnit="S2", category="finance")
    assert sorted(r["orgUnit"] for r in world.get(ou="D1").json()["risks"]) == ["D1", "S1"]
    assert sorted(r["orgUnit"] for r in world.get(category="finance").json()["risks"]) == ["S1", "S2"]
    assert world.get(ou="S2", category="ideology").json()["risks"] == []
    assert world.get(ou="NOPE").status_code == 404
    assert world.get(category="weather").status_code == 422


def test_a_review_rerates_the_risk_and_keeps_its_history_with_evidence(world: World) -> None:
    uid = world.create().json()["id"]
    sent = world.client.post(
        f"{API}/{uid}/reviews",
        headers=world.rep1,
        params={"as_of": "2020-04-10"},
        data={"likelihood": "4", "impact": "5", "note": "演练暴露出口不足"},
        files=[("evidence", ("drill.png", PNG, "image/png"))],
    )
    assert sent.status_code == 201, sent.text
    review, risk = sent.json()["review"], sent.json()["risk"]
    assert (review["previousScore"], review["score"], review["level"]) == (8, 20, "very_high")
    assert [e["filename"] for e in review["evidence"]] == ["drill.png"]
    assert (risk["likelihood"], risk["impact"], risk["lastReview"], risk["nextReview"]) == (
        4,
        5,
        "2020-04-10",
        "2020-07-10",
    )
    second = world.client.post(
        f"{API}/{uid}/reviews",
        headers=world.staff,
        params={"as_of": "2020-07-01"},
        json={"likelihood": 3, "impact": 5, "note": "已增设出口"},
    )
    assert second.status_code == 201, second.text
    history = world.get(f"/{uid}").json()["reviews"]
    assert [(r["reviewedOn"], r["score"], r["reviewedBy"]) for r in history] == [
        ("2020-07-01", 15, "staff"),
        ("2020-04-10", 20, "rep1"),
    ]
    assert audit_actions(world.conn, review["id"]) == ["plans.risks.review"]
    download = world.client.get(review["evidence"][0]["url"], headers=world.staff)
    assert download.status_code == 200 and download.content == PNG


def test_reviews_due_follow_the_cadence_and_the_day_asked_about(world: World) -> None:
    monthly = world.create(title="舆情", cadence="monthly", as_of="2020-01-31").json()["id"]
    yearly = world.create(title="财务", cadence="yearly", as_of="2020-01-15").json()["id"]
    assert world.get(f"/{monthly}").json()["nextReview"] == "2020-02-29"  # the month's last day
    assert world.get(as_of="2020-02-01").json()["due"] == []
    due = world.get(as_of="2020-02-20").json()["due"]
    assert [(r["id"], r["due"]) for r in due] == [(monthly, "soon")]
    assert [r["due"] for r in world.get(as_of="2020-02-29").json()["due"]] == ["today"]
    late = world.get(as_of="2021-01-10").json()["due"]
    assert [(r["id"], r["due"]) for r in late] == [(monthly, "overdue"), (yearly, "soon")]
    only_due = world.get(as_of="2020-03-10", due="true").json()["risks"]
    assert [r["id"] for r in only_due] == [monthly]


def test_closing_and_reopening_a_risk(world: World) -> None:
    uid = world.create().json()["id"]
    closed = world.client.post(
        f"{API}/{uid}/close", headers=world.staff, json={"note": "已化解"}, params={"as_of": "2020-05-01"}
    )
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert closed.json()["closedOn"] == "2020-05-01" and closed.json()["nextReview"] is None
    assert world.client.post(f"{API}/{uid}/close", headers=world.staff, json={}).status_code == 409
    review = world.client.post(
        f"{API}/{uid}/reviews", headers=world.staff, json={"likelihood": 1, "impact": 1, "note": "x"}
    )
    assert review.status_code == 409
    reopened = world.client.post(f"{API}/{uid}/reopen", headers=world.staff)
    assert reopened.status_code == 200 and reopened.json()["state"] == "open"
    assert world.client.post(f"{API}/{uid}/reopen", headers=world.staff).status_code == 409
    assert audit_actions(world.conn, uid) == ["plans.risks.create", "plans.risks.close", "plans.risks.reopen"]


def test_changing_a_risk_audits_what_changed(world: World) -> None:
    uid = world.create().json()["id"]
    changed = world.client.patch(
        f"{API}/{uid}", headers=world.staff, json={"impact": 5, "cadence": "monthly", "orgUnit": "S2"}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["score"], changed.json()["orgUnit"], changed.json()["cadence"]) == (
        10,
        "S2",
        "monthly",
    )
    row = world.conn.execute(
        select(audit_log).where(audit_log.c.entity_key == uid, audit_log.c.action == "plans.risks.update")
    ).one()
    assert '"unit":"S2"' in row.after and '"impact":5' in row.after and "title" not in row.after
    assert world.client.patch(f"{API}/{uid}", headers=world.staff, json={"title": None}).status_code == 422


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"likelihood": 6}, "likelihood"),
        ({"impact": 0}, "impact"),
        ({"category": "weather"}, "category"),
        ({"cadence": "daily"}, "cadence"),
        ({"orgUnit": "NOPE"}, "unit"),
        ({"indicators": ["NOPE"]}, "indicators"),
        ({"title": "a\x00b"}, "title"),
        ({"title": " "}, "title"),
    ],
)
def test_invalid_risks_are_refused_with_the_field_at_fault(
    world: World, fields: dict[str, Any], field: str
) -> None:
    response = world.create(**fields)
    assert response.status_code == 422, response.text
    assert field in {p.get("field") for p in response.json()["problems"]}
    assert world.get(state="all").json()["risks"] == []


def test_linked_indicators_show_their_latest_value_at_the_risks_unit(world: World) -> None:
    indicator_metadata(world.conn)
    rows = [
        ValueRow(data_element=e, period=p, org_unit="S1", value=v, row=i, category_option_combo=c)
        for i, (e, p, v, c) in enumerate(
            (
                ("PUPILS", "2019", "300", "M"),
                ("TEACHERS", "2019", "20", None),
                ("PUPILS", "2020", "400", "M"),
                ("TEACHERS", "2020", "25", None),
            ),
            1,
        )
    ]
    values.import_values(world.conn, principal=SYSTEM, rows=rows, source="test")
    uid = world.create(indicators=["PTR"]).json()["id"]
    linked = world.get(f"/{uid}", as_of="2021-03-01").json()["indicators"]
    assert [(i["indicator"], i["period"], i["value"]) for i in linked] == [("PTR", "2020", 16.0)]
