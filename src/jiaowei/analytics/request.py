"""An analytics request as DHIS2 writes it, read into plain values (pure: no database).

``GET /api/analytics`` takes DHIS2's query parameters, so DHIS2 clients can ask unchanged:

- ``dimension=dx:A;B`` (repeated, or several joined by commas: ``dimension=dx:A,pe:2020``) and
  ``filter=`` in the same form. ``dx`` (data), ``pe`` (periods) and ``ou`` (units) need items; a
  category or unit group set named by its code (``dimension=SEX:M;F``) may leave them out (all).
- ``aggregationType=SUM|AVERAGE|…``, ``skipRounding=``, ``includeNumDen=``,
  ``outputIdScheme=CODE|UID|NAME`` (codes by default, as everywhere in jiaowei),
  ``columns=``/``rows=`` (the table layout), ``displayProperty=NAME|SHORTNAME``,
  ``relativePeriodDate=YYYY-MM-DD`` (the day relative periods count from; default today).

Periods are fixed period ids (``2020``, ``202011``, ``2020SY`` …) or relative periods
(:data:`RELATIVE`), resolved by :func:`resolve_period` against an injected day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators.model import AggregationType, choices

DATA, PERIOD, UNIT = "dx", "pe", "ou"
FIXED_DIMENSIONS = (DATA, PERIOD, UNIT)
MAX_ITEMS = 1000  # items in one dimension
MAX_DIMENSIONS = 12


class IdScheme(StrEnum):
    """How items are named in the answer: by code (jiaowei's default), uid or name."""

    CODE = "CODE"
    UID = "UID"
    NAME = "NAME"


class QueryError(ValidationError):
    """An analytics query that cannot be answered (DHIS2 answers these with 409 Conflict)."""

    code = "analytics-query"
    title = "Invalid analytics query"
    status = 409


@dataclass(frozen=True)
class Dimension:
    """One ``dimension=`` or ``filter=`` entry: its name and its items as written (empty: all)."""

    name: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnalyticsRequest:
    """What an analytics request asks for, checked for form but not yet against the database."""

    dimensions: tuple[Dimension, ...]
    filters: tuple[Dimension, ...] = ()
    aggregation_type: AggregationType | None = None
    skip_rounding: bool = False
    include_num_den: bool = False
    output_id_scheme: IdScheme = IdScheme.CODE
    columns: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()
    display_property: str = "NAME"
    language: str | None = None
    relative_period_date: dt.date | None = None
    skip_meta: bool = False
    skip_data: bool = False

    def get(self, name: str) -> Dimension | None:
        """The dimension or filter called ``name``, or None."""
        return next((d for d in (*self.dimensions, *self.filters) if d.name == name), None)

    def is_filter(self, name: str) -> bool:
        return any(d.name == name for d in self.filters)

    def day(self, today: dt.date) -> dt.date:
        """The day relative periods count from."""
        return self.relative_period_date or today


# ---------------------------------------------------------------- relative periods


@dataclass(frozen=True)
class Relative:
    """A relative period: ``count`` periods of ``type`` from ``first`` periods after today's."""

    type: pe.PeriodType
    first: int
    count: int
    name: str  # English; translated where shown


_T = pe.PeriodType
RELATIVE: dict[str, Relative] = {
    "TODAY": Relative(_T.DAILY, 0, 1, "Today"),
    "YESTERDAY": Relative(_T.DAILY, -1, 1, "Yesterday"),
    "LAST_7_DAYS": Relative(_T.DAILY, -7, 7, "Last 7 days"),
    "LAST_14_DAYS": Relative(_T.DAILY, -14, 14, "Last 14 days"),
    "LAST_30_DAYS": Relative(_T.DAILY, -30, 30, "Last 30 days"),
    "THIS_WEEK": Relative(_T.WEEKLY, 0, 1, "This week"),
    "LAST_WEEK": Relative(_T.WEEKLY, -1, 1, "Last week"),
    "LAST_4_WEEKS": Relative(_T.WEEKLY, -4, 4, "Last 4 weeks"),
    "LAST_12_WEEKS": Relative(_T.WEEKLY, -12, 12, "Last 12 weeks"),
    "THIS_MONTH": Relative(_T.MONTHLY, 0, 1, "This month"),
    "LAST_MONTH": Relative(_T.MONTHLY, -1, 1, "Last month"),
    "LAST_3_MONTHS": Relative(_T.MONTHLY, -3, 3, "Last 3 months"),
    "LAST_6_MONTHS": Relative(_T.MONTHLY, -6, 6, "Last 6 months"),
    "LAST_12_MONTHS": Relative(_T.MONTHLY, -12, 12, "Last 12 months"),
    "THIS_QUARTER": Relative(_T.QUARTERLY, 0, 1, "This quarter"),
    "LAST_QUARTER": Relative(_T.QUARTERLY, -1, 1, "Last quarter"),
    "LAST_4_QUARTERS": Relative(_T.QUARTERLY, -4, 4, "Last 4 quarters"),
    "THIS_SIX_MONTH": Relative(_T.SIXMONTHLY, 0, 1, "This six-month"),
    "LAST_SIX_MONTH": Relative(_T.SIXMONTHLY, -1, 1, "Last six-month"),
    "THIS_YEAR": Relative(_T.YEARLY, 0, 1, "This year"),
    "LAST_YEAR": Relative(_T.YEARLY, -1, 1, "Last year"),
    "LAST_5_YEARS": Relative(_T.YEARLY, -5, 5, "Last 5 years"),
    "LAST_10_YEARS": Relative(_T.YEARLY, -10, 10, "Last 10 years"),
    "THIS_SCHOOL_YEAR": Relative(_T.SCHOOL_YEAR, 0, 1, "This school year"),
    "LAST_SCHOOL_YEAR": Relative(_T.SCHOOL_YEAR, -1, 1, "Last school year"),
    "LAST_5_SCHOOL_YEARS": Relative(_T.SCHOOL_YEAR, -5, 5, "Last 5 school years"),
}
PERIOD_EXPECTED = (
    "a period id (2020, 2020Q3, 202011, 2020SY, 20200315 …) or a relative period: " + ", ".join(RELATIVE)
)


def resolve_period(item: str, today: dt.date) -> tuple[pe.Period, ...]:
    """The periods a ``pe`` item names: one for a fixed period, oldest first for a relative one.

    Relative periods follow DHIS2: ``THIS_`` is the period containing ``today``; ``LAST_n_`` are the
    n periods before it (today's not included).
    """
    relative = RELATIVE.get(item)
    if relative is None:
        try:
            return (pe.parse(item),)
        except ValidationError:
            raise _bad("not a period", PERIOD, item, PERIOD_EXPECTED) from None
    current = pe.containing(relative.type, today)
    return tuple(pe.shift(current, relative.first + i) for i in range(relative.count))


# ---------------------------------------------------------------- parsing


def parse(params: Any) -> AnalyticsRequest:
    """The request that query parameters describe; :class:`QueryError` naming the parameter if malformed.

    ``params`` is a multidict with ``multi_items()`` (Starlette's ``QueryParams``), a mapping of
    names to a value or a list of values, or an iterable of ``(name, value)`` pairs.
    """
    pairs = _pairs(params)
    dimensions = _dimensions(pairs, "dimension")
    filters = _dimensions(pairs, "filter")
    _check_dimensions(dimensions, filters)
    single = _single(pairs)
    return AnalyticsRequest(
        dimensions=dimensions,
        filters=filters,
        aggregation_type=_aggregation(single.get("aggregationType")),
        skip_rounding=_boolean(single, "skipRounding"),
        include_num_den=_boolean(single, "includeNumDen"),
        output_id_scheme=_id_scheme(single.get("outputIdScheme")),
        columns=_layout(single.get("columns"), "columns", dimensions),
        rows=_layout(single.get("rows"), "rows", dimensions),
        display_property=_display_property(single.get("displayProperty")),
        language=_language(single.get("locale") or single.get("language") or single.get("lang")),
        relative_period_date=_date(single.get("relativePeriodDate")),
        skip_meta=_boolean(single, "skipMeta"),
        skip_data=_boolean(single, "skipData"),
    )


def _pairs(params: Any) -> list[tuple[str, str]]:
    if hasattr(params, "multi_items"):
        return [(str(k), str(v)) for k, v in params.multi_items()]
    if isinstance(params, Mapping):
        out: list[tuple[str, str]] = []
        for key, value in params.items():
            values = value if isinstance(value, list | tuple) else [value]
            out += [(str(key), str(v)) for v in values if v is not None]
        return out
    return [(str(k), str(v)) for k, v in params]


def _single(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The last value of each parameter other than ``dimension`` and ``filter``."""
    return {k: v.strip() for k, v in pairs if k not in ("dimension", "filter")}


def _dimensions(pairs: list[tuple[str, str]], parameter: str) -> tuple[Dimension, ...]:
    found: list[Dimension] = []
    for key, value in pairs:
        if key != parameter:
            continue
        for part in value.split(","):
            if part.strip():
                found.append(_dimension(part.strip(), parameter))
    return tuple(found)


def _dimension(text: str, parameter: str) -> Dimension:
    name, colon, rest = text.partition(":")
    name = name.strip()
    items = tuple(dict.fromkeys(i.strip() for i in rest.split(";") if i.strip())) if colon else ()
    if not name:
        raise _bad(N_("a dimension has no name"), parameter, text,
                   N_("name:item;item, e.g. dx:PUPILS;TEACHERS"))
    if name in FIXED_DIMENSIONS and not items:
        raise _bad(M_("the dimension {name} needs items", name=name), parameter, text, f"{name}:item;item")
    if len(items) > MAX_ITEMS:
        raise _bad(N_("too many items"), parameter, name, M_("at most {most} items in one dimension",
                                                             most=MAX_ITEMS))
    return Dimension(name, items)


def _check_dimensions(dimensions: tuple[Dimension, ...], filters: tuple[Dimension, ...]) -> None:
    names = [d.name for d in (*dimensions, *filters)]
    for name in names:
        if names.count(name) > 1:
            expected = "each dimension once, as a dimension or a filter"
            raise _bad(N_("a dimension is given twice"), "dimension", name, expected)
    if DATA not in names:
        raise _bad(N_("no data dimension"), "dimension", None,
                   N_("dimension=dx:… or filter=dx:… naming the data"))
    if not dimensions:
        raise _bad(N_("no dimension"), "dimension", None,
                   N_("at least one dimension=, e.g. dimension=pe:2020"))
    if len(names) > MAX_DIMENSIONS:
        raise _bad(N_("too many dimensions"), "dimension", len(names), M_("at most {most}",
                                                                          most=MAX_DIMENSIONS))


def _boolean(single: Mapping[str, str], name: str) -> bool:
    text = single.get(name, "").lower()
    if text in ("", "false"):
        return False
    if text == "true":
        return True
    raise _bad("not true or false", name, single[name], "true or false")


def _aggregation(text: str | None) -> AggregationType | None:
    if not text or text == "DEFAULT":
        return None
    try:
        return AggregationType(text.upper())
    except ValueError:
        raise _bad(N_("not an aggregation type"), "aggregationType", text, choices(AggregationType)) from None


def _id_scheme(text: str | None) -> IdScheme:
    if not text:
        return IdScheme.CODE
    try:
        return IdScheme(text.upper())
    except ValueError:
        raise _bad(N_("not an id scheme"), "outputIdScheme", text, "CODE, UID or NAME") from None


def _layout(text: str | None, parameter: str, dimensions: tuple[Dimension, ...]) -> tuple[str, ...]:
    """Dimension names for the table's columns or rows; each must be a dimension of the request."""
    if not text:
        return ()
    names = tuple(dict.fromkeys(p.strip() for p in text.replace(",", ";").split(";") if p.strip()))
    known = [d.name for d in dimensions]
    for name in names:
        if name not in known:
            raise _bad(N_("not a dimension of the request"), parameter, name, "one of " + ", ".join(known))
    return names


def _display_property(text: str | None) -> str:
    if not text:
        return "NAME"
    if text.upper() not in ("NAME", "SHORTNAME"):
        raise _bad(N_("not a display property"), "displayProperty", text, "NAME or SHORTNAME")
    return text.upper()


def _language(text: str | None) -> str | None:
    if not text:
        return None
    lowered = text.lower().replace("-", "_")
    if lowered.startswith("zh"):
        return "zh_CN"
    if lowered.startswith("en"):
        return "en"
    raise _bad(N_("not a language"), "locale", text, "zh or en")


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _bad("not a date", "relativePeriodDate", text, "YYYY-MM-DD, e.g. 2020-09-01") from None


def _bad(message: str, parameter: str, value: Any, expected: str) -> QueryError:
    shown = f" {value!r}" if value is not None else ""
    return QueryError(
        M_("{parameter}{shown}: {message}.", parameter=parameter, shown=shown, message=message),
        [Problem(message, field=parameter, value=value, expected=expected)]
    )


__all__ = [
    "DATA",
    "PERIOD",
    "RELATIVE",
    "UNIT",
    "AnalyticsRequest",
    "Dimension",
    "IdScheme",
    "QueryError",
    "Relative",
    "parse",
    "resolve_period",
]
