"""The key tasks pages' lines of the scope matrix (tests/auth/test_scope_matrix.py), on the plan that
:func:`tests.plans.tasks_matrix.seed_tasks` makes (one task led by each of D2, S2 and SH, each with a
report): the D1 district user sees none of them on the board or "my tasks", gets 404 for their pages, and
can neither report on them, review their reports nor override their status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.plans.tasks_matrix import PDF, _report, _task


def task_pages_matrix(call: type) -> dict[tuple[str, str], Callable[[str], list[Any]]]:
    """The lines, built with the matrix's own ``Call``."""
    report = {"stage": "advance", "percent": "50", "narrative": "x", "as_of": "2020-07-20"}
    review = {"decision": "accept", "status": "at_risk", "reason": "x"}
    item = {"kind": "task", "number": "1", "title_zh": "x", "lead_unit": "D1", "milestones[0].title": "x"}
    edit = {**item, "links[0].indicator": "PTR", "supporting_units[0]": "D1"}
    return {
        ("GET", "/plans/new"): lambda out: [call("GET", "/plans/new", params={"year": "2031"}, status=403)],
        ("POST", "/plans/new"): lambda out: [
            call("POST", "/plans/new", data={"year": "2031", "title_zh": out}, status=403)
        ],
        ("GET", "/plans/tasks/new"): lambda out: [
            call(
                "GET",
                "/plans/tasks/new",
                params={"year": "2020", "parent": _task(out), "kind": k},
                status=403,
            )
            for k in ("section", "subtask")
        ],
        ("POST", "/plans/tasks/new"): lambda out: [
            call("POST", "/plans/tasks/new", data={**item, "year": "2020", "lead_unit": out}, status=403),
            call(
                "POST",
                "/plans/tasks/new",
                data={**item, "year": "2020", "parent": _task(out), "kind": "subtask"},
                status=403,
            ),
        ],
        ("GET", "/plans/tasks/{uid}/edit"): lambda out: [
            call("GET", f"/plans/tasks/{_task(out)}/edit", status=403)
        ],
        ("POST", "/plans/tasks/{uid}/edit"): lambda out: [
            call("POST", f"/plans/tasks/{_task(out)}/edit", data={**edit, "lead_unit": out}, status=403)
        ],
        ("GET", "/plans"): lambda out: [
            call("GET", "/plans", params={"year": "2020", "by": by, "as_of": "2020-07-20"}, status=200)
            for by in ("section", "unit", "status")
        ],
        ("GET", "/plans/my"): lambda out: [
            call("GET", "/plans/my", params={"as_of": "2020-07-20", "unit": out}, status=200),
            call("GET", "/plans/my", params={"as_of": "2020-07-20"}, status=200),
        ],
        ("GET", "/plans/tasks/{uid}"): lambda out: [call("GET", f"/plans/tasks/{_task(out)}", status=404)],
        ("POST", "/plans/tasks/{uid}/report"): lambda out: [
            call("POST", f"/plans/tasks/{_task(out)}/report", data=report, status=404),
            call(
                "POST",
                f"/plans/tasks/{_task(out)}/report",
                data=report,
                files={"evidence": ("a.pdf", PDF, "application/pdf")},
                status=404,
            ),
        ],
        ("POST", "/plans/tasks/{uid}/reports/{report_uid}/review"): lambda out: [
            call("POST", f"/plans/tasks/{_task(out)}/reports/{_report(out)}/review", data=review, status=403)
        ],
        ("POST", "/plans/tasks/{uid}/status"): lambda out: [
            call(
                "POST",
                f"/plans/tasks/{_task(out)}/status",
                data={"status": "done", "reason": "x"},
                status=403,
            )
        ],
    }
