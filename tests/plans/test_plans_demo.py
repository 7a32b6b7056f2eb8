"""The plans demo on both databases, read back through the JSON API: the 2020 plan has the report's
three sections and numbered items, statuses are those of ``demo_2020.json``, linked indicators meet
their targets, the appraisal round is closed with results, the ledger's measures and the risk
register are as the JSON says, and everything synthetic says so."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, func, select

from jiaowei.auth import service as auth
from jiaowei.auth.login import check_password
from jiaowei.db.engine import BoundDatabase
from jiaowei.demo import shanghai2020
from jiaowei.indicators import demo as indicators_demo
from jiaowei.indicators import store as indicators_store
from jiaowei.plans import demo
from jiaowei.plans.tasks.store import plan_reports
from jiaowei.settings import Settings, using
from jiaowei.web.app import create_app
from tests.factories import token_for

DATA = demo.read()
YEAR_END, LATER = "2020-12-31", "2021-06-30"
# The report's three sections and the opening words of their numbered items (the seed).
SEED_ITEMS = {
    "一": ["突出把政治建设摆在首要位置", "突出落实立德树人根本任务"],
    "二": ["抓中央交办试点任务收官和新一轮改革谋划", "抓教育支撑服务经济社会发展能级提升",
          "抓教育民生热点难点的政策回应与任务落实", "抓教育领域简政放权和“放管服”改革"],
    "三": ["加强系统领导班子和干部队伍建设", "完善全面从严治党“三大主体责任”“三同”机制",
          "深化细化管党治党“四责协同”机制"],
}


@dataclass
class Demo:
    conn: Connection
    client: TestClient
    summary: dict[str, Any]

    def get(self, url: str, who: str = "commission", **params: Any) -> Any:
        headers = token_for(self.conn, _principal(self.conn, who))
        response = self.client.get(url, headers=headers, params=params)
        assert response.status_code == 200, response.text
        return response.json()


def _principal(conn: Connection, username: str) -> Any:
    return auth.principal_for(conn, user_id=auth.user_id_for(conn, username=username))


@pytest.fixture(scope="module")
def loaded(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The whole demo loaded once per module and database, read through the API, rolled back."""
    settings = Settings(home=tmp_path_factory.mktemp("plans-demo"), secret_key="test-secret-" + "x" * 32)
    connection = engine.connect()
    outer = connection.begin()
    stages: list[str] = []
    with using(settings):
        shanghai2020.load(connection)
        indicators_demo.load(connection)
        summary = demo.load(connection, progress=lambda stage, done, total: stages.append(stage))
    summary["stages"] = stages
    with TestClient(create_app(settings, database=BoundDatabase(connection))) as client:
        yield Demo(connection, client, summary)
    outer.rollback()
    connection.close()


