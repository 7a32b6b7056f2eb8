"""Admissions campaigns: registration → application → frozen → drawn → published → placement
→ appeals → closed.

Every function takes keyword arguments, acts for a principal, writes the audit log and never
commits. Campaign steps need capture scope over the organising unit; applicants and their
choices need capture scope over the applicant's district. The draw and the placement run the
published algorithm through :mod:`jiaowei.admissions.proof`, which writes a proof bundle that
anyone can re-check with ``jiaowei lottery verify``.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from jiaowei import clock, counters
from jiaowei.admissions import crypto, drawing, queries
from jiaowei.admissions.applications import age, tiers
from jiaowei.admissions.applications.reading import APPLICANT_COLUMNS as APPLICANT_COLUMNS
from jiaowei.admissions.applications.reading import ApplicantsRead as ApplicantsRead
from jiaowei.admissions.applications.reading import copied, read_applicants
from jiaowei.admissions.model import (
    FALLBACK_OPEN,
    KINDS,
    OPEN_FOR_APPLICANTS,
    PUBLISHED,
    STAGES,
    STATUSES,
    AgeWindow,
    AppealDecision,
    ApplicantSpec,
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
    priorities,
    refresh_pool_statistics,
)
from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_unit
from jiaowei.db.engine import inserted_id
from jiaowei.domains import N_
from jiaowei.errors import M_, Conflict, JiaoweiError, NotFound, Problem, TooManyAttempts, ValidationError
from jiaowei.registry import queries as registry
from jiaowei.text import text_problem, text_problems
from jiaowei.throttle import AddressLimit

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ID_NUMBER = re.compile(r"^[0-9]{6,17}[0-9Xx]$")
NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,19}$")
MAX_REPORTED = 1000
DECISIONS = {"upheld": M_("upheld"), "rejected": M_("rejected")}
# a campaign's stages as the pages name them (messages: a conflict reads in the UI's language)
STATUS_NAMES = {
    "registration": M_("Registration"), "application": M_("Application"), "frozen": M_("Frozen"),
    "drawn": M_("Drawn"), "published": M_("Published"), "placement_frozen": M_("Placement pool frozen"),
    "placement": M_("Placement"), "appeals": M_("Appeals"), "closed": M_("Campaign closed"),
}
DEFAULT_TIER = drawing.DEFAULT_TIER
MAX_CHOICES = 15


def _unit_id(conn: Connection, code: str, field: str) -> int:
    unit_id = registry.id_of(conn, code)
    if unit_id is None:
        raise NotFound(M_("No unit with code {code}.", code=code),
                       [Problem(N_("no such unit"), field=field, value=code)])
    return unit_id


def require_organiser(conn: Connection, principal: Principal, campaign: Any) -> None:
    code = registry.codes_of(conn, [campaign.organiser_id]).get(campaign.organiser_id)
    require_unit(conn, principal, Action.DATA_CAPTURE, campaign.organiser_id, clock.today(), str(code))


def may_manage(principal: Principal) -> bool:
    """Whether the principal's role may create campaigns and take their steps (pages show the forms);
    each step still checks the principal's scope over the organising unit."""
    return principal.may(Action.DATA_CAPTURE)


def require_status(campaign: Any, allowed: Iterable[str], step: str) -> None:
    """Conflict unless the campaign is at one of the ``allowed`` stages; ``step`` (a message) names what
    was tried."""
    allowed = sorted(allowed, key=STATUSES.index)
    if campaign.status not in allowed:
        raise Conflict(M_("Campaign {code} is at the stage {status}; {step} is possible only at {allowed}.",
                          code=campaign.code, status=STATUS_NAMES.get(campaign.status, campaign.status),
                          step=step, allowed=_either([STATUS_NAMES.get(a, a) for a in allowed])))


