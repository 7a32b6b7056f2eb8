"""Appraisals (述职评议): the aggregation engine, pure (plain values in, plain values out).

A template's criteria each have a weight and a scoring scale ``[min_score, max_score]``. For one
subject (a unit, or a named leader of a unit) and one criterion, the reviewers' scores become one
score: their mean, or, in a round that asks for it, the trimmed mean, which drops the one highest
and the one lowest reviewer's score. The trimmed mean needs at least three scores; with one or two
it is the plain mean (dropping both ends of two scores would leave nothing).

Each criterion's score is placed on 0–100 within its scale (``(score - min) / (max - min) × 100``)
and the weighted total is the weighted mean of those: ``Σ wᵢ·sᵢ / Σ wᵢ``, so it lies in 0–100
whatever the weights add up to. A subject has a total only when every criterion has at least one
score; otherwise it is incomplete and has no grade or rank. Totals are rounded to two decimals, and
grades and ranks are taken from the rounded totals, so that what is shown is what is graded.

Grades come from the template's thresholds (default 优秀 ≥ 90, 良好 ≥ 80, 一般 ≥ 60, 较差 below).
Ranks are competition ranks ("1224"): equal totals share a rank, and the next rank skips as many
places as were shared, so totals 95, 88, 88, 70 rank 1, 2, 2, 4.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


class Grade(StrEnum):
    EXCELLENT = "excellent"
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


GRADES = (Grade.EXCELLENT, Grade.GOOD, Grade.FAIR, Grade.POOR)
GRADE_LABELS = {Grade.EXCELLENT: N_("Excellent"), Grade.GOOD: N_("Good"), Grade.FAIR: N_("Fair"),
                Grade.POOR: N_("Poor")}
DECIMALS = 2
MIN_TRIMMED = 3
"""The fewest scores a trimmed mean drops the highest and lowest of; below it, the plain mean."""


@dataclass(frozen=True)
class Thresholds:
    """The lowest total of each grade but the last (较差: anything below ``fair``)."""

    excellent: float = 90.0
    good: float = 80.0
    fair: float = 60.0

    def problem(self) -> str | None:
        """What is wrong with the thresholds, or None: they must fall within 0–100, highest first."""
        if not 0 <= self.fair <= self.good <= self.excellent <= 100:
            return "0 ≤ fair ≤ good ≤ excellent ≤ 100"
        return None


@dataclass(frozen=True)
class Criterion:
    """One criterion of a template: its key (any id), weight and scale."""

    key: str
    weight: float
    min_score: float
    max_score: float

    def accepts(self, score: float) -> bool:
        return self.min_score <= score <= self.max_score

    def scale_label(self) -> str:
        return f"{_plain(self.min_score)}–{_plain(self.max_score)}"


def _plain(number: float) -> str:
    """12.0 as "12", 12.5 as "12.5"."""
    return f"{number:g}"


@dataclass(frozen=True)
class SubjectResult:
    """A subject's result: the score of each criterion (None: nobody scored it), the total (None:
    incomplete), its grade and rank (None when incomplete), and how many reviewers scored."""

    key: str
    criteria: dict[str, float | None]
    total: float | None
    grade: Grade | None
    rank: int | None
    reviewers: int


def criterion_score(scores: Sequence[float], *, trimmed: bool = False) -> float | None:
    """The reviewers' scores of one criterion as one: the mean, or the trimmed mean (with at least
    three scores, the highest and the lowest dropped once each); None without scores."""
    if not scores:
        return None
    kept = sorted(scores)
    if trimmed and len(kept) >= MIN_TRIMMED:
        kept = kept[1:-1]
    return sum(kept) / len(kept)


def normalised(score: float, criterion: Criterion) -> float:
    """The score placed on 0–100 within the criterion's scale."""
    span = criterion.max_score - criterion.min_score
    return (score - criterion.min_score) / span * 100.0 if span else 100.0


def weighted_total(scores: Mapping[str, float | None], criteria: Sequence[Criterion]) -> float | None:
    """The weighted mean of the criteria's normalised scores, 0–100, rounded to two decimals; None
    when a criterion has no score or the weights add up to nothing."""
    weight = sum(c.weight for c in criteria)
    if not criteria or weight <= 0:
        return None
    total = 0.0
    for criterion in criteria:
        score = scores.get(criterion.key)
        if score is None:
            return None
        total += criterion.weight * normalised(score, criterion)
    return round(min(max(total / weight, 0.0), 100.0), DECIMALS)


def grade(total: float, thresholds: Thresholds = Thresholds()) -> Grade:
    """The grade of a total: 优秀 from ``excellent``, 良好 from ``good``, 一般 from ``fair``, else 较差."""
    if total >= thresholds.excellent:
        return Grade.EXCELLENT
    if total >= thresholds.good:
        return Grade.GOOD
    if total >= thresholds.fair:
        return Grade.FAIR
    return Grade.POOR


def ranks(totals: Mapping[str, float | None]) -> dict[str, int | None]:
    """Competition ranks ("1224") of the totals, highest first; None for a subject without one."""
    known = [t for t in totals.values() if t is not None]
    return {key: None if t is None else 1 + sum(other > t for other in known) for key, t in totals.items()}


def distribution(results: Sequence[SubjectResult]) -> dict[Grade, int]:
    """How many subjects have each grade, every grade named (incomplete subjects are not counted)."""
    counts = dict.fromkeys(GRADES, 0)
    for result in results:
        if result.grade is not None:
            counts[result.grade] += 1
    return counts


def aggregate(
    criteria: Sequence[Criterion],
    scores: Mapping[str, Mapping[str, Mapping[str, float]]],
    *,
    trimmed: bool = False,
    thresholds: Thresholds = Thresholds(),
) -> list[SubjectResult]:
    """Each subject's result, in the order of ``scores`` (subject → reviewer → criterion → score)."""
    partial: dict[str, tuple[dict[str, float | None], float | None, int]] = {}
    for subject, by_reviewer in scores.items():
        per_criterion = {c.key: criterion_score([s[c.key] for s in by_reviewer.values() if c.key in s],
                                                trimmed=trimmed) for c in criteria}
        scored = sum(1 for s in by_reviewer.values() if s)
        partial[subject] = (per_criterion, weighted_total(per_criterion, criteria), scored)
    ranked = ranks({subject: total for subject, (_, total, _) in partial.items()})
    return [SubjectResult(key=subject, criteria=per_criterion, total=total,
                          grade=None if total is None else grade(total, thresholds), rank=ranked[subject],
                          reviewers=scored)
            for subject, (per_criterion, total, scored) in partial.items()]
