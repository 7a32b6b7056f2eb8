"""DHIS2's further period types: bi-weeks, weeks from another weekday, bi-months, half-years and
financial years that start in April or November.

The worked examples come from DHIS2's documentation (``2015WedW5``, ``200401B``, ``2004April``...)
and from dhis2-core's own tests (BiWeeklyPeriodTypeTest, FinancialNovemberPeriodTypeTest); the
dates of the weeks follow dhis2-core's rule that week 1 is the week holding 4 January. Hypothesis
checks that every type tiles time and round-trips through its identifier and its ADX form.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiaowei.errors import ValidationError
from jiaowei.indicators.periods import (
    Period,
    PeriodType,
    containing,
    from_adx,
    next_period,
    overlapping,
    parse,
    previous_period,
    shift,
    to_adx,
)

T = PeriodType
NEW_TYPES = [
    T.BIMONTHLY, T.FINANCIAL_APRIL, T.FINANCIAL_JULY, T.FINANCIAL_OCT, T.FINANCIAL_NOV,
    T.SIXMONTHLY_APRIL, T.SIXMONTHLY_NOV, T.WEEKLY_WEDNESDAY, T.WEEKLY_THURSDAY,
    T.WEEKLY_SATURDAY, T.WEEKLY_SUNDAY, T.BIWEEKLY,
]
new_types = st.sampled_from(NEW_TYPES)
days = st.dates(date(1950, 1, 1), date(2150, 12, 31))


@pytest.mark.parametrize(
    ("text", "period_type", "start", "end"),
    [
        # Bi-months: the number is the bi-month's (01 to 06), not its first month's.
        ("200401B", T.BIMONTHLY, date(2004, 1, 1), date(2004, 2, 29)),
        ("202002B", T.BIMONTHLY, date(2020, 3, 1), date(2020, 4, 30)),
        ("202006B", T.BIMONTHLY, date(2020, 11, 1), date(2020, 12, 31)),
        # Financial years: April, July and October carry the year they begin in...
        ("2004April", T.FINANCIAL_APRIL, date(2004, 4, 1), date(2005, 3, 31)),
        ("2004July", T.FINANCIAL_JULY, date(2004, 7, 1), date(2005, 6, 30)),
        ("2004Oct", T.FINANCIAL_OCT, date(2004, 10, 1), date(2005, 9, 30)),
        # ... November the year it ends in (dhis2-core's FinancialNovemberPeriodType).
        ("2009Nov", T.FINANCIAL_NOV, date(2008, 11, 1), date(2009, 10, 31)),
        ("2020Nov", T.FINANCIAL_NOV, date(2019, 11, 1), date(2020, 10, 31)),
        ("2004AprilS1", T.SIXMONTHLY_APRIL, date(2004, 4, 1), date(2004, 9, 30)),
        ("2020AprilS2", T.SIXMONTHLY_APRIL, date(2020, 10, 1), date(2021, 3, 31)),
        ("2020NovS1", T.SIXMONTHLY_NOV, date(2019, 11, 1), date(2020, 4, 30)),
        ("2020NovS2", T.SIXMONTHLY_NOV, date(2020, 5, 1), date(2020, 10, 31)),
        # Weeks from another weekday: week 1 holds 4 January (a Sunday in 2015, a Saturday in 2020).
        ("2015WedW5", T.WEEKLY_WEDNESDAY, date(2015, 1, 28), date(2015, 2, 3)),
        ("2015ThuW6", T.WEEKLY_THURSDAY, date(2015, 2, 5), date(2015, 2, 11)),
        ("2015SatW7", T.WEEKLY_SATURDAY, date(2015, 2, 14), date(2015, 2, 20)),
        ("2015SunW8", T.WEEKLY_SUNDAY, date(2015, 2, 22), date(2015, 2, 28)),
        ("2020WedW1", T.WEEKLY_WEDNESDAY, date(2020, 1, 1), date(2020, 1, 7)),
        ("2020ThuW1", T.WEEKLY_THURSDAY, date(2020, 1, 2), date(2020, 1, 8)),
        ("2020SatW1", T.WEEKLY_SATURDAY, date(2020, 1, 4), date(2020, 1, 10)),
        ("2020SunW1", T.WEEKLY_SUNDAY, date(2019, 12, 29), date(2020, 1, 4)),
        ("2019SatW53", T.WEEKLY_SATURDAY, date(2019, 12, 28), date(2020, 1, 3)),
        # Bi-weeks: ISO weeks 2n-1 and 2n; in a year with an ISO week 53, that week stands alone.
        ("2018BiW1", T.BIWEEKLY, date(2018, 1, 1), date(2018, 1, 14)),
        ("2018BiW2", T.BIWEEKLY, date(2018, 1, 15), date(2018, 1, 28)),
        ("2017BiW26", T.BIWEEKLY, date(2017, 12, 18), date(2017, 12, 31)),
        ("2015BiW1", T.BIWEEKLY, date(2014, 12, 29), date(2015, 1, 11)),
        ("2009BiW27", T.BIWEEKLY, date(2009, 12, 28), date(2010, 1, 3)),
        ("2010BiW1", T.BIWEEKLY, date(2010, 1, 4), date(2010, 1, 17)),
    ],
)
def test_identifiers_name_these_dates(text: str, period_type: PeriodType, start: date, end: date) -> None:
    period = parse(text)
    assert (period.type, period.start, period.end) == (period_type, start, end)
    assert period.id == text
    assert containing(period_type, start) == period == containing(period_type, end)


@pytest.mark.parametrize(
    ("text", "following", "preceding"),
    [
        ("202006B", "202101B", "202005B"),
        ("2020Nov", "2021Nov", "2019Nov"),
        ("2020NovS2", "2021NovS1", "2020NovS1"),
        ("2020AprilS1", "2020AprilS2", "2019AprilS2"),
        ("2020SunW1", "2020SunW2", "2019SunW52"),
        ("2020SatW1", "2020SatW2", "2019SatW53"),
        ("2018BiW1", "2018BiW2", "2017BiW26"),
        ("2009BiW27", "2010BiW1", "2009BiW26"),
    ],
)
def test_next_and_previous(text: str, following: str, preceding: str) -> None:
    assert next_period(parse(text)).id == following
    assert previous_period(parse(text)).id == preceding


def test_dhis2s_own_bi_week_examples() -> None:
    """BiWeeklyPeriodTypeTest: a day's bi-week, the next one, and ``2009BiW27`` on 2010-01-01."""
    assert containing(T.BIWEEKLY, date(2018, 1, 8)).id == "2018BiW1"
    assert containing(T.BIWEEKLY, date(2017, 12, 29)).start == date(2017, 12, 18)
    assert next_period(containing(T.BIWEEKLY, date(2018, 1, 3))).start == date(2018, 1, 15)
    assert containing(T.BIWEEKLY, date(2010, 1, 1)).id == "2009BiW27"
    assert shift(parse("2018BiW1"), -26).id == "2017BiW1"


