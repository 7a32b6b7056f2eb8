"""Who sees and reports on which key task, through the API on both databases: a district sees only the
tasks its units lead or support, a unit reporter reports only on what its unit leads, and only the
commission deploys, reviews and overrides."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select

from jiaowei.plans.tasks.store import plan_items, plan_reports
from tests.factories import make_user, mentions, token_for
from tests.plans.tasks_fixtures import PDF, Plan, build_plan, post_values

MID_YEAR = "2020-07-10"


@dataclass
class World:
    """The plan of ``tasks_fixtures`` with its 2020 values; users are made when a test first names them."""

    client: TestClient
    conn: Connection
    plan: Plan

    def user(self, name: str, role: str, unit: str) -> dict[str, str]:
        return token_for(self.conn, make_user(self.conn, name, role=role, capture=[unit]))

    @cached_property
    def staff(self) -> dict[str, str]:
        return token_for(self.conn, self.plan.staff)

    @cached_property
    def d1(self) -> dict[str, str]:  # district staff of D1 (leads task 1, contains S1)
        return self.user("d1staff", "district_staff", "D1")

    @cached_property
    def s1(self) -> dict[str, str]:  # unit reporter of S1 (supports task 1, leads sub-task (1))
        return self.user("s1rep", "unit_reporter", "S1")

    @cached_property
    def d2(self) -> dict[str, str]:  # unit reporter of D2 (leads task 2)
        return self.user("d2rep", "unit_reporter", "D2")

    def report(self, who: dict[str, str], task: str, files: bool = False) -> Any:
        return self.client.post(
            f"/api/plans/tasks/{task}/reports",
            headers=who,
            params={"as_of": MID_YEAR},
            data={"stage": "advance", "percent": "50", "narrative": "进展"},
            files=[("evidence", ("a.pdf", PDF))] if files else None,
        )


@pytest.fixture
def world(client: TestClient, conn: Connection) -> World:
    plan = build_plan(conn)
    post_values(client, conn)
    return World(client, conn, plan)


def numbers(world: World, who: dict[str, str]) -> list[str]:
    board = world.client.get("/api/plans/years/2020", headers=who, params={"as_of": MID_YEAR}).json()

    def walk(items: list[dict[str, Any]]) -> list[str]:
        return [
            n for i in items for n in ([i["number"]] if i["kind"] != "section" else []) + walk(i["children"])
        ]

    return walk(board["sections"])


def reports(conn: Connection) -> int:
    return int(conn.scalar(select(func.count()).select_from(plan_reports)) or 0)


def test_a_district_sees_only_the_tasks_its_units_lead_or_support(world):
    assert numbers(world, world.staff) == ["1", "(1)", "2"]
    assert numbers(world, world.d1) == ["1", "(1)"]
    assert numbers(world, world.d2) == ["2"]
    assert numbers(world, world.s1) == ["1", "(1)"]  # supports task 1, leads (1)
    board = world.client.get("/api/plans/years/2020", headers=world.d1, params={"as_of": MID_YEAR}).json()
    assert [s["number"] for s in board["sections"]] == ["一"]  # a section with nothing visible is left out
    assert [t["key"] for t in board["by_unit"]] == ["D1", "S1"]
    assert not mentions(board, "D2")


def test_another_districts_task_is_not_found_for_reading_or_reporting(world, conn):
    assert world.client.get(f"/api/plans/tasks/{world.plan.task2}", headers=world.d1).status_code == 404
    assert world.report(world.d1, world.plan.task2, files=True).status_code == 404
    assert world.client.get(f"/api/plans/tasks/{world.plan.task1}", headers=world.d2).status_code == 404
    assert world.report(world.d2, world.plan.task1).status_code == 404
    assert reports(conn) == 0
    found = world.client.get("/api/plans/reminders", headers=world.d1, params={"as_of": "2020-03-25"}).json()
    assert {r["number"] for r in found["reminders"]} == {"1", "(1)"}
    assert (
        world.client.get("/api/plans/my", headers=world.d2, params={"as_of": MID_YEAR}).json()["tasks"][0][
            "uid"
        ]
        == world.plan.task2
    )


def test_a_unit_reporter_reports_only_on_tasks_its_unit_leads(world, conn):
    refused = world.report(world.s1, world.plan.task1, files=True)  # S1 only supports task 1
    assert refused.status_code == 403, refused.text
    assert reports(conn) == 0
    assert world.report(world.s1, world.plan.sub1).status_code == 201
    assert world.report(world.d2, world.plan.task2).status_code == 201
    assert world.report(world.d1, world.plan.sub1).status_code == 201  # S1 lies within D1
    assert reports(conn) == 3


def test_a_supporting_unit_sees_the_task_but_not_figures_of_units_outside_its_scope(world):
    task = world.client.get(
        f"/api/plans/tasks/{world.plan.task1}", headers=world.s1, params={"as_of": "2020-02-01"}
    ).json()
    [link] = task["links"]
    assert (link["hidden"], link["value"], link["formatted"], link["series"]) == (True, None, "–", [])
    assert task["status"] == "at_risk"  # the status is the same for every reader
    assert (task["may_report"], task["may_manage"]) == (False, False)
    assert (
        world.client.get(f"/api/plans/tasks/{world.plan.task1}", headers=world.d1).json()["may_report"]
        is True
    )


def test_only_the_commission_deploys_reviews_and_overrides(world, conn):
    items = conn.scalar(select(func.count()).select_from(plan_items))
    body = {"parent": world.plan.education, "kind": "task", "title_zh": "区里自建", "lead_unit": "D1"}
    assert world.client.post("/api/plans/years/2020/items", headers=world.d1, json=body).status_code == 403
    assert (
        world.client.post(
            "/api/plans/years", headers=world.d1, json={"year": 2022, "title_zh": "x"}
        ).status_code
        == 403
    )
    assert conn.scalar(select(func.count()).select_from(plan_items)) == items
    made = world.report(world.d1, world.plan.task1).json()["report"]
    for who in (world.d1, world.s1):
        assert (
            world.client.post(
                f"/api/plans/reports/{made}/review", headers=who, json={"decision": "accept"}
            ).status_code
            == 403
        )
        assert (
            world.client.put(
                f"/api/plans/tasks/{world.plan.task1}/status",
                headers=who,
                json={"status": "done", "reason": "x"},
            ).status_code
            == 403
        )
    assert (
        world.client.post(
            f"/api/plans/reports/{made}/review", headers=world.staff, json={"decision": "accept"}
        ).status_code
        == 200
    )
