"""The risk register's lines of the scope matrix (tests/auth/test_scope_matrix.py).

:func:`seed_risks` registers one risk at each unit outside D1 (D2, S2, SH); the D1 district user
(plans.report over D1, no plans.manage) must neither see them nor review, change or close them, nor
register risks anywhere."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM

API = "/api/plans/risks"
PAGES = "/plans/risks"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
RISKS: dict[str, str] = {}  # unit code -> risk uid


def seed_risks(conn: Connection) -> None:
    from jiaowei.plans.risks import service

    for out in ("D2", "S2", "SH"):
        RISKS[out] = service.create_risk(
            conn,
            principal=SYSTEM,
            category="finance",
            title="风险",
            unit=out,
            likelihood=3,
            impact=4,
            cadence="monthly",
            today=dt.date(2020, 1, 1),
        )


def _book(out: str) -> bytes:
    """A workbook with a task led by ``out`` and a finding about it."""
    from openpyxl import Workbook

    wb = Workbook()
    tasks = wb.active
    tasks.title = "tasks"
    tasks.append(["year", "number", "parent_number", "kind", "title_zh", "lead_unit"])
    tasks.append([2020, "一", None, "section", "部分", None])
    tasks.append([2020, "1", "一", "task", "任务", out])
    findings = wb.create_sheet("findings")
    findings.append(["source_kind", "source", "found_on", "unit", "severity", "text"])
    findings.append(["inspection", "x", "2020-04-01", out, "high", "x"])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def workbook_matrix(call: type) -> dict[tuple[str, str], Callable[[str], list[Any]]]:
    """Import (plans.manage: refused to the D1 user), export (only what the user sees), the template."""
    xlsx = "application/octet-stream"
    return {
        ("POST", "/api/plans/import"): lambda out: [
            call("POST", "/api/plans/import", files={"file": ("p.xlsx", _book(out), xlsx)}, status=403),
            call(
                "POST",
                "/api/plans/import",
                params={"filename": "p.xlsx", "dry_run": "true"},
                content=_book(out),
                status=403,
            ),
        ],
        ("GET", "/api/plans/export"): lambda out: [call("GET", "/api/plans/export", params={"year": "2020"})],
        ("GET", "/api/plans/import/template"): lambda out: [
            call("GET", "/api/plans/import/template", status=200)
        ],
        ("GET", "/plans/import"): lambda out: [call("GET", "/plans/import", status=200)],
        ("POST", "/plans/import"): lambda out: [
            call("POST", "/plans/import", files={"file": ("p.xlsx", _book(out), xlsx)}, data={}, status=403)
        ],
        ("GET", "/plans/import/template.xlsx"): lambda out: [
            call("GET", "/plans/import/template.xlsx", status=200)
        ],
        ("GET", "/plans/export.xlsx"): lambda out: [
            call("GET", "/plans/export.xlsx", params={"year": "2020"})
        ],
    }


def _risk(out: str) -> str:
    return RISKS.get(out, "R" + out)


def risks_matrix(call: type) -> dict[tuple[str, str], Callable[[str], list[Any]]]:
    """The lines, built with the matrix's own ``Call``."""
    body = {"category": "finance", "title": "x", "likelihood": 1, "impact": 1}
    form = {"category": "finance", "title": "x", "likelihood": "1", "impact": "1", "cadence": "monthly"}
    review = {"likelihood": 1, "impact": 1, "note": "x"}
    png = {"evidence": ("a.png", PNG, "image/png")}

    def one(method: str, suffix: str = "", base: str = API, status: int | None = 404, **kw: Any) -> Callable:
        return lambda out: [call(method, f"{base}/{_risk(out)}{suffix}", status=status, **kw)]

    return {
        ("GET", API): lambda out: [
            call("GET", API, params={"ou": out}, status=404),
            call("GET", API, params={"as_of": "2020-06-01", "state": "all"}, status=200),
        ],
        ("POST", API): lambda out: [call("POST", API, json={**body, "orgUnit": out}, status=403)],
        ("GET", f"{API}/{{uid}}"): one("GET"),
        ("PATCH", f"{API}/{{uid}}"): one("PATCH", json={"impact": 5}, status=403),
        ("POST", f"{API}/{{uid}}/close"): one("POST", "/close", json={}, status=403),
        ("POST", f"{API}/{{uid}}/reopen"): one("POST", "/reopen", status=403),
        ("POST", f"{API}/{{uid}}/reviews"): lambda out: [
            call("POST", f"{API}/{_risk(out)}/reviews", json=review, status=404),
            call(
                "POST",
                f"{API}/{_risk(out)}/reviews",
                data={k: str(v) for k, v in review.items()},
                files=png,
                status=404,
            ),
        ],
        ("GET", PAGES): lambda out: [
            call("GET", PAGES, params={"unit": out}, status=404),
            call("GET", PAGES, params={"as_of": "2020-06-01", "state": "all"}, status=200),
        ],
        ("GET", f"{PAGES}/new"): lambda out: [call("GET", f"{PAGES}/new")],
        ("POST", f"{PAGES}/new"): lambda out: [
            call("POST", f"{PAGES}/new", data={**form, "unit": out}, status=403)
        ],
        ("GET", f"{PAGES}/{{uid}}"): one("GET", base=PAGES),
        ("GET", f"{PAGES}/{{uid}}/edit"): one("GET", "/edit", base=PAGES),
        ("POST", f"{PAGES}/{{uid}}/edit"): one(
            "POST", "/edit", base=PAGES, data={**form, "unit": "S1"}, status=403
        ),
        ("POST", f"{PAGES}/{{uid}}/reviews"): one(
            "POST", "/reviews", base=PAGES, data={"likelihood": "1", "impact": "1", "note": "x"}, files=png
        ),
        ("POST", f"{PAGES}/{{uid}}/close"): one("POST", "/close", base=PAGES, data={}, status=403),
        ("POST", f"{PAGES}/{{uid}}/reopen"): one("POST", "/reopen", base=PAGES, data={}, status=403),
    }
