"""Admissions campaigns: registration → application → frozen → drawn → published → placement
→ appeals → closed.

Every function takes keyword arguments, acts for a principal, writes the audit log and never
commits. Campaign steps need capture scope over the organising unit; applicants and their
choices need capture scope over the applicant's district. The draw and the placement run the
published algorithm through :mod:`jiaowei.admissions.proof`, which writes a proof bundle that
anyone can re-check with ``jiaowei lottery verify``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from jiaowei.admissions import crypto, drawing, queries
from jiaowei.admissions.model import (
    FALLBACK_OPEN,
    KINDS,
    OPEN_FOR_APPLICANTS,
    PUBLISHED,
    STAGES,
    AppealDecision,
    Drawn,
    FamilyView,
    ImportSummary,
    Mechanism,
    Multiples,
    Placed,
    PlacementFrozen,
    PoolFrozen,
    Registered,
    StepDone,
)
from jiaowei.admissions.store import (
    appeals,
    applicants,
    campaign_id,
    campaign_row,
    campaign_schools,
    campaigns,
    choices,
    lookup_attempts,
    refresh_pool_statistics,
)
from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_unit
from jiaowei.db.engine import inserted_id
from jiaowei.errors import Conflict, JiaoweiError, NotFound, Problem, TooManyAttempts, ValidationError
from jiaowei.registry import queries as registry
from jiaowei.text import text_problem, text_problems
from jiaowei.throttle import AddressLimit

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ID_NUMBER = re.compile(r"^[0-9]{6,17}[0-9Xx]$")
NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,19}$")
APPLICANT_COLUMNS = ("number", "name", "id_number", "birth_date", "district", "residence_tier", "catchment",
                     "group_id", "choices")
REQUIRED_COLUMNS = ("name", "id_number", "birth_date", "district")
MAX_IMPORT_ROWS = 100_000
MAX_REPORTED = 1000
DEFAULT_TIER = drawing.DEFAULT_TIER
MAX_CHOICES = 15


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _today() -> dt.date:
    return dt.date.today()


def _unit_id(conn: Connection, code: str, field: str) -> int:
    unit_id = registry.id_of(conn, code)
    if unit_id is None:
        raise NotFound(f"No unit with code {code!r}.", [Problem("no such unit", field=field, value=code)])
    return unit_id


def require_organiser(conn: Connection, principal: Principal, campaign: Any) -> None:
    code = registry.codes_of(conn, [campaign.organiser_id]).get(campaign.organiser_id)
    require_unit(conn, principal, Action.DATA_CAPTURE, campaign.organiser_id, _today(), str(code))


def may_manage(principal: Principal) -> bool:
    """Whether the principal's role may create campaigns and take their steps (pages show the forms);
    each step still checks the principal's scope over the organising unit."""
    return principal.may(Action.DATA_CAPTURE)


def _require_status(campaign: Any, allowed: Iterable[str], step: str) -> None:
    allowed = tuple(allowed)
    if campaign.status not in allowed:
        raise Conflict(f"Campaign {campaign.code} is at the stage {campaign.status!r}; {step} is possible "
                       f"only at {' or '.join(repr(a) for a in allowed)}.")


def _set_status(conn: Connection, campaign: Any, status: str, **values: Any) -> None:
    conn.execute(update(campaigns).where(campaigns.c.id == campaign.id).values(status=status, **values))


# ---------------------------------------------------------------- campaigns and schools


@dataclass(frozen=True)
class CampaignSpec:
    code: str
    year: int
    stage: str
    title_zh: str
    title_en: str
    organiser: str
    max_choices: int = 3
    mechanism: str = Mechanism.CHOICE_ROUNDS.value
    multiples: str = Multiples.TOGETHER.value
    synthetic: bool = False


def _spec_problems(spec: CampaignSpec) -> list[Problem]:
    checks = [
        (CODE.match(spec.code), "invalid code", "code", spec.code, "letters, digits, _ . - (at most 64)"),
        (2000 <= spec.year <= 2100, "year out of range", "year", spec.year, "2000 to 2100"),
        (spec.stage in STAGES, "unknown stage", "stage", spec.stage, ", ".join(STAGES)),
        (spec.title_zh.strip(), "title missing", "title_zh", spec.title_zh, "a Chinese title"),
        (spec.title_en.strip(), "title missing", "title_en", spec.title_en, "an English title"),
        (1 <= spec.max_choices <= MAX_CHOICES, "out of range", "max_choices", spec.max_choices,
         f"1 to {MAX_CHOICES}"),
        (spec.mechanism in set(Mechanism), "unknown mechanism", "mechanism", spec.mechanism,
         ", ".join(Mechanism)),
        (spec.multiples in set(Multiples), "unknown rule", "multiples", spec.multiples, ", ".join(Multiples)),
    ]
    return ([Problem(m, field=f, value=v, expected=e) for ok, m, f, v, e in checks if not ok]
            + text_problems(spec.__dict__, ("title_zh", "title_en")))


