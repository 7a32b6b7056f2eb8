"""The 2020 admissions of the Shanghai demo: two lotteries with placement, childcare, after-school service.

**公民同招** (SH2020-P1, SH2020-J6). The schools are the registry demo's private schools with
primary grades (attribute ``lottery_primary_2020``: 84, of which 74 are ``true``) and with junior
grades (``lottery_junior_2020``: 110, of which 85 are ``true``). The applicants are synthetic and
say so (``synthetic`` on each row, "合成" in each name), and so are the seed sources. They are made
so that exactly the flagged schools are oversubscribed: each of them gets more first choices than
places; every other school gets fewer first choices than places and is never anyone's second
choice. Choice rounds then turn applicants away at exactly the flagged schools, and the public
results page shows 74/84 = 88.10% and 85/110 = 77.27%.

Placement (统筹) follows. Every district's public schools of the stage join the campaign; each
applicant names one public school of their district as catchment school, and each school has at
least as many places as applicants living in its catchment, so placement places every child who
was not admitted (0 unplaced). Each district's fallback order lists its five largest schools.
After the results are published the placement pool is frozen, then drawn on its own synthetic
seed sources.

**托育** (SH2020-TY): the childcare points, for children aged two to three on 1 September 2020,
drawn and published. **课后服务** (SH2020-KH): after-school service at 黄浦's public primary
schools, organised by the district, still open for applications.

Each step runs on its 2020 day (the commission's clock, :func:`on_day`), so the campaigns carry
their 2020 dates whatever the server's year. Everything goes through the services as
:data:`SYSTEM`; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from jiaowei.admissions import drawing, service
from jiaowei.admissions.store import applicants, campaign_schools, campaigns, cutoffs
from jiaowei.auth.model import SYSTEM
from jiaowei.registry import queries as registry
from jiaowei.settings import active_settings, using

Progress = Callable[[str, int, int], None]
COMMISSION = "310000"
DRAW_DAY = dt.date(2020, 5, 30)
SOURCES = [
    "合成演示随机源 / synthetic demo source 1: on-site digits 3 1 4 1 5 9 2 6 (not a real event)",
    "合成演示随机源 / synthetic demo source 2: a stand-in for a drand round, not real randomness",
]
PLACEMENT_SOURCES = [
    "合成演示随机源 / synthetic demo placement source: on-site digits 2 7 1 8 2 8 (not a real event)",
]
CHILDCARE_SOURCES = [
    "合成演示随机源 / synthetic demo childcare source: on-site digits 1 6 1 8 0 3 (not a real event)",
]
FALLBACK_SCHOOLS = 5
CAMPAIGNS = [
    # code, stage, attribute, titles, birth years (from 1 September of the first to 31 August)
    ("SH2020-P1", "primary_1", "lottery_primary_2020", "2020年民办小学招生（电脑随机录取，合成数据）",
     "2020 private primary admissions (computer lottery, synthetic)", 2013),
    ("SH2020-J6", "junior_6", "lottery_junior_2020", "2020年民办初中招生（电脑随机录取，合成数据）",
     "2020 private junior high admissions (computer lottery, synthetic)", 2008),
]
# The day of each step of a 公民同招 campaign in 2020.
DAYS = {"create": dt.date(2020, 4, 1), "open": dt.date(2020, 5, 6), "register": dt.date(2020, 5, 20),
        "freeze": dt.date(2020, 5, 29), "draw": DRAW_DAY, "publish": dt.date(2020, 6, 1),
        "freeze_placement": dt.date(2020, 7, 6), "place": dt.date(2020, 7, 8)}
CHILDCARE = ("SH2020-TY", "2020年托育机构招生（电脑随机录取，合成数据）",
             "2020 childcare places (computer lottery, synthetic)")
CHILDCARE_DAYS = {"create": dt.date(2020, 6, 1), "open": dt.date(2020, 6, 8),
                  "register": dt.date(2020, 6, 30), "freeze": dt.date(2020, 7, 10),
                  "draw": dt.date(2020, 7, 11), "publish": dt.date(2020, 7, 13)}
CHILDCARE_BORN = (dt.date(2017, 9, 1), dt.date(2018, 8, 31))  # two to three years old on 1 September 2020
AFTER_SCHOOL = ("SH2020-KH", "2020年秋季学期课后服务报名（黄浦区，合成数据）",
                "2020 autumn after-school service (Huangpu, synthetic)")
AFTER_SCHOOL_DISTRICT = "310101"
AFTER_SCHOOL_SCHOOLS = 12
AFTER_SCHOOL_DAYS = {"create": dt.date(2020, 8, 17), "open": dt.date(2020, 8, 24),
                     "register": dt.date(2020, 8, 28)}


@contextmanager
def on_day(day: dt.date) -> Iterator[None]:
    """Run the block on ``day`` of the commission's clock (what JIAOWEI_TODAY does for a process)."""
    with using(active_settings().model_copy(update={"today": day})):
        yield