def _either(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return M_("{first} or {second}", first=names[0], second=names[1])
    return M_("{first}, {rest}", first=names[0], rest=_either(names[1:]))


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
    # the age window (childcare): see admissions.applications.age; every bound optional and inclusive
    born_from: dt.date | None = None
    born_to: dt.date | None = None
    age_on: dt.date | None = None
    min_age_months: int | None = None
    max_age_months: int | None = None


def _spec_problems(spec: CampaignSpec) -> list[Problem]:
    checks = [
        (CODE.match(spec.code), N_("invalid code"), "code", spec.code,
         N_("letters, digits, _ . - (at most 64)")),
        (2000 <= spec.year <= 2100, N_("year out of range"), "year", spec.year,
         M_("{low} to {high}", low=2000, high=2100)),
        (spec.stage in STAGES, N_("unknown stage"), "stage", spec.stage, ", ".join(STAGES)),
        (spec.title_zh.strip(), N_("title missing"), "title_zh", spec.title_zh, N_("a Chinese title")),
        (spec.title_en.strip(), N_("title missing"), "title_en", spec.title_en, N_("an English title")),
        (1 <= spec.max_choices <= MAX_CHOICES, N_("out of range"), "max_choices", spec.max_choices,
         M_("{low} to {high}", low=1, high=MAX_CHOICES)),
        (spec.mechanism in set(Mechanism), N_("unknown mechanism"), "mechanism", spec.mechanism,
         ", ".join(Mechanism)),
        (spec.multiples in set(Multiples), N_("unknown rule"), "multiples", spec.multiples,
         ", ".join(Multiples)),
    ]
    return ([Problem(m, field=f, value=v, expected=e) for ok, m, f, v, e in checks if not ok]
            + text_problems(spec.__dict__, ("title_zh", "title_en"))
            + age.window_problems(age.window_of(spec)))


def create_campaign(conn: Connection, *, principal: Principal, spec: CampaignSpec) -> StepDone:
    """A campaign at the registration stage, organised by a unit in the principal's capture scope."""
    if problems := _spec_problems(spec):
        raise ValidationError(N_("The campaign cannot be created."), problems)
    organiser_id = _unit_id(conn, spec.organiser, "organiser")
    require_unit(conn, principal, Action.DATA_CAPTURE, organiser_id, clock.today(), spec.organiser)
    if conn.scalar(select(campaigns.c.id).where(campaigns.c.code == spec.code)) is not None:
        raise Conflict(M_("A campaign with code {code} already exists.", code=spec.code))
    values = {**spec.__dict__, "organiser_id": organiser_id}
    del values["organiser"]
    conn.execute(insert(campaigns).values(**values, status="registration", fallback={},
                                          created_at=clock.now()))
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
    require_status(row, OPEN_FOR_APPLICANTS, M_("adding schools"))
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
        raise ValidationError(N_("The schools cannot be added."), problems)
    for unit_id, school in zip([r["unit_id"] for r in rows], schools, strict=True):
        require_unit(conn, principal, Action.VIEW, unit_id, clock.today(), school.unit)
        for district in school.districts:
            require_unit(conn, principal, Action.VIEW, ids[district], clock.today(), district)
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
        found.append(Problem(N_("no such unit"), row=n, field="unit", value=school.unit))
    found += [Problem(N_("no such district"), row=n, field="districts", value=d) for d in school.districts
              if d not in ids]
    if not 0 <= school.capacity <= 100_000:
        found.append(Problem(N_("capacity out of range"), row=n, field="capacity", value=school.capacity,
                             expected=N_("0 to 100000")))
    if school.kind not in KINDS:
        found.append(Problem(N_("unknown kind"), row=n, field="kind", value=school.kind,
                             expected="private, public"))
    if school.program and not CODE.match(school.program):
        found.append(Problem(N_("invalid program"), row=n, field="program", value=school.program,
                             expected=N_("letters, digits, _ . -")))
    if school_id in known:
        found.append(Problem(N_("already in the campaign"), row=n, field="unit", value=school_id))
    return found


def set_fallback(conn: Connection, *, principal: Principal, campaign: str, district: str,
                 schools: Sequence[str]) -> list[str]:
    """The district's fallback order of public schools for placement (统筹)."""
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    require_status(row, FALLBACK_OPEN, M_("setting a fallback order"))
    require_unit(conn, principal, Action.VIEW, _unit_id(conn, district, "district"), clock.today(), district)
    public = _school_kinds(conn, row.id)
    bad = [Problem(N_("not a public school of this campaign"), field="schools", value=s) for s in schools
           if public.get(s) != "public"]
    if bad or len(set(schools)) != len(schools):
        raise ValidationError(N_("The fallback order is not valid."), bad or [
            Problem(N_("a school is listed twice"), field="schools", expected=N_("each school once"))])
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


@dataclass
class _Registration:
    campaign: Any
    kinds: dict[str, str]
    districts: dict[str, int]
    window: AgeWindow | None = None
    numbers: set[str] = field(default_factory=set)
    pseudonyms: set[str] = field(default_factory=set)


def _fresh(taken: set[str], make: Any) -> str:
    while (value := make()) in taken:
        pass
    taken.add(value)
    return str(value)


def _registration(conn: Connection, row: Any, people: Sequence[ApplicantSpec]) -> _Registration:
    reg = _Registration(row, _school_kinds(conn, row.id),
                        registry.ids_of(conn, sorted({p.district for p in people})), age.window_of(row))
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
                found.append(Problem(N_("invalid application number"), row=n, field="number",
                                     value=person.number, expected=N_("1 to 20 letters, digits or -")))
            elif person.number in reg.numbers or person.number in given:
                found.append(Problem(N_("application number already used"), row=n, field="number",
                                     value=person.number, expected=N_("a number not yet in this campaign")))
            given.add(person.number)
    return found


def register_applicants(conn: Connection, *, principal: Principal, campaign: str, secret_key: str,
                        people: Sequence[ApplicantSpec]) -> list[Registered]:
    """Register applicants (with their choices and priority tiers, if any); returns each one's number and
    pseudonymous id. Applicants born outside the campaign's age window are refused."""
    row = campaign_row(conn, campaign)
    require_status(row, OPEN_FOR_APPLICANTS, M_("registering applicants"))
    if any(p.choices for p in people):
        require_status(row, {"application"}, M_("submitting choices"))
    reg = _registration(conn, row, people)
    if problems := _people_problems(people, reg):
        raise ValidationError(N_("The applicants cannot be registered."), problems)
    return _register(conn, principal, campaign, reg, people, secret_key)


def _register(conn: Connection, principal: Principal, campaign: str, reg: _Registration,
              people: Sequence[ApplicantSpec], secret_key: str) -> list[Registered]:
    row = reg.campaign
    for district, district_id in reg.districts.items():
        require_unit(conn, principal, Action.DATA_CAPTURE, district_id, clock.today(), district)
    reg.numbers |= {p.number for p in people if p.number}
    made = [_applicant_row(reg, person, secret_key) for person in people]
    if made:
        conn.execute(insert(applicants), made)
        # the campaign list reads this count (it counts nothing); same transaction, same savepoint
        conn.execute(update(campaigns).where(campaigns.c.id == row.id)
                     .values(applicant_count=campaigns.c.applicant_count + len(made)))
    pks = _pks(conn, row.id, [m["number"] for m in made])
    choice_rows = [{"applicant_pk": pks[m["number"]], "rank": rank, "school_id": school}
                   for m, person in zip(made, people, strict=True)
                   for rank, school in enumerate(person.choices, start=1)]
    if choice_rows:
        conn.execute(insert(choices), choice_rows)
    if tier_rows := tiers.priority_rows(pks, [m["number"] for m in made], people):
        conn.execute(insert(priorities), tier_rows)
    audit.record_many(conn, actor=principal.username, entries=[
        {"action": "applicant.register", "entity": "applicant", "entity_key": f"{campaign}/{m['number']}",
         "after": {"applicant_id": m["applicant_id"], "district": person.district,
                   "residence_tier": person.residence_tier, "catchment": person.catchment,
                   "group_id": person.group_id, "choices": list(person.choices),
                   "priorities": dict(person.priorities)},
         "note": "personal data sealed; not in the log"} for m, person in zip(made, people, strict=True)])
    return [Registered(number=m["number"], applicant_id=m["applicant_id"]) for m in made]


def import_applicants(conn: Connection, *, principal: Principal, campaign: str, data: bytes, secret_key: str,
                      dry_run: bool = False, parsed: ApplicantsRead | None = None) -> ImportSummary:
    """Register the applicants of a CSV file: every row or none.

    Raises ValidationError listing every problem (row, column, value) before anything is
    written. A dry run does the same work in a savepoint that it rolls back. The audit log
    gets one entry per applicant (no name, ID number or date of birth) and one for the file.
    ``parsed``: ``read_applicants(data)``, read already before the transaction (the web routes).
    """
    row = campaign_row(conn, campaign)
    require_status(row, OPEN_FOR_APPLICANTS, M_("registering applicants"))
    numbers, people, problems = read_applicants(data) if parsed is None else copied(parsed)
    if any(p.choices for p in people) and row.status != "application":
        problems.append(Problem(N_("choices only while applications are open"), field="choices",
                                expected=N_("empty choices until the campaign opens applications")))
    reg = _registration(conn, row, people)
    problems += _people_problems(people, reg, numbers)
    if problems:
        problems.sort(key=lambda p: p.row or 0)
        raise ValidationError(_nobody_registered(len(problems)), problems[:MAX_REPORTED])
    with conn.begin_nested() as savepoint:
        made = _register(conn, principal, campaign, reg, people, secret_key)
        audit.record(conn, actor=principal.username, action="applicant.import", entity="campaign",
                     entity_key=campaign, after={"rows": len(made),
                                                 "with_choices": sum(1 for p in people if p.choices)},
                     note="personal data sealed; not in the log")
        if dry_run:
            savepoint.rollback()
    return ImportSummary(registered=len(made), with_choices=sum(1 for p in people if p.choices),
                         dry_run=dry_run, numbers=[] if dry_run else [m.number for m in made],
                         with_priorities=sum(1 for p in people if p.priorities))


def _nobody_registered(count: int) -> str:
    if count > MAX_REPORTED:
        return M_("{count} problems in the file; nobody was registered (the first {listed} are listed).",
                  count=count, listed=MAX_REPORTED)
    if count == 1:
        return M_("1 problem in the file; nobody was registered.")
    return M_("{count} problems in the file; nobody was registered.", count=count)


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
        "created_at": clock.now(),
    }


