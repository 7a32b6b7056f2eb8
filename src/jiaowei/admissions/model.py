"""Pure admissions model: the inputs and outputs of a draw. No database, no web.

This is the contract between the engine (``engine.py``), the case files (``case.py``)
and the campaign in the platform (``service.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

FORMAT = "jiaowei-lottery/1"


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
