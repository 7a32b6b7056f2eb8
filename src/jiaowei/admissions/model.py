"""Pure admissions model: the inputs and outputs of a draw. No database, no web.

This is the contract between the engine (``engine.py``), the case files (``case.py``)
and the campaign in the platform (``service.py``), with the stages a campaign goes through.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from jiaowei.errors import M_, Message

FORMAT = "jiaowei-lottery/1"
# a school, applicant or group id in the case files: no spaces, commas, semicolons or quotes
CASE_ID = re.compile(r'[^\s,;"]+')

# A campaign's stages, in order, and the steps each allows
STATUSES = ("registration", "application", "frozen", "drawn", "published", "placement_frozen", "placement",
            "appeals", "closed")
STAGES = ("primary_1", "junior_6", "childcare", "after_school")
KINDS = ("private", "public")
PUBLISHED = frozenset(STATUSES[STATUSES.index("published"):])
OPEN_FOR_APPLICANTS = frozenset({"registration", "application"})
FALLBACK_OPEN = OPEN_FOR_APPLICANTS | {"frozen", "drawn", "published"}  # a fallback order may be set


class Mechanism(StrEnum):
    DEFERRED_ACCEPTANCE = "deferred-acceptance"
    CHOICE_ROUNDS = "choice-rounds"


class Multiples(StrEnum):
    SEPARATE = "separate"
    TOGETHER = "together"


@dataclass(frozen=True)
class School:
    """One program with its own capacity (a school, or one quota category of a school).

    ``districts`` empty means any applicant is eligible.
    """

    school_id: str
    capacity: int
    districts: frozenset[str] = frozenset()
    program: str = ""


@dataclass(frozen=True)
class Applicant:
    applicant_id: str
    choices: tuple[str, ...]
    group_id: str = ""
    district: str = ""


@dataclass(frozen=True)
class Case:
    title: str
    mechanism: Mechanism
    multiples: Multiples
    default_tier: int
    schools: tuple[School, ...]
    applicants: tuple[Applicant, ...]
    # (school_id, applicant_id) -> tier; lower is higher priority; default_tier otherwise
    priorities: Mapping[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True)
class Ticket:
    """An applicant's lottery number: rank 1 is the best."""

    rank: int
    value: str  # 64 lower-case hex digits


@dataclass(frozen=True)
class Placement:
    school_id: str
    choice_rank: int  # 1 = first choice


@dataclass(frozen=True)
class Cutoff:
    school_id: str
    capacity: int
    admitted: int
    last_tier: int | None  # tier of the last admitted applicant; None when nobody was admitted
    last_lottery_rank: int | None


@dataclass(frozen=True)
class Outcome:
    tickets: Mapping[str, Ticket]
    placements: Mapping[str, Placement | None]
    cutoffs: tuple[Cutoff, ...]  # in the order of case.schools
    ineligible: tuple[tuple[str, str], ...]  # (applicant_id, school_id) choices that were not eligible
    transcript: tuple[str, ...]  # human-readable lines of what the engine did, deterministic


# ---------------------------------------------------------------- what the campaign services take


@dataclass(frozen=True)
class ApplicantSpec:
    """An applicant to register; ``priorities``: (private school id, tier) pairs, lower tier first."""

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
    priorities: tuple[tuple[str, int], ...] = ()


def months_old(birth: dt.date, on: dt.date) -> int:
    """Whole months of age completed on ``on`` (negative before birth)."""
    months = (on.year - birth.year) * 12 + on.month - birth.month
    return months - 1 if on.day < birth.day else months


@dataclass(frozen=True)
class AgeWindow:
    """Who may apply by age (childcare, 托育): born from ``born_from`` to ``born_to``, and/or
    ``min_age_months`` to ``max_age_months`` whole months old on ``age_on``; every bound inclusive
    and optional."""

    born_from: dt.date | None = None
    born_to: dt.date | None = None
    age_on: dt.date | None = None
    min_age_months: int | None = None
    max_age_months: int | None = None

    def admits(self, birth: dt.date) -> bool:
        if (self.born_from and birth < self.born_from) or (self.born_to and birth > self.born_to):
            return False
        if self.age_on is None:
            return True
        months = months_old(birth, self.age_on)
        return not ((self.min_age_months is not None and months < self.min_age_months)
                    or (self.max_age_months is not None and months > self.max_age_months))

    def describe(self) -> Message:
        """The window in words (a message: the pages show it in their language)."""
        parts = [part for part in (self._born(), self._months()) if part is not None]
        if not parts:
            return M_("any date of birth")
        return parts[0] if len(parts) == 1 else M_("{first}; {second}", first=parts[0], second=parts[1])

    def _born(self) -> Message | None:
        start, end = self.born_from, self.born_to
        if start and end:
            return M_("born between {start} and {end}", start=str(start), end=str(end))
        if start:
            return M_("born on or after {start}", start=str(start))
        if end:
            return M_("born on or before {end}", end=str(end))
        return None

    def _months(self) -> Message | None:
        low, high, day = self.min_age_months, self.max_age_months, str(self.age_on)
        if self.age_on is None or (low is None and high is None):
            return None
        if low is not None and high is not None:
            return M_("{low} to {high} months old on {day}", low=low, high=high, day=day)
        if low is not None:
            return M_("at least {low} months old on {day}", low=low, day=day)
        return M_("at most {high} months old on {day}", high=high, day=day)


