"""Appraisals through /api/plans/appraisals on both databases: templates, rounds, scores within
their scales, who sees what before and after the close, results with ranks and grades, the totals
written to a data element (and read back through /api/analytics), and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.factories import indicator_setup, make_unit, make_user, mentions, token_for

AS_OF = {"as_of": "2020-12-01"}
LATE = {"as_of": "2021-01-10"}
TEMPLATE = {
    "name_zh": "高校党委年度述职评议", "name_en": "University Party committee annual review",
    "criteria": [
        {"name_zh": "党建引领", "name_en": "Party leadership", "weight": 40, "min": 0, "max": 40},
        {"name_zh": "事业发展", "name_en": "Development", "weight": 60, "min": 0, "max": 60},
    ],
}


@dataclass
class World:
    conn: Connection
    client: TestClient
    admin: dict[str, str]
    staff: dict[str, str]  # commission staff: plans.manage
    reviewers: dict[str, dict[str, str]]  # r1, r2, r3: viewers of nothing, reviewers only
    d1: dict[str, str]  # district staff of D1: sees S1 and S3 once closed
    d2viewer: dict[str, str]  # a viewer of D2: sees S2 once closed


@pytest.fixture
def world(client: TestClient, conn: Connection) -> World:
    """The small tree (SH → D1 → S1, S3; D2 → S2) with the indicator metadata: RATE is a yearly
    percentage collected from primary schools."""
    indicator_setup(conn)
    make_unit(conn, "S3", parent="D1", name_zh="三校", name_en="School Three")
    reviewers = {name: token_for(conn, make_user(conn, name, role="viewer")) for name in ("r1", "r2", "r3")}
    return World(conn, client, token_for(conn, make_user(conn, "boss")),
                 token_for(conn, make_user(conn, "staff", role="commission_staff", capture=["SH"])),
                 reviewers,
                 token_for(conn, make_user(conn, "d1staff", role="district_staff", capture=["D1"])),
                 token_for(conn, make_user(conn, "d2viewer", role="viewer", view=["D2"])))


def call(world: World, method: str, url: str, headers: dict[str, str], status: int = 200, body: Any = None,
         params: dict[str, str] | None = None) -> Any:
    dated = "/templates" not in url  # templates read no date (an unread parameter is a 400)
    response = world.client.request(method, url, json=body, headers=headers,
                                    params=params or (AS_OF if dated else None))
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    return response.json() if response.content else None


def make_round(world: World, *, trimmed: bool = False, element: str | None = "RATE",
               deadline: str = "2020-12-31") -> dict[str, Any]:
    template = call(world, "POST", "/api/plans/appraisals/templates", world.staff, 201, TEMPLATE)
    body = {"template": template["id"], "year": 2020, "title_zh": "2020年度高校述职评议",
            "title_en": "2020 review", "deadline": deadline, "trimmed": trimmed, "dataElement": element,
            "reviewers": ["r1", "r2"],
            "subjects": [{"orgUnit": "S1", "reviewers": ["r3"]}, {"orgUnit": "S2"}, {"orgUnit": "S3"},
                         {"orgUnit": "S1", "leader": "张书记"}]}
    return call(world, "POST", "/api/plans/appraisals/rounds", world.staff, 201, body)


def criteria(detail: dict[str, Any]) -> list[str]:
    return [c["id"] for c in detail["template"]["criteria"]]


def subject(detail: dict[str, Any], unit: str, leader: str | None = None) -> str:
    return next(s["id"] for s in detail["subjects"] if s["orgUnit"] == unit and s["leader"] == leader)


def score(world: World, detail: dict[str, Any], reviewer: str, unit: str, party: float, work: float,
          leader: str | None = None, status: int = 200) -> Any:
    party_id, work_id = criteria(detail)
    body = {"scores": [{"criterion": party_id, "score": party, "comment": "好"},
                       {"criterion": work_id, "score": work}]}
    url = f"/api/plans/appraisals/rounds/{detail['id']}/subjects/{subject(detail, unit, leader)}/scores"
    return call(world, "PUT", url, world.reviewers[reviewer], status, body)


def score_all(world: World, detail: dict[str, Any]) -> None:
    # S1: r1 (30, 54), r2 (36, 48), r3 (40, 60) → party 35.33, work 54 → total 35.33/40·40 + 54/60·60 = 89.33
    # S2: r1 (36, 54), r2 (36, 54) → 90 + … = 90.00 (优秀); S3: r1 (24, 42), r2 (24, 42) → 66.00 (一般)
    # 张书记 of S1: r1 (36, 54), r2 (36, 54) → 90.00 (优秀), tied with S2
    for reviewer, party, work in (("r1", 30, 54), ("r2", 36, 48), ("r3", 40, 60)):
        score(world, detail, reviewer, "S1", party, work)
    for reviewer in ("r1", "r2"):
        score(world, detail, reviewer, "S2", 36, 54)
        score(world, detail, reviewer, "S3", 24, 42)
        score(world, detail, reviewer, "S1", 36, 54, leader="张书记")


def results(detail: dict[str, Any]) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(s["orgUnit"], s["leader"]): s["result"] for s in detail["subjects"] if "result" in s}


# ---------------------------------------------------------------- templates


def test_a_template_keeps_its_criteria_and_default_thresholds(world: World) -> None:
    made = call(world, "POST", "/api/plans/appraisals/templates", world.staff, 201, TEMPLATE)
    assert made["thresholds"] == {"excellent": 90.0, "good": 80.0, "fair": 60.0}
    assert [(c["name_zh"], c["weight"], c["min"], c["max"]) for c in made["criteria"]] == [
        ("党建引领", 40.0, 0.0, 40.0), ("事业发展", 60.0, 0.0, 60.0)]
    assert call(world, "GET", f"/api/plans/appraisals/templates/{made['id']}", world.admin) == made
    listed = call(world, "GET", "/api/plans/appraisals/templates", world.staff)["templates"]
    assert [t["id"] for t in listed] == [made["id"]]


def test_bad_templates_are_refused_naming_row_field_and_value(world: World) -> None:
    body = {"name_zh": " ",
            "criteria": [{"name_zh": "甲", "weight": 0}, {"name_zh": "乙", "min": 10, "max": 5}],
            "thresholds": {"excellent": 70, "good": 80, "fair": 60}}
    refused = call(world, "POST", "/api/plans/appraisals/templates", world.staff, 422, body)
    found = {(p.get("row"), p["field"], p.get("value")) for p in refused["problems"]}
    assert found >= {(None, "name_zh", " "), (1, "weight", 0.0), (2, "max", 5.0),
                     (None, "thresholds", "70/80/60")}
    assert call(world, "POST", "/api/plans/appraisals/templates", world.staff, 422,
                {"name_zh": "空", "criteria": []})["problems"][0]["field"] == "criteria"


def test_only_managers_keep_templates(world: World) -> None:
    call(world, "POST", "/api/plans/appraisals/templates", world.d1, 403, TEMPLATE)
    call(world, "GET", "/api/plans/appraisals/templates", world.reviewers["r1"], 403)


# ---------------------------------------------------------------- rounds


def test_a_round_names_units_leaders_and_existing_reviewers(world: World) -> None:
    template = call(world, "POST", "/api/plans/appraisals/templates", world.staff, 201, TEMPLATE)
    body = {"template": template["id"], "year": 2020, "title_zh": "评议", "deadline": "2020-12-31",
            "dataElement": "NOPE", "reviewers": ["r1", "ghost"],
            "subjects": [{"orgUnit": "S1"}, {"orgUnit": "S1"}, {"orgUnit": "XX"}]}
    refused = call(world, "POST", "/api/plans/appraisals/rounds", world.staff, 422, body)
    found = {(p.get("row"), p["field"], p.get("value")) for p in refused["problems"]}
    assert found >= {(None, "dataElement", "NOPE"), (1, "reviewers", "ghost"), (2, "unit", "S1"),
                     (3, "unit", "XX")}
    detail = make_round(world)
    assert [(s["orgUnit"], s["leader"]) for s in detail["subjects"]] == [
        ("S1", None), ("S2", None), ("S3", None), ("S1", "张书记")]
    assert detail["status"] == "open" and detail["dataElement"] == "RATE"
    assert [p["reviewer"] for p in detail["subjects"][0]["progress"]] == ["r1", "r2", "r3"]


def test_a_district_user_cannot_make_rounds(world: World) -> None:
    template = call(world, "POST", "/api/plans/appraisals/templates", world.staff, 201, TEMPLATE)
    body = {"template": template["id"], "year": 2020, "title_zh": "评议", "deadline": "2020-12-31",
            "reviewers": ["r1"], "subjects": [{"orgUnit": "S1"}]}
    call(world, "POST", "/api/plans/appraisals/rounds", world.d1, 403, body)


# ---------------------------------------------------------------- scores


def test_a_score_outside_its_scale_names_subject_criterion_value_and_range(world: World) -> None:
    detail = make_round(world)
    refused = score(world, detail, "r1", "S2", 41, -1, status=422)
    assert [(p["row"], p["field"], p["value"], p["expected"]) for p in refused["problems"]] == [
        (1, "score", 41.0, "单位S2 · 党建引领: 0–40"), (2, "score", -1.0, "单位S2 · 事业发展: 0–60")]
    mine = call(world, "GET", f"/api/plans/appraisals/rounds/{detail['id']}", world.reviewers["r1"])
    assert all(s["myScores"] == [] for s in mine["subjects"])  # nothing was saved


def test_reviewers_see_only_their_own_assignments_and_scores(world: World) -> None:
    detail = make_round(world)
    score(world, detail, "r1", "S1", 30, 54)
    score(world, detail, "r3", "S1", 40, 60)
    seen = call(world, "GET", f"/api/plans/appraisals/rounds/{detail['id']}", world.reviewers["r3"])
    assert [(s["orgUnit"], s["leader"]) for s in seen["subjects"]] == [("S1", None)]
    assert [m["score"] for m in seen["subjects"][0]["myScores"]] == [40.0, 60.0]
    assert "progress" not in seen["subjects"][0] and "result" not in seen["subjects"][0]
    assert "distribution" not in seen
    # r3 may not score a subject not assigned to them, nor see the round's other subjects
    call(world, "PUT", f"/api/plans/appraisals/rounds/{detail['id']}/subjects/{subject(detail, 'S2')}/scores",
         world.reviewers["r3"], 404, {"scores": []})
    listed = call(world, "GET", "/api/plans/appraisals/rounds", world.reviewers["r3"])["rounds"]
    assert [(r["id"], r["myAssignments"], r["myAssignmentsDone"]) for r in listed] == [(detail["id"], 1, 1)]
    # those who neither manage nor review see nothing of an open round
    call(world, "GET", f"/api/plans/appraisals/rounds/{detail['id']}", world.d1, 404)
    assert call(world, "GET", "/api/plans/appraisals/rounds", world.d2viewer)["rounds"] == []


def test_managers_see_who_has_scored_but_no_scores_until_the_close(world: World) -> None:
    detail = make_round(world)
    score(world, detail, "r1", "S1", 30, 54)
    seen = call(world, "GET", f"/api/plans/appraisals/rounds/{detail['id']}", world.staff)
    s1 = seen["subjects"][0]
    assert [(p["reviewer"], p["scored"], p["done"]) for p in s1["progress"]] == [
        ("r1", 2, True), ("r2", 0, False), ("r3", 0, False)]
    assert "result" not in s1 and "myScores" not in s1 and "30.0" not in str(seen)


def test_scores_are_replaced_and_refused_after_the_deadline(world: World) -> None:
    detail = make_round(world)
    score(world, detail, "r1", "S2", 30, 54)
    again = score(world, detail, "r1", "S2", 31, 55)
    assert [m["score"] for m in again["subjects"][1]["myScores"]] == [31.0, 55.0]
    party, work = criteria(detail)
    url = f"/api/plans/appraisals/rounds/{detail['id']}/subjects/{subject(detail, 'S2')}/scores"
    late = call(world, "PUT", url, world.reviewers["r1"], 409, {"scores": [{"criterion": party, "score": 1}]},
                params=LATE)
    assert late["problems"][0]["value"] == "2020-12-31"
    call(world, "POST", f"/api/plans/appraisals/rounds/{detail['id']}/deadline", world.staff, 200,
         {"deadline": "2021-01-31"})
    call(world, "PUT", url, world.reviewers["r1"], 200, {"scores": [{"criterion": work, "score": 1}]},
         params=LATE)


# ---------------------------------------------------------------- closing and results


def test_closing_publishes_ranks_grades_and_the_distribution(world: World) -> None:
    detail = make_round(world)
    score_all(world, detail)
    call(world, "POST", f"/api/plans/appraisals/rounds/{detail['id']}/close", world.d1, 403)
    closed = call(world, "POST", f"/api/plans/appraisals/rounds/{detail['id']}/close", world.staff)
    assert closed["status"] == "closed" and closed["valuesWritten"] == 3  # units, not the leader
    found = results(closed)
    assert {k: (r["total"], r["grade"], r["rank"]) for k, r in found.items()} == {
        ("S1", None): (89.33, "good", 3), ("S2", None): (90.0, "excellent", 1),
        ("S3", None): (66.0, "fair", 4), ("S1", "张书记"): (90.0, "excellent", 1)}
    assert found[("S1", None)]["criteria"][criteria(detail)[0]] == pytest.approx(106 / 3)
    assert closed["distribution"] == {"excellent": 2, "good": 1, "fair": 1, "poor": 0}
    # a closed round takes no more scores and cannot close again
    score(world, detail, "r1", "S2", 1, 1, status=409)
    call(world, "POST", f"/api/plans/appraisals/rounds/{detail['id']}/close", world.staff, 409)


def test_the_trimmed_mean_drops_the_highest_and_lowest_reviewer_with_three(world: World) -> None:
    detail = make_round(world, trimmed=True)
    score_all(world, detail)
    closed = call(world, "POST", f"/api/plans/appraisals/rounds/{detail['id']}/close", world.staff)
    found = results(closed)
    # S1 has three reviewers: party 30, 36, 40 → 36; work 48, 54, 60 → 54: 36 + 54 = 90.00, 优秀
    assert (found[("S1", None)]["total"], found[("S1", None)]["grade"]) == (90.0, "excellent")
    # S3 has two: nothing is dropped
    assert found[("S3", None)]["total"] == 66.0
    assert {r["rank"] for r in found.values() if r["total"] == 90.0} == {1}


def test_after_the_close_results_are_seen_within_the_view_scope(world: World) -> None:
    detail = make_round(world)
    score_all(world, detail)
    call(world, "POST", f"/api/plans/appraisals/rounds/{detail['id']}/close", world.staff)
    d1 = call(world, "GET", f"/api/plans/appraisals/rounds/{detail['id']}", world.d1)
    assert set(results(d1)) == {("S1", None), ("S1", "张书记"), ("S3", None)}
    assert not mentions(d1["subjects"], "S2") and d1["distribution"]["fair"] == 1
    d2 = call(world, "GET", f"/api/plans/appraisals/rounds/{detail['id']}", world.d2viewer)
    assert list(results(d2)) == [("S2", None)] and results(d2)[("S2", None)]["rank"] == 1
    assert [r["id"] for r in call(world, "GET", "/api/plans/appraisals/rounds", world.d2viewer)["rounds"]] \
        == [detail["id"]]
    # a reviewer without a view scope keeps their own assignments, without results
    r3 = call(world, "GET", f"/api/plans/appraisals/rounds/{detail['id']}", world.reviewers["r3"])
    assert [s["orgUnit"] for s in r3["subjects"]] == ["S1"] and results(r3) == {}


def test_closing_writes_the_totals_to_the_data_element_for_analytics(world: World) -> None:
    detail = make_round(world)
    score_all(world, detail)
    call(world, "POST", f"/api/plans/appraisals/rounds/{detail['id']}/close", world.staff)
    grid = world.client.get("/api/analytics", headers=world.admin,
                            params=[("dimension", "dx:RATE"), ("dimension", "ou:S1;S2;S3"),
                                    ("filter", "pe:2020")])
    assert grid.status_code == 200, grid.text
    assert sorted((r[1], float(r[2])) for r in grid.json()["rows"]) == [
        ("S1", 89.33), ("S2", 90.0), ("S3", 66.0)]


def test_a_refused_value_keeps_the_round_open(world: World) -> None:
    detail = make_round(world, element="TEACHERS")  # an integer element: written rounded
    score_all(world, detail)
    make_unit(world.conn, "D3", parent="SH", type="district_bureau")
    bound = call(world, "POST", f"/api/plans/appraisals/rounds/{detail['id']}/close", world.staff)
    assert bound["valuesWritten"] == 3
    grid = world.client.get("/api/analytics", headers=world.admin,
                            params=[("dimension", "dx:TEACHERS"), ("dimension", "ou:S3"),
                                    ("filter", "pe:2020")])
    assert [float(r[-1]) for r in grid.json()["rows"]] == [66.0]
    # a round whose subject unit no data set collects the element from: refused whole
    template = call(world, "POST", "/api/plans/appraisals/templates", world.staff, 201, TEMPLATE)
    body = {"template": template["id"], "year": 2020, "title_zh": "区局评议", "deadline": "2020-12-31",
            "dataElement": "RATE", "reviewers": ["r1"], "subjects": [{"orgUnit": "D3"}]}
    other = call(world, "POST", "/api/plans/appraisals/rounds", world.staff, 201, body)
    score(world, other, "r1", "D3", 40, 60)
    refused = call(world, "POST", f"/api/plans/appraisals/rounds/{other['id']}/close", world.staff, 422)
    assert refused["problems"][0]["value"] in ("RATE", "2020", "D3")
    assert call(world, "GET", f"/api/plans/appraisals/rounds/{other['id']}", world.staff)["status"] == "open"


def test_every_change_is_in_the_audit_log(world: World) -> None:
    detail = make_round(world)
    score_all(world, detail)
    call(world, "POST", f"/api/plans/appraisals/rounds/{detail['id']}/close", world.staff)
    entries = world.client.get("/api/audit", headers=world.admin, params={"limit": 200}).json()
    actions = [e["action"] for e in entries["items"]]
    assert {"plans.appraisals.template.create", "plans.appraisals.round.create",
            "plans.appraisals.scores.record", "plans.appraisals.round.close", "data.import"} <= set(actions)
    assert actions.count("plans.appraisals.scores.record") == 9


def test_evidence_is_attached_to_a_reviewer_s_own_score(world: World) -> None:
    detail = make_round(world)
    score(world, detail, "r1", "S2", 30, 54)
    party, work = criteria(detail)
    base = f"/api/plans/appraisals/rounds/{detail['id']}/subjects/{subject(detail, 'S2')}/scores"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    sent = world.client.post(f"{base}/{party}/evidence", headers=world.reviewers["r1"], params=AS_OF,
                             files={"evidence": ("述职材料.png", png, "image/png")})
    assert sent.status_code == 200, sent.text
    assert len(sent.json()["evidence"]) == 1
    fake = world.client.post(f"{base}/{party}/evidence", headers=world.reviewers["r1"], params=AS_OF,
                             files={"evidence": ("fake.pdf", b"not a pdf at all", "application/pdf")})
    assert fake.status_code == 422 and fake.json()["problems"][0]["value"] == "fake.pdf"
    unscored = world.client.post(f"{base}/{work}/evidence", headers=world.reviewers["r2"], params=AS_OF,
                                 files={"evidence": ("a.png", png, "image/png")})
    assert unscored.status_code == 422  # r2 has not scored it
    mine = call(world, "GET", f"/api/plans/appraisals/rounds/{detail['id']}", world.reviewers["r1"])
    s2 = next(s for s in mine["subjects"] if s["orgUnit"] == "S2")
    assert [e["filename"] for m in s2["myScores"] for e in m["evidence"]] == ["述职材料.png"]
    call(world, "POST", f"/api/plans/appraisals/rounds/{detail['id']}/close", world.staff)
    closed = call(world, "GET", f"/api/plans/appraisals/rounds/{detail['id']}", world.staff)
    s2 = next(s for s in closed["subjects"] if s["orgUnit"] == "S2")
    assert [e["filename"] for e in s2["evidence"]] == ["述职材料.png"]