@dataclass(frozen=True)
class Lottery:
    """A campaign to create, fill and draw: its schools, applicants and the day of each step."""

    spec: service.CampaignSpec
    schools: list[service.SchoolSpec]
    people: list[service.ApplicantSpec]
    days: dict[str, dt.date]
    fallback: dict[str, list[str]]


def private_schools(conn: Connection, attribute: str) -> list[tuple[str, str, bool]]:
    """(code, district code, drawn by lottery) of the schools carrying ``attribute`` on the draw day."""
    rows = conn.execute(registry.units_on_select(DRAW_DAY).where(
        registry.UNIT_OWNERSHIP == "private")).all()
    parents = registry.codes_of(conn, {r.parent_id for r in rows})
    return sorted((r.code, parents[r.parent_id], bool(r.attributes[attribute])) for r in rows
                  if attribute in (r.attributes or {}))


def public_schools(conn: Connection, stage: str) -> dict[str, list[str]]:
    """District code → codes of its public schools open on the draw day that take the stage's grade."""
    rows = conn.execute(registry.units_on_select(DRAW_DAY).where(
        registry.UNIT_OWNERSHIP == "public")).all()
    if stage == "primary_1":
        wanted = [r for r in rows if "-PS-" in r.code or "-NY-" in r.code]
    else:
        wanted = [r for r in rows
                  if "-NY-" in r.code or ("-MS-" in r.code and (r.attributes or {}).get("junior"))]
    parents = registry.codes_of(conn, {r.parent_id for r in wanted})
    found: dict[str, list[str]] = {}
    for r in sorted(wanted, key=lambda r: r.code):
        found.setdefault(parents[r.parent_id], []).append(r.code)
    return found