def create_campaign(conn: Connection, *, principal: Principal, spec: CampaignSpec) -> StepDone:
    if problems := _spec_problems(spec):
        raise ValidationError("The campaign cannot be created.", problems)
    organiser_id = _unit_id(conn, spec.organiser, "organiser")
    require_unit(conn, principal, Action.DATA_CAPTURE, organiser_id, _today(), spec.organiser)
    if conn.scalar(select(campaigns.c.id).where(campaigns.c.code == spec.code)) is not None:
        raise Conflict(f"A campaign with code {spec.code!r} already exists.")
    values = {**spec.__dict__, "organiser_id": organiser_id}
    del values["organiser"]
    conn.execute(insert(campaigns).values(**values, status="registration", fallback={},
                                          created_at=_now()))
    audit.record(conn, actor=principal.username, action="campaign.create", entity="campaign",
                 entity_key=spec.code, after=audit.jsonable(spec.__dict__))
    return StepDone(code=spec.code, status="registration")


@dataclass(frozen=True)
class SchoolSpec:
    unit: str
    capacity: int
    kind: str = "private"
    program: str = ""
    districts: tuple[str, ...] = ()


def add_schools(conn: Connection, *, principal: Principal, campaign: str,
                schools: Sequence[SchoolSpec]) -> list[str]:
    """Add schools (or programs of a school) with their capacities; returns their ids in the case."""
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    _require_status(row, OPEN_FOR_APPLICANTS, "adding schools")
    known = set(conn.scalars(select(campaign_schools.c.school_id).where(
        campaign_schools.c.campaign_id == row.id)))
    ids = registry.ids_of(conn, [s.unit for s in schools]
                                      + [d for s in schools for d in s.districts])
    problems, rows = [], []
    for n, school in enumerate(schools, start=1):
        school_id = school.unit + (f"/{school.program}" if school.program else "")
        problems += _school_problems(n, school, school_id, ids, known)
        known.add(school_id)
        rows.append({"campaign_id": row.id, "school_id": school_id, "unit_id": ids.get(school.unit),
                     "kind": school.kind, "capacity": school.capacity, "program": school.program,
                     "districts": sorted(school.districts)})
    if problems:
        raise ValidationError("The schools cannot be added.", problems)
    for unit_id, school in zip([r["unit_id"] for r in rows], schools, strict=True):
        require_unit(conn, principal, Action.VIEW, unit_id, _today(), school.unit)
        for district in school.districts:
            require_unit(conn, principal, Action.VIEW, ids[district], _today(), district)
    if rows:
        conn.execute(insert(campaign_schools), rows)
    audit.record_many(conn, actor=principal.username, entries=[
        {"action": "campaign.school_add", "entity": "campaign", "entity_key": campaign,
         "after": {k: v for k, v in r.items() if k not in ("campaign_id", "unit_id")}} for r in rows])
    return [r["school_id"] for r in rows]


def _school_problems(n: int, school: SchoolSpec, school_id: str, ids: dict[str, int],
                     known: set[str]) -> list[Problem]:
    found = []
    if school.unit not in ids:
        found.append(Problem("no such unit", row=n, field="unit", value=school.unit))
    found += [Problem("no such district", row=n, field="districts", value=d) for d in school.districts
              if d not in ids]
    if not 0 <= school.capacity <= 100_000:
        found.append(Problem("capacity out of range", row=n, field="capacity", value=school.capacity,
                             expected="0 to 100000"))
    if school.kind not in KINDS:
        found.append(Problem("unknown kind", row=n, field="kind", value=school.kind,
                             expected="private, public"))
    if school.program and not CODE.match(school.program):
        found.append(Problem("invalid program", row=n, field="program", value=school.program,
                             expected="letters, digits, _ . -"))
    if school_id in known:
        found.append(Problem("already in the campaign", row=n, field="unit", value=school_id))
    return found


