"""`jiaowei audit verify` against the admissions tables: tampering by direct SQL is reported.

A campaign runs through every stage (schools, fallback orders, applicants and a change of choices,
both freezes and draws, an appeal decided); then campaigns, schools, applicants, choices, results,
cutoffs, appeals or a proof bundle are changed behind the services' back, on SQLite and
PostgreSQL. The chain stays intact; the check names the row and what differs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, delete, event, insert, select, update
from typer.testing import CliRunner

from jiaowei.admissions import service
from jiaowei.admissions.store import (
    appeals,
    applicants,
    campaign_schools,
    campaigns,
    choices,
    cutoffs,
    results,
)
from jiaowei.audit import reconcile
from jiaowei.audit import service as audit
from jiaowei.auth.model import SYSTEM
from jiaowei.cli.main import app as cli
from jiaowei.db.engine import BoundDatabase
from tests.admissions.test_campaign import PLACEMENT_SOURCES, SOURCES, campaign, register, world
from tests.audit.tampering import rewrite_afters
from tests.factories import make_user, token_for

TABLES = {"campaigns", "campaign_schools", "applicants", "admission_results", "admission_cutoffs",
          "admission_appeals", "proof bundle"}
CODE = "C2020"


def admissions_mismatches(conn: Connection) -> list[reconcile.Mismatch]:
    assert audit.verify(conn).ok
    return [m for m in reconcile.reconcile(conn) if m.table in TABLES]


def run(conn: Connection, home: Path, *, to_placement: bool = True, count: int = 6) -> dict[str, str]:
    """A campaign through its stages; returns application numbers by role."""
    world(conn)
    campaign(conn)
    made = register(conn, CODE, count)
    service.submit_choices(conn, principal=SYSTEM, campaign=CODE, number=made[0].number, chosen=["P2"])
    service.freeze(conn, principal=SYSTEM, campaign=CODE, home=home)
    service.draw(conn, principal=SYSTEM, campaign=CODE, sources=SOURCES, home=home)
    service.publish(conn, principal=SYSTEM, campaign=CODE)
    if to_placement:
        service.freeze_placement(conn, principal=SYSTEM, campaign=CODE, home=home)
        service.place(conn, principal=SYSTEM, campaign=CODE, sources=PLACEMENT_SOURCES, home=home)
        service.open_appeals(conn, principal=SYSTEM, campaign=CODE)
        appeal = service.file_appeal(conn, principal=SYSTEM, campaign=CODE, number=made[1].number,
                                     reason="搬家")
        service.decide_appeal(conn, principal=SYSTEM, appeal_id=appeal, decision="rejected", note="理由不足")
    statuses = dict(conn.execute(select(applicants.c.number, applicants.c.status)
                                 .order_by(applicants.c.id)).all())
    drawn = set(conn.scalars(select(applicants.c.number)
                             .join(results, results.c.applicant_pk == applicants.c.id)
                             .where(results.c.stage == "lottery")))
    losers = (n for n, s in statuses.items() if s in ("not_admitted", "placed") and n in drawn)
    return {"first": made[0].number, "appellant": made[1].number,
            "admitted": next(n for n, s in statuses.items() if s == "admitted"),
            "not_admitted": next(losers)}


def pk(conn: Connection, number: str) -> int:
    return int(conn.scalar(select(applicants.c.id).where(applicants.c.number == number)))


def cid(conn: Connection) -> int:
    return int(conn.scalar(select(campaigns.c.id).where(campaigns.c.code == CODE)))


def applicant_id(conn: Connection, number: str) -> str:
    return str(conn.scalar(select(applicants.c.applicant_id).where(applicants.c.number == number)))


Tamper = Callable[[Connection, dict[str, str], Path], None]


def status(conn: Connection, n: dict[str, str], home: Path) -> None:
    conn.execute(update(campaigns).values(status="application"))


def title(conn: Connection, n: dict[str, str], home: Path) -> None:
    conn.execute(update(campaigns).values(title_en="Forged"))


def digest(conn: Connection, n: dict[str, str], home: Path) -> None:
    conn.execute(update(campaigns).values(pool_digest="0" * 64))


def fallback(conn: Connection, n: dict[str, str], home: Path) -> None:
    conn.execute(update(campaigns).values(fallback={"D1": ["S2"], "D2": ["S2", "S1"]}))


def capacity(conn: Connection, n: dict[str, str], home: Path) -> None:
    conn.execute(update(campaign_schools).where(campaign_schools.c.school_id == "P1").values(capacity=99))


def school_gone(conn: Connection, n: dict[str, str], home: Path) -> None:
    conn.execute(delete(campaign_schools).where(campaign_schools.c.school_id == "S2"))


def tier(conn: Connection, n: dict[str, str], home: Path) -> None:
    conn.execute(update(applicants).where(applicants.c.number == n["first"]).values(residence_tier=0))


def chosen(conn: Connection, n: dict[str, str], home: Path) -> None:
    conn.execute(update(choices).where(choices.c.applicant_pk == pk(conn, n["first"])).values(school_id="P1"))


def promoted(conn: Connection, n: dict[str, str], home: Path) -> None:
    conn.execute(update(applicants).where(applicants.c.number == n["not_admitted"]).values(status="admitted"))


def smuggled(conn: Connection, n: dict[str, str], home: Path) -> None:
    row = conn.execute(select(applicants).where(applicants.c.number == n["first"])).one()._mapping
    conn.execute(insert(applicants).values({**{k: v for k, v in row.items() if k != "id"},
                                            "number": "9999", "applicant_id": "AFFFFFFFFFFFF"}))


def seat(conn: Connection, n: dict[str, str], home: Path) -> None:
    seated = conn.execute(update(results)
                          .where(results.c.applicant_pk == pk(conn, n["not_admitted"]),
                                 results.c.stage == "lottery")
                          .values(school_id="P1", choice_rank=1))
    assert seated.rowcount == 1, "the tampering must change a row"


def result_gone(conn: Connection, n: dict[str, str], home: Path) -> None:
    conn.execute(delete(results).where(results.c.applicant_pk == pk(conn, n["admitted"]),
                                       results.c.stage == "lottery"))


def cutoff(conn: Connection, n: dict[str, str], home: Path) -> None:
    conn.execute(update(cutoffs).where(cutoffs.c.school_id == "P1", cutoffs.c.stage == "lottery")
                 .values(admitted=1))


def appeal(conn: Connection, n: dict[str, str], home: Path) -> None:
    conn.execute(update(appeals).values(decision="upheld"))


def bundle(conn: Connection, n: dict[str, str], home: Path) -> None:
    path = home / "lottery" / CODE / "lottery" / "results.csv"
    path.write_bytes(path.read_bytes().replace(b",P2,", b",P1,", 1))


# tampering, then the (table, key) and words each mismatch must show ({first} etc. filled in)
CASES: dict[str, tuple[Tamper, tuple[str, str, str]]] = {
    "status": (status, ("campaigns", CODE, 'status is "application", the audit log says "appeals"')),
    "title": (title, ("campaigns", CODE, 'title_en is "Forged"')),
    "pool-digest": (digest, ("campaigns", CODE, "pool_digest is")),
    "fallback": (fallback, ("campaigns", CODE, "fallback is")),
    "capacity": (capacity, ("campaign_schools", f"{CODE}/P1", "capacity is 99, the audit log says 2")),
    "school-deleted": (school_gone, ("campaign_schools", f"{CODE}/S2", "missing")),
    "tier": (tier, ("applicants", f"{CODE}/{{first}}", "residence_tier is 0")),
    "choices": (chosen, ("applicants", f"{CODE}/{{first}}", 'choices is ["P1"], the audit log says ["P2"]')),
    "pool": (chosen, ("applicants", f"{CODE}/lottery pool", "pool_digest")),
    "applicant-status": (promoted, ("applicants", f"{CODE}/{{not_admitted}}", "status is admitted")),
    "applicant-inserted": (smuggled, ("applicants", f"{CODE}/9999", "not in the audit log")),
    "result-seat": (seat, ("admission_results", f"{CODE}/lottery", "(applicant {not_admitted_id})")),
    "result-deleted": (result_gone, ("admission_results", f"{CODE}/lottery", "sha256")),
    "cutoff": (cutoff, ("admission_cutoffs", f"{CODE}/lottery", "(school P1)")),
    "appeal": (appeal, ("admission_appeals", "", 'decision is "upheld"')),
    "bundle": (bundle, ("proof bundle", f"{CODE}/lottery", "results.csv has sha256")),
}


def found(mismatches: list[reconcile.Mismatch], expected: tuple[str, str, str],
          names: dict[str, str]) -> bool:
    table, key, words = (part.format(**names) for part in expected)
    return any(m.table == table and (m.key == key or not key) and words in m.reason for m in mismatches)


def test_a_campaign_run_through_the_services_reconciles(conn: Connection, tmp_path: Path) -> None:
    run(conn, tmp_path)
    assert admissions_mismatches(conn) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_direct_tampering_is_reported(conn: Connection, tmp_path: Path, case: str) -> None:
    names = run(conn, tmp_path)
    names["not_admitted_id"] = applicant_id(conn, names["not_admitted"])
    tamper, expected = CASES[case]
    tamper(conn, names, tmp_path)
    mismatches = admissions_mismatches(conn)
    assert found(mismatches, expected, names), mismatches


def test_results_of_a_stage_never_drawn_are_reported(conn: Connection, tmp_path: Path) -> None:
    names = run(conn, tmp_path, to_placement=False)
    assert admissions_mismatches(conn) == []
    conn.execute(insert(results).values(applicant_pk=pk(conn, names["not_admitted"]), stage="placement",
                                        lottery_rank=1, lottery_value="0" * 64, school_id="S1",
                                        choice_rank=1))
    assert any(m.table == "admission_results" and m.key == f"{CODE}/placement" and "no draw" in m.reason
               for m in admissions_mismatches(conn))


def test_the_api_reports_the_row(client: TestClient, conn: Connection, tmp_path: Path) -> None:
    names = run(conn, tmp_path)
    headers = token_for(conn, make_user(conn, "auditor"))
    clean = client.get("/api/audit/verify", headers=headers).json()
    assert [m for m in clean["mismatches"] if m["table"] in TABLES] == []
    tier(conn, names, tmp_path)
    body = client.get("/api/audit/verify", headers=headers).json()
    assert body["ok"] is False and body["first_bad_seq"] is None
    assert {"table": "applicants", "key": f"{CODE}/{names['first']}",
            "reason": "residence_tier is 0, the audit log says 1",
            "reason_template": "{field} is {live}, the audit log says {logged}",
            "params": {"field": "residence_tier", "live": "0", "logged": "1"},
            "message": "户籍居住类别现为 0，审计日志记载为 1"} in body["mismatches"], body


def test_the_command_line_exits_non_zero_and_names_the_row(conn: Connection, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    run(conn, tmp_path)
    shared = BoundDatabase(conn)
    shared.engine = SimpleNamespace(dispose=lambda: None)  # type: ignore[assignment]
    monkeypatch.setattr("jiaowei.cli.common.database", lambda: shared)
    capacity(conn, {}, tmp_path)
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code != 0
    assert f"campaign_schools {CODE}/P1: capacity is 99" in str(result.exception), result


def test_draws_logged_before_the_bundle_path_was_kept_are_still_checked(conn: Connection,
                                                                       tmp_path: Path) -> None:
    names = run(conn, tmp_path)
    names["not_admitted_id"] = applicant_id(conn, names["not_admitted"])
    rewrite_afters(conn, lambda after: after.pop("bundle", None))
    assert admissions_mismatches(conn) == []
    seat(conn, names, tmp_path)
    assert found(admissions_mismatches(conn), CASES["result-seat"][1], names)


def statements(conn: Connection) -> int:
    """How many statements the admissions checks run."""
    counted: list[str] = []

    def count(*_args: Any) -> None:
        counted.append("statement")

    event.listen(conn, "before_cursor_execute", count)
    try:
        assert admissions_mismatches(conn) == []
    finally:
        event.remove(conn, "before_cursor_execute", count)
    return len(counted)


def test_the_checks_read_no_row_at_a_time(conn: Connection, tmp_path: Path) -> None:
    """As many statements for 6 applicants as for 30: the checks stream, they query no row alone."""
    counts = []
    for applicants_ in (6, 30):
        with conn.begin_nested() as savepoint:
            run(conn, tmp_path / str(applicants_), count=applicants_)
            counts.append(statements(conn))
            savepoint.rollback()
    assert counts[0] == counts[1], counts
