"""The plans pages read what they show in a number of statements that does not grow with the plan, the
register or the rounds (issue 17, part 3: each statement is a round trip on PostgreSQL): the board, "my
tasks" and the reminders of ``/plans`` share one read of the year's tasks, a task's page reads the task
with its parent and children at once, the tasks' items are one parameter, the register reads its
units' paths at once and an appraisal round's visibility is checked once for all its subjects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from jiaowei.auth.model import SYSTEM, Principal
from jiaowei.plans.appraisals import queries as appraisals
from jiaowei.plans.appraisals import service as appraisal_service
from jiaowei.plans.risks import service as risks
from jiaowei.plans.tasks import service as tasks
from tests.factories import login, make_unit, make_user, token_for
from tests.plans.tasks_fixtures import YEAR, Plan, build_plan, post_values
from tests.statements import counting

DAY = "2020-07-20"  # the deploy and advance checkpoints are past: reminders, reports


@dataclass
class Seen:
    """The statements a request ran, each with its number of bound parameters."""

    statements: list[tuple[str, int]] = field(default_factory=list)

    def reads(self, table: str) -> int:
        return sum(1 for s, _ in self.statements if s.startswith("SELECT") and f" FROM {table} " in f"{s} ")

    def parameters(self, table: str, conn: Connection) -> list[int]:
        """The bound parameters of each statement that reads ``table``, on PostgreSQL (where ids are
        one array parameter; SQLite takes them as an ``IN`` list, which costs it little)."""
        if conn.dialect.name != "postgresql":
            return []
        return [n for s, n in self.statements if f" {table}." in s or f" {table} " in f"{s} "]


def _get(client: TestClient, conn: Connection, url: str, **params: str) -> Seen:
    with counting(conn) as count:
        page = client.get(url, params=params)
    assert page.status_code == 200, page.text
    return Seen(count.seen)


def _changed(conn: Connection) -> None:
    """A write to the plans' tables that changes nothing: the next read-only request reads the plans
    again, as the first after any change does (they are kept per process under the ``plans`` stamp,
    decision 0023)."""
    conn.execute(text("UPDATE plans SET title_zh = title_zh"))


def _schools(conn: Connection, count: int) -> list[str]:
    """New schools in D1, made before the first request (the analytics engine reads a changed tree
    again, once)."""
    return [make_unit(conn, parent="D1") for _ in range(count)]


def _grow_the_plan(conn: Connection, plan: Plan, schools: list[str]) -> None:
    """A task led by each school with supporting units, a milestone, a linked indicator and a progress
    report, and a sub-task under the first task."""
    for n, school in enumerate(schools):
        uid = tasks.save_item(
            conn, principal=plan.staff, year=YEAR, parent=plan.education, kind="task", number=f"{n + 3}",
            title_zh=f"任务{n}", lead_unit=school, supporting_units=["S1", "D2"],
            milestones=[{"title": "方案", "due": dt.date(2020, 5, 1)}],
            links=[{"indicator": "PTR", "unit": "D1", "period": "2020"}],
        )
        tasks.report_progress(conn, principal=plan.staff, task=uid, stage="deploy", percent=20,
                              narrative="已部署", today=dt.date(2020, 4, 1))
        tasks.save_item(conn, principal=plan.staff, year=YEAR, parent=plan.task1, kind="subtask",
                        number=f"({n + 2})", title_zh=f"子任务{n}", lead_unit=school)


def test_plans_reads_the_year_s_tasks_once_for_the_board_my_tasks_and_the_reminders(
        browser: TestClient, conn: Connection) -> None:
    plan = build_plan(conn)
    post_values(browser, conn)
    schools = _schools(conn, 4)
    login(browser, "planner")
    _changed(conn)
    seen = _get(browser, conn, "/plans", as_of=DAY)
    for table in ("plan_items", "plan_item_units", "plan_milestones", "plan_links", "plan_checkpoints",
                  "plans"):
        assert seen.reads(table) == 1, table
    assert seen.reads("indicators") <= 1  # the process keeps them under the metadata stamp
    assert seen.reads("plan_reports") == 0  # read with the checkpoints
    _grow_the_plan(conn, plan, schools)
    grown = _get(browser, conn, "/plans", as_of=DAY)
    assert len(grown.statements) == len(seen.statements)
    for table in ("plan_item_units", "plan_milestones", "plan_links", "plan_checkpoints", "plan_reports"):
        assert grown.parameters(table, conn) == seen.parameters(table, conn), table  # no ids: every row
    again = _get(browser, conn, "/plans", as_of=DAY)  # the plans unchanged since: kept by the process
    assert [table for table in ("plans", "plan_items", "plan_checkpoints") if again.reads(table)] == []


def test_the_year_s_board_and_my_tasks_read_as_many_statements_however_many_tasks(
        client: TestClient, conn: Connection) -> None:
    plan = build_plan(conn)
    post_values(client, conn)
    client.headers.update(token_for(conn, make_user(conn, "admin")))
    schools = _schools(conn, 3)
    client.get(f"/api/plans/years/{YEAR}")  # the token's first use is written, the analytics copy made
    urls = [f"/api/plans/years/{YEAR}", "/api/plans/my", "/api/plans/reminders"]
    _changed(conn)
    before = [_get(client, conn, url, as_of=DAY) for url in urls]  # the first reads the plans again
    _grow_the_plan(conn, plan, schools)
    after = [_get(client, conn, url, as_of=DAY) for url in urls]
    for url, old, new in zip(urls, before, after, strict=True):
        assert len(new.statements) == len(old.statements), url
        assert new.parameters("plan_reports", conn) == old.parameters("plan_reports", conn), url


def test_a_task_page_reads_the_task_its_parent_and_its_children_at_once(
        browser: TestClient, conn: Connection) -> None:
    plan = build_plan(conn)
    post_values(browser, conn)
    make_user(conn, "viewer", role="viewer", view=["SH"])
    schools = _schools(conn, 3)
    login(browser, "viewer")
    seen = _get(browser, conn, f"/plans/tasks/{plan.task1}", as_of=DAY)
    assert seen.reads("plan_items") == 1
    assert seen.reads("plan_milestones") == 1
    _grow_the_plan(conn, plan, schools)  # three more children, each with its own units
    grown = _get(browser, conn, f"/plans/tasks/{plan.task1}", as_of=DAY)
    assert len(grown.statements) == len(seen.statements)
    assert grown.parameters("plan_milestones", conn) == seen.parameters("plan_milestones", conn)


def _risks(conn: Connection, units: list[str]) -> None:
    for unit in units:
        risks.create_risk(conn, principal=SYSTEM, category="finance", title=f"风险{unit}", unit=unit,
                          likelihood=3, impact=4, cadence="monthly", today=dt.date(2020, 1, 1))


def test_the_register_reads_its_units_at_once(browser: TestClient, conn: Connection) -> None:
    build_plan(conn)
    make_user(conn, "dstaff", role="district_staff", capture=["D1"])
    _risks(conn, ["D1", "S1", "D2"])
    login(browser, "dstaff")
    browser.get("/plans/risks", params={"as_of": "2020-06-01"})  # the risks, read and kept (decision 0023)
    seen = _get(browser, conn, "/plans/risks", as_of="2020-06-01")
    assert not [s for s, _ in seen.statements if s.startswith("SELECT count(*)")]  # the picker pages nothing
    _risks(conn, [make_unit(conn, parent="D1") for _ in range(4)] + ["S2", "SH"])
    browser.get("/plans/risks", params={"as_of": "2020-06-01"})  # the first after: the registry, the risks
    grown = _get(browser, conn, "/plans/risks", as_of="2020-06-01")
    assert len(grown.statements) == len(seen.statements)


def _rounds(conn: Connection, reviewer: Principal, units: list[str], count: int) -> list[str]:
    """``count`` closed rounds appraising ``units``, each scored by ``reviewer``."""
    template = appraisal_service.create_template(conn, principal=SYSTEM, name_zh="评议", criteria=[
        {"name_zh": "党建", "weight": 1, "min": 0, "max": 100},
        {"name_zh": "业务", "weight": 1, "min": 0, "max": 100}])
    day = dt.date(2020, 12, 1)
    made = []
    for n in range(count):
        uid = appraisal_service.create_round(
            conn, principal=SYSTEM, template=template, year=2020, title_zh=f"评议{n}", deadline=day,
            subjects=[{"unit": u} for u in units], reviewers=[reviewer.username], today=day)
        detail = appraisals.round_detail(conn, principal=reviewer, uid=uid, today=day)
        for s in detail.subjects:
            appraisal_service.record_scores(conn, principal=reviewer, round=uid, subject=s.uid, today=day,
                                            scores=[{"criterion": c.uid, "score": 80}
                                                    for c in detail.template.criteria])
        appraisal_service.close_round(conn, principal=SYSTEM, round=uid, today=day)
        made.append(uid)
    return made


def test_the_rounds_and_a_round_check_their_subjects_scope_at_once(browser: TestClient,
                                                                   conn: Connection) -> None:
    build_plan(conn)
    reviewer = make_user(conn, "apreviewer", role="viewer")
    make_user(conn, "d1viewer", role="viewer", view=["D1"])
    small = _rounds(conn, reviewer, ["S1", "D2"], 1)
    login(browser, "d1viewer")
    for url in ("/plans/appraisals", f"/plans/appraisals/{small[0]}"):  # what a process keeps, read
        browser.get(url)
    listed = _get(browser, conn, "/plans/appraisals")
    one = _get(browser, conn, f"/plans/appraisals/{small[0]}")
    schools = [make_unit(conn, parent="D1") for _ in range(4)]
    large = _rounds(conn, reviewer, ["S1", "D2", "S2", *schools], 3)
    for url in ("/plans/appraisals", f"/plans/appraisals/{large[0]}"):  # the registry and the rounds
        browser.get(url)  # changed: the first request after reads them again (decisions 0022, 0023)
    assert len(_get(browser, conn, "/plans/appraisals").statements) == len(listed.statements)
    many = _get(browser, conn, f"/plans/appraisals/{large[0]}")
    assert len(many.statements) == len(one.statements)
    assert many.parameters("evidence_attachments", conn) == one.parameters("evidence_attachments", conn)


def test_the_templates_are_read_with_their_criteria_in_one_statement(conn: Connection) -> None:
    made = [appraisal_service.create_template(conn, principal=SYSTEM, name_zh=f"评议{n}", criteria=[
        {"name_zh": f"标准{n}.{k}", "weight": 1, "min": 0, "max": 10} for k in range(1, n + 1)])
        for n in (1, 3, 2)]
    with counting(conn) as count:
        found = appraisals.list_templates(conn, principal=SYSTEM)
    assert count.statements == 1
    assert [t.uid for t in found] == list(reversed(made))  # newest first
    assert [[c.name_zh for c in t.criteria] for t in found] == [
        ["标准2.1", "标准2.2"], ["标准3.1", "标准3.2", "标准3.3"], ["标准1.1"]]
    assert appraisals.template_by_id(conn, found[1].id) == found[1]
