"""The key tasks' reads take five statements however many items, reports and checkpoints (issue 17, part
3: each statement is a round trip on PostgreSQL): the checkpoints come with their progress reports, on
the board, in a task's page and in their APIs. Read-only requests then keep them per process until the
plans change (decision 0023)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.factories import login
from tests.plans.tasks_fixtures import YEAR, build_plan
from tests.plans.test_plans_statements import DAY, Seen, _changed, _get, _grow_the_plan, _schools

PLAN_TABLES = ("plan_items", "plan_item_units", "plan_milestones", "plan_links", "plan_checkpoints",
               "plan_reports")


def _plan_reads(statements: list[tuple[str, int]]) -> list[str]:
    """The statements that read the plan's tables (plans, the year's list, are read on their own)."""
    return [s for s, _ in statements
            if s.startswith("SELECT") and any(f" FROM {t} " in f"{s} " for t in PLAN_TABLES)]


def test_checkpoints_come_with_their_reports(
        browser: TestClient, conn: Connection) -> None:
    plan = build_plan(conn)
    schools = _schools(conn, 3)
    login(browser, "planner")
    urls = ["/plans", f"/plans/tasks/{plan.task1}", f"/api/plans/tasks/{plan.task1}",
            f"/api/plans/years/{YEAR}"]
    before = [_first(browser, conn, url) for url in urls]
    _grow_the_plan(conn, plan, schools)  # more tasks, each with checkpoints, a report, sub-tasks
    after = [_first(browser, conn, url) for url in urls]
    for url, old, new in zip(urls, before, after, strict=True):
        reads = _plan_reads(new.statements)
        assert len(reads) == 5, (url, reads)  # items, units, milestones, links, checkpoints and reports
        assert not [s for s in reads if s.startswith("SELECT plan_checkpoints.")], url
        assert len(new.statements) == len(old.statements), url
        assert _plan_reads(_get(browser, conn, url, as_of=DAY).statements) == [], url  # kept since


def _first(browser: TestClient, conn: Connection, url: str) -> Seen:
    """The statements of ``url``'s first request after a change to the plans (decision 0023)."""
    _changed(conn)
    return _get(browser, conn, url, as_of=DAY)
