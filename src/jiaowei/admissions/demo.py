"""The 2020 private-school lottery of the Shanghai demo (公民同招, 电脑随机录取).

The schools are the registry demo's private schools with primary grades (attribute
``lottery_primary_2020``: 84, of which 74 are ``true``) and with junior grades
(``lottery_junior_2020``: 110, of which 85 are ``true``). The applicants are synthetic and say
so (``synthetic`` on each row, "合成" in each name), and so are the seed sources. They are
made so that exactly the flagged schools are oversubscribed: each of them gets more first
choices than places; every other school gets fewer first choices than places and is never
anyone's second choice. Choice rounds then turn applicants away at exactly the flagged
schools, and the public results page shows 74/84 = 88.10% and 85/110 = 77.27%.

Placement (统筹) follows: the public schools of the stage in :data:`PLACEMENT_DISTRICT`
(黄浦) join each campaign with a few places each, every applicant living there names one of
them as catchment school, and the district's fallback order lists them all. After the
results are published the placement pool is frozen, then drawn on its own synthetic seed
sources; applicants of other districts have no public school in the demo and stay unplaced.

Everything goes through the services as :data:`SYSTEM`; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from jiaowei.admissions import drawing, queries, service
from jiaowei.admissions.store import applicants, campaigns
from jiaowei.auth.model import SYSTEM
from jiaowei.registry import queries as registry
from jiaowei.settings import get_settings

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
PLACEMENT_DISTRICT = "310101"
CAMPAIGNS = [
    # code, stage, attribute, titles, birth years (from 1 September of the first to 31 August)
    ("SH2020-P1", "primary_1", "lottery_primary_2020", "2020年民办小学招生（电脑随机录取，合成数据）",
     "2020 private primary admissions (computer lottery, synthetic)", 2013),
    ("SH2020-J6", "junior_6", "lottery_junior_2020", "2020年民办初中招生（电脑随机录取，合成数据）",
     "2020 private junior high admissions (computer lottery, synthetic)", 2008),
]


def private_schools(conn: Connection, attribute: str) -> list[tuple[str, str, bool]]:
    """(code, district code, drawn by lottery) of the schools carrying ``attribute`` on the draw day."""
    rows = conn.execute(registry.units_on_select(DRAW_DAY).where(
        registry.UNIT_OWNERSHIP == "private")).all()
    parents = registry.codes_of(conn, {r.parent_id for r in rows})
    return sorted((r.code, parents[r.parent_id], bool(r.attributes[attribute])) for r in rows
                  if attribute in (r.attributes or {}))


def public_schools(conn: Connection, stage: str, district: str) -> list[str]:
    """Codes of the district's public schools open on the draw day that take the stage's grade."""
    rows = conn.execute(registry.units_on_select(DRAW_DAY).where(
        registry.UNIT_OWNERSHIP == "public")).all()
    parent = registry.id_of(conn, district)
    if stage == "primary_1":
        wanted = [r for r in rows if "-PS-" in r.code or "-NY-" in r.code]
    else:
        wanted = [r for r in rows
                  if "-NY-" in r.code or ("-MS-" in r.code and (r.attributes or {}).get("junior"))]
    return sorted(r.code for r in wanted if r.parent_id == parent)


def applicants_for(rng: random.Random, schools: list[tuple[str, str, bool]], capacity: dict[str, int],
                   birth_year: int) -> list[service.ApplicantSpec]:
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
            people.append(_person(rng, len(people), home, birth_year, choices))
    return people


def _person(rng: random.Random, n: int, district: str, birth_year: int,
            choices: tuple[str, ...]) -> service.ApplicantSpec:
    birth = dt.date(birth_year, 9, 1) + dt.timedelta(days=rng.randrange(365))
    return service.ApplicantSpec(
        name=f"合成儿童{n:05d}", id_number=f"{district}{birth:%Y%m%d}{n % 1000:03d}X", birth_date=birth,
        district=district, residence_tier=rng.choice((1, 1, 1, 2, 3)), choices=choices, synthetic=True)


def load(conn: Connection, *, home: Path, progress: Progress | None = None,
         secret_key: str | None = None) -> dict[str, Any]:
    """Create, fill, freeze, draw and publish the two 2020 campaigns; returns their shares."""
    report = progress or (lambda stage, done, total: None)
    secret = secret_key or get_settings().secret_key
    rng = random.Random(2020_05_30)
    shares, placed = {}, {}
    for done, (code, stage, attribute, title_zh, title_en, birth_year) in enumerate(CAMPAIGNS):
        report("admissions", done, len(CAMPAIGNS))
        schools = private_schools(conn, attribute)
        service.create_campaign(conn, principal=SYSTEM, spec=service.CampaignSpec(
            code=code, year=2020, stage=stage, title_zh=title_zh, title_en=title_en, organiser=COMMISSION,
            max_choices=2, synthetic=True))
        shutil.rmtree(drawing.campaign_dir(home, code), ignore_errors=True)
        capacity = {school: rng.randint(30, 60) for school, _district, _lottery in schools}
        public = public_schools(conn, stage, PLACEMENT_DISTRICT)
        service.add_schools(conn, principal=SYSTEM, campaign=code, schools=[
            *(service.SchoolSpec(unit=school, capacity=capacity[school]) for school, _d, _l in schools),
            *(service.SchoolSpec(unit=school, capacity=rng.randint(2, 6), kind="public",
                                 districts=(PLACEMENT_DISTRICT,)) for school in public)])
        if public:
            service.set_fallback(conn, principal=SYSTEM, campaign=code, district=PLACEMENT_DISTRICT,
                                 schools=public)
        service.open_application(conn, principal=SYSTEM, campaign=code)
        people = [replace(p, catchment=rng.choice(public))
                  if public and p.district == PLACEMENT_DISTRICT else p
                  for p in applicants_for(rng, schools, capacity, birth_year)]
        service.register_applicants(conn, principal=SYSTEM, campaign=code, secret_key=secret, people=people)
        service.freeze(conn, principal=SYSTEM, campaign=code, home=home)
        service.draw(conn, principal=SYSTEM, campaign=code, sources=SOURCES, home=home)
        service.publish(conn, principal=SYSTEM, campaign=code)
        summary = queries.campaign(conn, code=code)
        shares[code] = (summary.lottery_schools, summary.private_schools, summary.lottery_share)
        service.freeze_placement(conn, principal=SYSTEM, campaign=code, home=home)
        service.place(conn, principal=SYSTEM, campaign=code, sources=PLACEMENT_SOURCES, home=home)
        placed[code] = _placed(conn, code)
    report("admissions", len(CAMPAIGNS), len(CAMPAIGNS))
    return {"campaigns": shares, "placement": placed}


def _placed(conn: Connection, code: str) -> dict[str, int]:
    """How many applicants placement placed, and how many it could not place."""
    statuses = conn.execute(select(applicants.c.status, func.count()).join(
        campaigns, campaigns.c.id == applicants.c.campaign_id).where(campaigns.c.code == code)
        .group_by(applicants.c.status)).all()
    counts: dict[str, int] = {status: count for status, count in statuses}
    return {"placed": counts.get("placed", 0), "unplaced": counts.get("unplaced", 0)}