def set_fallback(conn: Connection, *, principal: Principal, campaign: str, district: str,
                 schools: Sequence[str]) -> list[str]:
    """The district's fallback order of public schools for placement (统筹)."""
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    _require_status(row, FALLBACK_OPEN, "setting a fallback order")
    require_unit(conn, principal, Action.VIEW, _unit_id(conn, district, "district"), _today(), district)
    public = _school_kinds(conn, row.id)
    bad = [Problem("not a public school of this campaign", field="schools", value=s) for s in schools
           if public.get(s) != "public"]
    if bad or len(set(schools)) != len(schools):
        raise ValidationError("The fallback order is not valid.", bad or [
            Problem("a school is listed twice", field="schools", expected="each school once")])
    fallback = {**dict(row.fallback or {}), district: list(schools)}
    conn.execute(update(campaigns).where(campaigns.c.id == row.id).values(fallback=fallback))
    audit.record(conn, actor=principal.username, action="campaign.fallback", entity="campaign",
                 entity_key=campaign,
                 before=(row.fallback or {}).get(district), after=list(schools), note=district)
    return list(schools)


def _school_kinds(conn: Connection, campaign_id: int) -> dict[str, str]:
    return dict(conn.execute(select(campaign_schools.c.school_id, campaign_schools.c.kind).where(
        campaign_schools.c.campaign_id == campaign_id)).all())


# ---------------------------------------------------------------- applicants


@dataclass(frozen=True)
class ApplicantSpec:
    name: str
    id_number: str
    birth_date: dt.date
    district: str
    residence_tier: int = 1
    catchment: str = ""
    group_id: str = ""
    choices: tuple[str, ...] = ()
    synthetic: bool = False
    number: str = ""  # the application number; empty: one is made



@dataclass
class _Registration:
    campaign: Any
    kinds: dict[str, str]
    districts: dict[str, int]
    numbers: set[str] = field(default_factory=set)
    pseudonyms: set[str] = field(default_factory=set)


def _fresh(taken: set[str], make: Any) -> str:
    while (value := make()) in taken:
        pass
    taken.add(value)
    return str(value)


def _registration(conn: Connection, row: Any, people: Sequence[ApplicantSpec]) -> _Registration:
    reg = _Registration(row, _school_kinds(conn, row.id),
                        registry.ids_of(conn, sorted({p.district for p in people})))
    existing = conn.execute(select(applicants.c.number, applicants.c.applicant_id).where(
        applicants.c.campaign_id == row.id)).all()
    reg.numbers, reg.pseudonyms = {r.number for r in existing}, {r.applicant_id for r in existing}
    return reg


def _people_problems(people: Sequence[ApplicantSpec], reg: _Registration,
                     rows: Sequence[int] | None = None) -> list[Problem]:
    found, given = [], set()
    for n, person in zip(rows or range(1, len(people) + 1), people, strict=True):
        found += _person_problems(n, person, reg)
        if person.number:
            if not NUMBER.match(person.number):
                found.append(Problem("invalid application number", row=n, field="number", value=person.number,
                                     expected="1 to 20 letters, digits or -"))
            elif person.number in reg.numbers or person.number in given:
                found.append(Problem("application number already used", row=n, field="number",
                                     value=person.number, expected="a number not yet in this campaign"))
            given.add(person.number)
    return found


def register_applicants(conn: Connection, *, principal: Principal, campaign: str, secret_key: str,
                        people: Sequence[ApplicantSpec]) -> list[Registered]:
    """Register applicants (with their choices, if any); returns each one's number and pseudonymous id."""
    row = campaign_row(conn, campaign)
    _require_status(row, OPEN_FOR_APPLICANTS, "registering applicants")
    if any(p.choices for p in people):
        _require_status(row, {"application"}, "submitting choices")
    reg = _registration(conn, row, people)
    if problems := _people_problems(people, reg):
        raise ValidationError("The applicants cannot be registered.", problems)
    return _register(conn, principal, campaign, reg, people, secret_key)


def _register(conn: Connection, principal: Principal, campaign: str, reg: _Registration,
              people: Sequence[ApplicantSpec], secret_key: str) -> list[Registered]:
    row = reg.campaign
    for district, district_id in reg.districts.items():
        require_unit(conn, principal, Action.DATA_CAPTURE, district_id, _today(), district)
    reg.numbers |= {p.number for p in people if p.number}
    made = [_applicant_row(reg, person, secret_key) for person in people]
    if made:
        conn.execute(insert(applicants), made)
    pks = _pks(conn, row.id, [m["number"] for m in made])
    choice_rows = [{"applicant_pk": pks[m["number"]], "rank": rank, "school_id": school}
                   for m, person in zip(made, people, strict=True)
                   for rank, school in enumerate(person.choices, start=1)]
    if choice_rows:
        conn.execute(insert(choices), choice_rows)
    audit.record_many(conn, actor=principal.username, entries=[
        {"action": "applicant.register", "entity": "applicant", "entity_key": f"{campaign}/{m['number']}",
         "after": {"applicant_id": m["applicant_id"], "district": person.district,
                   "residence_tier": person.residence_tier, "catchment": person.catchment,
                   "group_id": person.group_id, "choices": list(person.choices)},
         "note": "personal data sealed; not in the log"} for m, person in zip(made, people, strict=True)])
    return [Registered(number=m["number"], applicant_id=m["applicant_id"]) for m in made]


