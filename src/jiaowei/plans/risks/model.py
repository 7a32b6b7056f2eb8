"""The risk register's rules on plain values: the 5×5 matrix, its levels, and when a review is due.

A risk is rated on two scales of 1 to 5: *likelihood* (1 rare … 5 almost certain) and *impact*
(1 slight … 5 severe). Its **score** is likelihood × impact (1 to 25) and its **level** follows
from the score in these bands (the common 5×5 matrix of risk-assessment guides, e.g. ISO 31000
practice and the 重大风险 assessments of the commission):

=========  ========  ====================================
level      score     scores that occur
=========  ========  ====================================
low        1–4       1, 2, 3, 4
medium     5–9       5, 6, 8, 9
high       10–16     10, 12, 15, 16
very high  17–25     20, 25
=========  ========  ====================================

Each open risk is reviewed on its cadence (monthly, quarterly, half-yearly or yearly): the next
review falls that many months after the last one (or after the day the risk was registered), on
the same day of the month or the month's last day. Pure: standard library only.
"""

from __future__ import annotations

import calendar
import datetime as dt
from enum import StrEnum


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


SCALE = range(1, 6)
"""Likelihood and impact are each rated 1 to 5."""
DUE_SOON_DAYS = 14
"""A review is "due soon" this many days before its date."""


class Category(StrEnum):
    SAFETY_STABILITY = "safety_stability"
    IDEOLOGY = "ideology"
    PUBLIC_OPINION = "public_opinion"
    PUBLIC_HEALTH = "public_health"
    FINANCE = "finance"
    CAMPUS_SAFETY = "campus_safety"
    OTHER = "other"


CATEGORY_LABELS: dict[Category, str] = {
    Category.SAFETY_STABILITY: N_("Safety and stability"),
    Category.IDEOLOGY: N_("Ideology"),
    Category.PUBLIC_OPINION: N_("Public opinion"),
    Category.PUBLIC_HEALTH: N_("Public health and epidemics"),
    Category.FINANCE: N_("Finance"),
    Category.CAMPUS_SAFETY: N_("Campus safety"),
    Category.OTHER: N_("Other"),
}


class Level(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VERY_HIGH = "very_high"


LEVEL_LABELS: dict[Level, str] = {
    Level.LOW: N_("Low"),
    Level.MEDIUM: N_("Medium"),
    Level.HIGH: N_("High"),
    Level.VERY_HIGH: N_("Very high"),
}
BANDS: tuple[tuple[int, int, Level], ...] = (
    (1, 4, Level.LOW),
    (5, 9, Level.MEDIUM),
    (10, 16, Level.HIGH),
    (17, 25, Level.VERY_HIGH),
)
"""(lowest score, highest score, level)."""


class Cadence(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    YEARLY = "yearly"


CADENCE_MONTHS: dict[Cadence, int] = {
    Cadence.MONTHLY: 1,
    Cadence.QUARTERLY: 3,
    Cadence.HALF_YEARLY: 6,
    Cadence.YEARLY: 12,
}
CADENCE_LABELS: dict[Cadence, str] = {
    Cadence.MONTHLY: N_("Monthly"),
    Cadence.QUARTERLY: N_("Quarterly"),
    Cadence.HALF_YEARLY: N_("Half-yearly"),
    Cadence.YEARLY: N_("Yearly"),
}


class State(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


STATE_LABELS: dict[State, str] = {State.OPEN: N_("Being managed"), State.CLOSED: N_("Closed out")}

LIKELIHOOD_LABELS: dict[int, str] = {
    1: N_("Rare"),
    2: N_("Unlikely"),
    3: N_("Possible"),
    4: N_("Likely"),
    5: N_("Almost certain"),
}
IMPACT_LABELS: dict[int, str] = {
    1: N_("Slight"),
    2: N_("Limited"),
    3: N_("Considerable"),
    4: N_("Major"),
    5: N_("Severe"),
}


class Due(StrEnum):
    """Where an open risk's next review stands on a day."""

    OVERDUE = "overdue"
    TODAY = "today"
    SOON = "soon"
    LATER = "later"


DUE_LABELS: dict[Due, str] = {
    Due.OVERDUE: N_("Overdue"),
    Due.TODAY: N_("Due today"),
    Due.SOON: N_("Due soon"),
    Due.LATER: N_("Later"),
}


def score(likelihood: int, impact: int) -> int:
    """Likelihood × impact, 1 to 25."""
    if likelihood not in SCALE or impact not in SCALE:
        raise ValueError(f"likelihood and impact are 1 to 5, not {likelihood} and {impact}")
    return likelihood * impact


def level(value: int) -> Level:
    """The level of a score (see :data:`BANDS`)."""
    for low, high, found in BANDS:
        if low <= value <= high:
            return found
    raise ValueError(f"a score is 1 to 25, not {value}")


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, or the last day of that month when it is shorter."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_review(last: dt.date, cadence: Cadence) -> dt.date:
    """When the review after one on ``last`` (or a registration on ``last``) is due."""
    return add_months(last, CADENCE_MONTHS[cadence])


def due(next_on: dt.date, today: dt.date, *, soon_days: int = DUE_SOON_DAYS) -> Due:
    """Whether a review due on ``next_on`` is overdue, due today, due soon or later, on ``today``."""
    if next_on < today:
        return Due.OVERDUE
    if next_on == today:
        return Due.TODAY
    if (next_on - today).days <= soon_days:
        return Due.SOON
    return Due.LATER


def matrix(ratings: list[tuple[int, int]]) -> list[list[int]]:
    """Counts per cell: ``matrix[likelihood - 1][impact - 1]`` for (likelihood, impact) pairs."""
    cells = [[0] * len(SCALE) for _ in SCALE]
    for likelihood, impact in ratings:
        cells[likelihood - 1][impact - 1] += 1
    return cells
