"""What a read-only request reads of the appraisal tables is kept per process under the ``appraisals``
stamp (migration 0021, decision 0023): a round read again reads none of them, and every write to them,
a score through the API or an edit made outside jiaowei, is seen by the next read."""

from __future__ import annotations

from sqlalchemy import text

from tests.migrations import stamp_triggers
from tests.plans import test_appraisals_api
from tests.plans.test_appraisals_api import World, call, make_round, score
from tests.statements import Count, counting

world = test_appraisals_api.world  # the fixture, under its own name here

TABLES = ("appraisal_templates", "appraisal_criteria", "appraisal_rounds", "appraisal_subjects",
          "appraisal_assignments", "appraisal_scores")


def _appraisal_reads(count: Count) -> list[str]:
    return [s for s, _ in count.seen if s.startswith("SELECT") and "appraisal_" in s]


def test_a_round_read_again_reads_no_appraisal_table(world: World) -> None:
    detail = make_round(world)
    url = f"/api/plans/appraisals/rounds/{detail['id']}"
    first = call(world, "GET", url, world.reviewers["r1"])
    listed = call(world, "GET", "/api/plans/appraisals/rounds", world.reviewers["r1"])
    with counting(world.conn) as count:
        again = call(world, "GET", url, world.reviewers["r1"])
        rounds = call(world, "GET", "/api/plans/appraisals/rounds", world.reviewers["r1"])
    assert (again, rounds) == (first, listed)
    assert [r["id"] for r in rounds["rounds"]] == [detail["id"]]
    assert _appraisal_reads(count) == []


def test_a_score_is_seen_by_the_next_read(world: World) -> None:
    detail = make_round(world)
    url = f"/api/plans/appraisals/rounds/{detail['id']}"
    before = call(world, "GET", url, world.reviewers["r1"])
    listed = call(world, "GET", "/api/plans/appraisals/rounds", world.reviewers["r1"])["rounds"][0]
    assert all(not s["myScores"] for s in before["subjects"])
    score(world, before, "r1", "S2", 30, 50)
    after = call(world, "GET", url, world.reviewers["r1"])
    own = {s["orgUnit"]: s["myScores"] for s in after["subjects"] if s["myScores"]}
    assert list(own) == ["S2"] and sorted(o["score"] for o in own["S2"]) == [30, 50]
    again = call(world, "GET", "/api/plans/appraisals/rounds", world.reviewers["r1"])["rounds"][0]
    assert (listed["myAssignmentsDone"], again["myAssignmentsDone"]) == (0, 1)


def test_an_edit_made_outside_jiaowei_is_seen_too(world: World) -> None:
    detail = make_round(world)
    url = f"/api/plans/appraisals/rounds/{detail['id']}"
    assert call(world, "GET", url, world.staff)["title_en"] == "2020 review"
    world.conn.execute(text("UPDATE appraisal_rounds SET title_en = 'Renamed in psql'"))
    assert call(world, "GET", url, world.staff)["title_en"] == "Renamed in psql"


def test_every_appraisal_table_has_the_triggers(world: World) -> None:
    found = stamp_triggers(world.conn, "appraisals")
    for table in TABLES:
        assert {(table, "INSERT"), (table, "UPDATE"), (table, "DELETE")} <= found, (table, found)