ApplicantsRead = tuple[list[int], list[ApplicantSpec], list[Problem]]


def _copied(parsed: ApplicantsRead) -> ApplicantsRead:
    numbers, people, problems = parsed
    return list(numbers), list(people), list(problems)  # the caller's lists stay as they were


def read_applicants(data: bytes) -> ApplicantsRead:
    """The rows of an applicants CSV (header = row 1) with their row numbers, and every problem found.

    Problems name the row, the column and, except for names and ID numbers, the value.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [], [Problem("not UTF-8", row=data[: exc.start].count(b"\n") + 1,
                                expected="CSV saved as UTF-8 (Excel: “CSV UTF-8”)")]
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return [], [], [Problem(f"malformed CSV: {exc}", expected="comma-separated values")]
    if not table or not any(v.strip() for v in table[0]):
        return [], [], [Problem("no header row", row=1, expected=",".join(APPLICANT_COLUMNS))]
    header = [v.strip().lower() for v in table[0]]
    problems = [Problem("unknown column", row=1, field=h, value=h, expected=", ".join(APPLICANT_COLUMNS))
                for h in header if h not in APPLICANT_COLUMNS]
    problems += [Problem("column missing", row=1, field=c, expected="a column named " + c)
                 for c in REQUIRED_COLUMNS if c not in header]
    problems += [Problem("column twice", row=1, field=h, value=h, expected="each column once")
                 for h in sorted({h for h in header if header.count(h) > 1})]
    if len(table) - 1 > MAX_IMPORT_ROWS:
        problems.append(Problem("too many rows", value=len(table) - 1, expected=f"at most {MAX_IMPORT_ROWS}"))
    if problems:
        return [], [], problems
    rows, people = [], []
    for n, values in enumerate(table[1:], start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            problems.append(Problem("wrong number of columns", row=n, value=len(values),
                                    expected=f"{len(header)} columns, as in the header"))
            continue
        cell = {h: v.strip() for h, v in zip(header, values, strict=True)}
        person = _applicant_from(n, cell, problems)
        if person is not None:
            rows.append(n)
            people.append(person)
    if not rows and not problems:
        problems.append(Problem("no applicants in the file", row=2, expected="one applicant per row"))
    return rows, people, problems


def _applicant_from(n: int, cell: dict[str, str], problems: list[Problem]) -> ApplicantSpec | None:
    before = len(problems)
    try:
        birth = dt.date.fromisoformat(cell.get("birth_date", ""))
    except ValueError:
        birth = dt.date(2000, 1, 1)
        problems.append(Problem("not a date", row=n, field="birth_date", value=cell.get("birth_date", ""),
                                expected="YYYY-MM-DD"))
    tier = cell.get("residence_tier", "") or "1"
    if not tier.isdigit():
        problems.append(Problem("not a whole number", row=n, field="residence_tier", value=tier,
                                expected=f"0 to {DEFAULT_TIER}"))
        tier = "1"
    chosen = tuple(s.strip() for s in cell.get("choices", "").split(";") if s.strip())
    if len(problems) > before:
        return None
    return ApplicantSpec(name=cell["name"], id_number=cell["id_number"], birth_date=birth,
                         district=cell["district"], residence_tier=int(tier),
                         catchment=cell.get("catchment", ""), group_id=cell.get("group_id", ""),
                         choices=chosen, number=cell.get("number", ""))


def import_applicants(conn: Connection, *, principal: Principal, campaign: str, data: bytes, secret_key: str,
                      dry_run: bool = False, parsed: ApplicantsRead | None = None) -> ImportSummary:
    """Register the applicants of a CSV file: every row or none.

    Raises ValidationError listing every problem (row, column, value) before anything is
    written. A dry run does the same work in a savepoint that it rolls back. The audit log
    gets one entry per applicant (no name, ID number or date of birth) and one for the file.
    ``parsed``: ``read_applicants(data)``, read already before the transaction (the web routes).
    """
    row = campaign_row(conn, campaign)
    _require_status(row, OPEN_FOR_APPLICANTS, "registering applicants")
    numbers, people, problems = read_applicants(data) if parsed is None else _copied(parsed)
    if any(p.choices for p in people) and row.status != "application":
        problems.append(Problem("choices only while applications are open", field="choices",
                                expected="empty choices until the campaign opens applications"))
    reg = _registration(conn, row, people)
    problems += _people_problems(people, reg, numbers)
    if problems:
        problems.sort(key=lambda p: p.row or 0)
        listed = f" (the first {MAX_REPORTED} are listed)" if len(problems) > MAX_REPORTED else ""
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        raise ValidationError(f"{count} in the file; nobody was registered{listed}.", problems[:MAX_REPORTED])
    with conn.begin_nested() as savepoint:
        made = _register(conn, principal, campaign, reg, people, secret_key)
        audit.record(conn, actor=principal.username, action="applicant.import", entity="campaign",
                     entity_key=campaign, after={"rows": len(made),
                                                 "with_choices": sum(1 for p in people if p.choices)},
                     note="personal data sealed; not in the log")
        if dry_run:
            savepoint.rollback()
    return ImportSummary(registered=len(made), with_choices=sum(1 for p in people if p.choices),
                         dry_run=dry_run, numbers=[] if dry_run else [m.number for m in made])


def _pks(conn: Connection, campaign_id: int, numbers: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(numbers), 500):
        found.update(conn.execute(select(applicants.c.number, applicants.c.id).where(
            applicants.c.campaign_id == campaign_id,
            applicants.c.number.in_(numbers[start:start + 500]))).all())
    return found


def _applicant_row(reg: _Registration, person: ApplicantSpec, secret_key: str) -> dict[str, Any]:
    number = person.number or _fresh(reg.numbers, lambda: str(10**9 + secrets.randbelow(9 * 10**9)))
    return {
        "campaign_id": reg.campaign.id, "number": number,
        "applicant_id": _fresh(reg.pseudonyms, lambda: "A" + secrets.token_hex(6).upper()),
        "name_sealed": crypto.seal(secret_key, person.name.strip()),
        "id_number_sealed": crypto.seal(secret_key, person.id_number.strip().upper()),
        "birth_check": crypto.birth_check(secret_key, number, person.birth_date.isoformat()),
        "district_id": reg.districts[person.district], "residence_tier": person.residence_tier,
        "catchment": person.catchment, "group_id": person.group_id,
        "status": "applied" if person.choices else "registered", "synthetic": person.synthetic,
        "created_at": _now(),
    }


def _person_problems(n: int, person: ApplicantSpec, reg: _Registration) -> list[Problem]:
    found = []
    if not 0 < len(person.name.strip()) <= 100:
        found.append(Problem("name missing or too long", row=n, field="name", expected="1 to 100 characters"))
    elif bad := text_problem(person.name, field="name", row=n):
        found.append(replace(bad, value=None))  # a name is personal: the problem does not repeat it
    if not ID_NUMBER.match(person.id_number.strip()):
        found.append(Problem("invalid ID number", row=n, field="id_number",
                             expected="7 to 18 digits, the last may be X"))
    if person.district not in reg.districts:
        found.append(Problem("no such district", row=n, field="district", value=person.district))
    if not 0 <= person.residence_tier <= DEFAULT_TIER:
        found.append(Problem("tier out of range", row=n, field="residence_tier", value=person.residence_tier,
                             expected=f"0 to {DEFAULT_TIER}"))
    if person.catchment and reg.kinds.get(person.catchment) != "public":
        found.append(Problem("not a public school of this campaign", row=n, field="catchment",
                             value=person.catchment))
    if person.group_id and not CODE.match(person.group_id):
        found.append(Problem("invalid group id", row=n, field="group_id", value=person.group_id,
                             expected="letters, digits, _ . -"))
    return found + choice_problems(person.choices, reg.kinds, reg.campaign.max_choices, row=n)


def choice_problems(chosen: Sequence[str], kinds: dict[str, str], max_choices: int,
                    row: int | None = None) -> list[Problem]:
    found = [Problem("not a school applied for by choice in this campaign", row=row, field="choices", value=s)
             for s in chosen if kinds.get(s) != "private"]
    if len(chosen) > max_choices:
        found.append(Problem("too many choices", row=row, field="choices", value=len(chosen),
                             expected=f"at most {max_choices}"))
    if len(set(chosen)) != len(chosen):
        found.append(Problem("a school is chosen twice", row=row, field="choices",
                             expected="each school once"))
    return found


def submit_choices(conn: Connection, *, principal: Principal, campaign: str, number: str,
                   chosen: Sequence[str]) -> list[str]:
    """Replace an applicant's ranked choices (only while the application stage is open)."""
    row = campaign_row(conn, campaign)
    person = _applicant(conn, row, number)
    require_unit(conn, principal, Action.DATA_CAPTURE, person.district_id, _today(), "district")
    _require_status(row, {"application"}, "submitting choices")
    if problems := choice_problems(chosen, _school_kinds(conn, row.id), row.max_choices):
        raise ValidationError("The choices cannot be accepted.", problems)
    before = list(conn.scalars(select(choices.c.school_id).where(choices.c.applicant_pk == person.id)
                               .order_by(choices.c.rank)))
    conn.execute(delete(choices).where(choices.c.applicant_pk == person.id))
    if chosen:
        conn.execute(insert(choices), [{"applicant_pk": person.id, "rank": r, "school_id": s}
                                       for r, s in enumerate(chosen, start=1)])
    conn.execute(update(applicants).where(applicants.c.id == person.id).values(
        status="applied" if chosen else "registered"))
    audit.record(conn, actor=principal.username, action="applicant.choices", entity="applicant",
                 entity_key=f"{campaign}/{number}", before=before, after=list(chosen))
    return list(chosen)