def applicants_for(rng: random.Random, schools: list[tuple[str, str, bool]], capacity: dict[str, int],
                   birth_year: int, public: dict[str, list[str]]) -> list[service.ApplicantSpec]:
    """Applicants of the private schools, each with a catchment school among its district's ``public``."""
    drawn = [code for code, _district, lottery in schools if lottery]
    districts = sorted({district for _code, district, _lottery in schools})
    people: list[service.ApplicantSpec] = []
    for code, district, lottery in schools:
        seats = capacity[code]
        extra = rng.randint(3, seats // 2 + 3)
        demand = seats + extra if lottery else rng.randint(seats // 3, seats * 2 // 3)
        for _ in range(demand):
            second = rng.choice(drawn) if rng.random() < 0.5 else code
            choices = (code,) if second == code else (code, second)
            home = district if rng.random() < 0.8 else rng.choice(districts)
            people.append(_person(rng, len(people), home, _born(rng, birth_year), choices,
                                  catchment=rng.choice(public[home])))
    return people


def _born(rng: random.Random, birth_year: int) -> dt.date:
    return dt.date(birth_year, 9, 1) + dt.timedelta(days=rng.randrange(365))


def _person(rng: random.Random, n: int, district: str, birth: dt.date, choices: tuple[str, ...],
            catchment: str = "") -> service.ApplicantSpec:
    return service.ApplicantSpec(
        name=f"合成儿童{n:05d}", id_number=f"{district}{birth:%Y%m%d}{n % 1000:03d}X", birth_date=birth,
        district=district, residence_tier=rng.choice((1, 1, 1, 2, 3)), catchment=catchment, choices=choices,
        synthetic=True)


def placement_schools(rng: random.Random, people: list[service.ApplicantSpec], public: dict[str, list[str]]
                      ) -> tuple[list[service.SchoolSpec], dict[str, list[str]]]:
    """The public schools, each with at least as many places as applicants living in its catchment.

    So placement can place everyone the lottery did not admit. Returns the schools and each
    district's fallback order (its largest schools).
    """
    living = Counter(p.catchment for p in people)
    places = {school: living[school] + rng.randint(1, 4) for schools in public.values() for school in schools}
    specs = [service.SchoolSpec(unit=school, capacity=places[school], kind="public", districts=(district,))
             for district, schools in sorted(public.items()) for school in schools]
    fallback = {district: sorted(schools, key=lambda s: (-places[s], s))[:FALLBACK_SCHOOLS]
                for district, schools in public.items()}
    return specs, fallback


def school_lottery(conn: Connection, rng: random.Random, row: tuple[Any, ...]) -> Lottery:
    """A 公民同招 campaign: private schools by lottery, every district's public schools for placement."""
    code, stage, attribute, title_zh, title_en, birth_year = row
    schools = private_schools(conn, attribute)
    capacity = {school: rng.randint(30, 60) for school, _district, _lottery in schools}
    catchments = public_schools(conn, stage)
    people = applicants_for(rng, schools, capacity, birth_year, catchments)
    public, fallback = placement_schools(rng, people, catchments)
    return Lottery(
        spec=service.CampaignSpec(code=code, year=2020, stage=stage, title_zh=title_zh, title_en=title_en,
                                  organiser=COMMISSION, max_choices=2, synthetic=True),
        schools=[*(service.SchoolSpec(unit=s, capacity=capacity[s]) for s, _d, _l in schools), *public],
        people=people, days=DAYS, fallback=fallback)


def childcare(conn: Connection, rng: random.Random) -> Lottery:
    """托育: the childcare points open when applications open; two choices, about 1.1 applicants a place."""
    day = CHILDCARE_DAYS["open"]
    rows = conn.execute(registry.units_on_select(day).where(registry.UNIT_TYPE == "childcare_point")).all()
    districts = registry.codes_of(conn, {r.parent_id for r in rows})
    points = sorted((r.code, districts[r.parent_id]) for r in rows)
    capacity = {code: rng.randint(10, 20) for code, _district in points}
    people: list[service.ApplicantSpec] = []
    first, last = CHILDCARE_BORN
    for code, district in points:
        for _ in range(rng.randint(capacity[code] * 3 // 4, capacity[code] * 3 // 2)):
            other = rng.choice(points)[0]
            choices = (code,) if other == code else (code, other)
            birth = first + dt.timedelta(days=rng.randrange((last - first).days + 1))
            people.append(_person(rng, len(people), district, birth, choices))
    code, title_zh, title_en = CHILDCARE
    return Lottery(
        spec=service.CampaignSpec(code=code, year=2020, stage="childcare", title_zh=title_zh,
                                  title_en=title_en, organiser=COMMISSION, max_choices=2, synthetic=True,
                                  born_from=CHILDCARE_BORN[0], born_to=CHILDCARE_BORN[1]),
        schools=[service.SchoolSpec(unit=c, capacity=capacity[c]) for c, _d in points],
        people=people, days=CHILDCARE_DAYS, fallback={})


def after_school(conn: Connection, rng: random.Random) -> Lottery:
    """课后服务: 黄浦's public primary schools that offer the service; pupils of grades 1 to 3 apply."""
    day = AFTER_SCHOOL_DAYS["open"]
    parent = registry.id_of(conn, AFTER_SCHOOL_DISTRICT)
    rows = conn.execute(registry.units_on_select(day).where(registry.UNIT_OWNERSHIP == "public",
                                                            registry.UNIT_TYPE == "primary_school")).all()
    serving = sorted(r.code for r in rows if r.parent_id == parent and "-PS-" in r.code
                     and (r.attributes or {}).get("after_school_service"))[:AFTER_SCHOOL_SCHOOLS]
    capacity = {school: rng.randint(30, 60) for school in serving}
    people = [_person(rng, n, AFTER_SCHOOL_DISTRICT, _born(rng, rng.choice((2011, 2012, 2013))),
                      (school,)) for n, school in enumerate(
                          school for school in serving for _ in range(capacity[school] * 2 // 3))]
    code, title_zh, title_en = AFTER_SCHOOL
    return Lottery(
        spec=service.CampaignSpec(code=code, year=2020, stage="after_school", title_zh=title_zh,
                                  title_en=title_en, organiser=AFTER_SCHOOL_DISTRICT, max_choices=1,
                                  synthetic=True),
        schools=[service.SchoolSpec(unit=s, capacity=capacity[s]) for s in serving],
        people=people, days=AFTER_SCHOOL_DAYS, fallback={})


def run(conn: Connection, lottery: Lottery, *, home: Path, secret: str, sources: list[str]) -> None:
    """Take the campaign through the steps it has a day for, each on its day."""
    code, days = lottery.spec.code, lottery.days
    with on_day(days["create"]):
        service.create_campaign(conn, principal=SYSTEM, spec=lottery.spec)
        shutil.rmtree(drawing.campaign_dir(home, code), ignore_errors=True)
        service.add_schools(conn, principal=SYSTEM, campaign=code, schools=lottery.schools)
        for district, order in sorted(lottery.fallback.items()):
            service.set_fallback(conn, principal=SYSTEM, campaign=code, district=district, schools=order)
    with on_day(days["open"]):
        service.open_application(conn, principal=SYSTEM, campaign=code)
    with on_day(days["register"]):
        service.register_applicants(conn, principal=SYSTEM, campaign=code, secret_key=secret,
                                    people=lottery.people)
    steps = [("freeze", lambda: service.freeze(conn, principal=SYSTEM, campaign=code, home=home)),
             ("draw", lambda: service.draw(conn, principal=SYSTEM, campaign=code, sources=sources,
                                           home=home)),
             ("publish", lambda: service.publish(conn, principal=SYSTEM, campaign=code)),
             ("freeze_placement", lambda: service.freeze_placement(conn, principal=SYSTEM, campaign=code,
                                                                   home=home)),
             ("place", lambda: service.place(conn, principal=SYSTEM, campaign=code, sources=PLACEMENT_SOURCES,
                                             home=home))]
    for step, take in steps:
        if step in days:
            with on_day(days[step]):
                take()


def load(conn: Connection, *, home: Path, progress: Progress | None = None,
         secret_key: str | None = None) -> dict[str, Any]:
    """Create and run the four 2020 campaigns; returns the lottery shares and placement counts."""
    report = progress or (lambda stage, done, total: None)
    secret = secret_key or active_settings().secret_key  # the app's, inside `using(settings)`
    rng = random.Random(2020_05_30)
    shares, placed = {}, {}
    total = len(CAMPAIGNS) + 2
    for done, row in enumerate(CAMPAIGNS):
        report("admissions", done, total)
        lottery = school_lottery(conn, rng, row)
        run(conn, lottery, home=home, secret=secret, sources=SOURCES)
        shares[lottery.spec.code] = _share(conn, lottery.spec.code)
        placed[lottery.spec.code] = _placed(conn, lottery.spec.code)
    report("admissions", len(CAMPAIGNS), total)
    run(conn, childcare(conn, rng), home=home, secret=secret, sources=CHILDCARE_SOURCES)
    report("admissions", len(CAMPAIGNS) + 1, total)
    run(conn, after_school(conn, rng), home=home, secret=secret, sources=[])
    report("admissions", total, total)
    return {"campaigns": shares, "placement": placed, "childcare": CHILDCARE[0],
            "after_school": AFTER_SCHOOL[0]}


def _share(conn: Connection, code: str) -> tuple[int, int, float]:
    """(schools that admitted by lottery, private schools, share in %), as the public results page shows."""
    drawn = conn.execute(select(campaign_schools.c.school_id, cutoffs.c.turned_away)
                         .join(campaigns, campaigns.c.id == campaign_schools.c.campaign_id)
                         .outerjoin(cutoffs, (cutoffs.c.campaign_id == campaigns.c.id)
                                    & (cutoffs.c.school_id == campaign_schools.c.school_id)
                                    & (cutoffs.c.stage == "lottery"))
                         .where(campaigns.c.code == code, campaign_schools.c.kind == "private")).all()
    oversubscribed = sum(1 for _school, away in drawn if away)
    return oversubscribed, len(drawn), round(100 * oversubscribed / len(drawn), 2)


def _placed(conn: Connection, code: str) -> dict[str, int]:
    """How many applicants placement placed, and how many it could not place."""
    statuses = conn.execute(select(applicants.c.status, func.count()).join(
        campaigns, campaigns.c.id == applicants.c.campaign_id).where(campaigns.c.code == code)
        .group_by(applicants.c.status)).all()
    counts: dict[str, int] = {status: count for status, count in statuses}
    return {"placed": counts.get("placed", 0), "unplaced": counts.get("unplaced", 0)}
