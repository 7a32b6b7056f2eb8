"""The key tasks' API lines of the scope matrix (tests/auth/test_scope_matrix.py).

:func:`seed_tasks` makes the 2020 plan with one task led by each unit outside D1 (D2, S2, SH), each with
a progress report; the D1 district user (plans.report over D1, no plans.manage) must neither see them
nor report on them, nor create, change, review or override anything."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM

API = "/api/plans"
PDF = b"%PDF-1.4\n%%EOF\n"
SEEDED: dict[str, tuple[str, str]] = {}  # unit code -> (task uid, report uid)


def seed_tasks(conn: Connection) -> None:
    from jiaowei.plans.tasks import queries, service

    if not queries.years(conn):
        service.create_plan(conn, principal=SYSTEM, year=2020, title_zh="2020年工作要点")
    section = service.save_item(
        conn, principal=SYSTEM, year=2020, parent=None, kind="section", number="九", title_zh="范围"
    )
    for out in ("D2", "S2", "SH"):
        task = service.save_item(
            conn,
            principal=SYSTEM,
            year=2020,
            parent=section,
            kind="task",
            number=out,
            title_zh="任务",
            lead_unit=out,
            deadline=dt.date(2020, 6, 30),
        )
        report = service.report_progress(
            conn,
            principal=SYSTEM,
            task=task,
            stage="deploy",
            percent=10,
            narrative="进展",
            today=dt.date(2020, 3, 1),
        )
        SEEDED[out] = (task, report)


def _task(out: str) -> str:
    return SEEDED.get(out, ("T" + out, ""))[0]


def _report(out: str) -> str:
    return SEEDED.get(out, ("", "R" + out))[1]


def tasks_matrix(call: type) -> dict[tuple[str, str], Callable[[str], list[Any]]]:
    """The lines, built with the matrix's own ``Call``."""
    item = {"kind": "task", "title_zh": "x", "number": "1"}
    report = {"stage": "advance", "percent": "50", "narrative": "x"}
    pdf = {"evidence": ("a.pdf", PDF, "application/pdf")}

    def one(method: str, url: Callable[[str], str], status: int, **kw: Callable[[str], Any]) -> Any:
        return lambda out: [call(method, url(out), status=status, **{k: v(out) for k, v in kw.items()})]

    return {
        ("GET", f"{API}/years"): lambda out: [call("GET", f"{API}/years", status=200)],
        ("POST", f"{API}/years"): one(
            "POST", lambda _: f"{API}/years", 403, json=lambda out: {"year": 2031, "title_zh": out}
        ),
        ("GET", f"{API}/years/{{year}}"): lambda out: [
            call("GET", f"{API}/years/2020", params={"as_of": d}, status=200)
            for d in ("2020-02-01", "2020-07-01", "2021-01-01")
        ],
        ("POST", f"{API}/years/{{year}}/items"): lambda out: [
            call("POST", f"{API}/years/2020/items", json={**item, "lead_unit": out}, status=403),
            call(
                "POST",
                f"{API}/years/2020/items",
                json={**item, "lead_unit": "D1", "parent": _task(out)},
                status=403,
            ),
        ],
        ("GET", f"{API}/tasks/{{uid}}"): one("GET", lambda out: f"{API}/tasks/{_task(out)}", 404),
        ("PUT", f"{API}/tasks/{{uid}}"): one(
            "PUT", lambda out: f"{API}/tasks/{_task(out)}", 404, json=lambda _: {**item, "lead_unit": "D1"}
        ),
        ("POST", f"{API}/tasks/{{uid}}/reports"): lambda out: [
            call("POST", f"{API}/tasks/{_task(out)}/reports", data=report, status=404),
            call("POST", f"{API}/tasks/{_task(out)}/reports", data=report, files=pdf, status=404),
        ],
        ("POST", f"{API}/reports/{{uid}}/review"): one(
            "POST",
            lambda out: f"{API}/reports/{_report(out)}/review",
            403,
            json=lambda _: {"decision": "accept"},
        ),
        ("PUT", f"{API}/tasks/{{uid}}/status"): one(
            "PUT",
            lambda out: f"{API}/tasks/{_task(out)}/status",
            403,
            json=lambda _: {"status": "done", "reason": "x"},
        ),
        ("GET", f"{API}/my"): lambda out: [
            call("GET", f"{API}/my", params={"as_of": "2020-05-01"}, status=200)
        ],
        ("GET", f"{API}/reminders"): lambda out: [
            call("GET", f"{API}/reminders", params={"as_of": "2020-05-01", "unit": out}, status=200),
            call("GET", f"{API}/reminders", params={"as_of": "2020-05-01", "within_days": "366"}, status=200),
        ],
    }