def _applicant(conn: Connection, campaign: Any, number: str) -> Any:
    person = conn.execute(select(applicants).where(applicants.c.campaign_id == campaign.id,
                                                   applicants.c.number == number)).first()
    if person is None:
        raise NotFound(f"No application {number!r} in campaign {campaign.code}.")
    return person


# ---------------------------------------------------------------- the stages


def open_application(conn: Connection, *, principal: Principal, campaign: str) -> StepDone:
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    _require_status(row, {"registration"}, "opening applications")
    _set_status(conn, row, "application")
    _log(conn, principal, "campaign.open", campaign, {"status": "application"})
    return StepDone(code=campaign, status="application")


def freeze(conn: Connection, *, principal: Principal, campaign: str, home: Path) -> PoolFrozen:
    """Write the case files from the database and fix their ``pool_digest``; no change after this."""
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    _require_status(row, {"application"}, "freezing")
    refresh_pool_statistics(conn)
    case_dir = drawing.campaign_dir(home, campaign) / "case"
    digest = drawing.freeze_case(case_dir, drawing.lottery_case(conn, row))
    _set_status(conn, row, "frozen", pool_digest=digest, frozen_at=_now())
    _log(conn, principal, "campaign.freeze", campaign, {"status": "frozen", "pool_digest": digest})
    return PoolFrozen(code=campaign, status="frozen", pool_digest=digest)


