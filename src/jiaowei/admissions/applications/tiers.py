"""Priority tiers of a campaign's private-school draw (e.g. 1 = staff children or siblings), per school.

A tier belongs to an (applicant, private school) pair. The draw admits a school's applicants tier by
tier, lowest first, and by lottery number within a tier; an applicant without a tier at a school has
the default tier (:data:`DEFAULT_TIER`, 9). The tiers are written into the frozen pool's
``priorities.csv``, so they are part of the ``pool_digest`` and of the public proof bundle, and a
re-run of the draw from the bundle gives the same results.

In the applicants' CSV a tier is the ``priorities`` column: ``school:tier`` pairs separated by ``;``
(``P1:1;P2:2``). :mod:`.priorities` imports tiers for applicants already registered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from jiaowei.admissions.drawing import DEFAULT_TIER
from jiaowei.admissions.model import ApplicantSpec, TierCount
from jiaowei.admissions.store import applicants, priorities
from jiaowei.domains import N_
from jiaowei.errors import M_, Problem

WHOLE = re.compile(r"[0-9]{1,6}")  # ASCII digits only: int() would take "²"-like digits or fail on 5,000
PAIRS_EXPECTED = N_("school:tier pairs separated by ; (e.g. P1:1;P2:2)")


def tier_range() -> str:
    return M_("{low} to {high}", low=0, high=DEFAULT_TIER)


def parse_priorities(text: str, *, row: int | None, problems: list[Problem]) -> tuple[tuple[str, int], ...]:
    """``P1:1;P2:2`` as ((school, tier), …); a malformed pair is added to ``problems``."""
    pairs = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        school, colon, tier = part.rpartition(":")
        if not colon or not school.strip() or not WHOLE.fullmatch(tier.strip()):
            problems.append(Problem(N_("not a school and its tier"), row=row, field="priorities", value=part,
                                    expected=PAIRS_EXPECTED))
            continue
        pairs.append((school.strip(), int(tier)))
    return tuple(pairs)


def tier_problems(pairs: Sequence[tuple[str, int]], kinds: Mapping[str, str], *, row: int | None = None,
                  field: str = "priorities") -> list[Problem]:
    """A tier is for a private school of the campaign (one drawn by choice), from 0 to the default tier."""
    found = [Problem(N_("not a school applied for by choice in this campaign"), row=row, field=field, value=s)
             for s, _tier in pairs if kinds.get(s) != "private"]
    found += [Problem(N_("tier out of range"), row=row, field=field, value=f"{s}:{t}", expected=tier_range())
              for s, t in pairs if not 0 <= t <= DEFAULT_TIER]
    schools = [s for s, _tier in pairs]
    if len(set(schools)) != len(schools):
        found.append(Problem(N_("a school is given two tiers"), row=row, field=field,
                             expected=N_("each school once")))
    return found


def priority_rows(pks: Mapping[str, int], numbers: Iterable[str],
                  people: Iterable[ApplicantSpec]) -> list[dict[str, Any]]:
    """The ``applicant_priorities`` rows of newly registered applicants (by application number)."""
    return [{"applicant_pk": pks[number], "school_id": school, "tier": tier}
            for number, person in zip(numbers, people, strict=True) for school, tier in person.priorities]


def tier_counts(conn: Connection, campaign_id: int) -> list[TierCount]:
    """How many applicants hold each tier at each school (the campaign page and the API show it)."""
    found = conn.execute(
        select(priorities.c.school_id, priorities.c.tier, func.count())
        .join(applicants, applicants.c.id == priorities.c.applicant_pk)
        .where(applicants.c.campaign_id == campaign_id)
        .group_by(priorities.c.school_id, priorities.c.tier)
        .order_by(priorities.c.school_id, priorities.c.tier)).all()
    return [TierCount(school_id=school, tier=int(tier), applicants=int(count))
            for school, tier, count in found]