def _person_problems(n: int, person: ApplicantSpec, reg: _Registration) -> list[Problem]:
    found = []
    if not 0 < len(person.name.strip()) <= 100:
        found.append(Problem(N_("name missing or too long"), row=n, field="name",
                             expected=N_("1 to 100 characters")))
    elif bad := text_problem(person.name, field="name", row=n):
        found.append(replace(bad, value=None))  # a name is personal: the problem does not repeat it
    if not ID_NUMBER.match(person.id_number.strip()):
        found.append(Problem(N_("invalid ID number"), row=n, field="id_number",
                             expected=N_("7 to 18 digits, the last may be X")))
    if outside := age.birth_problem(reg.window, person.birth_date, row=n):
        found.append(outside)
    if person.district not in reg.districts:
        found.append(Problem(N_("no such district"), row=n, field="district", value=person.district))
    if not 0 <= person.residence_tier <= DEFAULT_TIER:
        found.append(Problem(N_("tier out of range"), row=n, field="residence_tier",
                             value=person.residence_tier, expected=tiers.tier_range()))
    if person.catchment and reg.kinds.get(person.catchment) != "public":
        found.append(Problem(N_("not a public school of this campaign"), row=n, field="catchment",
                             value=person.catchment))
    if person.group_id and not CODE.match(person.group_id):
        found.append(Problem(N_("invalid group id"), row=n, field="group_id", value=person.group_id,
                             expected=N_("letters, digits, _ . -")))
    return (found + choice_problems(person.choices, reg.kinds, reg.campaign.max_choices, row=n)
            + tiers.tier_problems(person.priorities, reg.kinds, row=n))


