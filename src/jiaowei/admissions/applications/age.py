"""A campaign's age window (childcare, 托育): applicants born outside it are refused.

The window is born from ``born_from`` to ``born_to``, and/or ``min_age_months`` to ``max_age_months``
whole months old on ``age_on`` (every bound inclusive and optional; see :class:`AgeWindow`).
Registration and the applicants' CSV refuse a date of birth outside it with the row, the column
``birth_date``, the value and the window expected.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jiaowei.admissions.model import AgeWindow
from jiaowei.domains import N_
from jiaowei.errors import M_, Problem

MAX_MONTHS = 240
WINDOW_FIELDS = ("born_from", "born_to", "age_on", "min_age_months", "max_age_months")


def window_of(row: Any) -> AgeWindow | None:
    """The campaign row's window (a row, a spec or anything with the five fields); None when it has none."""
    window = AgeWindow(**{name: getattr(row, name, None) for name in WINDOW_FIELDS})
    return None if window == AgeWindow() else window


def window_problems(window: AgeWindow | None) -> list[Problem]:
    """What is wrong with a window as a campaign is created."""
    if window is None:
        return []
    found = []
    low, high = window.min_age_months, window.max_age_months
    if window.born_from and window.born_to and window.born_from > window.born_to:
        found.append(Problem(N_("the window ends before it starts"), field="born_to",
                             value=str(window.born_to),
                             expected=M_("on or after {day}", day=str(window.born_from))))
    for name, months in (("min_age_months", low), ("max_age_months", high)):
        if months is not None and not 0 <= months <= MAX_MONTHS:
            found.append(Problem(N_("out of range"), field=name, value=months,
                                 expected=M_("{low} to {high}", low=0, high=MAX_MONTHS)))
    if low is not None and high is not None and low > high:
        found.append(Problem(N_("the oldest age is below the youngest"), field="max_age_months", value=high,
                             expected=M_("at least {count}", count=low)))
    if (low is not None or high is not None) and window.age_on is None:
        found.append(Problem(N_("the day the age is counted on is missing"), field="age_on",
                             expected=N_("a date (YYYY-MM-DD) when ages in months are given")))
    if window.age_on is not None and low is None and high is None:
        found.append(Problem(N_("ages in months missing"), field="min_age_months",
                             expected=N_("the youngest and/or the oldest age in months on that day")))
    return found


def birth_problem(window: AgeWindow | None, birth: dt.date, *, row: int | None = None) -> Problem | None:
    """The problem with a date of birth outside the window, else None."""
    if window is None or window.admits(birth):
        return None
    return Problem(N_("born outside the campaign's age window"), row=row, field="birth_date",
                   value=birth.isoformat(), expected=window.describe())
