"""The priorities import: priority tiers for applicants already registered, all rows or none.

The CSV has the columns ``number`` (application number), ``school_id`` (a private school of the
campaign) and ``tier`` (0 to 9, lower first; empty removes the applicant's tier at that school);
the header is row 1. Tiers can be set while the campaign takes applicants, that is before its pool is
frozen; after the freeze they are part of the published ``pool_digest``. Each applicant whose tiers
change gets an ``applicant.priorities`` entry in the audit log with their tiers after the import.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from jiaowei import clock
from jiaowei.admissions import service
from jiaowei.admissions.applications.reading import cells
from jiaowei.admissions.applications.tiers import WHOLE, tier_problems
from jiaowei.admissions.model import OPEN_FOR_APPLICANTS, PrioritiesSummary
from jiaowei.admissions.store import applicants, campaign_row, campaign_schools, priorities
from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_unit
from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.registry import queries as registry

PRIORITY_COLUMNS = ("number", "school_id", "tier")


@dataclass(frozen=True)
class TierRow:
    row: int
    number: str
    school_id: str
    tier: int | None  # None: remove the tier


def read_priorities(data: bytes) -> tuple[list[TierRow], list[Problem]]:
    """The rows of a priorities CSV (header = row 1) and every problem found in the file itself."""
    try:
        table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error):
        return [], [Problem(N_("not a CSV file in UTF-8"), row=1, expected=",".join(PRIORITY_COLUMNS))]
    header = [v.strip().lower() for v in table[0]] if table else []
    if sorted(header) != sorted(PRIORITY_COLUMNS):
        return [], [Problem(N_("wrong columns"), row=1, value=",".join(header),
                            expected=",".join(PRIORITY_COLUMNS))]
    found: list[TierRow] = []
    problems: list[Problem] = []
    for n, cell in cells(table, header, problems):
        if cell["tier"] and not WHOLE.fullmatch(cell["tier"]):
            problems.append(Problem(N_("not a whole number"), row=n, field="tier", value=cell["tier"],
                                    expected=N_("a tier from 0 to 9, or empty to remove it")))
            continue
        tier = int(cell["tier"]) if cell["tier"] else None
        found.append(TierRow(n, cell["number"], cell["school_id"], tier))
    if not found and not problems:
        problems.append(Problem(N_("no tiers in the file"), row=2, expected=N_("one tier per row")))
    return found, problems


def import_priorities(conn: Connection, *, principal: Principal, campaign: str, data: bytes,
                      dry_run: bool = False) -> PrioritiesSummary:
    """Set (or remove) the priority tiers of a CSV file: every row or none; a dry run saves nothing."""
    row = campaign_row(conn, campaign)
    service.require_status(row, OPEN_FOR_APPLICANTS, M_("setting priority tiers"))
    found, problems = read_priorities(data)
    people = _people(conn, row.id, [t.number for t in found])
    problems += _row_problems(conn, row.id, found, people)
    if problems:
        raise ValidationError(M_("{count} problems in the file; no tier was set.", count=len(problems))
                              if len(problems) > 1 else M_("1 problem in the file; no tier was set."),
                              sorted(problems, key=lambda p: p.row or 0)[:service.MAX_REPORTED])
    districts = registry.codes_of(conn, {p.district_id for p in people.values()})
    for district_id, code in districts.items():
        require_unit(conn, principal, Action.DATA_CAPTURE, district_id, clock.today(), code)
    with conn.begin_nested() as savepoint:
        _write(conn, principal, campaign, found, people)
        if dry_run:
            savepoint.rollback()
    return PrioritiesSummary(set=sum(1 for t in found if t.tier is not None),
                             removed=sum(1 for t in found if t.tier is None), dry_run=dry_run)


def _people(conn: Connection, campaign_id: int, numbers: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    unique = sorted(set(numbers))
    for start in range(0, len(unique), 500):
        found.update((r.number, r) for r in conn.execute(
            select(applicants.c.id, applicants.c.number, applicants.c.district_id).where(
                applicants.c.campaign_id == campaign_id, applicants.c.number.in_(unique[start:start + 500]))))
    return found


def _row_problems(conn: Connection, campaign_id: int, found: Sequence[TierRow],
                  people: dict[str, Any]) -> list[Problem]:
    kinds = dict(conn.execute(select(campaign_schools.c.school_id, campaign_schools.c.kind).where(
        campaign_schools.c.campaign_id == campaign_id)).all())
    problems, seen = [], set()
    for t in found:
        if t.number not in people:
            problems.append(Problem(N_("no such application in this campaign"), row=t.row, field="number",
                                    value=t.number))
        problems += tier_problems([(t.school_id, 0 if t.tier is None else t.tier)], kinds, row=t.row,
                                  field="school_id" if kinds.get(t.school_id) != "private" else "tier")
        if (t.number, t.school_id) in seen:
            problems.append(Problem(N_("the same application and school twice"), row=t.row, field="school_id",
                                    value=t.school_id, expected=N_("each application and school once")))
        seen.add((t.number, t.school_id))
    return problems


def _write(conn: Connection, principal: Principal, campaign: str, found: Sequence[TierRow],
           people: dict[str, Any]) -> None:
    touched = {people[t.number].id: t.number for t in found}
    for t in found:
        pk = people[t.number].id
        conn.execute(delete(priorities).where(priorities.c.applicant_pk == pk,
                                              priorities.c.school_id == t.school_id))
        if t.tier is not None:
            conn.execute(insert(priorities).values(applicant_pk=pk, school_id=t.school_id, tier=t.tier))
    after: dict[int, dict[str, int]] = {pk: {} for pk in touched}
    for pk, school, tier in conn.execute(select(priorities.c.applicant_pk, priorities.c.school_id,
                                                priorities.c.tier).where(priorities.c.applicant_pk.in_(touched))
                                         .order_by(priorities.c.school_id)):
        after[pk][school] = tier
    audit.record_many(conn, actor=principal.username, entries=[
        {"action": "applicant.priorities", "entity": "applicant", "entity_key": f"{campaign}/{number}",
         "after": after[pk]} for pk, number in sorted(touched.items(), key=lambda item: item[1])])
