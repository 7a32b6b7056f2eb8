"""Reporting periods: their identifiers, their dates, and the arithmetic between them.

A pure engine: plain values in, plain values out. Identifiers are DHIS2's, so data exchanged
with DHIS2 needs no translation; the school year is ours.

| Period            | Type         | Identifier | Example  | Covers                   | ADX              |
|-------------------|--------------|------------|----------|--------------------------|------------------|
| Day               | `Daily`      | `yyyyMMdd` | 20200315 | 2020-03-15               | `2020-03-15/P1D` |
| Week (ISO 8601)   | `Weekly`     | `yyyyWn`   | 2020W5   | 2020-01-27 to 2020-02-02 | `2020-01-27/P7D` |
| Month             | `Monthly`    | `yyyyMM`   | 202011   | 2020-11-01 to 2020-11-30 | `2020-11-01/P1M` |
| Quarter           | `Quarterly`  | `yyyyQn`   | 2020Q3   | 2020-07-01 to 2020-09-30 | `2020-07-01/P3M` |
| Half-year         | `SixMonthly` | `yyyySn`   | 2020S1   | 2020-01-01 to 2020-06-30 | `2020-01-01/P6M` |
| Year              | `Yearly`     | `yyyy`     | 2020     | 2020-01-01 to 2020-12-31 | `2020-01-01/P1Y` |
| School year (学年) | `SchoolYear` | `yyyySY`   | 2020SY   | 2020-09-01 to 2021-08-31 | `2020-09-01/P1Y` |

- Weeks run Monday to Sunday, and ``yyyy`` is the ISO week-numbering year, which near
  1 January can differ from the calendar year: 2020W1 begins 2019-12-30 and 2020W53 ends
  2021-01-03. Only some years have a week 53 (2020 and 2026 do, 2021 does not). The week
  number is written without a leading zero, as DHIS2 writes it; ``2020W05`` is read too.
- S1 is January to June, S2 July to December.
- Years run from 1900 to 2199. Surrounding spaces are ignored; letters are capitals.
- ADX periods are ``start/duration``. A week may also be written ``P1W``. A ``P1Y`` period
  that begins on 1 January is a year; one that begins on 1 September is a school year.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import total_ordering
from typing import assert_never

from jiaowei.errors import M_, Problem, ValidationError

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "Period",
    "PeriodType",
    "contains",
    "containing",
    "days_after_end",
    "from_adx",
    "is_valid",
    "next_period",
    "overlapping",
    "parse",
    "period_type_of",
    "periods_between",
    "previous_period",
    "shift",
    "to_adx",
]

FIRST_YEAR = 1900
LAST_YEAR = 2199
_ONE_DAY = timedelta(days=1)


class PeriodType(StrEnum):
    """DHIS2's period type names, shortest first; the school year (学年) is ours."""

    DAILY = "Daily"
    WEEKLY = "Weekly"
    MONTHLY = "Monthly"
    QUARTERLY = "Quarterly"
    SIXMONTHLY = "SixMonthly"
    YEARLY = "Yearly"
    SCHOOL_YEAR = "SchoolYear"


@dataclass(frozen=True)
class _Rule:
    days: int  # length in days, for the day-based types (else 0)
    months: int  # length in months, for the month-based types (else 0)
    first_month: int  # the month a year's first period of this type begins in
    adx: str
    noun: str
    begins: str  # the days a period of this type can begin on, for error messages


_RULES = {
    PeriodType.DAILY: _Rule(1, 0, 1, "P1D", "day", "any day"),
    PeriodType.WEEKLY: _Rule(7, 0, 1, "P7D", "week", "a Monday"),
    PeriodType.MONTHLY: _Rule(0, 1, 1, "P1M", "month", "the 1st of a month"),
    PeriodType.QUARTERLY: _Rule(0, 3, 1, "P3M", "quarter", "1 January, 1 April, 1 July or 1 October"),
    PeriodType.SIXMONTHLY: _Rule(0, 6, 1, "P6M", "half-year", "1 January or 1 July"),
    PeriodType.YEARLY: _Rule(0, 12, 1, "P1Y", "year", "1 January"),
    PeriodType.SCHOOL_YEAR: _Rule(0, 12, 9, "P1Y", "school year", "1 September"),
}
_RANK = {t: rank for rank, t in enumerate(PeriodType)}

