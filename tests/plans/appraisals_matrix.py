"""The appraisals' lines of the scope matrix (tests/auth/test_scope_matrix.py).

:func:`seed_appraisals` makes a template and two rounds: an open one appraising D2, S2 and SH, and a
closed one appraising S1 (inside D1), S2, D2 and SH, both reviewed by someone else. The D1 district
user (no plans.manage, no assignment) must see nothing of the open round, only S1's result of the
closed one, and may neither make templates or rounds, score, move a deadline nor close a round."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM

API = "/api/plans/appraisals"
PAGES = "/plans/appraisals"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
SEEDED: dict[str, str] = {}  # "template", "open", "closed", "subject:<code>", "criterion"


def seed_appraisals(conn: Connection) -> None:
    from jiaowei.plans.appraisals import queries, service
    from tests.factories import make_user

    reviewer = make_user(conn, "apreviewer", role="viewer")
    day = dt.date(2020, 12, 1)
    template = service.create_template(conn, principal=SYSTEM, name_zh="评议", criteria=[
        {"name_zh": "党建", "weight": 1, "min": 0, "max": 100}])
    SEEDED["template"] = template
    for name, units in (("open", ("D2", "S2", "SH")), ("closed", ("S1", "S2", "D2", "SH"))):
        SEEDED[name] = service.create_round(
            conn, principal=SYSTEM, template=template, year=2020, title_zh=f"评议{name}", deadline=day,
            subjects=[{"unit": u} for u in units], reviewers=[reviewer.username], today=day)
    detail = queries.round_detail(conn, principal=reviewer, uid=SEEDED["closed"], today=day)
    SEEDED["criterion"] = detail.template.criteria[0].uid
    for s in detail.subjects:
        service.record_scores(conn, principal=reviewer, round=SEEDED["closed"], subject=s.uid, today=day,
                              scores=[{"criterion": SEEDED["criterion"], "score": 70 + s.position}])
    service.close_round(conn, principal=SYSTEM, round=SEEDED["closed"], today=day)
    opened = queries.round_detail(conn, principal=SYSTEM, uid=SEEDED["open"], today=day)
    SEEDED.update({f"subject:{s.unit}": s.uid for s in opened.subjects})


def appraisals_matrix(call: type) -> dict[tuple[str, str], Callable[[str], list[Any]]]:
    """The lines, built with the matrix's own ``Call``."""
    template = {"name_zh": "x", "criteria": [{"name_zh": "x"}]}

    def body(out: str) -> dict[str, Any]:
        return {"template": SEEDED.get("template", "x"), "year": 2020, "title_zh": "x",
                "deadline": "2020-12-31", "reviewers": ["d1staff"], "subjects": [{"orgUnit": out}]}

    def rounds(out: str) -> list[str]:
        return [SEEDED.get("open", "x"), SEEDED.get("closed", "x"), "R" + out]

    def each(method: str, suffix: str, base: str = f"{API}/rounds", status: int | None = None,
             **kw: Any) -> Callable:
        return lambda out: [call(method, f"{base}/{r}{suffix}", status=status, **kw) for r in rounds(out)]

    def scores(base: str, method: str) -> Callable:
        suffix = "" if base == PAGES else "/scores"

        def payload() -> dict[str, Any]:
            criterion = SEEDED.get("criterion", "x")
            if method == "GET":
                return {}
            if base == PAGES:
                return {"data": {f"score-{criterion}": "1"}}
            return {"json": {"scores": [{"criterion": criterion, "score": 1}]}}

        return lambda out: [call(method, f"{base}/{r}/subjects/{SEEDED.get('subject:' + out, out)}{suffix}",
                                 status=404, **payload()) for r in rounds(out)]

    return {
        ("GET", f"{API}/templates"): lambda out: [call("GET", f"{API}/templates", status=403)],
        ("POST", f"{API}/templates"): lambda out: [
            call("POST", f"{API}/templates", json=template, status=403)],
        ("GET", f"{API}/templates/{{uid}}"): lambda out: [
            call("GET", f"{API}/templates/{SEEDED.get('template', out)}", status=403)],
        ("GET", f"{API}/rounds"): lambda out: [
            call("GET", f"{API}/rounds", params={"year": "2020"}, status=200)],
        ("POST", f"{API}/rounds"): lambda out: [call("POST", f"{API}/rounds", json=body(out), status=403)],
        ("GET", f"{API}/rounds/{{uid}}"): lambda out: [
            call("GET", f"{API}/rounds/{SEEDED.get('open', out)}", status=404),
            call("GET", f"{API}/rounds/{SEEDED.get('closed', out)}", status=200)],
        ("POST", f"{API}/rounds/{{uid}}/deadline"): each("POST", "/deadline", json={"deadline": "2021-01-01"},
                                                         status=403),
        ("PUT", f"{API}/rounds/{{uid}}/subjects/{{subject}}/scores"): scores(f"{API}/rounds", "PUT"),
        ("POST", f"{API}/rounds/{{uid}}/subjects/{{subject}}/scores/{{criterion}}/evidence"): lambda out: [
            call("POST", f"{API}/rounds/{r}/subjects/{SEEDED.get('subject:' + out, out)}/scores/"
                         f"{SEEDED.get('criterion', 'x')}/evidence",
                 files={"evidence": ("a.png", PNG, "image/png")}, status=404) for r in rounds(out)],
        ("POST", f"{API}/rounds/{{uid}}/close"): each("POST", "/close", json={}, status=403),
        ("GET", PAGES): lambda out: [call("GET", PAGES), call("GET", PAGES, params={"year": "2020"})],
        ("GET", f"{PAGES}/templates/new"): lambda out: [call("GET", f"{PAGES}/templates/new", status=403)],
        ("POST", f"{PAGES}/templates/new"): lambda out: [
            call("POST", f"{PAGES}/templates/new", data={"name_zh": "x", "name_zh-1": "x"}, status=403)],
        ("GET", f"{PAGES}/new"): lambda out: [call("GET", f"{PAGES}/new", status=403)],
        ("POST", f"{PAGES}/new"): lambda out: [call("POST", f"{PAGES}/new", status=403, data={
            "template": SEEDED.get("template", "x"), "year": "2020", "title_zh": "x",
            "deadline": "2020-12-31", "subjects": f"{out}: d1staff"})],
        ("GET", f"{PAGES}/{{uid}}"): lambda out: [
            call("GET", f"{PAGES}/{SEEDED.get('open', out)}", status=404),
            call("GET", f"{PAGES}/{SEEDED.get('closed', out)}", status=200)],
        ("POST", f"{PAGES}/{{uid}}/close"): each("POST", "/close", base=PAGES, data={}, status=403),
        ("POST", f"{PAGES}/{{uid}}/deadline"): each("POST", "/deadline", base=PAGES,
                                                    data={"deadline": "2021-01-01"}, status=403),
        ("GET", f"{PAGES}/{{uid}}/subjects/{{subject}}"): scores(PAGES, "GET"),
        ("POST", f"{PAGES}/{{uid}}/subjects/{{subject}}"): scores(PAGES, "POST"),
    }