@pytest.mark.parametrize(
    ("text", "adx"),
    [
        ("202002B", "2020-03-01/P2M"),
        ("2020April", "2020-04-01/P1Y"),
        ("2020July", "2020-07-01/P1Y"),
        ("2020Oct", "2020-10-01/P1Y"),
        ("2020Nov", "2019-11-01/P1Y"),
        ("2020AprilS2", "2020-10-01/P6M"),
        ("2020NovS1", "2019-11-01/P6M"),
        ("2020WedW1", "2020-01-01/P7D"),
        ("2020ThuW1", "2020-01-02/P7D"),
        ("2020SatW1", "2020-01-04/P7D"),
        ("2020SunW1", "2019-12-29/P7D"),
        ("2020BiW1", "2019-12-30/P14D"),
        ("2020BiW27", "2020-12-28/P14D"),
    ],
)
def test_adx_form(text: str, adx: str) -> None:
    assert to_adx(parse(text)) == adx
    assert from_adx(adx) == parse(text)


def test_adx_weeks_written_p1w_and_bi_weeks_written_p2w() -> None:
    assert from_adx("2020-01-01/P1W") == parse("2020WedW1")
    assert from_adx("2019-12-30/P2W") == parse("2020BiW1")


@pytest.mark.parametrize(
    ("text", "says", "accepted"),
    [
        ("202007B", "2020 has no bi-month 7", "bi-months 202001B to 202006B"),
        ("2019BiW27", "2019 has no bi-week 27", "bi-weeks 2019BiW1 to 2019BiW26"),
        ("2020BiW28", "2020 has no bi-week 28", "bi-weeks 2020BiW1 to 2020BiW27"),
        ("2021WedW53", "2021 has no Wednesday week 53", "Wednesday weeks 2021WedW1 to 2021WedW52"),
        ("2020SunW0", "2020 has no Sunday week 0", "Sunday weeks 2020SunW1 to 2020SunW53"),
        ("2020NovS3", "2020 has no November half-year 3", "2020NovS1 to 2020NovS2"),
        ("2020Apr", "this is not a period identifier", "2020April, 2020July, 2020Oct or 2020Nov"),
        ("2020AprS1", "this is not a period identifier", "2020AprilS1 or 2020NovS1"),
        ("2020WenW1", "this is not a period identifier", "2020WedW5, 2020ThuW5, 2020SatW5"),
        ("2200Nov", "year 2200 is outside the supported years", "1900 to 2199"),
    ],
)
def test_malformed_identifiers_say_what_would_be_accepted(text: str, says: str, accepted: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(text)
    problem = caught.value.problems[0]
    assert says in problem.message
    assert accepted in str(problem.expected)
    assert problem.value == text and problem.field == "period"


@pytest.mark.parametrize(
    ("adx", "says"),
    [
        ("2020-01-07/P7D", "a start on a Monday (week) or a Wednesday (Wednesday week)"),
        ("2020-01-06/P14D", "the Monday of an odd ISO week (bi-week), e.g. 2019-12-30/P14D"),
        ("2020-02-01/P2M", "the 1st of an odd month (bi-month), e.g. 2020-01-01/P2M"),
        ("2020-02-01/P6M", "1 November or 1 May (November half-year)"),
    ],
)
def test_adx_starts_that_begin_no_period_say_what_would(adx: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        from_adx(adx)
    assert says in str(caught.value.problems[0].expected)


# Properties.


@given(st.builds(containing, new_types, days))
def test_identifiers_and_adx_round_trip(period: Period) -> None:
    assert parse(period.id) == period
    assert parse(f"  {period.id} ") == period
    assert from_adx(to_adx(period)) == period


@given(new_types, days, st.integers(1, 40))
def test_consecutive_periods_tile_time(period_type: PeriodType, day: date, count: int) -> None:
    run = [containing(period_type, day)]
    for _ in range(count):
        run.append(next_period(run[-1]))
    assert all(later.start == earlier.end + timedelta(days=1) for earlier, later in pairwise(run))
    assert all(previous_period(later) == earlier for earlier, later in pairwise(run))
    assert shift(run[0], count) == run[-1] and shift(run[-1], -count) == run[0]


@given(new_types, st.integers(1950, 2150))
def test_every_day_of_a_year_falls_in_exactly_one_period(period_type: PeriodType, year: int) -> None:
    first, last = date(year, 1, 1), date(year, 12, 31)
    cover = overlapping(period_type, first, last)
    assert cover[0].start <= first and last <= cover[-1].end
    assert all(later.start == earlier.end + timedelta(days=1) for earlier, later in pairwise(cover))
    owners = [sum(p.start <= d <= p.end for p in cover)
              for d in (first + timedelta(days=i) for i in range(366 if calendar.isleap(year) else 365))]
    assert set(owners) == {1}


@given(new_types, st.integers(1950, 2150))
def test_a_years_periods_are_numbered_from_one_without_gaps(period_type: PeriodType, year: int) -> None:
    """The periods whose identifier carries ``year`` are numbered 1, 2, ... in date order."""
    around = overlapping(period_type, date(year - 1, 1, 1), date(year + 1, 12, 31))
    numbered = [p for p in around if p.id.startswith(str(year))]
    numbers = [int(re.sub(r"^[0-9]{4}\D*?([0-9]*)\D*$", r"\1", p.id) or 1) for p in numbered]
    assert numbers == list(range(1, len(numbered) + 1))
    assert all(later.start == earlier.end + timedelta(days=1) for earlier, later in pairwise(numbered))