_EXPECTED = (
    "a period identifier: 20200315 (day), 2020W5 (ISO week), 202011 (month), 2020Q3 (quarter), "
    "2020S1 or 2020S2 (half-year), 2020 (year) or 2020SY (school year 2020-09-01 to 2021-08-31), "
    f"in the years {FIRST_YEAR} to {LAST_YEAR}"
)
_ADX_EXPECTED = (
    "an ADX period start/duration: 2020-03-15/P1D (day), 2020-01-27/P7D or P1W (week), "
    "2020-11-01/P1M (month), 2020-07-01/P3M (quarter), 2020-01-01/P6M (half-year), "
    "2020-01-01/P1Y (year) or 2020-09-01/P1Y (school year)"
)
_FORMS = tuple(
    (t, re.compile(pattern))
    for t, pattern in (
        (PeriodType.DAILY, r"(?P<year>[0-9]{4})(?P<n>[0-9]{2})(?P<day>[0-9]{2})"),
        (PeriodType.WEEKLY, r"(?P<year>[0-9]{4})W(?P<n>[0-9]{1,2})"),
        (PeriodType.MONTHLY, r"(?P<year>[0-9]{4})(?P<n>[0-9]{2})"),
        (PeriodType.QUARTERLY, r"(?P<year>[0-9]{4})Q(?P<n>[0-9])"),
        (PeriodType.SIXMONTHLY, r"(?P<year>[0-9]{4})S(?P<n>[0-9])"),
        (PeriodType.YEARLY, r"(?P<year>[0-9]{4})"),
        (PeriodType.SCHOOL_YEAR, r"(?P<year>[0-9]{4})SY"),
    )
)
_ADX = re.compile(r"(?P<start>[0-9]{4}-[0-9]{2}-[0-9]{2})/(?P<duration>P[0-9]+[DWMY])")
_ADX_TYPES = {
    "P1D": (PeriodType.DAILY,),
    "P7D": (PeriodType.WEEKLY,),
    "P1W": (PeriodType.WEEKLY,),
    "P1M": (PeriodType.MONTHLY,),
    "P3M": (PeriodType.QUARTERLY,),
    "P6M": (PeriodType.SIXMONTHLY,),
    "P1Y": (PeriodType.YEARLY, PeriodType.SCHOOL_YEAR),
}


@total_ordering
@dataclass(frozen=True, order=False)
class Period:
    """One reporting period: its type and its first and last day (both inclusive).

    Periods sort by start, and a shorter period before a longer one that starts the same day.
    Constructing one whose dates do not bound exactly one period of its type is an error.
    """

    type: PeriodType
    start: date
    end: date

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", PeriodType(self.type))
        shown = f"{self.start.isoformat()}/{self.end.isoformat()}"
        _check_year(_label_year(self.type, self.start), shown)
        if _start_of(self.type, self.start) != self.start or _end_of(self.type, self.start) != self.end:
            noun, example = _RULES[self.type].noun, _start_of(self.type, self.start)
            expected = f"the first and last day of one {noun}, e.g. {example}/{_end_of(self.type, example)}"
            raise _invalid(shown, f"these dates are not one {noun}", expected)

    @property
    def id(self) -> str:
        """The canonical identifier, e.g. ``2020W5``."""
        return _identifier(self.type, self.start)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def sort_key(self) -> tuple[date, int]:
        return self.start, _RANK[self.type]

    def __str__(self) -> str:
        return self.id

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return self.sort_key < other.sort_key


def parse(text: str) -> Period:
    """The period an identifier names (see the table above); ``ValidationError`` if none."""
    if not isinstance(text, str):
        raise _invalid(text, M_("a period identifier is text"), _EXPECTED)
    for period_type, pattern in _FORMS:
        if match := pattern.fullmatch(text.strip()):
            return _at(period_type, _start_named(text, period_type, match), text)
    raise _invalid(text, M_("this is not a period identifier"), _EXPECTED)


