"""The period engine: identifiers, dates, ADX, arithmetic, and the errors for bad input.

Worked examples pin every type's identifier and dates against a calendar (week dates checked
by hand against ISO 8601); Hypothesis checks the laws that tie the functions together over
every type and any day from 1950 to 2150.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
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
    contains,
    days_after_end,
    from_adx,
    is_valid,
    next_period,
    overlapping,
    parse,
    period_type_of,
    periods_between,
    previous_period,
    shift,
    to_adx,
)

D, W, M, Q, S, Y, SY = (
    PeriodType.DAILY,
    PeriodType.WEEKLY,
    PeriodType.MONTHLY,
    PeriodType.QUARTERLY,
    PeriodType.SIXMONTHLY,
    PeriodType.YEARLY,
    PeriodType.SCHOOL_YEAR,
)
ALL_FORMS = ["20200315", "2020W5", "202011", "2020Q3", "2020S1", "2020S2", "2020", "2020SY"]

types = st.sampled_from(list(PeriodType))
days = st.dates(date(1950, 1, 1), date(2150, 12, 31))
periods = st.builds(containing, types, days)
years = st.integers(1950, 2150)


def ids(ps: list[Period]) -> list[str]:
    return [p.id for p in ps]


def error_of(call: Callable[[str], object], text: str) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        call(text)
    return caught.value


# Worked examples.


@pytest.mark.parametrize(
    ("text", "period_type", "start", "end"),
    [
        ("20200315", D, date(2020, 3, 15), date(2020, 3, 15)),
        ("20200229", D, date(2020, 2, 29), date(2020, 2, 29)),
        ("2020W1", W, date(2019, 12, 30), date(2020, 1, 5)),
        ("2020W5", W, date(2020, 1, 27), date(2020, 2, 2)),
        ("2020W53", W, date(2020, 12, 28), date(2021, 1, 3)),
        ("2021W1", W, date(2021, 1, 4), date(2021, 1, 10)),
        ("2015W53", W, date(2015, 12, 28), date(2016, 1, 3)),
        ("202011", M, date(2020, 11, 1), date(2020, 11, 30)),
        ("202002", M, date(2020, 2, 1), date(2020, 2, 29)),
        ("2020Q3", Q, date(2020, 7, 1), date(2020, 9, 30)),
        ("2020Q4", Q, date(2020, 10, 1), date(2020, 12, 31)),
        ("2020S1", S, date(2020, 1, 1), date(2020, 6, 30)),
        ("2020S2", S, date(2020, 7, 1), date(2020, 12, 31)),
        ("2020", Y, date(2020, 1, 1), date(2020, 12, 31)),
        ("2020SY", SY, date(2020, 9, 1), date(2021, 8, 31)),
        ("1900", Y, date(1900, 1, 1), date(1900, 12, 31)),
        ("2199SY", SY, date(2199, 9, 1), date(2200, 8, 31)),
    ],
)
def test_identifiers_name_these_dates(text: str, period_type: PeriodType, start: date, end: date) -> None:
    period = parse(text)
    assert (period.type, period.start, period.end) == (period_type, start, end)
    assert period.id == str(period) == text
    assert period_type_of(text) == period_type
    assert period == Period(period_type, start, end)
    assert containing(period_type, start) == period == containing(period_type, end)


def test_parse_reads_padded_weeks_and_surrounding_spaces_and_writes_canonical_ids() -> None:
    assert parse("2020W05").id == "2020W5"
    assert parse(" 2020W05\t") == parse("2020W5")
    assert parse(" 2020SY\n").id == "2020SY"


@pytest.mark.parametrize(
    ("text", "days"),
    [("20200315", 1), ("2020W5", 7), ("202002", 29), ("202102", 28), ("2020Q1", 91), ("2020S2", 184)]
    + [("2020", 366), ("2021", 365), ("2020SY", 365), ("2019SY", 366)],
)
def test_days_counts_every_day_of_the_period(text: str, days: int) -> None:
    assert parse(text).days == days


@pytest.mark.parametrize(
    ("text", "adx"),
    [
        ("20200315", "2020-03-15/P1D"),
        ("2020W5", "2020-01-27/P7D"),
        ("202011", "2020-11-01/P1M"),
        ("2020Q3", "2020-07-01/P3M"),
        ("2020S1", "2020-01-01/P6M"),
        ("2020", "2020-01-01/P1Y"),
        ("2020SY", "2020-09-01/P1Y"),
    ],
)
def test_adx_form(text: str, adx: str) -> None:
    assert to_adx(parse(text)) == adx
    assert from_adx(adx) == parse(text)


def test_from_adx_reads_weeks_written_p1w() -> None:
    assert from_adx("2020-01-27/P1W") == parse("2020W5")
    assert from_adx(" 2020-12-28/P1W ") == parse("2020W53")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "2020-02-01/P3M",
            "a start on 1 January, 1 April, 1 July or 1 October (quarter), e.g. 2020-01-01/P3M",
        ),
        ("2020-01-28/P7D", "a start on a Monday (week) or a Wednesday (Wednesday week)"),
        ("2020-01-28/P1W", "2020-01-28 does not begin a week"),
        ("2020-03-02/P1M", "the 1st of a month (month), e.g. 2020-03-01/P1M"),
        ("2020-03-01/P6M", "1 January or 1 July (half-year) or 1 April or 1 October (April half-year)"),
        (
            "2020-03-01/P1Y",
            "1 November (November financial year) or 1 September (school year), e.g. 2020-01-01/P1Y",
        ),
    ],
)
def test_from_adx_rejects_a_start_that_does_not_begin_such_a_period(text: str, says: str) -> None:
    error = error_of(from_adx, text)
    assert says in str(error)
    assert text in str(error)
    assert error.problems[0].field == "period"
    assert error.problems[0].value == text


@pytest.mark.parametrize("text", ["2020-01-01/P2D", "2020-01-01", "20200101/P1D", "2020-1-1/P1D", "", "P1Y"])
def test_from_adx_rejects_other_forms_listing_the_accepted_ones(text: str) -> None:
    error = error_of(from_adx, text)
    assert repr(text) in str(error)
    for form in ["2020-03-15/P1D", "2020-01-27/P7D", "P1W", "2020-11-01/P1M", "2020-07-01/P3M"]:
        assert form in str(error)
    assert "2020-01-01/P6M" in str(error) and "2020-09-01/P1Y (school year)" in str(error)


def test_from_adx_rejects_a_start_that_is_not_a_calendar_day() -> None:
    assert "2021-02-29 is not a day of the calendar" in str(error_of(from_adx, "2021-02-29/P1D"))


def test_sorting_puts_earlier_starts_first_and_shorter_periods_first_on_the_same_start() -> None:
    shuffled = [parse(t) for t in ["2020", "2020S1", "202001", "2020Q1", "2019SY", "20200101", "2020W1"]]
    assert ids(sorted(shuffled)) == ["2019SY", "2020W1", "20200101", "202001", "2020Q1", "2020S1", "2020"]
    assert parse("202009") < parse("2020SY") < parse("202010")
    assert parse("2020") <= parse("2020") and not parse("2020") < parse("2020")
    assert parse("2020") > parse("2020Q1") and parse("2020") < parse("2020Q4")
    with pytest.raises(TypeError):
        _ = parse("2020") < "2021"


def test_periods_are_values() -> None:
    assert {parse("2020W05"), parse("2020W5"), parse("2020")} == {parse("2020"), parse("2020W5")}
    assert Period("Monthly", date(2020, 1, 1), date(2020, 1, 31)).type is M  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("202011", 3, "202102"),
        ("202011", -11, "201912"),
        ("2020W53", 1, "2021W1"),
        ("2020W1", -1, "2019W52"),
        ("2021W1", -1, "2020W53"),
        ("20200228", 1, "20200229"),
        ("20210228", 1, "20210301"),
        ("2020Q4", 1, "2021Q1"),
        ("2020S2", 1, "2021S1"),
        ("2020SY", 1, "2021SY"),
        ("2020SY", -20, "2000SY"),
        ("2020", 0, "2020"),
    ],
)
def test_shift(text: str, n: int, expected: str) -> None:
    assert shift(parse(text), n).id == expected


def test_next_and_previous_period() -> None:
    assert next_period(parse("2020W52")).id == "2020W53"
    assert next_period(parse("202012")).id == "202101"
    assert previous_period(parse("2021SY")).id == "2020SY"
    assert previous_period(parse("2020S1")).id == "2019S2"


def test_school_year_2020_holds_the_months_september_2020_to_august_2021() -> None:
    school_year = parse("2020SY")
    months = periods_between(M, school_year.start, school_year.end)
    assert ids(months) == [f"2020{m:02d}" for m in range(9, 13)] + [f"2021{m:02d}" for m in range(1, 9)]
    assert all(contains(school_year, m) for m in months)
    assert not contains(school_year, parse("202008")) and not contains(school_year, parse("202109"))
    assert not contains(school_year, parse("2021")) and not contains(parse("2021"), school_year)


def test_periods_between_keeps_whole_periods_and_overlapping_keeps_every_touched_one() -> None:
    january = (date(2021, 1, 1), date(2021, 1, 31))  # a Friday to a Sunday
    assert ids(periods_between(W, *january)) == ["2021W1", "2021W2", "2021W3", "2021W4"]
    assert ids(overlapping(W, *january)) == ["2020W53", "2021W1", "2021W2", "2021W3", "2021W4"]
    assert ids(periods_between(M, date(2020, 1, 15), date(2020, 4, 15))) == ["202002", "202003"]
    spring = (date(2020, 1, 15), date(2020, 4, 15))
    assert ids(overlapping(M, *spring)) == ["202001", "202002", "202003", "202004"]
    assert ids(overlapping(Q, date(2020, 3, 31), date(2020, 4, 1))) == ["2020Q1", "2020Q2"]
    assert periods_between(Y, date(2020, 1, 2), date(2020, 12, 31)) == []


def test_an_empty_or_reversed_range_has_no_periods() -> None:
    assert periods_between(D, date(2020, 3, 2), date(2020, 3, 1)) == []
    assert overlapping(D, date(2020, 3, 2), date(2020, 3, 1)) == []
    assert ids(periods_between(D, date(2020, 3, 1), date(2020, 3, 1))) == ["20200301"]


def test_days_after_end_counts_from_the_last_day() -> None:
    assert days_after_end(parse("202002"), 0) == date(2020, 2, 29)
    assert days_after_end(parse("202002"), 15) == date(2020, 3, 15)
    assert days_after_end(parse("2020W53"), 7) == date(2021, 1, 10)
    assert days_after_end(parse("2020SY"), 30) == date(2021, 9, 30)


def test_is_valid() -> None:
    assert all(is_valid(text) for text in ALL_FORMS + ["2020W05", "2020W53", "2026W53", " 2020 "])
    for text in ["2021W53", "2019W53", "20210229", "202013", "2020Q0", "", "2020-11", "2020w5", "２０２０"]:
        assert not is_valid(text), text


# Bad input.


@pytest.mark.parametrize(
    ("text", "message", "expected"),
    [
        ("20210229", "2021-02-29 is not a day of the calendar", "days 20210201 to 20210228"),
        ("20200431", "2020-04-31 is not a day of the calendar", "days 20200401 to 20200430"),
        (
            "20201301",
            "2020-13-01 is not a day of the calendar",
            "days 20200101 to 20201231 (months 01 to 12)",
        ),
        ("2021W53", "2021 has no week 53", "weeks 2021W1 to 2021W52"),
        ("2020W54", "2020 has no week 54", "weeks 2020W1 to 2020W53"),
        ("2020W0", "2020 has no week 0", "weeks 2020W1 to 2020W53"),
        ("202013", "2020 has no month 13", "months 202001 to 202012"),
        ("202000", "2020 has no month 0", "months 202001 to 202012"),
        ("2020Q5", "2020 has no quarter 5", "quarters 2020Q1 to 2020Q4"),
        ("2020S3", "2020 has no half-year 3", "half-years 2020S1 to 2020S2"),
        ("1899", "year 1899 is outside the supported years", "periods in the years 1900 to 2199"),
        ("2200Q1", "year 2200 is outside the supported years", "periods in the years 1900 to 2199"),
        ("1899W52", "year 1899 is outside the supported years", "periods in the years 1900 to 2199"),
    ],
)
def test_an_identifier_out_of_range_says_what_exists(text: str, message: str, expected: str) -> None:
    error = error_of(parse, text)
    assert error.detail == f"{text!r} is not a valid period: {message}."
    [problem] = error.problems
    assert (problem.message, problem.expected) == (message, expected)
    assert (problem.field, problem.value) == ("period", text)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "abc", "2020-11", "2020-11-01", "2020w5", "2020q3", "2020W005", "20201", "2020SY1"]
    + ["２０２０"],  # full-width digits
)
def test_an_unknown_form_lists_every_accepted_form(text: str) -> None:
    error = error_of(parse, text)
    assert repr(text) in error.detail
    assert error.problems[0].value == text
    for form in ALL_FORMS:
        assert form in str(error.problems[0].expected)
    assert "1900 to 2199" in str(error)


def test_a_non_text_identifier_is_a_validation_error() -> None:
    assert not is_valid(None)  # type: ignore[arg-type]
    assert "a period identifier is text" in str(error_of(parse, 202011))  # type: ignore[arg-type]


def test_dates_that_are_not_one_period_are_refused() -> None:
    with pytest.raises(ValidationError, match="these dates are not one month"):
        Period(M, date(2020, 1, 5), date(2020, 2, 4))
    with pytest.raises(ValidationError, match="these dates are not one week"):
        Period(W, date(2020, 1, 28), date(2020, 2, 3))
    with pytest.raises(ValidationError, match="these dates are not one quarter"):
        Period(Q, date(2020, 1, 1), date(2020, 3, 30))


def test_arithmetic_past_the_supported_years_is_refused() -> None:
    with pytest.raises(ValidationError, match="2199 shifted by 1 year falls outside the years 1900 to 2199"):
        next_period(parse("2199"))
    with pytest.raises(ValidationError, match="shifted by -1 day"):
        previous_period(parse("19000101"))
    with pytest.raises(ValidationError, match="falls outside"):
        shift(parse("2020"), 10**12)
    with pytest.raises(ValidationError, match="The school year containing 1900-01-01 falls outside"):
        containing(SY, date(1900, 1, 1))
    with pytest.raises(ValidationError, match="The school year containing 0001-01-01 falls outside"):
        containing(SY, date.min)
    with pytest.raises(ValidationError, match="The month containing 9999-12-31 falls outside"):
        containing(M, date.max)


# Properties.


@given(types, days)
def test_the_containing_period_contains_the_day(period_type: PeriodType, day: date) -> None:
    period = containing(period_type, day)
    assert period.type == period_type
    assert period.start <= day <= period.end
    assert period.days == (period.end - period.start).days + 1


@given(periods)
def test_identifiers_and_adx_round_trip(period: Period) -> None:
    assert parse(period.id) == period
    assert is_valid(period.id)
    assert from_adx(to_adx(period)) == period


@given(periods)
def test_each_period_begins_the_day_after_the_previous_one_ends(period: Period) -> None:
    following = next_period(period)
    assert following.start == period.end + timedelta(days=1)
    assert following.type == period.type
    assert period < following
    assert next_period(previous_period(period)) == period == previous_period(next_period(period))


@given(periods, st.integers(-20, 20), st.integers(-20, 20))
def test_shifts_compose_and_undo(period: Period, a: int, b: int) -> None:
    assert shift(shift(period, a), -a) == period
    assert shift(shift(period, a), b) == shift(period, a + b)
    assert (shift(period, a) > period) == (a > 0)


@given(st.sampled_from([(D, None), (M, 12), (Q, 4), (S, 2)]), years)
def test_finer_periods_tile_a_year(shape: tuple[PeriodType, int | None], year: int) -> None:
    period_type, count = shape
    whole = parse(str(year))
    parts = periods_between(period_type, whole.start, whole.end)
    assert len(parts) == (count or (366 if calendar.isleap(year) else 365))
    assert parts[0].start == whole.start and parts[-1].end == whole.end
    assert all(later.start == earlier.end + timedelta(days=1) for earlier, later in pairwise(parts))
    assert sum(p.days for p in parts) == whole.days
    assert overlapping(period_type, whole.start, whole.end) == parts


@given(days)
def test_each_period_lies_in_the_next_coarser_one(day: date) -> None:
    chain = [containing(t, day) for t in (D, M, Q, S, Y)]
    assert all(contains(outer, inner) for inner, outer in pairwise(chain))
    assert contains(containing(SY, day), chain[1])
    assert not contains(chain[1], chain[4]) and contains(chain[4], chain[4])


@given(years)
def test_a_school_year_holds_september_to_august(year: int) -> None:
    school_year = parse(f"{year}SY")
    months = ids(periods_between(M, school_year.start, school_year.end))
    assert months == [f"{year}{m:02d}" for m in range(9, 13)] + [f"{year + 1}{m:02d}" for m in range(1, 9)]


@given(days, st.integers(0, 400))
def test_weeks_between_two_days_are_whole_mondays_to_sundays_in_range(start: date, length: int) -> None:
    end = start + timedelta(days=length)
    weeks = periods_between(W, start, end)
    assert all(start <= w.start and w.end <= end for w in weeks)
    assert all(w.start.isoweekday() == 1 and w.days == 7 for w in weeks)
    assert all(later.start == earlier.end + timedelta(days=1) for earlier, later in pairwise(weeks))
    first_monday = start + timedelta(days=-start.weekday() % 7)
    assert len(weeks) == max(0, (end - first_monday).days + 1) // 7


@given(types, days, st.integers(0, 400))
def test_overlapping_periods_cover_the_range_and_each_touches_it(
    period_type: PeriodType, start: date, length: int
) -> None:
    end = start + timedelta(days=length)
    touched = overlapping(period_type, start, end)
    assert touched[0].start <= start and end <= touched[-1].end
    assert all(p.start <= end and start <= p.end for p in touched)
    assert all(later.start == earlier.end + timedelta(days=1) for earlier, later in pairwise(touched))
    inside = periods_between(period_type, start, end)
    assert inside == [p for p in touched if start <= p.start and p.end <= end]


@given(st.integers(1950, 2150), st.integers(1, 53))
def test_week_numbers_read_with_or_without_a_leading_zero(year: int, week: int) -> None:
    has_week = week <= date(year, 12, 28).isocalendar().week
    assert is_valid(f"{year}W{week}") == has_week == is_valid(f"{year}W{week:02d}")
    if has_week:
        assert parse(f"{year}W{week:02d}").start == date.fromisocalendar(year, week, 1)


@given(st.text(alphabet="0123456789WQSY-/P \t", max_size=12) | st.text(max_size=12))
def test_any_text_parses_to_its_canonical_period_or_is_refused(text: str) -> None:
    try:
        period = parse(text)
    except ValidationError as error:
        assert error.problems[0].value == text
        assert not is_valid(text)
    else:
        assert parse(period.id) == period
        assert period.id.replace("W", "") == text.strip().replace("W0", "W").replace("W", "")