# ---------------------------------------------------------------- what the campaign services answer


@dataclass(frozen=True)
class StepDone:
    """A campaign created or moved on: its code and the stage it is at now."""

    code: str
    status: str


@dataclass(frozen=True)
class PoolFrozen(StepDone):
    pool_digest: str  # published before any randomness exists


@dataclass(frozen=True)
class Drawn(StepDone):
    seed: str
    pool_digest: str


@dataclass(frozen=True)
class PlacementFrozen(PoolFrozen):
    mechanism: str


@dataclass(frozen=True)
class Placed(PoolFrozen):
    seed: str


@dataclass(frozen=True)
class Registered:
    """An applicant registered: the application number and the pseudonymous id of the draw."""

    number: str
    applicant_id: str


@dataclass(frozen=True)
class ImportSummary:
    registered: int
    with_choices: int
    dry_run: bool
    numbers: list[str]  # empty for a dry run
    with_priorities: int = 0  # applicants given a priority tier at one school or more


@dataclass(frozen=True)
class PrioritiesSummary:
    """A priorities import: tiers set (or removed, for an empty tier) by (application, school)."""

    set: int
    removed: int
    dry_run: bool


@dataclass(frozen=True)
class TierCount:
    """How many applicants have a priority tier at a school (lower tiers are drawn first)."""

    school_id: str
    tier: int
    applicants: int


@dataclass(frozen=True)
class AppealDecision:
    id: int
    decision: str


# ---------------------------------------------------------------- what the campaign queries answer


@dataclass(frozen=True)
class CampaignListed:
    code: str
    year: int
    stage: str
    title_zh: str
    title_en: str
    status: str
    applicants: int
    synthetic: bool


@dataclass(frozen=True)
class UnitName:
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class SchoolCutoff:
    """A school's cutoff at one stage (lottery or placement), with how many it turned away."""

    capacity: int
    admitted: int
    last_tier: int | None
    last_lottery_rank: int | None
    turned_away: int


@dataclass(frozen=True)
class CampaignSchool:
    school_id: str
    kind: str  # private (drawn by choice) or public (placement)
    capacity: int
    program: str
    districts: list[str]
    code: str
    name_zh: str
    name_en: str
    cutoff: SchoolCutoff | None  # once published


@dataclass(frozen=True)
class CampaignView:
    """Everything about a campaign that is public at its stage (no applicant, no identity)."""

    code: str
    year: int
    stage: str
    title_zh: str
    title_en: str
    status: str
    max_choices: int
    mechanism: str
    multiples: str
    synthetic: bool
    organiser: UnitName
    fallback: dict[str, list[str]]
    pool_digest: str | None
    seed_sources: list[str] | None
    seed: str | None
    placement_digest: str | None
    placement_sources: list[str] | None
    placement_seed: str | None
    published: bool
    schools: list[CampaignSchool]
    applicants: int
    lottery_schools: int | None
    private_schools: int
    lottery_share: float | None
    bundles: dict[str, list[str]]  # stage -> files of its published proof bundle
    dates: dict[str, str | None]  # created, frozen, drawn, published, placed, closed (ISO)
    age_window: AgeWindow | None = None  # None: any date of birth
    tiers: list[TierCount] = field(default_factory=list)  # priority tiers of the draw, by school and tier


@dataclass(frozen=True)
class MaskedResult:
    applicant_id: str
    lottery_rank: int
    admitted: bool


@dataclass(frozen=True)
class MaskedResults:
    items: list[MaskedResult]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True)
class StaffResult:
    """An applicant as staff in scope see them; ``name`` and ``id_number`` None for viewers."""

    number: str
    applicant_id: str
    district: str
    name: str | None
    id_number: str | None
    residence_tier: int
    catchment: str
    group_id: str
    choices: list[str]
    status: str
    lottery_rank: int | None
    admitted_to: str | None
    choice_rank: int | None
    placed_at: str | None


@dataclass(frozen=True)
class StaffResults:
    items: list[StaffResult]
    total: int
    offset: int
    limit: int
    identities: bool


@dataclass(frozen=True)
class FamilyChoice:
    """One of a family's ranked choices, with the school's public facts."""

    rank: int
    school_id: str
    kind: str
    capacity: int
    program: str
    districts: list[str]
    code: str
    name_zh: str
    name_en: str
    cutoff: SchoolCutoff | None


@dataclass(frozen=True)
class FamilyView:
    """A family's own application, found by its number and the child's date of birth."""

    campaign: CampaignView
    number: str
    applicant_id: str
    status: str
    choices: list[FamilyChoice]
    lottery_rank: int | None
    lottery_value: str | None
    admitted_to: CampaignSchool | None
    choice_rank: int | None
    placement_rank: int | None
    placed_at: CampaignSchool | None
