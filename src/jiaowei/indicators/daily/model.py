"""What the daily health dashboard answers: frozen values, no database, no web.

The JSON route turns them into the same keys with ``dataclasses.asdict``; the page reads their
attributes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Named:
    """A data set, unit or element: its code and its names."""

    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Missing:
    """A unit expected to report that day whose report has not arrived; ``entry`` opens its form."""

    unit: str
    name_zh: str
    name_en: str
    parent: str | None
    parent_name_zh: str | None
    parent_name_en: str | None
    entry: str


@dataclass(frozen=True)
class Value:
    """A value of the form that broke a rule: its element and its number (None: missing)."""

    element: str
    name_zh: str
    name_en: str
    value: float | None


@dataclass(frozen=True)
class Alert:
    """A validation rule broken at a unit that day: which unit, which rule, which values."""

    unit: str
    name_zh: str
    name_en: str
    rule: str
    rule_name_zh: str
    rule_name_en: str
    importance: str
    values: list[Value]
    message_zh: str
    message_en: str
    entry: str


@dataclass(frozen=True)
class Total:
    """An element summed over the reports received that day (None: no value at all)."""

    element: str
    name_zh: str
    name_en: str
    value: float | None


@dataclass(frozen=True)
class DayRate:
    """The reporting rate of one day: reports expected, received, received on time."""

    day: str
    period: str
    expected: int
    received: int
    on_time: int
    received_percent: float | None
    on_time_percent: float | None


@dataclass(frozen=True)
class DailyHealth:
    """The dashboard of a daily data set on a day below a unit.

    ``today`` is the day's rate; ``trend`` the rate on each reporting day of the 30 days up to
    the day (a day counts when any unit reported the data set then); ``not_reported`` the
    units expected that day whose report has not arrived; ``alerts`` the rules broken that day.
    """

    data_set: Named
    unit: Named
    day: str
    period: str
    due: str
    today: DayRate
    not_reported: list[Missing]
    alerts: list[Alert]
    totals: list[Total]
    trend: list[DayRate]
