"""Key tasks through the JSON API on both databases: plans and items, the board, progress reports with
evidence, reviews, overrides, "my tasks" and reminders; errors as problem+json naming field and value,
nothing written by a refused request, every change audited."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select

from jiaowei.audit.diff import ENTITY_LABELS
from jiaowei.audit.store import audit_log
from jiaowei.plans.tasks.store import plan_items, plan_reports
from tests.factories import make_user, token_for
from tests.plans.tasks_fixtures import PDF, Plan, build_plan, post_values


@dataclass
class World:
    """The plan of ``tasks_fixtures`` with its 2020 values; users are made when a test first names them."""

    client: TestClient
    conn: Connection
    plan: Plan

    @cached_property
    def staff(self) -> dict[str, str]:  # commission staff, scope SH
        return token_for(self.conn, self.plan.staff)

    @cached_property
    def d1(self) -> dict[str, str]:  # district staff, D1
        return token_for(self.conn, make_user(self.conn, "d1staff", role="district_staff", capture=["D1"]))

    @cached_property
    def s1(self) -> dict[str, str]:  # unit reporter, S1
        return token_for(self.conn, make_user(self.conn, "s1rep", role="unit_reporter", capture=["S1"]))

    @cached_property
    def viewer(self) -> dict[str, str]:  # viewer of everything
        return token_for(self.conn, make_user(self.conn, "watcher", role="viewer", view=["SH"]))

    def get(self, url: str, who: dict[str, str], **params: Any) -> Any:
        response = self.client.get(url, headers=who, params=params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def world(client: TestClient, conn: Connection) -> World:
    plan = build_plan(conn)
    post_values(client, conn)
    return World(client, conn, plan)


def count(conn: Connection, table: Any) -> int:
    return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def audited(conn: Connection, action: str) -> list[Any]:
    return list(conn.execute(select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.seq)))


def problem(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {p["field"]: p for p in response.json().get("problems", []) if "field" in p}


def report(
    world: World,
    who: dict[str, str],
    task: str,
    *,
    stage: str = "advance",
    percent: int = 40,
    files: list[tuple[str, bytes]] | None = None,
    as_of: str = "2020-07-10",
) -> Any:
    return world.client.post(
        f"/api/plans/tasks/{task}/reports",
        headers=who,
        params={"as_of": as_of},
        data={"stage": stage, "percent": str(percent), "narrative": "已完成选址"},
        files=[("evidence", (name, content)) for name, content in files or []],
    )


# ---------------------------------------------------------------- plans, items, the board


def test_the_board_shows_the_tree_with_status_progress_and_counts(world):
    board = world.get("/api/plans/years/2020", world.viewer, as_of="2020-05-01", lang="en")
    assert [s["number"] for s in board["sections"]] == ["一", "二"]
    task1 = board["sections"][0]["children"][0]
    assert (task1["uid"], task1["lead_unit"]["code"], [u["code"] for u in task1["supporting_units"]]) == (
        world.plan.task1,
        "D1",
        ["S1"],
    )
    assert [c["number"] for c in task1["children"]] == ["(1)"]
    # task 1: no deploy report by 2020-03-31 → late; PTR 23.0 is short of 25 only counts once late has no say
    assert task1["status"] == "late"
    assert [c["code"] for c in task1["causes"]] == ["checkpoint_overdue"]
    assert task1["causes"][0]["message"] == (
        "No accepted or pending report for the Deploy (start of year) checkpoint due on 2020-03-31."
    )
    assert board["by_status"] == {"on_track": 0, "at_risk": 0, "late": 3, "done": 0}
    assert [t["key"] for t in board["by_unit"]] == ["D1", "D2", "S1"]
    assert [t["counts"]["late"] for t in board["by_section"]] == [2, 1]
    assert world.get("/api/plans/years", world.viewer)["years"] == [2020]


def test_cause_messages_come_in_the_callers_language(world):
    board = world.get("/api/plans/years/2020", world.viewer, as_of="2020-05-01", lang="zh_CN")
    cause = board["sections"][0]["children"][0]["causes"][0]
    assert cause["message"] == "年初部署节点（2020-03-31 到期）尚无待审核或已通过的进展报送。"


def test_linked_indicator_value_and_target_come_through_the_analytics_engine(world):
    detail = world.get(f"/api/plans/tasks/{world.plan.task1}", world.viewer, as_of="2020-05-01")
    [link] = detail["links"]
    assert (link["indicator"], link["unit"]["code"], link["period"]) == ("PTR", "D1", "2020")
    assert (link["value"], link["formatted"], link["target"], link["target_source"], link["met"]) == (
        23.0,
        "23.0",
        25.0,
        "task",
        False,
    )
    assert link["series"][-1] == {"period": "2020", "value": 23.0, "formatted": "23.0", "target": 25.0}


def test_a_linked_indicator_without_its_own_target_takes_the_indicators_modules(world, conn):
    from jiaowei.auth.model import SYSTEM
    from jiaowei.indicators.targets import service as targets

    targets.set_target(conn, principal=SYSTEM, indicator="PTR", unit="D2", period="2020", value=8.0)
    body = {
        "parent": world.plan.health,
        "kind": "task",
        "number": "3",
        "title_zh": "生师比",
        "lead_unit": "D2",
        "links": [{"indicator": "PTR"}],
    }
    response = world.client.post(
        "/api/plans/years/2020/items", headers=world.staff, json=body, params={"as_of": "2020-02-01"}
    )
    assert response.status_code == 201, response.text
    task = response.json()
    [link] = task["links"]
    assert (link["unit"]["code"], link["value"], link["target"], link["target_source"], link["met"]) == (
        "D2",
        9.0,
        8.0,
        "indicators",
        True,
    )
    assert (task["status"], [c["code"] for c in task["causes"]]) == ("done", ["targets_met"])


def test_creating_a_plan_and_items_is_audited_and_a_second_plan_for_a_year_conflicts(world, conn):
    response = world.client.post(
        "/api/plans/years", headers=world.staff, json={"year": 2021, "title_zh": "2021年"}
    )
    assert response.status_code == 201 and response.json()["year"] == 2021
    assert (
        problem(
            world.client.post(
                "/api/plans/years", headers=world.staff, json={"year": 2021, "title_zh": "又一个"}
            ),
            409,
        )["year"]["value"]
        == 2021
    )
    assert [r.entity_key for r in audited(conn, "plans.tasks.plan.create")][-1] == response.json()["uid"]
    assert len(audited(conn, "plans.tasks.item.create")) == 5  # the fixture's two sections and three tasks


def test_an_item_with_faults_names_each_field_and_value_and_writes_nothing(world, conn):
    before = count(conn, plan_items), len(audited(conn, "plans.tasks.item.create"))
    body = {
        "parent": world.plan.education,
        "kind": "task",
        "number": "9",
        "title_zh": " ",
        "lead_unit": "NOPE",
        "supporting_units": ["S1", "GHOST"],
        "milestones": [{"title": "", "due": "2020-05-01"}],
        "links": [{"indicator": "NOPE", "period": "20x0", "target": 3}],
    }
    found = problem(world.client.post("/api/plans/years/2020/items", headers=world.staff, json=body))
    assert {f: found[f]["value"] for f in found} == {
        "title_zh": " ",
        "lead_unit": "NOPE",
        "supporting_units[1]": "GHOST",
        "milestones[0].title": "",
        "links[0].indicator": "NOPE",
        "links[0].period": "20x0",
    }
    assert (count(conn, plan_items), len(audited(conn, "plans.tasks.item.create"))) == before


def test_a_task_hangs_under_a_section_and_a_section_at_the_top(world):
    body = {"parent": world.plan.task1, "kind": "task", "title_zh": "错挂", "lead_unit": "D1"}
    found = problem(world.client.post("/api/plans/years/2020/items", headers=world.staff, json=body))
    assert found["parent"]["value"] == world.plan.task1
    assert "section" in found["parent"]["expected"]
    found = problem(
        world.client.post(
            "/api/plans/years/2020/items",
            headers=world.staff,
            json={"kind": "task", "title_zh": "无父", "lead_unit": "D1"},
        )
    )
    assert "parent" in found
    moved = {"parent": None, "kind": "section", "title_zh": "改成板块"}
    found = problem(world.client.put(f"/api/plans/tasks/{world.plan.task1}", headers=world.staff, json=moved))
    assert (found["kind"]["value"], found["kind"]["expected"]) == ("section", "task")  # it has a sub-task


def test_updating_an_item_replaces_its_fields_bumps_its_version_and_is_audited(world, conn):
    body = {
        "parent": world.plan.education,
        "kind": "task",
        "number": "1",
        "title_zh": "建成53个普惠性托育点",
        "lead_unit": "D1",
        "supporting_units": ["S1", "S2"],
        "deadline": "2020-11-30",
        "owner": "李四",
        "milestones": [{"title": "验收", "due": "2020-11-15"}],
        "links": [{"indicator": "PTR", "target": 30}],
        "checkpoints": {"advance": "2020-06-30"},
    }
    response = world.client.put(
        f"/api/plans/tasks/{world.plan.task1}", headers=world.staff, json=body, params={"as_of": "2020-02-01"}
    )
    assert response.status_code == 200, response.text
    task = response.json()
    assert (task["title_zh"], task["owner"], task["deadline"], task["version"]) == (
        "建成53个普惠性托育点",
        "李四",
        "2020-11-30",
        2,
    )
    assert [u["code"] for u in task["supporting_units"]] == ["S1", "S2"]
    assert [c["due"] for c in task["checkpoints"]] == ["2020-03-31", "2020-06-30", "2020-12-15"]
    assert task["links"][0]["target"] == 30.0 and task["links"][0]["met"] is False
    [entry] = audited(conn, "plans.tasks.item.update")
    assert entry.entity_key == world.plan.task1 and '"owner":"张三"' in entry.before.replace(" ", "")
    entities = set(conn.scalars(select(audit_log.c.entity).distinct()))
    assert "plan_items" in entities
    assert [e for e in entities if e not in ENTITY_LABELS] == []  # the audit page names every kind


# ---------------------------------------------------------------- progress reports, reviews, overrides


def test_the_lead_unit_reports_progress_with_evidence(world, conn):
    response = report(world, world.d1, world.plan.task1, files=[("进展.pdf", PDF)])
    assert response.status_code == 201, response.text
    task = response.json()["task"]
    advance = task["checkpoints"][1]
    [made] = advance["reports"]
    assert (made["uid"], made["percent"], made["narrative"], made["review"], made["reported_by"]) == (
        response.json()["report"],
        40,
        "已完成选址",
        "submitted",
        "d1staff",
    )
    [file] = made["evidence"]
    assert (file["filename"], file["media_type"]) == ("进展.pdf", "application/pdf")
    assert world.client.get(file["url"], headers=world.d1).content == PDF
    assert task["percent"] == 40
    assert [r.entity_key for r in audited(conn, "plans.tasks.report")] == [made["uid"]]
    assert len(audited(conn, "plans.evidence.upload")) == 1


def test_a_report_with_faults_or_a_refused_file_writes_nothing(world, conn):
    found = problem(
        world.client.post(
            f"/api/plans/tasks/{world.plan.task1}/reports",
            headers=world.d1,
            data={"stage": "midyear", "percent": "40", "narrative": " "},
        )
    )
    assert (found["stage"]["value"], found["narrative"]["value"]) == ("midyear", " ")
    assert "percent" in problem(
        world.client.post(
            f"/api/plans/tasks/{world.plan.task1}/reports",
            headers=world.d1,
            data={"stage": "advance", "percent": "140", "narrative": "x"},
        )
    )
    found = problem(report(world, world.d1, world.plan.task1, files=[("fake.pdf", b"just text, not a PDF")]))
    assert found["evidence"]["value"] == "fake.pdf"
    assert count(conn, plan_reports) == 0 and audited(conn, "plans.tasks.report") == []


def test_the_commission_returns_a_report_with_a_comment_then_accepts_the_next(world, conn):
    first = report(world, world.d1, world.plan.sub1, stage="deploy", as_of="2020-03-20").json()["report"]
    url = f"/api/plans/reports/{first}/review"
    assert "comment" in problem(world.client.post(url, headers=world.staff, json={"decision": "return"}))
    assert "decision" in problem(world.client.post(url, headers=world.staff, json={"decision": "maybe"}))
    returned = world.client.post(
        url,
        headers=world.staff,
        json={"decision": "return", "comment": "缺少佐证"},
        params={"as_of": "2020-03-25"},
    )
    assert returned.status_code == 200, returned.text
    task = returned.json()
    assert task["checkpoints"][0]["reports"][0]["review"] == "returned"
    assert (task["status"], [c["code"] for c in task["causes"]]) == ("at_risk", ["report_returned"])
    assert problem(world.client.post(url, headers=world.staff, json={"decision": "accept"}), 409)
    second = report(world, world.d1, world.plan.sub1, stage="deploy", as_of="2020-03-28").json()["report"]
    accepted = world.client.post(
        f"/api/plans/reports/{second}/review",
        headers=world.staff,
        json={"decision": "accept"},
        params={"as_of": "2020-04-02"},
    ).json()
    assert [r["review"] for r in accepted["checkpoints"][0]["reports"]] == ["returned", "accepted"]
    assert accepted["status"] == "on_track"
    assert [r.entity_key for r in audited(conn, "plans.tasks.review")] == [first, second]


def test_a_review_can_mark_the_task_at_risk_with_a_reason_in_the_same_step(world, conn):
    made = report(world, world.d1, world.plan.task1).json()["report"]
    url = f"/api/plans/reports/{made}/review"
    found = problem(
        world.client.post(url, headers=world.staff, json={"decision": "accept", "status": "at_risk"})
    )
    assert found["reason"]["expected"].startswith("text of 1")
    assert (
        world.get(f"/api/plans/tasks/{world.plan.task1}", world.staff)["checkpoints"][1]["reports"][0][
            "review"
        ]
        == "submitted"
    )  # nothing of the refused review was written
    task = world.client.post(
        url,
        headers=world.staff,
        params={"as_of": "2020-07-20"},
        json={"decision": "accept", "status": "at_risk", "reason": "经费未到位"},
    ).json()
    assert (task["status"], task["computed_status"], task["override"]["reason"]) == (
        "at_risk",
        "late",
        "经费未到位",
    )  # late: no deploy report
    assert task["causes"][0]["code"] == "override"
    assert len(audited(conn, "plans.tasks.override")) == 1


def test_an_override_needs_a_reason_and_can_be_cleared(world, conn):
    url = f"/api/plans/tasks/{world.plan.task2}/status"
    found = problem(world.client.put(url, headers=world.staff, json={"status": "done", "reason": "  "}))
    assert found["reason"]["value"] == "  "
    assert (
        problem(world.client.put(url, headers=world.staff, json={"status": "finished", "reason": "x"}))[
            "status"
        ]["value"]
        == "finished"
    )
    task = world.client.put(
        url,
        headers=world.staff,
        params={"as_of": "2020-08-01"},
        json={"status": "done", "reason": "已由市级统筹完成"},
    ).json()
    assert (task["status"], task["computed_status"]) == ("done", "late")
    cleared = world.client.put(
        url, headers=world.staff, params={"as_of": "2020-08-01"}, json={"status": None}
    ).json()
    assert (cleared["status"], cleared["override"]) == ("late", None)
    again = world.client.put(url, headers=world.staff, json={"status": None})
    assert again.status_code == 200 and again.json()["version"] == cleared["version"]  # nothing to clear
    assert [r.action for r in audited(conn, "plans.tasks.override")] == ["plans.tasks.override"]
    assert len(audited(conn, "plans.tasks.override.clear")) == 1


def test_status_through_the_api_late_at_risk_on_track_and_done(world):
    def status(task: str, as_of: str) -> tuple[str, list[str]]:
        found = world.get(f"/api/plans/tasks/{task}", world.staff, as_of=as_of)
        return found["status"], [c["code"] for c in found["causes"]]

    assert status(world.plan.task2, "2020-02-01") == ("on_track", ["nothing_due"])
    assert status(world.plan.task2, "2020-07-01") == ("late", ["deadline_passed", "checkpoint_overdue"])
    assert status(world.plan.task1, "2020-02-01") == ("at_risk", ["target_short"])
    assert (
        report(world, world.d1, world.plan.sub1, stage="deploy", percent=100, as_of="2020-02-10").status_code
        == 201
    )
    assert status(world.plan.sub1, "2020-02-11") == ("done", ["reported_complete"])


# ---------------------------------------------------------------- my tasks and reminders


def test_my_tasks_are_those_my_units_lead_or_support(world):
    mine = world.get("/api/plans/my", world.s1, as_of="2020-03-01")["tasks"]
    assert sorted(t["number"] for t in mine) == ["(1)", "1"]
    first = world.get("/api/plans/my", world.d1, as_of="2020-03-01")["tasks"]
    assert [t["number"] for t in first] == ["1", "(1)"]  # by what is due next, then number
    assert first[0]["next_due"] == {"kind": "checkpoint", "due": "2020-03-31", "stage": "deploy", "title": ""}
    assert (
        world.get("/api/plans/my", world.viewer, as_of="2020-03-01")["tasks"] == []
    )  # a viewer owns no unit


def test_reminders_list_what_is_overdue_or_due_soon_from_the_given_day(world):
    found = world.get("/api/plans/reminders", world.staff, as_of="2020-03-25", within_days=7)["reminders"]
    assert [(r["number"], r["kind"], r["stage"], r["days"]) for r in found] == [
        ("1", "checkpoint", "deploy", 6),
        ("2", "checkpoint", "deploy", 6),
        ("(1)", "checkpoint", "deploy", 6),
    ]
    later = world.get("/api/plans/reminders", world.staff, as_of="2020-07-02", within_days=14)["reminders"]
    assert [(r["number"], r["kind"], r["days"], r["overdue"]) for r in later if r["number"] == "2"] == [
        ("2", "checkpoint", -93, True),
        ("2", "deadline", -2, True),
        ("2", "checkpoint", 13, False),
    ]
    assert (
        world.get("/api/plans/reminders", world.staff, as_of="2020-03-01", within_days=0)["reminders"] == []
    )

    next_year = world.get("/api/plans/reminders", world.staff, as_of="2021-01-10")["reminders"]
    assert {r["kind"] for r in next_year} == {"checkpoint", "deadline", "milestone"}  # 2020 still owes these
    assert world.get("/api/plans/reminders", world.staff, as_of="2022-01-10")["reminders"] == []  # history


def test_as_of_a_day_a_task_shows_only_the_reports_made_by_then(world):
    made = report(world, world.d1, world.plan.sub1, stage="deploy", percent=100, as_of="2020-02-10")
    assert made.status_code == 201
    before = world.get(f"/api/plans/tasks/{world.plan.sub1}", world.staff, as_of="2020-02-09")
    after = world.get(f"/api/plans/tasks/{world.plan.sub1}", world.staff, as_of="2020-02-10")
    assert before["status"] == "on_track" and after["status"] == "done"
    assert world.get("/api/plans/years/2020", world.staff, as_of="2020-02-09")["by_status"]["done"] == 0
    assert world.get("/api/plans/years/2020", world.staff, as_of="2020-02-10")["by_status"]["done"] == 1


def test_commission_staff_see_and_edit_a_section(world):
    section = world.get(f"/api/plans/tasks/{world.plan.education}", world.staff, as_of="2020-02-01")
    assert section["kind"] == "section" and section["title_zh"] == "教育"
    body = {"kind": "section", "number": "一", "title_zh": "教育工作", "parent": None}
    changed = world.client.put(f"/api/plans/tasks/{world.plan.education}", headers=world.staff, json=body,
                               params={"as_of": "2020-02-01"})
    assert changed.status_code == 200, changed.text
    assert world.get(f"/api/plans/tasks/{world.plan.education}", world.s1)["title_zh"] == "教育工作"
