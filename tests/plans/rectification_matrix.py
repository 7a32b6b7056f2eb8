"""The rectification ledger's lines of the scope matrix (tests/auth/test_scope_matrix.py).

:func:`seed_rectification` records a finding with one measure at each unit outside D1 (D2, S2, SH);
the D1 district user (plans.report over D1, no plans.manage) must neither see them nor move them,
nor record findings anywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM

API = "/api/plans/rectification"
PAGES = "/plans/rectification"
PDF = b"%PDF-1.4\n%%EOF\n"
FOUND: dict[str, tuple[str, str]] = {}  # unit code -> (finding uid, measure uid)


def seed_rectification(conn: Connection) -> None:
    import datetime as dt

    from jiaowei.plans.ledger import queries, service

    measures = [{"text": "措施", "owner": "办公室", "deadline": "2020-06-30"}]
    for out in ("D2", "S2", "SH"):
        uid = service.record_finding(conn, principal=SYSTEM, source_kind="inspection", source=f"巡视 {out}",
                                     found_on="2020-04-01", unit=out, severity="high", text="问题",
                                     measures=measures)
        found = queries.finding(conn, principal=SYSTEM, uid=uid, today=dt.date(2020, 7, 1))
        FOUND[out] = (uid, found.measures[0].uid)


def _finding(out: str) -> str:
    return FOUND.get(out, ("F" + out, ""))[0]


def _measure(out: str) -> str:
    return FOUND.get(out, ("", "M" + out))[1]


def rectification_matrix(call: type) -> dict[tuple[str, str], Callable[[str], list[Any]]]:
    """The lines, built with the matrix's own ``Call``."""
    body = {"sourceKind": "inspection", "source": "x", "foundOn": "2020-04-01", "severity": "high",
            "text": "x"}
    measure_body = {"text": "x", "owner": "y", "deadline": "2020-12-31"}
    form = {"source_kind": "inspection", "source": "x", "found_on": "2020-04-01", "severity": "high",
            "text": "x"}
    pdf = {"evidence": ("a.pdf", PDF, "application/pdf")}
    move = {"to_state": "in_progress"}

    def one(method: str, url: Callable[[str], str], status: int, **kw: Callable[[str], Any]) -> Any:
        return lambda out: [call(method, url(out), status=status, **{k: v(out) for k, v in kw.items()})]

    def reads(url: str, params: dict[str, str]) -> Any:
        return lambda out: [call("GET", url, params={"orgUnit" if url.startswith(API) else "unit": out},
                                 status=404),
                            call("GET", url, params=params, status=200)]

    return {
        ("GET", f"{API}/findings"): reads(f"{API}/findings", {"as_of": "2020-07-01"}),
        ("POST", f"{API}/findings"): one("POST", lambda _: f"{API}/findings", 403,
                                         json=lambda out: {**body, "orgUnit": out}),
        ("GET", f"{API}/findings/{{uid}}"): one("GET", lambda out: f"{API}/findings/{_finding(out)}", 404),
        ("POST", f"{API}/findings/{{uid}}/measures"): one(
            "POST", lambda out: f"{API}/findings/{_finding(out)}/measures", 403, json=lambda _: measure_body),
        ("GET", f"{API}/measures/{{uid}}"): one("GET", lambda out: f"{API}/measures/{_measure(out)}", 404),
        ("POST", f"{API}/measures/{{uid}}/transitions"): one(
            "POST", lambda out: f"{API}/measures/{_measure(out)}/transitions", 404, data=lambda _: move),
        ("POST", f"{API}/measures/{{uid}}/evidence"): one(
            "POST", lambda out: f"{API}/measures/{_measure(out)}/evidence", 404, files=lambda _: pdf),
        ("GET", f"{API}/overdue"): reads(f"{API}/overdue", {"as_of": "2020-12-31"}),
        ("GET", f"{API}/rates"): reads(f"{API}/rates", {"by": "source", "as_of": "2020-07-01"}),
        ("GET", PAGES): reads(PAGES, {"as_of": "2020-12-31"}),
        ("POST", f"{PAGES}/findings"): one("POST", lambda _: f"{PAGES}/findings", 403,
                                           data=lambda out: {**form, "unit": out}),
        ("GET", f"{PAGES}/findings/{{uid}}"): one("GET", lambda out: f"{PAGES}/findings/{_finding(out)}",
                                                  404),
        ("POST", f"{PAGES}/findings/{{uid}}/measures"): one(
            "POST", lambda out: f"{PAGES}/findings/{_finding(out)}/measures", 404,
            data=lambda _: measure_body),
        ("POST", f"{PAGES}/measures/{{uid}}/transition"): one(
            "POST", lambda out: f"{PAGES}/measures/{_measure(out)}/transition", 404, data=lambda _: move,
            files=lambda _: pdf),
    }