def draw(conn: Connection, *, principal: Principal, campaign: str, sources: Sequence[str], home: Path
         ) -> Drawn:
    """Draw on public randomness named after the freeze; store the results; keep the proof bundle."""
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    _require_status(row, {"frozen"}, "drawing")
    sources = _sources(sources)
    case_dir = drawing.campaign_dir(home, campaign) / "case"
    files = drawing.check_frozen(conn, row, case_dir)
    out_dir = drawing.campaign_dir(home, campaign) / "lottery"
    outcome = drawing.run(case_dir, out_dir, row.pool_digest, sources)
    drawing.store_results(conn, row, "lottery", outcome, files)
    _set_status(conn, row, "drawn", seed_sources=sources, seed=outcome.seed, bundle=str(outcome.bundle),
                drawn_at=_now())
    _log(conn, principal, "campaign.draw", campaign, {"status": "drawn", "sources": sources,
                                                      "seed": outcome.seed, "bundle": str(outcome.bundle),
                                                   "outputs": outcome.output_digests})
    return Drawn(code=campaign, status="drawn", seed=outcome.seed, pool_digest=row.pool_digest)


def publish(conn: Connection, *, principal: Principal, campaign: str) -> StepDone:
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    _require_status(row, {"drawn"}, "publishing")
    _set_status(conn, row, "published", published_at=_now())
    _log(conn, principal, "campaign.publish", campaign, {"status": "published"})
    return StepDone(code=campaign, status="published")


