"""Reporting periods: their identifiers, their dates, and the arithmetic between them.

A pure engine: plain values in, plain values out. Identifiers are DHIS2's, so data exchanged
with DHIS2 needs no translation; the school year is ours.

| Type              | Identifier    | Example     | Covers                   | ADX               |
|-------------------|---------------|-------------|--------------------------|-------------------|
| `Daily`           | `yyyyMMdd`    | 20200315    | 2020-03-15               | `2020-03-15/P1D`  |
| `Weekly`          | `yyyyWn`      | 2020W5      | 2020-01-27 to 2020-02-02 | `2020-01-27/P7D`  |
| `WeeklyWednesday` | `yyyyWedWn`   | 2020WedW1   | 2020-01-01 to 2020-01-07 | `2020-01-01/P7D`  |
| `WeeklyThursday`  | `yyyyThuWn`   | 2020ThuW1   | 2020-01-02 to 2020-01-08 | `2020-01-02/P7D`  |
| `WeeklySaturday`  | `yyyySatWn`   | 2020SatW1   | 2020-01-04 to 2020-01-10 | `2020-01-04/P7D`  |
| `WeeklySunday`    | `yyyySunWn`   | 2020SunW1   | 2019-12-29 to 2020-01-04 | `2019-12-29/P7D`  |
| `BiWeekly`        | `yyyyBiWn`    | 2020BiW1    | 2019-12-30 to 2020-01-12 | `2019-12-30/P14D` |
| `Monthly`         | `yyyyMM`      | 202011      | 2020-11-01 to 2020-11-30 | `2020-11-01/P1M`  |
| `BiMonthly`       | `yyyyMMB`     | 202002B     | 2020-03-01 to 2020-04-30 | `2020-03-01/P2M`  |
| `Quarterly`       | `yyyyQn`      | 2020Q3      | 2020-07-01 to 2020-09-30 | `2020-07-01/P3M`  |
| `SixMonthly`      | `yyyySn`      | 2020S1      | 2020-01-01 to 2020-06-30 | `2020-01-01/P6M`  |
| `SixMonthlyApril` | `yyyyAprilSn` | 2020AprilS2 | 2020-10-01 to 2021-03-31 | `2020-10-01/P6M`  |
| `SixMonthlyNov`   | `yyyyNovSn`   | 2020NovS1   | 2019-11-01 to 2020-04-30 | `2019-11-01/P6M`  |
| `Yearly`          | `yyyy`        | 2020        | 2020-01-01 to 2020-12-31 | `2020-01-01/P1Y`  |
| `FinancialApril`  | `yyyyApril`   | 2020April   | 2020-04-01 to 2021-03-31 | `2020-04-01/P1Y`  |
| `FinancialJuly`   | `yyyyJuly`    | 2020July    | 2020-07-01 to 2021-06-30 | `2020-07-01/P1Y`  |
| `FinancialOct`    | `yyyyOct`     | 2020Oct     | 2020-10-01 to 2021-09-30 | `2020-10-01/P1Y`  |
| `FinancialNov`    | `yyyyNov`     | 2020Nov     | 2019-11-01 to 2020-10-31 | `2019-11-01/P1Y`  |
| `SchoolYear`      | `yyyySY`      | 2020SY      | 2020-09-01 to 2021-08-31 | `2020-09-01/P1Y`  |

- Weeks run Monday to Sunday, and ``yyyy`` is the ISO week-numbering year, which near
  1 January can differ from the calendar year: 2020W1 begins 2019-12-30 and 2020W53 ends
  2021-01-03. Only some years have a week 53 (2020 and 2026 do, 2021 does not). The week
  number is written without a leading zero, as DHIS2 writes it; ``2020W05`` is read too.
- Weeks from another weekday follow DHIS2's rule too: week 1 is the one holding 4 January.
- A bi-week is ISO weeks 2n-1 and 2n; in a year with an ISO week 53, bi-week 27 is that week
  alone (DHIS2 lets it run into the next year's bi-week 1; here periods never overlap).
- S1 is January to June, S2 July to December. November half-years and financial years carry
  the year they end in (DHIS2's SixMonthlyNovemberPeriodType, FinancialNovemberPeriodType).
- Years run from 1900 to 2199. Surrounding spaces are ignored; letters are as shown.
- ADX periods are ``start/duration``; the start tells types of one length apart. A week may
  also be written ``P1W``, a bi-week ``P2W``. A ``P1Y`` period that begins on 1 January is a
  year; one that begins on 1 September is a school year.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import total_ordering

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
    WEEKLY_WEDNESDAY = "WeeklyWednesday"
    WEEKLY_THURSDAY = "WeeklyThursday"
    WEEKLY_SATURDAY = "WeeklySaturday"
    WEEKLY_SUNDAY = "WeeklySunday"
    BIWEEKLY = "BiWeekly"
    MONTHLY = "Monthly"
    BIMONTHLY = "BiMonthly"
    QUARTERLY = "Quarterly"
    SIXMONTHLY = "SixMonthly"
    SIXMONTHLY_APRIL = "SixMonthlyApril"
    SIXMONTHLY_NOV = "SixMonthlyNov"
    YEARLY = "Yearly"
    FINANCIAL_APRIL = "FinancialApril"
    FINANCIAL_JULY = "FinancialJuly"
    FINANCIAL_OCT = "FinancialOct"
    FINANCIAL_NOV = "FinancialNov"
    SCHOOL_YEAR = "SchoolYear"


@dataclass(frozen=True)
class _Rule:
    days: int  # length in days, for the day-based types (else 0)
    months: int  # length in months, for the month-based types (else 0)
    first_month: int  # the month a year's first period of this type begins in
    adx: str
    noun: str
    begins: str  # the days a period of this type can begin on, for error messages
    form: str  # the identifier, from the year ``y`` it carries and its number ``n`` in that year
    weekday: int = 0  # the day of the week a week-based period begins on (Monday is 0)
    lead: int = 0  # how many months the identifier's year runs ahead of the first day's month


_T = PeriodType
_RULES = {
    _T.DAILY: _Rule(1, 0, 1, "P1D", "day", "any day", ""),
    _T.WEEKLY: _Rule(7, 0, 1, "P7D", "week", "a Monday", "{y}W{n}"),
    _T.WEEKLY_WEDNESDAY: _Rule(7, 0, 1, "P7D", "Wednesday week", "a Wednesday", "{y}WedW{n}", 2),
    _T.WEEKLY_THURSDAY: _Rule(7, 0, 1, "P7D", "Thursday week", "a Thursday", "{y}ThuW{n}", 3),
    _T.WEEKLY_SATURDAY: _Rule(7, 0, 1, "P7D", "Saturday week", "a Saturday", "{y}SatW{n}", 5),
    _T.WEEKLY_SUNDAY: _Rule(7, 0, 1, "P7D", "Sunday week", "a Sunday", "{y}SunW{n}", 6),
    _T.BIWEEKLY: _Rule(14, 0, 1, "P14D", "bi-week", "the Monday of an odd ISO week", "{y}BiW{n}"),
    _T.MONTHLY: _Rule(0, 1, 1, "P1M", "month", "the 1st of a month", "{y}{n:02d}"),
    _T.BIMONTHLY: _Rule(0, 2, 1, "P2M", "bi-month", "the 1st of an odd month", "{y}{n:02d}B"),
    _T.QUARTERLY: _Rule(0, 3, 1, "P3M", "quarter", "1 January, 1 April, 1 July or 1 October", "{y}Q{n}"),
    _T.SIXMONTHLY: _Rule(0, 6, 1, "P6M", "half-year", "1 January or 1 July", "{y}S{n}"),
    _T.SIXMONTHLY_APRIL: _Rule(0, 6, 4, "P6M", "April half-year", "1 April or 1 October", "{y}AprilS{n}"),
    _T.SIXMONTHLY_NOV: _Rule(0, 6, 11, "P6M", "November half-year", "1 November or 1 May", "{y}NovS{n}",
                             lead=2),
    _T.YEARLY: _Rule(0, 12, 1, "P1Y", "year", "1 January", "{y}"),
    _T.FINANCIAL_APRIL: _Rule(0, 12, 4, "P1Y", "April financial year", "1 April", "{y}April"),
    _T.FINANCIAL_JULY: _Rule(0, 12, 7, "P1Y", "July financial year", "1 July", "{y}July"),
    _T.FINANCIAL_OCT: _Rule(0, 12, 10, "P1Y", "October financial year", "1 October", "{y}Oct"),
    _T.FINANCIAL_NOV: _Rule(0, 12, 11, "P1Y", "November financial year", "1 November", "{y}Nov", lead=2),
    _T.SCHOOL_YEAR: _Rule(0, 12, 9, "P1Y", "school year", "1 September", "{y}SY"),
}
_RANK = {t: rank for rank, t in enumerate(PeriodType)}

_EXPECTED = (
    "a period identifier: 20200315 (day), 2020W5 (ISO week), 2020WedW5, 2020ThuW5, 2020SatW5 or "
    "2020SunW5 (week from Wednesday, Thursday, Saturday, Sunday), 2020BiW3 (bi-week), 202011 (month), "
    "202001B to 202006B (bi-month), 2020Q3 (quarter), 2020S1 or 2020S2 (half-year), 2020AprilS1 or "
    "2020NovS1 (half-year from April, November), 2020 (year), 2020April, 2020July, 2020Oct or 2020Nov "
    "(financial year) or 2020SY (school year 2020-09-01 to 2021-08-31), "
    f"in the years {FIRST_YEAR} to {LAST_YEAR}"
)
_ADX_EXPECTED = (
    "an ADX period start/duration: 2020-03-15/P1D (day), 2020-01-27/P7D or P1W (week, from the "
    "weekday it begins on), 2020-01-27/P14D or P2W (bi-week), 2020-11-01/P1M (month), "
    "2020-03-01/P2M (bi-month), 2020-07-01/P3M (quarter), 2020-01-01/P6M (half-year, also from "
    "1 April or 1 November), 2020-01-01/P1Y (year), 2020-04-01/P1Y (financial year, also from "
    "1 July, 1 October or 1 November) or 2020-09-01/P1Y (school year)"
)
_WEEK = r"(?P<year>[0-9]{4})%sW(?P<n>[0-9]{1,2})"
_FORMS = tuple(
    (t, re.compile(pattern))
    for t, pattern in (
        (_T.DAILY, r"(?P<year>[0-9]{4})(?P<n>[0-9]{2})(?P<day>[0-9]{2})"),
        (_T.WEEKLY, _WEEK % ""),
        (_T.WEEKLY_WEDNESDAY, _WEEK % "Wed"),
        (_T.WEEKLY_THURSDAY, _WEEK % "Thu"),
        (_T.WEEKLY_SATURDAY, _WEEK % "Sat"),
        (_T.WEEKLY_SUNDAY, _WEEK % "Sun"),
        (_T.BIWEEKLY, _WEEK % "Bi"),
        (_T.MONTHLY, r"(?P<year>[0-9]{4})(?P<n>[0-9]{2})"),
        (_T.BIMONTHLY, r"(?P<year>[0-9]{4})(?P<n>[0-9]{2})B"),
        (_T.QUARTERLY, r"(?P<year>[0-9]{4})Q(?P<n>[0-9])"),
        (_T.SIXMONTHLY, r"(?P<year>[0-9]{4})S(?P<n>[0-9])"),
        (_T.SIXMONTHLY_APRIL, r"(?P<year>[0-9]{4})AprilS(?P<n>[0-9])"),
        (_T.SIXMONTHLY_NOV, r"(?P<year>[0-9]{4})NovS(?P<n>[0-9])"),
        (_T.YEARLY, r"(?P<year>[0-9]{4})"),
        (_T.FINANCIAL_APRIL, r"(?P<year>[0-9]{4})April"),
        (_T.FINANCIAL_JULY, r"(?P<year>[0-9]{4})July"),
        (_T.FINANCIAL_OCT, r"(?P<year>[0-9]{4})Oct"),
        (_T.FINANCIAL_NOV, r"(?P<year>[0-9]{4})Nov"),
        (_T.SCHOOL_YEAR, r"(?P<year>[0-9]{4})SY"),
    )
)
_ADX = re.compile(r"(?P<start>[0-9]{4}-[0-9]{2}-[0-9]{2})/(?P<duration>P[0-9]+[DWMY])")
_WEEKS = (_T.WEEKLY, _T.WEEKLY_WEDNESDAY, _T.WEEKLY_THURSDAY, _T.WEEKLY_SATURDAY, _T.WEEKLY_SUNDAY)
_ADX_TYPES = {
    "P1D": (_T.DAILY,),
    "P7D": _WEEKS,
    "P1W": _WEEKS,
    "P14D": (_T.BIWEEKLY,),
    "P2W": (_T.BIWEEKLY,),
    "P1M": (_T.MONTHLY,),
    "P2M": (_T.BIMONTHLY,),
    "P3M": (_T.QUARTERLY,),
    "P6M": (_T.SIXMONTHLY, _T.SIXMONTHLY_APRIL, _T.SIXMONTHLY_NOV),
    "P1Y": (_T.YEARLY, _T.FINANCIAL_APRIL, _T.FINANCIAL_JULY, _T.FINANCIAL_OCT, _T.FINANCIAL_NOV,
            _T.SCHOOL_YEAR),
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
    if type == PeriodType.DAILY:
        return f"{start.year:04d}{start.month:02d}{start.day:02d}"
    year = _label_year(type, start)
    return _RULES[type].form.format(y=year, n=_starts_in(type, year).index(start) + 1)


def _label_year(type: PeriodType, start: date) -> int:
    """The year written in the identifier of the period of ``type`` beginning on ``start``.

    A week's is the year holding its fourth day (ISO 8601's rule, which DHIS2 applies to weeks
    from any weekday); a November half-year's or financial year's is the year it ends in."""
    rule = _RULES[type]
    if rule.days > 1:
        return (start + timedelta(days=3)).year
    return _month_start(_month_index(start) + rule.lead).year


def _at(type: PeriodType, start: date, shown: str) -> Period:
    """The period of ``type`` beginning on ``start``; ``shown`` is the input named in errors."""
    _check_year(_label_year(type, start), shown)
    return Period(type, start, _end_of(type, start))


def _start_of(type: PeriodType, day: date) -> date:
    """The first day of the period of ``type`` containing ``day``."""
    rule = _RULES[type]
    if type == PeriodType.DAILY:
        return day
    if type == PeriodType.BIWEEKLY:  # bi-weeks begin in odd ISO weeks; week 53 is one alone
        monday = day - timedelta(days=day.weekday())
        return monday - timedelta(days=7 * (1 - monday.isocalendar().week % 2))
    if rule.days:
        return day - timedelta(days=(day.weekday() - rule.weekday) % 7)
    offset = rule.first_month - 1
    return _month_start((_month_index(day) - offset) // rule.months * rule.months + offset)


def _end_of(type: PeriodType, start: date) -> date:
    return _advance(type, start, 1) - _ONE_DAY


def _advance(type: PeriodType, start: date, n: int) -> date:
    """The start of the period ``n`` periods after the one beginning on ``start``."""
    rule = _RULES[type]
    if type == PeriodType.BIWEEKLY:
        return _advance_bi_weeks(start, n)
    if rule.days:
        return start + timedelta(days=rule.days * n)
    return _month_start(_month_index(start) + rule.months * n)


def _advance_bi_weeks(start: date, n: int) -> date:
    """Bi-weeks are counted within their ISO year (26, or 27 when week 53 stands alone)."""
    year = start.isocalendar().year
    starts = _starts_in(PeriodType.BIWEEKLY, year)
    index = starts.index(start) + n
    while not 0 <= index < len(starts):
        if not FIRST_YEAR - 1 <= year <= LAST_YEAR + 1:
            raise ValueError("bi-week outside the supported years")
        year += 1 if index > 0 else -1
        index += -len(starts) if index > 0 else len(_starts_in(PeriodType.BIWEEKLY, year))
        starts = _starts_in(PeriodType.BIWEEKLY, year)
    return starts[index]


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def _starts_in(type: PeriodType, year: int) -> list[date]:
    """The first days of the periods of ``type`` whose identifier carries ``year`` (not Daily)."""
    rule = _RULES[type]
    if rule.days:  # week 1 is the one holding 4 January
        first, following = _start_of(type, date(year, 1, 4)), _start_of(type, date(year + 1, 1, 4))
        return [first + timedelta(days=d) for d in range(0, (following - first).days, rule.days)]
    base = year * 12 - rule.lead + (rule.first_month - 1 + rule.lead) % rule.months
    return [_month_start(base + i * rule.months) for i in range(12 // rule.months)]


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
    message = M_("{year} has no {noun} {n}", year=year, noun=noun, n=n)
    raise _invalid(text, message, f"{noun}s {first} to {last}")


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
