"""The risk register's pure rules: the 5×5 matrix's scores and level bands, review dates, due states."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiaowei.plans.risks import model
from jiaowei.plans.risks.model import Cadence, Due, Level


def test_every_cell_of_the_matrix_has_the_level_of_its_band() -> None:
    levels = {(li, i): model.level(model.score(li, i)) for li in model.SCALE for i in model.SCALE}
    assert levels[(1, 1)] is levels[(2, 2)] is levels[(1, 4)] is Level.LOW
    assert levels[(1, 5)] is levels[(3, 3)] is levels[(2, 3)] is Level.MEDIUM
    assert levels[(2, 5)] is levels[(4, 4)] is levels[(3, 4)] is Level.HIGH
    assert levels[(4, 5)] is levels[(5, 5)] is Level.VERY_HIGH
    counts = {lv: sum(1 for v in levels.values() if v is lv) for lv in Level}
    assert counts == {Level.LOW: 8, Level.MEDIUM: 7, Level.HIGH: 7, Level.VERY_HIGH: 3}


@pytest.mark.parametrize(("likelihood", "impact"), [(0, 3), (6, 1), (3, 0), (2, 6)])
def test_ratings_off_the_scale_are_refused(likelihood: int, impact: int) -> None:
    with pytest.raises(ValueError):
        model.score(likelihood, impact)


@given(st.integers(1, 25))
def test_the_bands_cover_every_score_once(value: int) -> None:
    assert sum(1 for low, high, _ in model.BANDS if low <= value <= high) == 1


@pytest.mark.parametrize(
    ("last", "cadence", "expected"),
    [
        (dt.date(2020, 1, 15), Cadence.MONTHLY, dt.date(2020, 2, 15)),
        (dt.date(2020, 1, 31), Cadence.MONTHLY, dt.date(2020, 2, 29)),
        (dt.date(2021, 1, 31), Cadence.MONTHLY, dt.date(2021, 2, 28)),
        (dt.date(2020, 11, 30), Cadence.QUARTERLY, dt.date(2021, 2, 28)),
        (dt.date(2020, 8, 31), Cadence.HALF_YEARLY, dt.date(2021, 2, 28)),
        (dt.date(2020, 2, 29), Cadence.YEARLY, dt.date(2021, 2, 28)),
        (dt.date(2020, 12, 1), Cadence.QUARTERLY, dt.date(2021, 3, 1)),
    ],
)
def test_the_next_review_falls_one_cadence_later(last: dt.date, cadence: Cadence, expected: dt.date) -> None:
    assert model.next_review(last, cadence) == expected


def test_a_review_is_overdue_due_today_due_soon_or_later() -> None:
    on = dt.date(2020, 6, 30)
    assert model.due(on, dt.date(2020, 7, 1)) is Due.OVERDUE
    assert model.due(on, on) is Due.TODAY
    assert model.due(on, dt.date(2020, 6, 16)) is Due.SOON  # 14 days before
    assert model.due(on, dt.date(2020, 6, 15)) is Due.LATER


def test_the_matrix_counts_ratings_per_cell() -> None:
    cells = model.matrix([(1, 5), (1, 5), (5, 1)])
    assert cells[0][4] == 2 and cells[4][0] == 1 and sum(map(sum, cells)) == 3
