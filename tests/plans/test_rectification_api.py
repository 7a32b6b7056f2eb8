"""The rectification ledger through its JSON API on both databases: findings and measures, the whole
life of a measure with its history, evidence and audit entries, refused transitions, overdue
measures and rates as of a day, and who may do what."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from jiaowei.audit.store import audit_log
from tests.factories import make_user, small_tree, token_for

API = "/api/plans/rectification"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class World:
    conn: Connection
    client: TestClient
    admin: dict[str, str]
    staff: dict[str, str]
    s1: dict[str, str]
    d1: dict[str, str]
    viewer: dict[str, str]

    def post(self, url: str, who: dict[str, str], **kw: Any) -> Any:
        return self.client.post(f"{API}{url}", headers=who, **kw)

    def get(self, url: str, who: dict[str, str], **params: str) -> Any:
        return self.client.get(f"{API}{url}", headers=who, params=params)

    def move(self, measure: str, who: dict[str, str], to: str, comment: str = "", as_of: str = "2020-07-01",
             files: list[tuple[str, bytes]] = ()) -> Any:  # type: ignore[assignment]
        return self.post(f"/measures/{measure}/transitions", who, params={"as_of": as_of},
                         data={"to_state": to, "comment": comment},
                         files=[("evidence", (n, c, "application/octet-stream")) for n, c in files] or None)


@pytest.fixture
def world(client: TestClient, conn: Connection) -> World:
    """The small tree (SH → D1, D2 → S1, S2); commission staff over SH, a reporter of S1, a D1 district
    user and a viewer of D2."""
    small_tree(conn)
    return World(conn, client, token_for(conn, make_user(conn, "boss")),
                 token_for(conn, make_user(conn, "staff", role="commission_staff", capture=["SH"])),
                 token_for(conn, make_user(conn, "rep1", role="unit_reporter", capture=["S1"])),
                 token_for(conn, make_user(conn, "d1staff", role="district_staff", capture=["D1"])),
                 token_for(conn, make_user(conn, "look2", role="viewer", view=["D2"])))


def finding(unit: str = "S1", source: str = "2020年市委巡视", **extra: Any) -> dict[str, Any]:
    return {"sourceKind": "inspection", "source": source, "foundOn": "2020-04-15", "orgUnit": unit,
            "severity": "high", "text": "“三重一大”决策制度执行不到位",
            "measures": [{"text": "修订议事规则", "owner": "党委办公室", "deadline": "2020-06-30"},
                         {"text": "开展专题培训", "owner": "组织部", "deadline": "2020-09-30"}],
            **extra}


def record(world: World, unit: str = "S1", **extra: Any) -> dict[str, Any]:
    response = world.post("/findings", world.staff, json=finding(unit, **extra))
    assert response.status_code == 201, response.text
    return dict(response.json())


def audit_actions(conn: Connection, key: str) -> list[tuple[str, str]]:
    rows = conn.execute(select(audit_log.c.actor, audit_log.c.action).where(audit_log.c.entity_key == key)
                        .order_by(audit_log.c.seq)).all()
    return [(r.actor, r.action) for r in rows]


def test_a_finding_is_recorded_with_its_measures_open_and_audited(world: World) -> None:
    made = record(world)
    assert made["orgUnit"] == "S1" and made["severity"] == "high" and made["sourceKind"] == "inspection"
    assert [(m["position"], m["state"], m["owner"]) for m in made["measures"]] == [
        (1, "open", "党委办公室"), (2, "open", "组织部")]
    assert made["measures"][0]["accepted"] == ["in_progress"]
    assert (made["rectified"], made["total"], made["rate"]) == (0, 2, 0.0)
    assert audit_actions(world.conn, made["id"]) == [("staff", "plans.rectification.finding.record")]
    measure = made["measures"][0]["id"]
    assert audit_actions(world.conn, measure) == [("staff", "plans.rectification.measure.add")]
    history = made["measures"][0]["history"]
    assert [(h["from"], h["to"], h["by"]) for h in history] == [(None, "open", "staff")]
    added = world.post(f"/findings/{made['id']}/measures", world.staff,
                       json={"text": "建立长效机制", "owner": "纪委", "deadline": "2020-12-31"})
    assert added.status_code == 201, added.text
    assert (added.json()["position"], added.json()["finding"]) == (3, made["id"])


def test_chinese_severities_and_source_kinds_are_understood(world: World) -> None:
    made = record(world, severity="较重", sourceKind="审计")
    assert (made["severity"], made["sourceKind"]) == ("medium", "audit")


def test_bad_input_names_each_field(world: World) -> None:
    body = finding("NOPE", severity="grave", sourceKind="rumour")
    body["measures"] = [{"text": "", "owner": "x", "deadline": "2020-01-01"}]
    response = world.post("/findings", world.staff, json=body)
    assert response.status_code == 422, response.text
    fields = {(p["field"], p.get("row")) for p in response.json()["problems"]}
    assert fields == {("severity", None), ("source_kind", None), ("unit", None), ("measures.text", 1)}


def test_a_measure_lives_its_whole_life_with_history_evidence_and_audit(world: World) -> None:
    measure = record(world)["measures"][0]["id"]
    steps = [(world.s1, "in_progress", "", [("方案.pdf", PDF)]), (world.s1, "rectified", "已修订", []),
             (world.staff, "verified", "核查属实", []), (world.staff, "closed", "", []),
             (world.staff, "in_progress", "回头看：执行有反弹", [])]
    for who, to, comment, files in steps:
        response = world.move(measure, who, to, comment, files=files)
        assert response.status_code == 200, response.text
        assert response.json()["state"] == to
    shown = world.get(f"/measures/{measure}", world.admin).json()
    assert [(h["from"], h["to"], h["step"], h["by"], h["comment"]) for h in shown["history"]] == [
        (None, "open", "created", "staff", ""),
        ("open", "in_progress", "start", "rep1", ""),
        ("in_progress", "rectified", "rectify", "rep1", "已修订"),
        ("rectified", "verified", "verify", "staff", "核查属实"),
        ("verified", "closed", "close", "staff", ""),
        ("closed", "in_progress", "recheck", "staff", "回头看：执行有反弹")]
    assert {h["day"] for h in shown["history"][1:]} == {"2020-07-01"}
    [file] = shown["evidence"]
    assert (file["filename"], file["mediaType"]) == ("方案.pdf", "application/pdf")
    assert file["uploadedBy"] == "rep1"
    assert world.client.get(file["href"], headers=world.admin).content == PDF
    assert [a for _, a in audit_actions(world.conn, measure)] == [
        f"plans.rectification.measure.{s}" for s in ("add", "start", "rectify", "verify", "close", "recheck")]
    more = world.post(f"/measures/{measure}/evidence", world.s1, params={"as_of": "2020-07-02"},
                      files=[("evidence", ("照片.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "image/png"))])
    assert more.status_code == 200, more.text
    assert [e["filename"] for e in more.json()["evidence"]] == ["方案.pdf", "照片.png"]


def test_verification_can_return_a_rectified_measure_with_a_reason(world: World) -> None:
    measure = record(world)["measures"][0]["id"]
    for to in ("in_progress", "rectified"):
        assert world.move(measure, world.s1, to).status_code == 200
    bare = world.move(measure, world.staff, "in_progress")
    assert bare.status_code == 422 and bare.json()["problems"][0]["field"] == "comment"
    back = world.move(measure, world.staff, "in_progress", "佐证材料不足")
    assert back.status_code == 200 and back.json()["history"][-1]["step"] == "return"


def test_a_refused_transition_says_which_states_are_accepted(world: World) -> None:
    measure = record(world)["measures"][0]["id"]
    response = world.move(measure, world.staff, "closed")
    assert response.status_code == 409, response.text
    assert response.json()["detail"] == (f"Measure {measure} cannot move from open to closed; from open it "
                                         "may move to in_progress.")
    assert response.json()["problems"][0]["expected"] == "from open: in_progress"
    unknown = world.move(measure, world.staff, "done")
    assert unknown.status_code == 422 and "rectified" in unknown.json()["problems"][0]["expected"]
    assert world.get(f"/measures/{measure}", world.admin).json()["state"] == "open"


def test_only_the_commission_verifies_closes_and_rechecks(world: World) -> None:
    measure = record(world)["measures"][0]["id"]
    assert world.move(measure, world.d1, "in_progress").status_code == 200  # district staff over D1
    assert world.move(measure, world.d1, "rectified").status_code == 200
    refused = world.move(measure, world.s1, "verified")
    assert refused.status_code == 403, refused.text
    assert world.move(measure, world.viewer, "verified").status_code == 403  # a viewer writes nothing
    assert world.post("/findings", world.s1, json=finding()).status_code == 403
    assert world.move(measure, world.staff, "verified").status_code == 200


def test_outside_the_scope_a_finding_does_not_exist(world: World) -> None:
    inside, outside = record(world, "S1"), record(world, "S2", source="2020年审计")
    out_measure = outside["measures"][0]["id"]
    assert world.get(f"/findings/{outside['id']}", world.s1).status_code == 404
    assert world.get(f"/measures/{out_measure}", world.s1).status_code == 404
    assert world.move(out_measure, world.s1, "in_progress").status_code == 404
    assert world.post(f"/measures/{out_measure}/evidence", world.s1,
                      files=[("evidence", ("a.pdf", PDF, "application/pdf"))]).status_code == 404
    assert world.post(f"/findings/{outside['id']}/measures", world.s1,
                      json={"text": "x", "owner": "y", "deadline": "2020-12-31"}).status_code == 403
    listed = world.get("/findings", world.s1, as_of="2020-07-01").json()["findings"]
    assert [f["id"] for f in listed] == [inside["id"]]
    assert world.get("/findings", world.s1, orgUnit="S2").status_code == 404
    overdue = world.get("/overdue", world.s1, as_of="2020-12-31").json()["measures"]
    assert {m["finding"]["orgUnit"] for m in overdue} == {"S1"}
    rates = world.get("/rates", world.viewer, as_of="2020-07-01").json()["rows"]
    assert [r["key"] for r in rates] == ["S2"]
    assert world.get(f"/findings/{inside['id']}", world.viewer).status_code == 404
    assert world.get(f"/measures/{out_measure}", world.viewer).status_code == 200


def test_overdue_counts_from_the_day_asked(world: World) -> None:
    made = record(world)
    first = made["measures"][0]["id"]
    on_deadline = world.get("/overdue", world.staff, as_of="2020-06-30").json()
    assert on_deadline == {"asOf": "2020-06-30", "measures": []}
    after = world.get("/overdue", world.staff, as_of="2020-07-03").json()["measures"]
    assert [(m["id"], m["daysOverdue"], m["finding"]["id"]) for m in after] == [(first, 3, made["id"])]
    late = world.get("/overdue", world.staff, as_of="2020-10-01").json()["measures"]
    assert [m["daysOverdue"] for m in late] == [93, 1]
    world.move(first, world.s1, "in_progress")
    assert len(world.get("/overdue", world.staff, as_of="2020-10-01").json()["measures"]) == 2  # still open
    world.move(first, world.s1, "rectified")
    left = world.get("/overdue", world.staff, as_of="2020-10-01").json()["measures"]
    assert [m["position"] for m in left] == [2]
    assert world.get("/overdue", world.staff, as_of="2020-13-01").status_code == 422


def test_rates_by_unit_and_by_source(world: World) -> None:
    a = record(world, "S1")
    b = record(world, "S2", source="2020年审计", sourceKind="audit")
    c = record(world, "S2")
    for measure in [a["measures"][0]["id"], *(m["id"] for m in b["measures"]), c["measures"][0]["id"]]:
        world.move(measure, world.admin, "in_progress")
        world.move(measure, world.admin, "rectified")
    world.move(b["measures"][0]["id"], world.admin, "verified")
    by_unit = world.get("/rates", world.staff, by="unit", as_of="2020-07-01").json()
    assert [(r["key"], r["rectified"], r["total"], r["rate"]) for r in by_unit["rows"]] == [
        ("S1", 1, 2, 50.0), ("S2", 3, 4, 75.0)]
    total = by_unit["total"]
    assert (total["rectified"], total["total"], total["rate"]) == (4, 6, 66.7)
    by_source = world.get("/rates", world.staff, by="source", as_of="2020-07-01").json()["rows"]
    assert sorted((r["key"], r["sourceKind"], r["rectified"], r["total"]) for r in by_source) == [
        ("2020年审计", "audit", 2, 2), ("2020年市委巡视", "inspection", 2, 4)]
    assert world.get("/rates", world.staff, by="colour").status_code == 422
    d1 = world.get("/rates", world.staff, by="unit", orgUnit="D1").json()["rows"]
    assert [r["key"] for r in d1] == ["S1"]


def test_a_refused_file_or_a_control_character_writes_nothing(world: World) -> None:
    measure = record(world)["measures"][0]["id"]
    page = b"<html><script>x</script></html>"
    html = world.move(measure, world.s1, "in_progress", files=[("证明.pdf", page)])
    assert html.status_code == 422, html.text
    problem = html.json()["problems"][0]
    assert (problem["field"], problem["value"]) == ("evidence", "证明.pdf")
    shown = world.get(f"/measures/{measure}", world.admin).json()
    assert shown["state"] == "open" and len(shown["history"]) == 1 and shown["evidence"] == []
    assert world.move(measure, world.s1, "in_progress", "bad\x00comment").status_code == 422
    body = finding(text="问题\x07")
    refused = world.post("/findings", world.staff, json=body)
    assert refused.status_code == 422 and refused.json()["problems"][0]["field"] == "text"
