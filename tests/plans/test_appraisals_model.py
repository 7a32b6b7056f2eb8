"""The appraisal aggregation engine against hand-worked examples (weights, the trimmed mean, ties in
rank, grades at their thresholds), and Hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiaowei.plans.appraisals.model import (
    Criterion,
    Grade,
    Thresholds,
    aggregate,
    criterion_score,
    distribution,
    grade,
    normalised,
    ranks,
    weighted_total,
)

PARTY = Criterion("party", weight=40, min_score=0, max_score=40)  # 党建引领, 40 points
WORK = Criterion("work", weight=60, min_score=0, max_score=60)  # 事业发展, 60 points
LIKERT = Criterion("likert", weight=1, min_score=1, max_score=5)  # a 1–5 scale


def test_the_weighted_total_by_hand():
    # party: (30 + 36) / 2 = 33 of 40 → 82.5; work: (54 + 48) / 2 = 51 of 60 → 85.
    # total: (40 × 82.5 + 60 × 85) / (40 + 60) = (3300 + 5100) / 100 = 84.0 → 良好.
    scores = {"S1": {"r1": {"party": 30, "work": 54}, "r2": {"party": 36, "work": 48}}}
    [result] = aggregate([PARTY, WORK], scores)
    assert result.criteria == {"party": 33.0, "work": 51.0}
    assert result.total == 84.0 and result.grade is Grade.GOOD and result.rank == 1 and result.reviewers == 2


def test_weights_need_not_add_up_to_a_hundred_and_scales_need_not_start_at_zero():
    # likert 4 on 1–5 → (4 - 1) / 4 = 75; party 40 of 40 → 100. Weights 1 and 3: (75 + 300) / 4 = 93.75.
    party3 = Criterion("party", weight=3, min_score=0, max_score=40)
    assert normalised(4, LIKERT) == 75.0
    assert weighted_total({"likert": 4, "party": 40}, [LIKERT, party3]) == 93.75
    assert weighted_total({"likert": 4, "party": None}, [LIKERT, party3]) is None  # incomplete


def test_the_trimmed_mean_by_hand():
    assert criterion_score([60, 100, 70, 80]) == 77.5
    assert criterion_score([60, 100, 70, 80], trimmed=True) == 75.0  # 60 and 100 dropped: (70 + 80) / 2
    assert criterion_score([10, 90, 50], trimmed=True) == 50.0  # three: the middle one is left
    assert criterion_score([70, 70, 70, 90], trimmed=True) == 70.0  # one 70 and the 90 dropped
    # fewer than three reviewers: nothing is dropped, the plain mean
    assert criterion_score([60, 100], trimmed=True) == 80.0
    assert criterion_score([42], trimmed=True) == 42.0
    assert criterion_score([], trimmed=True) is None


def test_the_trimmed_mean_changes_the_total_and_the_grade():
    # work scores 60, 58, 20, 59 of 60: mean 49.25 → 82.08; trimmed (58 + 59) / 2 = 58.5 → 97.5
    scores = {"S1": {r: {"work": s} for r, s in zip("abcd", (60, 58, 20, 59), strict=True)}}
    [plain] = aggregate([WORK], scores)
    [trimmed] = aggregate([WORK], scores, trimmed=True)
    assert (plain.total, plain.grade) == (82.08, Grade.GOOD)
    assert (trimmed.total, trimmed.grade) == (97.5, Grade.EXCELLENT)


def test_ties_share_a_rank_and_the_next_skips_places():
    assert ranks({"a": 95.0, "b": 88.0, "c": 88.0, "d": 70.0, "e": None}) == {
        "a": 1, "b": 2, "c": 2, "d": 4, "e": None}
    assert ranks({"a": 80.0, "b": 80.0, "c": 80.0}) == {"a": 1, "b": 1, "c": 1}


def test_ranks_and_distribution_of_a_round():
    # four schools on one 0–100 criterion, one unscored: ranks 1, 2, 2 and the distribution by grade
    likert100 = Criterion("q", weight=1, min_score=0, max_score=100)
    scores = {"S1": {"r1": {"q": 91}, "r2": {"q": 89}}, "S2": {"r1": {"q": 75}}, "S3": {"r1": {"q": 70},
              "r2": {"q": 80}}, "S4": {"r1": {}}}
    results = aggregate([likert100], scores)
    assert [(r.key, r.total, r.rank, r.grade) for r in results] == [
        ("S1", 90.0, 1, Grade.EXCELLENT), ("S2", 75.0, 2, Grade.FAIR), ("S3", 75.0, 2, Grade.FAIR),
        ("S4", None, None, None)]
    assert distribution(results) == {Grade.EXCELLENT: 1, Grade.GOOD: 0, Grade.FAIR: 2, Grade.POOR: 0}


@pytest.mark.parametrize(("total", "expected"), [
    (100, Grade.EXCELLENT), (90, Grade.EXCELLENT), (89.99, Grade.GOOD), (80, Grade.GOOD), (79.99, Grade.FAIR),
    (60, Grade.FAIR), (59.99, Grade.POOR), (0, Grade.POOR)])
def test_grades_at_the_default_thresholds(total, expected):
    assert grade(total) is expected


def test_grades_by_a_template_s_own_thresholds():
    strict = Thresholds(excellent=95, good=85, fair=70)
    assert [grade(t, strict) for t in (95, 94.99, 85, 70, 69)] == [
        Grade.EXCELLENT, Grade.GOOD, Grade.GOOD, Grade.FAIR, Grade.POOR]
    assert strict.problem() is None and Thresholds(80, 90, 60).problem() is not None


# ---------------------------------------------------------------- properties

criteria_st = st.lists(
    st.tuples(st.floats(0.1, 100), st.integers(-10, 50), st.integers(1, 100)), min_size=1, max_size=5,
).map(lambda specs: [Criterion(f"c{i}", w, lo, lo + span) for i, (w, lo, span) in enumerate(specs)])


@st.composite
def rounds(draw):
    criteria = draw(criteria_st)
    subjects = draw(st.integers(1, 6))
    reviewers = draw(st.integers(1, 5))
    scores = {f"s{s}": {f"r{r}": {c.key: draw(st.floats(c.min_score, c.max_score)) for c in criteria}
                        for r in range(reviewers)} for s in range(subjects)}
    return criteria, scores


@given(rounds(), st.booleans())
def test_totals_lie_within_0_to_100_and_ranks_count_the_better_ones(a_round, trimmed):
    criteria, scores = a_round
    results = aggregate(criteria, scores, trimmed=trimmed)
    totals = [r.total for r in results]
    assert all(t is not None and 0 <= t <= 100 for t in totals)
    for r in results:
        assert r.rank == 1 + sum(t > r.total for t in totals)  # type: ignore[operator]
        assert r.grade is grade(r.total)  # type: ignore[arg-type]
    assert min(r.rank for r in results) == 1  # type: ignore[type-var]
    assert sum(distribution(results).values()) == len(results)


@given(st.lists(st.floats(0, 100), min_size=1, max_size=9), st.randoms())
def test_the_trimmed_mean_lies_between_the_scores_and_ignores_their_order(scores, random):
    trimmed = criterion_score(scores, trimmed=True)
    assert trimmed is not None and min(scores) - 1e-9 <= trimmed <= max(scores) + 1e-9
    shuffled = list(scores)
    random.shuffle(shuffled)
    assert criterion_score(shuffled, trimmed=True) == pytest.approx(trimmed)
    if len(scores) < 3:
        assert trimmed == pytest.approx(sum(scores) / len(scores))