def choice_problems(chosen: Sequence[str], kinds: dict[str, str], max_choices: int,
                    row: int | None = None) -> list[Problem]:
    found = [Problem(N_("not a school applied for by choice in this campaign"), row=row, field="choices",
                     value=s) for s in chosen if kinds.get(s) != "private"]
    if len(chosen) > max_choices:
        found.append(Problem(N_("too many choices"), row=row, field="choices", value=len(chosen),
                             expected=M_("at most {count}", count=max_choices)))
    if len(set(chosen)) != len(chosen):
        found.append(Problem(N_("a school is chosen twice"), row=row, field="choices",
                             expected=N_("each school once")))
    return found


def submit_choices(conn: Connection, *, principal: Principal, campaign: str, number: str,
                   chosen: Sequence[str]) -> list[str]:
    """Replace an applicant's ranked choices (only while the application stage is open)."""
    row = campaign_row(conn, campaign)
    person = applicant_of(conn, row, number)
    require_unit(conn, principal, Action.DATA_CAPTURE, person.district_id, clock.today(), "district")
    require_status(row, {"application"}, M_("submitting choices"))
    if problems := choice_problems(chosen, _school_kinds(conn, row.id), row.max_choices):
        raise ValidationError(N_("The choices cannot be accepted."), problems)
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


def applicant_of(conn: Connection, campaign: Any, number: str) -> Any:
    person = conn.execute(select(applicants).where(applicants.c.campaign_id == campaign.id,
                                                   applicants.c.number == number)).first()
    if person is None:
        raise NotFound(M_("No application {number} in campaign {code}.", number=number, code=campaign.code))
    return person


# ---------------------------------------------------------------- the stages


