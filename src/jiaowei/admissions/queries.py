"""Reading campaigns: what the public sees, what a family sees, what staff in scope see.

The public sees digests, seeds, cutoffs and a masked list (pseudonymous ids only) once the
results are published. A family sees its own application after giving its number and the
child's date of birth; failed lookups are throttled per application number. Staff see the
applicants of the districts in their scope, with names and ID numbers unless they are viewers.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, or_, select

from jiaowei import clock
from jiaowei.admissions import crypto
from jiaowei.admissions.applications.age import window_of
from jiaowei.admissions.applications.tiers import tier_counts
from jiaowei.admissions.model import (
    PUBLISHED,
    CampaignListed,
    CampaignSchool,
    CampaignView,
    FamilyChoice,
    FamilyView,
    MaskedResult,
    MaskedResults,
    SchoolCutoff,
    StaffResult,
    StaffResults,
    UnitName,
)
from jiaowei.admissions.store import (
    applicants,
    campaign_id,
    campaign_row,
    campaign_schools,
    campaigns,
    choices,
    cutoffs,
    lookup_attempts,
    results,
)
from jiaowei.auth.model import Action, Principal, Role
from jiaowei.auth.scope import require_action, scope_paths
from jiaowei.db.among import one_of
from jiaowei.db.kept import kept_rows
from jiaowei.db.memo import per_transaction
from jiaowei.errors import NotFound, TooManyAttempts
from jiaowei.registry import queries as registry

BUNDLE_FILES = ("results.csv", "cutoffs.csv", "manifest.json", "transcript.txt", "inputs/case.json",
                "inputs/schools.csv", "inputs/applicants.csv", "inputs/priorities.csv", "inputs/seed.json")
NOT_FOUND = "No application matches this number and date of birth."
MAX_PAGE = 500


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def unit_names(conn: Connection, ids: set[int]) -> dict[int, UnitName]:
    """The newest names of units, by id."""
    return {i: UnitName(code=u.code, name_zh=u.name_zh, name_en=u.name_en)
            for i, u in registry.last_known(conn, ids).items()}


def list_campaigns(conn: Connection) -> list[CampaignListed]:
    """Every campaign with its number of applicants: one statement over the campaigns alone, the number
    being the one each campaign's row keeps (``applicant_count``), so that the list costs the same
    however many applicants there are (counting them took 0.8 ms a statement on PostgreSQL for the
    demo's 11,000; ``jiaowei audit verify`` checks the kept number against the rows). A read-only
    request takes them from what the process keeps under the ``admissions`` stamp, which every write
    to ``campaigns`` changes (migration 0021, decision 0023)."""
    rows = kept_rows(conn, "admissions", "admissions.campaigns", select(
        campaigns.c.code, campaigns.c.year, campaigns.c.stage, campaigns.c.title_zh, campaigns.c.title_en,
        campaigns.c.status, campaigns.c.applicant_count, campaigns.c.synthetic,
    ).order_by(campaigns.c.year.desc(), campaigns.c.code))
    return [CampaignListed(code=r.code, year=r.year, stage=r.stage, title_zh=r.title_zh, title_en=r.title_en,
                           status=r.status, applicants=r.applicant_count, synthetic=r.synthetic)
            for r in rows]


def campaign(conn: Connection, *, code: str) -> CampaignView:
    """Everything about a campaign that is public at its stage (no applicant, no identity)."""
    row = campaign_row(conn, code)
    published = row.status in PUBLISHED
    schools = conn.execute(select(campaign_schools).where(campaign_schools.c.campaign_id == row.id)
                           .order_by(campaign_schools.c.kind, campaign_schools.c.school_id)).all()
    names = unit_names(conn, {s.unit_id for s in schools} | {row.organiser_id})
    cut = _cutoffs(conn, row.id) if published else {}
    listed = [_school(s, names[s.unit_id], cut.get(("lottery" if s.kind == "private" else "placement",
                                                     s.school_id))) for s in schools]
    private = [s for s in listed if s.kind == "private"]
    drawn = [s for s in private if s.cutoff and s.cutoff.turned_away > 0]
    return CampaignView(
        code=row.code, year=row.year, stage=row.stage, title_zh=row.title_zh,
        title_en=row.title_en, status=row.status, max_choices=row.max_choices,
        mechanism=row.mechanism, multiples=row.multiples, synthetic=row.synthetic,
        organiser=names[row.organiser_id], fallback=dict(row.fallback or {}),
        pool_digest=row.pool_digest, seed_sources=row.seed_sources, seed=row.seed,
        placement_digest=row.placement_digest, placement_sources=row.placement_sources,
        placement_seed=row.placement_seed, published=published, schools=listed,
        applicants=row.applicant_count,  # kept on the row (list_campaigns), not counted
        lottery_schools=len(drawn) if published else None, private_schools=len(private),
        lottery_share=round(100 * len(drawn) / len(private), 2) if published and private else None,
        bundles={"lottery": _files(row.bundle) if published else [],
                 "placement": _files(row.placement_bundle) if published else []},
        dates={k: getattr(row, f"{k}_at").isoformat() if getattr(row, f"{k}_at") else None
               for k in ("created", "frozen", "drawn", "published", "placed", "closed")},
        age_window=window_of(row), tiers=tier_counts(conn, row.id),  # ADM1: age window, priority tiers
    )


def _school(s: Any, name: UnitName, cutoff: SchoolCutoff | None) -> CampaignSchool:
    return CampaignSchool(school_id=s.school_id, kind=s.kind, capacity=s.capacity, program=s.program,
                          districts=list(s.districts or []), code=name.code, name_zh=name.name_zh,
                          name_en=name.name_en, cutoff=cutoff)


def _files(bundle: str | None) -> list[str]:
    return [name for name in BUNDLE_FILES if bundle and (Path(bundle) / name).is_file()]


def _cutoffs(conn: Connection, campaign_id: int) -> dict[tuple[str, str], SchoolCutoff]:
    rows = conn.execute(select(cutoffs).where(cutoffs.c.campaign_id == campaign_id))
    return {(r.stage, r.school_id): SchoolCutoff(capacity=r.capacity, admitted=r.admitted,
                                                 last_tier=r.last_tier, last_lottery_rank=r.last_lottery_rank,
                                                 turned_away=r.turned_away)
            for r in rows}


def masked_results(conn: Connection, *, code: str, offset: int = 0, limit: int = 200) -> MaskedResults:
    """The published list: pseudonymous id, lottery rank, placed or not. Nothing before publication."""
    row = campaign_row(conn, code)
    if row.status not in PUBLISHED:
        return MaskedResults(items=[], total=0, offset=offset, limit=limit)
    query = (select(applicants.c.applicant_id, results.c.lottery_rank, results.c.school_id)
             .join(results, results.c.applicant_pk == applicants.c.id)
             .where(applicants.c.campaign_id == row.id, results.c.stage == "lottery"))
    total = conn.scalar(select(func.count()).select_from(query.subquery()))
    items = [MaskedResult(applicant_id=r.applicant_id, lottery_rank=r.lottery_rank,
                          admitted=r.school_id is not None)
             for r in conn.execute(query.order_by(results.c.lottery_rank).offset(offset).limit(limit))]
    return MaskedResults(items=items, total=total or 0, offset=offset, limit=limit)


def bundle_file(conn: Connection, *, code: str, stage: str, name: str) -> Path:
    """A file of a published proof bundle, by its name in the bundle."""
    row = campaign_row(conn, code)
    bundle = {"lottery": row.bundle, "placement": row.placement_bundle}.get(stage)
    if row.status not in PUBLISHED or not bundle or name not in BUNDLE_FILES:
        raise NotFound(f"No file {name!r} in a published proof bundle of {code}.")
    path = Path(bundle) / name
    if not path.is_file():
        raise NotFound(f"No file {name!r} in a published proof bundle of {code}.")
    return path


# ---------------------------------------------------------------- staff


@dataclass(frozen=True)
class ApplicantFilter:
    """Which of the applicants in scope a list shows: by status, district code, number or pseudonymous id."""

    status: str = ""
    district: str = ""
    search: str = ""


def staff_results(conn: Connection, *, principal: Principal, code: str, secret_key: str, offset: int = 0,
                  limit: int = 100, only: ApplicantFilter = ApplicantFilter()) -> StaffResults:
    """Applicants of the districts in the principal's view scope, with identities unless a viewer."""
    require_action(principal, Action.VIEW)
    row = campaign_row(conn, code)
    districts = visible_districts(conn, principal, row.id)
    identities = principal.role is not Role.VIEWER
    conditions = _applicant_conditions(conn, row.id, districts, only)
    rows = conn.execute(_page_query(conditions, offset, limit)).all()
    chosen = _choices(conn, [r.id for r in rows])
    items = [StaffResult(
        number=r.number, applicant_id=r.applicant_id, district=districts[r.district_id],
        name=crypto.unseal(secret_key, r.name_sealed) if identities else None,
        id_number=crypto.unseal(secret_key, r.id_number_sealed) if identities else None,
        residence_tier=r.residence_tier, catchment=r.catchment, group_id=r.group_id,
        choices=chosen.get(r.id, []), status=r.status, lottery_rank=r.lottery_rank,
        admitted_to=r.admitted_to, choice_rank=r.choice_rank, placed_at=r.placed_at,
    ) for r in rows]
    return StaffResults(items=items, total=_total(conn, row.id, districts, only, conditions), offset=offset,
                        limit=limit, identities=identities)


def _applicant_conditions(conn: Connection, campaign_pk: int, districts: dict[int, str],
                          only: ApplicantFilter) -> list[Any]:
    ids = sorted(i for i, c in districts.items() if not only.district or c == only.district)
    found = [applicants.c.campaign_id == campaign_pk]
    if set(ids) != {r.district_id for r in applicant_tally(conn, campaign_pk)}:  # all of them: no condition
        found.append(applicants.c.district_id.in_(ids))
    if only.status:
        found.append(applicants.c.status == only.status)
    if search := normal_number(only.search):
        found.append(or_(applicants.c.number.startswith(search, autoescape=True),
                         applicants.c.applicant_id.startswith(search, autoescape=True)))
    return found


def _page_query(conditions: list[Any], offset: int, limit: int) -> Any:
    """One page of the applicants, lottery rank first: the page is chosen on narrow rows (id, rank,
    number), and only its rows are read whole with their results."""
    ranked = results.alias("ranked")
    shown = (select(applicants.c.id, ranked.c.lottery_rank, applicants.c.number)
             .outerjoin(ranked, (ranked.c.applicant_pk == applicants.c.id) & (ranked.c.stage == "lottery"))
             .where(*conditions)
             .order_by(ranked.c.lottery_rank.nulls_last(), applicants.c.number)
             .offset(offset).limit(limit).subquery("shown"))
    lottery, placement = results.alias("lottery"), results.alias("placement")
    return (select(applicants, lottery.c.lottery_rank, lottery.c.school_id.label("admitted_to"),
                   lottery.c.choice_rank, placement.c.school_id.label("placed_at"))
            .join(shown, shown.c.id == applicants.c.id)
            .outerjoin(lottery, (lottery.c.applicant_pk == applicants.c.id) & (lottery.c.stage == "lottery"))
            .outerjoin(placement, (placement.c.applicant_pk == applicants.c.id)
                       & (placement.c.stage == "placement"))
            .order_by(shown.c.lottery_rank.nulls_last(), shown.c.number))


def _total(conn: Connection, campaign_pk: int, districts: dict[int, str], only: ApplicantFilter,
           conditions: list[Any]) -> int:
    """How many applicants the list holds: from :func:`applicant_tally` unless a number is searched for
    (the tally counts by district and status, the list's other filters)."""
    if normal_number(only.search):
        return int(conn.scalar(select(func.count()).select_from(applicants).where(*conditions)) or 0)
    return sum(r.applicants for r in applicant_tally(conn, campaign_pk)
               if r.district_id in districts and (not only.district or r.code == only.district)
               and (not only.status or r.status == only.status))


@dataclass(frozen=True)
class ApplicantCounts:
    """How many applicants in the principal's scope have each status, and live in each district."""

    total: int
    statuses: dict[str, int]
    districts: dict[str, int]  # district code -> applicants


def staff_counts(conn: Connection, *, principal: Principal, code: str) -> ApplicantCounts:
    """The counts beside the applicant list's filters (scope as :func:`staff_results`)."""
    require_action(principal, Action.VIEW)
    row = campaign_row(conn, code)
    districts = visible_districts(conn, principal, row.id)
    statuses: Counter[str] = Counter()
    by_district: Counter[str] = Counter()
    for r in applicant_tally(conn, row.id):
        if r.district_id in districts:
            statuses[r.status] += r.applicants
            by_district[districts[r.district_id]] += r.applicants
    return ApplicantCounts(total=sum(statuses.values()), statuses=dict(statuses),
                           districts=dict(sorted(by_district.items())))


@dataclass(frozen=True)
class SchoolList:
    """One page of a campaign's schools, filtered, with the counts beside the filters."""

    items: list[CampaignSchool]
    total: int
    offset: int
    limit: int
    kinds: dict[str, int]  # kind -> schools of the campaign
    oversubscribed: int


def school_list(view: CampaignView, *, kind: str = "", search: str = "", oversubscribed: bool = False,
                offset: int = 0, limit: int = 50) -> SchoolList:
    """The campaign's schools of a kind whose id, code or name contains ``search``, one page of them."""
    needle = search.strip().casefold()
    chosen = [s for s in view.schools
              if (not kind or s.kind == kind) and (not oversubscribed or _oversubscribed(s))
              and (not needle or any(needle in t.casefold() for t in (s.school_id, s.code, s.name_zh,
                                                                       s.name_en or "")))]
    return SchoolList(items=chosen[offset:offset + limit], total=len(chosen), offset=offset, limit=limit,
                      kinds=dict(Counter(s.kind for s in view.schools)),
                      oversubscribed=sum(1 for s in view.schools if _oversubscribed(s)))


def _oversubscribed(school: CampaignSchool) -> bool:
    return bool(school.cutoff and school.cutoff.turned_away)


def applicant_tally(conn: Connection, campaign_id: int) -> list[Any]:
    """How many of the campaign's applicants live in each district with each status: rows of
    ``district_id``, ``code`` (the district's), ``status`` and ``applicants``.

    The campaign page finds the districts, counts the list and its filters, and tells placement's
    outcome from these rows: one statement, read once per transaction until it writes.
    """
    def read() -> list[Any]:
        counted = (select(applicants.c.district_id, applicants.c.status, func.count().label("applicants"))
                   .where(applicants.c.campaign_id == campaign_id)
                   .group_by(applicants.c.district_id, applicants.c.status).subquery("counted"))
        codes = registry.unit_codes()
        return list(conn.execute(select(counted.c.district_id, codes.c.code, counted.c.status,
                                        counted.c.applicants)
                                 .join(codes, codes.c.id == counted.c.district_id)).all())

    return per_transaction(conn, f"admissions.tally:{campaign_id}", read)


def visible_districts(conn: Connection, principal: Principal, campaign_id: int) -> dict[int, str]:
    """The districts of this campaign's applicants that the principal may view: id → code.

    Read once per transaction (the list and its counts both ask): the districts from
    :func:`applicant_tally`, their paths in one statement, the principal's scope once.
    """
    scope = principal.scope_for(Action.VIEW)
    key = f"admissions.districts:{campaign_id}:{clock.today()}:{principal.unlimited}:{sorted(scope)}"
    return per_transaction(conn, key, lambda: _visible_districts(conn, principal, campaign_id))


def _visible_districts(conn: Connection, principal: Principal, campaign_id: int) -> dict[int, str]:
    codes = {r.district_id: r.code for r in applicant_tally(conn, campaign_id)}
    day = clock.today()
    paths = registry.last_paths(conn, codes, day)
    scope = None if principal.unlimited else scope_paths(conn, principal, Action.VIEW, day)
    return {unit_id: code for unit_id, code in codes.items()
            if (path := paths.get(unit_id)) and (scope is None or any(path.startswith(p) for p in scope))}


def _choices(conn: Connection, pks: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if pks:
        for pk, school in conn.execute(select(choices.c.applicant_pk, choices.c.school_id)
                                       .where(one_of(conn, choices.c.applicant_pk, pks))
                                       .order_by(choices.c.rank)):
            found.setdefault(pk, []).append(school)
    return found



# ---------------------------------------------------------------- families


def normal_number(number: str) -> str:
    """An application number as typed, the way it is counted and matched: NFKC, then stripped.

    NFKC turns full-width digits and the ideographic space into ASCII, so ``"６５６…\u3000"`` is
    the same number as ``"656…"``, and counts against the same throttle.
    """
    return unicodedata.normalize("NFKC", number).strip()


def check_lookup_throttle(conn: Connection, *, code: str, number: str, max_failures: int,
                          window_minutes: int) -> None:
    since = _now() - dt.timedelta(minutes=window_minutes)
    failures = conn.scalar(select(func.count()).select_from(lookup_attempts).where(
        lookup_attempts.c.campaign_id == campaign_id(conn, code), lookup_attempts.c.number == number[:20],
        lookup_attempts.c.succeeded.is_(False), lookup_attempts.c.at >= since))
    if (failures or 0) >= max_failures:
        raise TooManyAttempts(f"Too many failed look-ups of application {number[:20]!r}; "
                              f"try again in {window_minutes} minutes.")


def lookup(conn: Connection, *, code: str, number: str, birth_date: str, secret_key: str,
           max_failures: int = 5, window_minutes: int = 15) -> FamilyView:
    """A family's own application. Any mismatch is the same generic NotFound; the caller records it."""
    number = normal_number(number)
    check_lookup_throttle(conn, code=code, number=number, max_failures=max_failures,
                          window_minutes=window_minutes)
    row = conn.execute(select(campaigns).where(campaigns.c.code == code)).first()
    person = row and conn.execute(select(applicants).where(applicants.c.campaign_id == row.id,
                                                           applicants.c.number == number)).first()
    expected = person.birth_check if person else crypto.birth_check(secret_key, "-", "-")
    given = crypto.birth_check(secret_key, number, birth_date.strip())
    if not crypto.same(expected, given) or not person:
        raise NotFound(NOT_FOUND)
    return _family_view(conn, row, person)


def _family_view(conn: Connection, row: Any, person: Any) -> FamilyView:
    published = row.status in PUBLISHED
    summary = campaign(conn, code=row.code)
    schools = {s.school_id: s for s in summary.schools}
    mine = {r.stage: r for r in conn.execute(select(results).where(results.c.applicant_pk == person.id))}
    listed = _choices(conn, [person.id]).get(person.id, [])
    lottery = mine.get("lottery") if published else None
    placement = mine.get("placement") if published else None
    return FamilyView(
        campaign=summary, number=person.number, applicant_id=person.applicant_id,
        status=person.status if published else ("applied" if listed else "registered"),
        choices=[_choice(n, schools[s]) for n, s in enumerate(listed, start=1)],
        lottery_rank=lottery.lottery_rank if lottery else None,
        lottery_value=lottery.lottery_value if lottery else None,
        admitted_to=schools.get(lottery.school_id) if lottery and lottery.school_id else None,
        choice_rank=lottery.choice_rank if lottery else None,
        placement_rank=placement.lottery_rank if placement else None,
        placed_at=schools.get(placement.school_id) if placement and placement.school_id else None,
    )


def _choice(rank: int, school: CampaignSchool) -> FamilyChoice:
    return FamilyChoice(rank=rank, **{f.name: getattr(school, f.name) for f in fields(school)})