def period_type_of(text: str) -> PeriodType:
    return parse(text).type


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except ValidationError:
        return False
    return True


def containing(type: PeriodType, day: date) -> Period:
    """The period of ``type`` that ``day`` falls in."""
    try:
        return _at(type, _start_of(type, day), day.isoformat())
    except (OverflowError, ValueError, ValidationError):
        noun = _RULES[type].noun
        detail = f"The {noun} containing {day} falls outside the years {FIRST_YEAR} to {LAST_YEAR}."
        message = f"the {noun} containing it is outside the supported years"
        raise _invalid(day.isoformat(), message, _years(), detail=detail) from None


def shift(p: Period, n: int) -> Period:
    """The period ``n`` periods of the same type after ``p`` (before it if ``n`` is negative)."""
    try:
        return _at(p.type, _advance(p.type, p.start, n), p.id)
    except (OverflowError, ValueError, ValidationError):
        nouns = _RULES[p.type].noun + ("" if abs(n) == 1 else "s")
        detail = f"{p.id} shifted by {n} {nouns} falls outside the years {FIRST_YEAR} to {LAST_YEAR}."
        message = f"shifting it by {n} {nouns} leaves the supported years"
        raise _invalid(p.id, message, _years(), detail=detail) from None


def next_period(p: Period) -> Period:
    return shift(p, 1)


def previous_period(p: Period) -> Period:
    return shift(p, -1)


def contains(outer: Period, inner: Period) -> bool:
    """Whether every day of ``inner`` is a day of ``outer``."""
    return outer.start <= inner.start and inner.end <= outer.end


def overlapping(type: PeriodType, start: date, end: date) -> list[Period]:
    """Every period of ``type`` sharing a day with ``start``..``end``, in order (none if end < start)."""
    if end < start:
        return []
    periods = [containing(type, start)]
    while periods[-1].end < end:
        periods.append(next_period(periods[-1]))
    return periods


def periods_between(type: PeriodType, start: date, end: date) -> list[Period]:
    """Every period of ``type`` lying wholly inside ``start``..``end``, in order."""
    return [p for p in overlapping(type, start, end) if start <= p.start and p.end <= end]


def days_after_end(p: Period, days: int) -> date:
    """The day ``days`` days after the last day of ``p`` (a due date, a lock date)."""
    return p.end + timedelta(days=days)


def to_adx(p: Period) -> str:
    """ADX's ``start/duration`` form, e.g. ``2020-07-01/P3M``."""
    return f"{p.start.isoformat()}/{_RULES[p.type].adx}"


def from_adx(text: str) -> Period:
    """The period an ADX ``start/duration`` names; the start must begin a period of that length."""
    match = _ADX.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or match["duration"] not in _ADX_TYPES:
        raise _invalid(text, M_("this is not an ADX period"), _ADX_EXPECTED, what=M_("ADX period"))
    try:
        start = date.fromisoformat(match["start"])
    except ValueError:
        raise _invalid(
            text, M_("{value} is not a day of the calendar",
                     value=match['start']), _ADX_EXPECTED, what="ADX period"
        ) from None
    _check_year(start.year, text)
    types = _ADX_TYPES[match["duration"]]
    for period_type in types:
        if _start_of(period_type, start) == start:
            return _at(period_type, start, text)
    raise _misaligned(text, start, types)


# Helpers.


def _identifier(type: PeriodType, start: date) -> str:
    match type:
        case PeriodType.DAILY:
            return f"{start.year:04d}{start.month:02d}{start.day:02d}"
        case PeriodType.WEEKLY:
            iso = start.isocalendar()
            return f"{iso.year}W{iso.week}"
        case PeriodType.MONTHLY:
            return f"{start.year}{start.month:02d}"
        case PeriodType.QUARTERLY:
            return f"{start.year}Q{(start.month + 2) // 3}"
        case PeriodType.SIXMONTHLY:
            return f"{start.year}S{(start.month + 5) // 6}"
        case PeriodType.YEARLY:
            return f"{start.year}"
        case PeriodType.SCHOOL_YEAR:
            return f"{start.year}SY"
        case _:
            assert_never(type)