def open_application(conn: Connection, *, principal: Principal, campaign: str) -> StepDone:
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    require_status(row, {"registration"}, M_("opening applications"))
    _set_status(conn, row, "application")
    _log(conn, principal, "campaign.open", campaign, {"status": "application"})
    return StepDone(code=campaign, status="application")


def freeze(conn: Connection, *, principal: Principal, campaign: str, home: Path) -> PoolFrozen:
    """Write the case files from the database and fix their ``pool_digest``; no change after this."""
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    require_status(row, {"application"}, M_("freezing"))
    refresh_pool_statistics(conn)
    _require_a_pool(conn, row)
    case_dir = drawing.campaign_dir(home, campaign) / "case"
    digest = drawing.freeze_case(case_dir, drawing.lottery_case(conn, row))
    _set_status(conn, row, "frozen", pool_digest=digest, frozen_at=clock.now())
    _log(conn, principal, "campaign.freeze", campaign, {"status": "frozen", "pool_digest": digest})
    return PoolFrozen(code=campaign, status="frozen", pool_digest=digest)


def _require_a_pool(conn: Connection, campaign: Any) -> None:
    """Refuse to freeze a pool with nobody in it: no applicants, or (with schools to draw) no choices.

    A campaign with only public schools (placement only) may freeze a lottery pool without choices.
    """
    registered = conn.scalar(select(func.count()).select_from(applicants)
                             .where(applicants.c.campaign_id == campaign.id)) or 0
    if not registered:
        raise Conflict(M_("Campaign {code} has no applicants, so its pool is empty and cannot be frozen. "
                          "Register applicants or import them first (a dry run registers nobody).",
                          code=campaign.code))
    drawn = "private" in _school_kinds(conn, campaign.id).values()
    chose = conn.scalar(select(func.count()).select_from(choices)
                        .join(applicants, applicants.c.id == choices.c.applicant_pk)
                        .where(applicants.c.campaign_id == campaign.id))
    if drawn and not chose:
        raise Conflict(M_("None of the {count} applicants of campaign {code} has chosen a school, so the "
                          "draw would have nobody to draw and the pool cannot be frozen. Record their "
                          "choices first.",
                          count=registered, code=campaign.code))


def draw(conn: Connection, *, principal: Principal, campaign: str, sources: Sequence[str], home: Path
         ) -> Drawn:
    """Draw on public randomness named after the freeze; store the results; keep the proof bundle."""
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    require_status(row, {"frozen"}, M_("drawing"))
    sources = _sources(sources)
    case_dir = drawing.campaign_dir(home, campaign) / "case"
    files = drawing.check_frozen(conn, row, case_dir)
    out_dir = drawing.campaign_dir(home, campaign) / "lottery"
    outcome = drawing.run(case_dir, out_dir, row.pool_digest, sources)
    drawing.store_results(conn, row, "lottery", outcome, files)
    _set_status(conn, row, "drawn", seed_sources=sources, seed=outcome.seed, bundle=str(outcome.bundle),
                drawn_at=clock.now())
    _log(conn, principal, "campaign.draw", campaign, {"status": "drawn", "sources": sources,
                                                      "seed": outcome.seed, "bundle": str(outcome.bundle),
                                                   "outputs": outcome.output_digests})
    counters.LOTTERY_DRAWS.inc()
    return Drawn(code=campaign, status="drawn", seed=outcome.seed, pool_digest=row.pool_digest)