def board_items(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every task and sub-task of the board, depth first."""
    out: list[dict[str, Any]] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item["kind"] != "section":
                out.append(item)
            walk(item["children"])

    walk(board["sections"])
    return out


def json_items() -> list[dict[str, Any]]:
    return [item for _, item, _ in demo.items(DATA)]


def json_measure(state: str) -> dict[str, Any]:
    return next(m for f in DATA["rectification"]["findings"] for m in f["measures"] if m["state"] == state)


def test_every_part_of_the_demo_loads(loaded: Demo) -> None:
    summary = loaded.summary
    assert summary["skipped"] == {}
    returned = sum(1 for item in json_items() if item.get("returned"))
    assert returned == 1
    assert summary["tasks"] == {"sections": 3, "tasks": len(json_items()),
                                "reports": 3 * len(json_items()) + returned}
    assert summary["appraisals"] == {"subjects": 10, "reviewers": 3, "values_fed": 10}
    assert summary["rectification"]["findings"] == len(DATA["rectification"]["findings"])
    assert summary["risks"] == {"risks": 8, "reviews": sum(len(r["reviews"]) for r in DATA["risks"])}
    assert summary["childcare_values"] == 59  # the childcare points open at the end of 2020
    assert {"plans: key tasks", "plans: appraisals", "plans: rectification", "plans: risks"} <= set(
        summary["stages"])


def test_the_plan_has_the_reports_three_sections_and_its_numbered_items(loaded: Demo) -> None:
    board = loaded.get("/api/plans/years/2020", as_of=YEAR_END)
    sections = board["sections"]
    assert [s["number"] for s in sections] == ["一", "二", "三"]
    for section in sections:
        tasks = section["children"]
        seed = SEED_ITEMS[section["number"]]
        assert [t["number"] for t in tasks] == [str(n) for n in range(1, len(seed) + 1)]
        assert [t["title_zh"] for t in tasks] == seed
        assert all(t["kind"] == "task" and t["title_en"] for t in tasks)
        for task in tasks:
            subtasks = task["children"]
            assert subtasks and all(s["kind"] == "subtask" for s in subtasks)
            assert [s["number"] for s in subtasks] == [f"({n})" for n in range(1, len(subtasks) + 1)]
    assert len(board_items(board)) == len(json_items()) == 54
    # the commission leads, but for the item the report credits to universities (复旦大学, 上海交通大学)
    leads = Counter(i["lead_unit"]["code"] for i in board_items(board))
    assert leads == {"310000": 53, "310000-U-FUDAN": 1}


def test_statuses_are_what_the_json_says(loaded: Demo) -> None:
    wanted = {item["title_zh"]: item for item in json_items()}
    for as_of in (YEAR_END, LATER):
        items = board_items(loaded.get("/api/plans/years/2020", as_of=as_of))
        assert {i["title_zh"]: i["status"] for i in items} == {t: w["status"] for t, w in wanted.items()}
        for item in items:
            reason = wanted[item["title_zh"]].get("status_reason")
            if reason:  # the synthetic at-risk and late items say why, and that they are synthetic
                assert item["override"]["reason"] == reason and "合成" in reason
            else:
                assert item["override"] is None and item["status"] == item["computed_status"]
    counts = Counter(item["status"] for item in json_items())
    assert counts["done"] > 40 and 0 < counts["at_risk"] + counts["late"] <= 8


def test_the_late_task_is_late_for_its_unfinished_milestone(loaded: Demo) -> None:
    board = loaded.get("/api/plans/years/2020", as_of=YEAR_END)
    task = next(i for i in board_items(board) if i["title_zh"] == SEED_ITEMS["三"][0])
    assert task["status"] == "late" and task["override"] is None
    assert "milestone_overdue" in {c["code"] for c in task["causes"]}


def test_linked_indicators_meet_their_targets_in_the_demo_data(loaded: Demo) -> None:
    items = {i["title_zh"]: i for i in board_items(loaded.get("/api/plans/years/2020", as_of=YEAR_END))}
    linked = [item for item in json_items() if item.get("links")]
    seen: dict[str, dict[str, Any]] = {}
    for item in linked:
        detail = loaded.get(f"/api/plans/tasks/{items[item['title_zh']]['uid']}", as_of=YEAR_END)
        assert [k["indicator"] for k in detail["links"]] == [k["indicator"] for k in item["links"]]
        for link, given in zip(detail["links"], item["links"], strict=True):
            assert link["value"] is not None and link["target"] is not None, link
            assert link["met"] is True, link
            if given["target"] is not None:
                assert link["target"] == pytest.approx(demo.target(given["target"]))
            seen[link["indicator"]] = link
    assert seen["PUHUI_CHILDCARE_BUILT"]["value"] == seen["PUHUI_CHILDCARE_BUILT"]["target"] == 53
    assert seen["HE_COUNSELLOR_RATIO"]["value"] == pytest.approx(1 / 159)
    assert seen["HE_COUNSELLOR_RATIO"]["target"] == pytest.approx(1 / 159)
    assert seen["AS_SCHOOLS"]["value"] == 845 and seen["CAMPUS_CASES"]["value"] == 0
    assert seen["KG_INCLUSIVE_COVERAGE"]["target_source"] == "indicators"  # the indicator's own 2020 target


def test_each_item_reports_at_the_three_checkpoints_and_the_commission_accepts(loaded: Demo) -> None:
    items = board_items(loaded.get("/api/plans/years/2020", as_of=YEAR_END))
    first_task = items[0]
    detail = loaded.get(f"/api/plans/tasks/{first_task['uid']}", as_of=YEAR_END)
    assert [c["stage"] for c in detail["checkpoints"]] == ["deploy", "advance", "assess"]
    reports = [r for c in detail["checkpoints"] for r in c["reports"]]
    assert [r["percent"] for r in reports] == DATA["sections"][0]["tasks"][0]["progress"]
    assert all(r["review"] == "accepted" and "合成" in r["narrative"] for r in reports)
    assert detail["outcome"] == DATA["sections"][0]["tasks"][0]["outcome"]
    assert "synthetic" in detail["description"] and "合成" in detail["description"]
    assert all(m["done_on"] for m in detail["milestones"])
    [evidence] = reports[-1]["evidence"]  # the year-end report carries its synthetic summary
    assert evidence["media_type"] == "application/pdf" and "合成" in evidence["filename"]
    assert not reports[0]["evidence"] and not reports[1]["evidence"]
    headers = token_for(loaded.conn, _principal(loaded.conn, "viewer"))
    download = loaded.client.get(evidence["url"], headers=headers)
    assert download.status_code == 200 and download.content.startswith(b"%PDF-")
    assert download.headers["content-disposition"].startswith("attachment")


def test_every_report_narrative_says_it_is_synthetic(loaded: Demo) -> None:
    narratives = loaded.conn.execute(select(plan_reports.c.narrative)).scalars().all()
    assert len(narratives) == loaded.summary["tasks"]["reports"]
    assert all("合成" in n for n in narratives)


def test_a_returned_report_is_reported_again_and_accepted(loaded: Demo) -> None:
    item = next(i for i in json_items() if i.get("returned"))
    board = loaded.get("/api/plans/years/2020", as_of=YEAR_END)
    uid = next(i["uid"] for i in board_items(board) if i["title_zh"] == item["title_zh"])
    detail = loaded.get(f"/api/plans/tasks/{uid}", as_of=YEAR_END)
    stage = next(c for c in detail["checkpoints"] if c["stage"] == item["returned"]["stage"])
    assert [r["review"] for r in stage["reports"]] == ["returned", "accepted"]
    assert stage["reports"][0]["review_comment"] == item["returned"]["comment"]
    assert stage["reports"][1]["narrative"].endswith(item["returned"]["answer"])


def test_a_district_sees_the_tasks_its_bureau_supports(loaded: Demo) -> None:
    items = board_items(loaded.get("/api/plans/years/2020", who="huangpu", as_of=YEAR_END))
    supported = [i for i in json_items() if "310101" in i.get("supporting_units", ())]
    assert supported and {i["title_zh"] for i in items} == {i["title_zh"] for i in supported}


def test_the_appraisal_round_is_closed_with_results(loaded: Demo) -> None:
    rounds = loaded.get("/api/plans/appraisals/rounds", year=2020, as_of=YEAR_END)["rounds"]
    assert len(rounds) == 1 and rounds[0]["status"] == "closed" and rounds[0]["trimmed"] is True
    assert "合成" in rounds[0]["title_zh"]
    detail = loaded.get(f"/api/plans/appraisals/rounds/{rounds[0]['id']}", as_of=YEAR_END)
    results = {s["orgUnit"]: s["result"] for s in detail["subjects"]}
    assert set(results) == {s["unit"] for s in DATA["appraisal"]["subjects"]}
    assert all(r["total"] is not None and r["grade"] and r["rank"] and r["reviewers"] == 3
               for r in results.values())
    best = max(DATA["appraisal"]["subjects"], key=lambda s: s["level"])
    assert results[best["unit"]]["rank"] == 1
    assert sorted(r["rank"] for r in results.values())[0] == 1
    fed = loaded.conn.scalar(
        select(func.count()).select_from(indicators_store.data_values)
        .join(indicators_store.data_elements,
              indicators_store.data_elements.c.id == indicators_store.data_values.c.data_element_id)
        .where(indicators_store.data_elements.c.code == DATA["appraisal"]["round"]["element"]["code"]))
    assert fed == 10


def test_the_reviewers_log_in_with_the_demo_password(loaded: Demo) -> None:
    for user in demo.DEMO_USERS:
        principal = check_password(loaded.conn, username=user["username"], password=shanghai2020.PASSWORD)
        assert principal.username == user["username"] and "synthetic" in principal.display_name


def test_rectification_measures_are_in_the_states_of_the_json(loaded: Demo) -> None:
    findings = loaded.get("/api/plans/rectification/findings", as_of=YEAR_END)["findings"]
    assert len(findings) == len(DATA["rectification"]["findings"])
    assert all("合成" in f["text"] for f in findings)
    wanted = Counter("in_progress" if m["state"] == "reopened" else m["state"]
                     for f in DATA["rectification"]["findings"] for m in f["measures"])
    assert Counter(m["state"] for f in findings for m in f["measures"]) == wanted
    assert {"closed", "verified", "rectified", "in_progress"} <= set(wanted)
    overdue = loaded.get("/api/plans/rectification/overdue", as_of=YEAR_END)["measures"]
    reopened, late = json_measure("reopened"), json_measure("in_progress")
    # the one left in progress past its deadline, and the one the re-check reopened
    assert sorted(m["text"] for m in overdue) == sorted(f"{m['text']}（合成）" for m in (reopened, late))
    assert all(m["overdue"] and m["state"] == "in_progress" for m in overdue)


def test_the_reopened_measure_was_reopened_by_the_recheck(loaded: Demo) -> None:
    findings = loaded.get("/api/plans/rectification/findings", as_of=YEAR_END)["findings"]
    reopened = json_measure("reopened")
    measure = next(m for f in findings for m in f["measures"] if m["text"] == f"{reopened['text']}（合成）")
    history = loaded.get(f"/api/plans/rectification/measures/{measure['id']}", as_of=YEAR_END)
    steps = [h["step"] for h in history["history"]]
    assert steps[-1] == "recheck" and "verify" in steps
    assert history["history"][-1]["comment"] == reopened["recheck"]


def test_the_risk_register_has_its_risks_and_reviews(loaded: Demo) -> None:
    register = loaded.get("/api/plans/risks", as_of=YEAR_END)
    risks = register["risks"]
    assert len(risks) == len(DATA["risks"]) == 8
    assert all(r["title"].endswith("（合成）") for r in risks)
    by_title = {r["title"]: r for r in risks}
    for spec in DATA["risks"]:
        risk = by_title[f"{spec['title_zh']}（合成）"]
        last = spec["reviews"][-1]
        assert (risk["likelihood"], risk["impact"]) == (last["likelihood"], last["impact"])
        assert risk["lastReview"] == last["on"]
    covid = loaded.get(f"/api/plans/risks/{by_title['校园疫情防控风险（合成）']['id']}", as_of=YEAR_END)
    assert len(covid["reviews"]) == 3
    assert [(k["indicator"], k["value"]) for k in covid["indicators"]] == [("CAMPUS_CASES", 0)]


def test_the_json_is_the_same_every_time_and_scores_are_whole_and_in_scale() -> None:
    first, second = demo.scores(DATA), demo.scores(DATA)
    assert first == second
    values = [v for by_reviewer in first.values() for mine in by_reviewer.values() for v in mine.values()]
    assert all(60 <= v <= 100 and v == int(v) for v in values)
    assert demo.target("1:159") == 1 / 159 and demo.target(None) is None and demo.target(53) == 53.0
    assert dt.date.fromisoformat(DATA["appraisal"]["round"]["closed_on"]) > dt.date.fromisoformat(
        DATA["appraisal"]["round"]["deadline"])


@pytest.mark.slow
def test_jiaowei_demo_loads_the_plans_and_prints_the_reviewers_logins(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIAOWEI_")}
    env.update(JIAOWEI_HOME=str(tmp_path), COLUMNS="80")
    result = subprocess.run([sys.executable, "-m", "jiaowei", "demo"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert f"{len(json_items())} key tasks of 2020" in result.stdout
    assert "not loaded" not in result.stdout
    assert all(user["username"] in result.stdout for user in demo.DEMO_USERS)
    # not a terminal: one whole line per login, however narrow the terminal would have been
    whole_line = ("  commission  jiaowei-demo  commission_staff  310000  "
                  "Commission staff (市教委): the whole system")
    assert whole_line + "\n" in result.stdout
    assert "Loaded the Shanghai 2020 demo: " in result.stdout and "…" not in result.stdout
    assert list((tmp_path / "evidence").rglob("*"))  # the year-end reports' PDF summaries