def freeze_placement(conn: Connection, *, principal: Principal, campaign: str, home: Path,
                     mechanism: str = Mechanism.CHOICE_ROUNDS.value) -> PlacementFrozen:
    """Write the placement (统筹) case of everyone not admitted and fix its ``pool_digest``.

    Like the lottery, placement takes two steps: this freeze publishes the pool's digest
    before any randomness exists; :func:`place` then draws on sources named after it.
    """
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    _require_status(row, {"published"}, "freezing the placement pool")
    if mechanism not in set(Mechanism):
        raise ValidationError("Unknown mechanism.", [Problem("unknown mechanism", field="mechanism",
                                                             value=mechanism, expected=", ".join(Mechanism))])
    case_dir = drawing.campaign_dir(home, campaign) / "placement-case"
    digest = drawing.freeze_case(case_dir, drawing.placement_case(conn, row, mechanism))
    _set_status(conn, row, "placement_frozen", placement_digest=digest)
    _log(conn, principal, "campaign.freeze_placement", campaign, {"status": "placement_frozen",
                                                               "pool_digest": digest, "mechanism": mechanism})
    return PlacementFrozen(code=campaign, status="placement_frozen", pool_digest=digest, mechanism=mechanism)


def place(conn: Connection, *, principal: Principal, campaign: str, sources: Sequence[str], home: Path
          ) -> Placed:
    """Placement (统筹) on public randomness named after the placement freeze: a second proof bundle."""
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    _require_status(row, {"placement_frozen"}, "placement")
    sources = _sources(sources)
    case_dir = drawing.campaign_dir(home, campaign) / "placement-case"
    files = drawing.check_frozen_placement(conn, row, case_dir)
    outcome = drawing.run(case_dir, drawing.campaign_dir(home, campaign) / "placement", row.placement_digest,
                          sources)
    drawing.store_results(conn, row, "placement", outcome, files)
    _set_status(conn, row, "placement", placement_sources=sources, placement_seed=outcome.seed,
                placement_bundle=str(outcome.bundle), placed_at=_now())
    _log(conn, principal, "campaign.place", campaign, {"status": "placement",
                                                       "pool_digest": row.placement_digest,
                                                    "sources": sources, "seed": outcome.seed,
                                                    "bundle": str(outcome.bundle),
                                                    "outputs": outcome.output_digests})
    return Placed(code=campaign, status="placement", pool_digest=row.placement_digest, seed=outcome.seed)


def open_appeals(conn: Connection, *, principal: Principal, campaign: str) -> StepDone:
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    _require_status(row, {"placement"}, "opening appeals")
    _set_status(conn, row, "appeals")
    _log(conn, principal, "campaign.appeals", campaign, {"status": "appeals"})
    return StepDone(code=campaign, status="appeals")


def close(conn: Connection, *, principal: Principal, campaign: str) -> StepDone:
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    _require_status(row, {"appeals"}, "closing")
    pending = conn.scalar(select(appeals.c.id).join(applicants, applicants.c.id == appeals.c.applicant_pk)
                          .where(applicants.c.campaign_id == row.id, appeals.c.decision.is_(None)).limit(1))
    if pending is not None:
        raise Conflict(f"Campaign {campaign} has appeals without a decision; decide them first.")
    _set_status(conn, row, "closed", closed_at=_now())
    _log(conn, principal, "campaign.close", campaign, {"status": "closed"})
    return StepDone(code=campaign, status="closed")


def take_step(conn: Connection, *, principal: Principal, campaign: str, step: str, home: Path,
              sources: Sequence[str] = (), mechanism: str = Mechanism.CHOICE_ROUNDS.value) -> StepDone:
    """Move the campaign on by the step named (the one entry of the API and the campaign page).

    ``draw`` and ``place`` need ``sources``; ``freeze_placement`` takes a ``mechanism``.
    """
    if step == "open":
        return open_application(conn, principal=principal, campaign=campaign)
    if step == "freeze":
        return freeze(conn, principal=principal, campaign=campaign, home=home)
    if step == "draw":
        return draw(conn, principal=principal, campaign=campaign, sources=sources, home=home)
    if step == "publish":
        return publish(conn, principal=principal, campaign=campaign)
    if step == "freeze_placement":
        return freeze_placement(conn, principal=principal, campaign=campaign, home=home, mechanism=mechanism)
    if step == "place":
        return place(conn, principal=principal, campaign=campaign, sources=sources, home=home)
    if step == "appeals":
        return open_appeals(conn, principal=principal, campaign=campaign)
    if step == "close":
        return close(conn, principal=principal, campaign=campaign)
    raise NotFound(f"No step {step!r}.")