def publish(conn: Connection, *, principal: Principal, campaign: str) -> StepDone:
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    require_status(row, {"drawn"}, M_("publishing"))
    _set_status(conn, row, "published", published_at=clock.now())
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
    require_status(row, {"published"}, M_("freezing the placement pool"))
    if mechanism not in set(Mechanism):
        raise ValidationError(N_("Unknown mechanism."), [Problem(N_("unknown mechanism"), field="mechanism",
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
    require_status(row, {"placement_frozen"}, M_("placement"))
    sources = _sources(sources)
    case_dir = drawing.campaign_dir(home, campaign) / "placement-case"
    files = drawing.check_frozen_placement(conn, row, case_dir)
    outcome = drawing.run(case_dir, drawing.campaign_dir(home, campaign) / "placement", row.placement_digest,
                          sources)
    drawing.store_results(conn, row, "placement", outcome, files)
    _set_status(conn, row, "placement", placement_sources=sources, placement_seed=outcome.seed,
                placement_bundle=str(outcome.bundle), placed_at=clock.now())
    _log(conn, principal, "campaign.place", campaign, {"status": "placement",
                                                       "pool_digest": row.placement_digest,
                                                    "sources": sources, "seed": outcome.seed,
                                                    "bundle": str(outcome.bundle),
                                                    "outputs": outcome.output_digests})
    return Placed(code=campaign, status="placement", pool_digest=row.placement_digest, seed=outcome.seed)


def open_appeals(conn: Connection, *, principal: Principal, campaign: str) -> StepDone:
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    require_status(row, {"placement"}, M_("opening appeals"))
    _set_status(conn, row, "appeals")
    _log(conn, principal, "campaign.appeals", campaign, {"status": "appeals"})
    return StepDone(code=campaign, status="appeals")


def close(conn: Connection, *, principal: Principal, campaign: str) -> StepDone:
    row = campaign_row(conn, campaign)
    require_organiser(conn, principal, row)
    require_status(row, {"appeals"}, M_("closing"))
    pending = conn.scalar(select(appeals.c.id).join(applicants, applicants.c.id == appeals.c.applicant_pk)
                          .where(applicants.c.campaign_id == row.id, appeals.c.decision.is_(None)).limit(1))
    if pending is not None:
        raise Conflict(M_("Campaign {code} has appeals without a decision; decide them first.",
                          code=campaign))
    _set_status(conn, row, "closed", closed_at=clock.now())
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
    raise NotFound(M_("No step {step}.", step=step))


def _log(conn: Connection, principal: Principal, action: str, campaign: str, after: dict[str, Any]) -> None:
    audit.record(conn, actor=principal.username, action=action, entity="campaign", entity_key=campaign,
                 after=after)


def _sources(sources: Sequence[str]) -> list[str]:
    cleaned = [s.strip() for s in sources if s.strip()]
    if not cleaned or any("\n" in s or len(s) > 500 for s in cleaned):
        raise ValidationError(N_("The seed needs public randomness."), [
            Problem(N_("no usable seed source"), field="sources",
                    expected="one or more public values named before the draw, one per line "
                    "(e.g. a drand round's randomness), each under 500 characters")])
    return cleaned


# ---------------------------------------------------------------- appeals


def file_appeal(conn: Connection, *, principal: Principal, campaign: str, number: str, reason: str) -> int:
    row = campaign_row(conn, campaign)
    person = applicant_of(conn, row, number)
    require_unit(conn, principal, Action.DATA_CAPTURE, person.district_id, clock.today(), "district")
    require_status(row, PUBLISHED - {"closed"}, M_("recording an appeal"))
    if not 0 < len(reason.strip()) <= 4000:
        raise ValidationError(N_("The appeal needs a reason."), [
            Problem(N_("reason missing or too long"), field="reason", expected=N_("1 to 4000 characters"))])
    appeal_id = inserted_id(conn.execute(insert(appeals).values(
        applicant_pk=person.id, reason=reason.strip(), decision_note="", recorded_by=principal.username,
        recorded_at=clock.now())))
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
        raise NotFound(M_("No appeal {id}.", id=appeal_id))
    require_unit(conn, principal, Action.DATA_CAPTURE, found.district_id, clock.today(), "district")
    row = conn.execute(select(campaigns).where(campaigns.c.id == found.campaign_id)).one()
    require_organiser(conn, principal, row)
    if decision not in ("upheld", "rejected"):
        raise ValidationError(N_("Unknown decision."), [
            Problem(N_("unknown decision"), field="decision", value=decision, expected="upheld, rejected")])
    if found.decision is not None:
        raise Conflict(M_("Appeal {id} was decided already ({decision}).", id=appeal_id,
                          decision=DECISIONS.get(found.decision, found.decision)))
    conn.execute(update(appeals).where(appeals.c.id == appeal_id).values(
        decision=decision, decision_note=note.strip(), decided_by=principal.username, decided_at=clock.now()))
    audit.record(conn, actor=principal.username, action="appeal.decide", entity="appeal",
                 entity_key=str(appeal_id),
                 before=None, after={"decision": decision, "note": note.strip()})
    return AppealDecision(id=appeal_id, decision=decision)


# ---------------------------------------------------------------- families


def record_lookup(conn: Connection, *, code: str, number: str, succeeded: bool) -> None:
    """Record a family's lookup; failures count towards the throttle."""
    conn.execute(insert(lookup_attempts).values(campaign_id=campaign_id(conn, code), number=number[:20],
                                                succeeded=succeeded, at=clock.now()))


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