def _label_year(type: PeriodType, start: date) -> int:
    """The year written in the identifier of the period of ``type`` beginning on ``start``."""
    return start.isocalendar().year if type == PeriodType.WEEKLY else start.year


def _at(type: PeriodType, start: date, shown: str) -> Period:
    """The period of ``type`` beginning on ``start``; ``shown`` is the input named in errors."""
    _check_year(_label_year(type, start), shown)
    return Period(type, start, _end_of(type, start))


def _start_of(type: PeriodType, day: date) -> date:
    """The first day of the period of ``type`` containing ``day``."""
    if type == PeriodType.DAILY:
        return day
    if type == PeriodType.WEEKLY:
        return day - timedelta(days=day.weekday())
    rule = _RULES[type]
    offset = rule.first_month - 1
    return _month_start((_month_index(day) - offset) // rule.months * rule.months + offset)


def _end_of(type: PeriodType, start: date) -> date:
    return _advance(type, start, 1) - _ONE_DAY


def _advance(type: PeriodType, start: date, n: int) -> date:
    """The start of the period ``n`` periods after the one beginning on ``start``."""
    rule = _RULES[type]
    if rule.days:
        return start + timedelta(days=rule.days * n)
    return _month_start(_month_index(start) + rule.months * n)


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def _starts_in(type: PeriodType, year: int) -> list[date]:
    """The first days of the periods of ``type`` whose identifier carries ``year`` (not Daily)."""
    if type == PeriodType.WEEKLY:
        weeks = date(year, 12, 28).isocalendar().week
        return [date.fromisocalendar(year, week, 1) for week in range(1, weeks + 1)]
    rule = _RULES[type]
    return [date(year, rule.first_month + i * rule.months, 1) for i in range(12 // rule.months)]


def _start_named(text: str, type: PeriodType, match: re.Match[str]) -> date:
    """The first day of the period that ``match``, a match of the ``type`` form, names."""
    year = int(match["year"])
    _check_year(year, text)
    if type == PeriodType.DAILY:
        return _calendar_day(text, year, int(match["n"]), int(match["day"]))
    return _nth_start(text, type, year, int(match.groupdict().get("n") or 1))


def _nth_start(text: str, type: PeriodType, year: int, n: int) -> date:
    starts = _starts_in(type, year)
    if 1 <= n <= len(starts):
        return starts[n - 1]
    noun = _RULES[type].noun
    first, last = _identifier(type, starts[0]), _identifier(type, starts[-1])
    raise _invalid(text, f"{year} has no {noun} {n}", f"{noun}s {first} to {last}")


def _calendar_day(text: str, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        pass
    if 1 <= month <= 12:
        last = calendar.monthrange(year, month)[1]
        expected = f"days {year}{month:02d}01 to {year}{month:02d}{last}"
    else:
        expected = f"days {year}0101 to {year}1231 (months 01 to 12)"
    raise _invalid(text, M_("{year:04d}-{month:02d}-{day:02d} is not a day of the calendar", year=year,
                            month=month, day=day), expected)


def _misaligned(text: str, start: date, types: tuple[PeriodType, ...]) -> ValidationError:
    rules = [_RULES[t] for t in types]
    nouns = " or ".join(f"a {rule.noun}" for rule in rules)
    begins = " or ".join(f"{rule.begins} ({rule.noun})" for rule in rules)
    examples = " or ".join(f"{_start_of(t, start).isoformat()}/{_RULES[t].adx}" for t in types)
    expected = f"a start on {begins}, e.g. {examples}"
    return _invalid(text, f"{start.isoformat()} does not begin {nouns}", expected, what="ADX period")


def _check_year(year: int, shown: str) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise _invalid(shown, M_("year {year} is outside the supported years", year=year), _years())


def _years() -> str:
    return f"periods in the years {FIRST_YEAR} to {LAST_YEAR}"


def _invalid(
    value: object, message: str, expected: str, *, what: str = "period", detail: str | None = None
) -> ValidationError:
    return ValidationError(
        detail or f"{value!r} is not a valid {what}: {message}.",
        [Problem(message, field="period", value=value, expected=expected)],
    )