def _log(conn: Connection, principal: Principal, action: str, campaign: str, after: dict[str, Any]) -> None:
    audit.record(conn, actor=principal.username, action=action, entity="campaign", entity_key=campaign,
                 after=after)


def _sources(sources: Sequence[str]) -> list[str]:
    cleaned = [s.strip() for s in sources if s.strip()]
    if not cleaned or any("\n" in s or len(s) > 500 for s in cleaned):
        raise ValidationError("The seed needs public randomness.", [
            Problem("no usable seed source", field="sources",
                    expected="one or more public values named before the draw, one per line "
                    "(e.g. a drand round's randomness), each under 500 characters")])
    return cleaned


# ---------------------------------------------------------------- appeals


def file_appeal(conn: Connection, *, principal: Principal, campaign: str, number: str, reason: str) -> int:
    row = campaign_row(conn, campaign)
    person = _applicant(conn, row, number)
    require_unit(conn, principal, Action.DATA_CAPTURE, person.district_id, _today(), "district")
    _require_status(row, PUBLISHED - {"closed"}, "recording an appeal")
    if not 0 < len(reason.strip()) <= 4000:
        raise ValidationError("The appeal needs a reason.", [
            Problem("reason missing or too long", field="reason", expected="1 to 4000 characters")])
    appeal_id = inserted_id(conn.execute(insert(appeals).values(
        applicant_pk=person.id, reason=reason.strip(), decision_note="", recorded_by=principal.username,
        recorded_at=_now())))
    audit.record(conn, actor=principal.username, action="appeal.record", entity="appeal",
                 entity_key=str(appeal_id),
                 after={"campaign": campaign, "number": number}, note="reason kept with the appeal")
    return appeal_id


def decide_appeal(conn: Connection, *, principal: Principal, appeal_id: int, decision: str, note: str = ""
                  ) -> AppealDecision:
    found = conn.execute(select(appeals, applicants.c.campaign_id, applicants.c.district_id)
                         .join(applicants, applicants.c.id == appeals.c.applicant_pk)
                         .where(appeals.c.id == appeal_id)).first()
    if found is None:
        raise NotFound(f"No appeal {appeal_id}.")
    require_unit(conn, principal, Action.DATA_CAPTURE, found.district_id, _today(), "district")
    row = conn.execute(select(campaigns).where(campaigns.c.id == found.campaign_id)).one()
    require_organiser(conn, principal, row)
    if decision not in ("upheld", "rejected"):
        raise ValidationError("Unknown decision.", [
            Problem("unknown decision", field="decision", value=decision, expected="upheld, rejected")])
    if found.decision is not None:
        raise Conflict(f"Appeal {appeal_id} was decided already ({found.decision}).")
    conn.execute(update(appeals).where(appeals.c.id == appeal_id).values(
        decision=decision, decision_note=note.strip(), decided_by=principal.username, decided_at=_now()))
    audit.record(conn, actor=principal.username, action="appeal.decide", entity="appeal",
                 entity_key=str(appeal_id),
                 before=None, after={"decision": decision, "note": note.strip()})
    return AppealDecision(id=appeal_id, decision=decision)


# ---------------------------------------------------------------- families


def record_lookup(conn: Connection, *, code: str, number: str, succeeded: bool) -> None:
    """Record a family's lookup; failures count towards the throttle."""
    conn.execute(insert(lookup_attempts).values(campaign_id=campaign_id(conn, code), number=number[:20],
                                                succeeded=succeeded, at=_now()))


def family_lookup(conn: Connection, *, code: str, number: str, birth_date: str, secret_key: str,
                  max_failures: int, window_minutes: int,
                  per_address: AddressLimit | None = None) -> FamilyView | JiaoweiError:
    """A family's application by its number and the child's date of birth, every attempt recorded.

    The number is normalised (NFKC, stripped) before it is counted or matched, so a padded or
    full-width number counts against the same throttle; ``per_address`` limits the failures of
    one client address across numbers. A failure is returned, not raised, so the request's
    transaction commits its record.
    """
    number = queries.normal_number(number)
    try:
        if per_address is not None:
            per_address.check()
        found = queries.lookup(conn, code=code, number=number, birth_date=birth_date, secret_key=secret_key,
                               max_failures=max_failures, window_minutes=window_minutes)
    except (NotFound, TooManyAttempts) as error:
        record_lookup(conn, code=code, number=number, succeeded=False)
        if per_address is not None and isinstance(error, NotFound):
            per_address.fail()
        return error
    record_lookup(conn, code=code, number=number, succeeded=True)
    return found
