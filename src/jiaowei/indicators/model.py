"""Pure indicators model: value types, aggregation, data value rows and the import summary.

Nothing here touches a database. The names follow DHIS2's aggregate model so that its users
and tools recognise them: a *data element* is collected per *category option combo* (one cell
of its disaggregation), per unit and per period; an *attribute option combo* qualifies a whole
data set's values (jiaowei uses only ``default``).
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from jiaowei.errors import M_, Problem

DEFAULT = "default"
"""Code of the default category, option, combo and option combo (no disaggregation)."""

CODE = re.compile(r"^[A-Za-z0-9_\-]{1,50}$")
CODE_EXPECTED = "1 to 50 letters, digits, '_' or '-' (no dots or spaces)"
METADATA_CODE = re.compile(r"[^\x00-\x1f\x7f-\x9f\ud800-\udfff]{1,50}")
"""A metadata code, as DHIS2 accepts it: 1 to 50 characters, none a control character."""
UID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
MAX_COMBINATIONS = 10_000
"""A category combo may not have more option combos than this."""


def new_uid() -> str:
    """A DHIS2-style identifier: a letter then ten letters or digits."""
    return secrets.choice(UID_ALPHABET[:52]) + "".join(secrets.choice(UID_ALPHABET) for _ in range(10))


class ValueType(StrEnum):
    """DHIS2's value types for aggregate data elements (the names of its ValueType enum)."""

    INTEGER = "INTEGER"
    INTEGER_POSITIVE = "INTEGER_POSITIVE"
    INTEGER_ZERO_OR_POSITIVE = "INTEGER_ZERO_OR_POSITIVE"
    INTEGER_NEGATIVE = "INTEGER_NEGATIVE"
    NUMBER = "NUMBER"
    UNIT_INTERVAL = "UNIT_INTERVAL"
    PERCENTAGE = "PERCENTAGE"
    BOOLEAN = "BOOLEAN"
    TRUE_ONLY = "TRUE_ONLY"
    TEXT = "TEXT"
    LONG_TEXT = "LONG_TEXT"
    LETTER = "LETTER"
    DATE = "DATE"
    DATETIME = "DATETIME"
    TIME = "TIME"
    AGE = "AGE"
    PHONE_NUMBER = "PHONE_NUMBER"
    EMAIL = "EMAIL"
    URL = "URL"


INTEGER_TYPES = frozenset({ValueType.INTEGER, ValueType.INTEGER_POSITIVE, ValueType.INTEGER_ZERO_OR_POSITIVE,
                           ValueType.INTEGER_NEGATIVE})
NUMERIC_TYPES = INTEGER_TYPES | {ValueType.NUMBER, ValueType.UNIT_INTERVAL, ValueType.PERCENTAGE}
"""Types whose values are numbers: they aggregate, and ADX carries them in ``value``."""
BOOLEAN_TYPES = frozenset({ValueType.BOOLEAN, ValueType.TRUE_ONLY})
"""Types that count as 1/0 in computations."""


def carried_in_annotation(value_type: str) -> bool:
    """Whether ADX carries a value of this type in ``<annotation>`` (with ``value="0"``), as DHIS2 does.

    True for every type that is not a number: text, booleans, dates, times, e-mail addresses, ...
    """
    return value_type not in NUMERIC_TYPES


class AggregationType(StrEnum):
    SUM = "SUM"
    AVERAGE = "AVERAGE"
    AVERAGE_SUM_ORG_UNIT = "AVERAGE_SUM_ORG_UNIT"
    LAST = "LAST"
    LAST_AVERAGE_ORG_UNIT = "LAST_AVERAGE_ORG_UNIT"
    MIN = "MIN"
    MAX = "MAX"
    COUNT = "COUNT"
    NONE = "NONE"


class Importance(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class Display(StrEnum):
    """How an indicator's value is shown: its factor and its form."""

    PERCENT = "percent"  # factor 100, "86.0%"
    PER_MILLE = "per_mille"  # factor 1000, "3.2‰"
    RATIO = "ratio"  # numerator / denominator shown as "1:N", e.g. 辅导员师生比 1:159
    NUMBER = "number"  # factor 1


FACTORS = {Display.PERCENT: 100.0, Display.PER_MILLE: 1000.0, Display.RATIO: 1.0, Display.NUMBER: 1.0}


def choices(enum: type[StrEnum]) -> str:
    return ", ".join(member.value for member in enum)


def check_code(value: Any, *, field: str, row: int | None = None) -> Problem | None:
    if not isinstance(value, str) or not METADATA_CODE.fullmatch(value):
        return Problem(M_("not a valid code"), row=row, field=field, value=value,
                       expected=M_("1 to 50 characters, none of them a control character"))
    return None


# ---------------------------------------------------------------- values

_BOOLEAN = {"true": "true", "t": "true", "1": "true", "yes": "true", "y": "true",
            "false": "false", "f": "false", "0": "false", "no": "false", "n": "false"}
"""DHIS2's boolean variants (DefaultDataEntryService.normalizeValue), compared case-insensitively."""
_MAX_NUMBER = Decimal("1e15")
MAX_TEXT = 50_000
"""DHIS2's VALUE_MAX_LENGTH: no value, of any type, is longer."""

# DHIS2's patterns (ValidationUtils, DateUtils); e-mail and URL follow Apache Commons' validators.
_TIME = re.compile(r"^([0-9]|0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$")
_PHONE = re.compile(r"^[0-9+()#. /ext-]{6,50}$")  # DHIS2: \s; spaces only here (no line breaks)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
                    rf"({_LABEL}\.)+[A-Za-z]{{2,63}}$")
_URL = re.compile(rf"^(https?|ftp)://([^\s/?#@]+@)?(({_LABEL}\.)*[A-Za-z]{{2,63}}|{_LABEL}|"
                  r"\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?([/?#][^\s]*)?$")


def normalise_value(value_type: ValueType, raw: str) -> str:
    """The stored text of ``raw`` for a value of ``value_type``; raises ValueError saying why.

    Follows DHIS2's ValidationUtils.valueIsValid type by type. Integers lose leading zeros and a
    ``.0``; numbers keep their digits (no float rounding); booleans are ``true``/``false`` from
    DHIS2's variants (t/f, 1/0, yes/no, any case); TRUE_ONLY is ``true`` only.
    """
    text = raw.strip()
    if len(text) > MAX_TEXT:
        raise ValueError(M_("text longer than 50,000 characters"))
    check = _TEXT_CHECKS.get(value_type)
    if check is not None:
        return check(text)
    if value_type in BOOLEAN_TYPES:
        return _boolean(value_type, text)
    return _number(value_type, text)


def _text(text: str) -> str:
    return text


def _letter(text: str) -> str:
    if len(text) != 1 or not text.isalpha():
        raise ValueError(M_("not a single letter"))
    return text


def _date(text: str) -> str:
    try:
        if not _DATE.match(text):
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise ValueError(M_("not a date")) from None
    return text


def _datetime(text: str) -> str:
    try:
        if not _DATETIME.match(text):
            raise ValueError
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(M_("not a date and time")) from None
    return text


def _time(text: str) -> str:
    """DHIS2's HH:mm (the hour may have one digit); stored with two, as a time input shows it."""
    if not _TIME.match(text):
        raise ValueError(M_("not a time of day"))
    return text.zfill(5)


def _pattern(pattern: re.Pattern[str], refusal: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if not pattern.match(text):
            raise ValueError(refusal)
        return text

    return check


_TEXT_CHECKS: dict[ValueType, Callable[[str], str]] = {
    ValueType.TEXT: _text,
    ValueType.LONG_TEXT: _text,
    ValueType.LETTER: _letter,
    ValueType.DATE: _date,
    ValueType.AGE: _date,
    ValueType.DATETIME: _datetime,
    ValueType.TIME: _time,
    ValueType.PHONE_NUMBER: _pattern(_PHONE, M_("not a phone number")),
    ValueType.EMAIL: _pattern(_EMAIL, M_("not an e-mail address")),
    ValueType.URL: _pattern(_URL, M_("not a web address")),
}


def _boolean(value_type: ValueType, text: str) -> str:
    found = _BOOLEAN.get(text.lower())
    if value_type is ValueType.TRUE_ONLY:
        if found != "true":
            raise ValueError(M_("only true may be stored (leave the value empty otherwise)"))
        return found
    if found is None:
        raise ValueError(M_("not a boolean"))
    return found


def _number(value_type: ValueType, text: str) -> str:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(M_("not a number")) from None
    if not number.is_finite() or abs(number) >= _MAX_NUMBER:
        raise ValueError(M_("not a finite number below 10^15"))
    if value_type in INTEGER_TYPES:
        return _integer(value_type, number)
    if value_type is ValueType.PERCENTAGE and not 0 <= number <= 100:
        raise ValueError(M_("a percentage must lie between 0 and 100"))
    if value_type is ValueType.UNIT_INTERVAL and not 0 <= number <= 1:
        raise ValueError(M_("a unit interval value must lie between 0 and 1"))
    return _plain(number)


def _integer(value_type: ValueType, number: Decimal) -> str:
    if number != number.to_integral_value():
        raise ValueError(M_("not a whole number"))
    whole = int(number)
    if value_type is ValueType.INTEGER_POSITIVE and whole <= 0:
        raise ValueError(M_("not a whole number above zero"))
    if value_type is ValueType.INTEGER_ZERO_OR_POSITIVE and whole < 0:
        raise ValueError(M_("a negative number is not allowed"))
    if value_type is ValueType.INTEGER_NEGATIVE and whole >= 0:
        raise ValueError(M_("not a whole number below zero"))
    return str(whole)


def _plain(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


EXPECTED = {
    ValueType.INTEGER: M_("a whole number, e.g. 120"),
    ValueType.INTEGER_POSITIVE: M_("a whole number above zero, e.g. 120"),
    ValueType.INTEGER_ZERO_OR_POSITIVE: M_("zero or a whole number above it, e.g. 0 or 120"),
    ValueType.INTEGER_NEGATIVE: M_("a whole number below zero, e.g. -3"),
    ValueType.NUMBER: M_("a number, e.g. 12.5"),
    ValueType.UNIT_INTERVAL: M_("a number from 0 to 1, e.g. 0.25"),
    ValueType.PERCENTAGE: M_("a number from 0 to 100, e.g. 86.2"),
    ValueType.BOOLEAN: M_("true or false"),
    ValueType.TRUE_ONLY: M_("true, or no value"),
    ValueType.TEXT: M_("text up to 50,000 characters"),
    ValueType.LONG_TEXT: M_("text up to 50,000 characters"),
    ValueType.LETTER: M_("one letter, e.g. A"),
    ValueType.DATE: M_("a date YYYY-MM-DD, e.g. 2020-09-01"),
    ValueType.AGE: M_("a date of birth YYYY-MM-DD, e.g. 2016-03-15"),
    ValueType.DATETIME: M_("a date and time YYYY-MM-DDTHH:MM, e.g. 2020-09-01T08:30"),
    ValueType.TIME: M_("a time of day HH:MM, e.g. 08:30"),
    ValueType.PHONE_NUMBER: M_("6 to 50 digits, spaces and + ( ) # . / - e x t, e.g. +86 21 2312 3456"),
    ValueType.EMAIL: M_("an e-mail address, e.g. office@example.org"),
    ValueType.URL: M_("a web address starting http://, https:// or ftp://, e.g. https://example.org"),
}
"""What a value of each type looks like, for refusals."""

NAMES = {
    ValueType.INTEGER: M_("Integer"),
    ValueType.INTEGER_POSITIVE: M_("Positive integer"),
    ValueType.INTEGER_ZERO_OR_POSITIVE: M_("Zero or positive integer"),
    ValueType.INTEGER_NEGATIVE: M_("Negative integer"),
    ValueType.NUMBER: M_("Number"),
    ValueType.UNIT_INTERVAL: M_("Unit interval (0 to 1)"),
    ValueType.PERCENTAGE: M_("Percentage"),
    ValueType.BOOLEAN: M_("Yes/No"),
    ValueType.TRUE_ONLY: M_("Yes only"),
    ValueType.TEXT: M_("Text"),
    ValueType.LONG_TEXT: M_("Long text"),
    ValueType.LETTER: M_("Letter"),
    ValueType.DATE: M_("Date"),
    ValueType.AGE: M_("Age (date of birth)"),
    ValueType.DATETIME: M_("Date and time"),
    ValueType.TIME: M_("Time of day"),
    ValueType.PHONE_NUMBER: M_("Phone number"),
    ValueType.EMAIL: M_("E-mail address"),
    ValueType.URL: M_("Web address"),
}
"""Each value type's name for people (the metadata pages)."""


def numeric(value_type: str, text: str | None) -> float | None:
    """A stored value as a number for computation (booleans count 1/0; other non-numbers are None)."""
    if text is None or text == "":
        return None
    if value_type in BOOLEAN_TYPES:
        return 1.0 if text == "true" else 0.0
    if value_type not in NUMERIC_TYPES:
        return None
    number = float(text)
    return number if math.isfinite(number) else None


# ---------------------------------------------------------------- exchange rows


@dataclass(frozen=True, slots=True)
class ValueRow:
    """One data value as every exchange format carries it, identifiers as written in the file.

    ``row`` is the 1-based position in the file (CSV line after the header, JSON array index
    + 1, XLSX sheet row), used to name the place of each conflict. ``value`` None with
    ``deleted`` False means an empty cell; formats decide how an empty cell is read.
    """

    data_element: str
    period: str
    org_unit: str
    category_option_combo: str | None = None
    attribute_option_combo: str | None = None
    value: str | None = None
    stored_by: str | None = None
    comment: str | None = None
    followup: bool | None = None
    deleted: bool = False
    row: int = 0
    created: str | None = None  # ISO timestamps, as DHIS2 writes them on exported values
    last_updated: str | None = None


class ImportStrategy(StrEnum):
    CREATE_AND_UPDATE = "CREATE_AND_UPDATE"
    CREATE = "CREATE"  # only values not stored yet; stored ones are ignored (DHIS2)
    UPDATE = "UPDATE"  # only stored values; new ones are ignored (DHIS2)
    DELETE = "DELETE"


@dataclass
class ImportConflict:
    """One row that was not imported, and why (DHIS2's conflict with jiaowei's row/field/value)."""

    row: int
    field: str
    value: Any
    reason: str
    expected: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "object": str(self.value) if self.value is not None else "",
            "property": self.field,
            "value": self.reason,
            "indexes": [self.row - 1] if self.row else [],
            "row": self.row,
            "field": self.field,
            "reason": self.reason,
        }
        if self.expected:
            out["expected"] = self.expected
        return out

    def as_problem(self) -> Problem:
        return Problem(self.reason, row=self.row, field=self.field, value=self.value, expected=self.expected)


@dataclass
class ImportSummary:
    """DHIS2's import summary: counts and conflicts. ``dry_run`` summaries wrote nothing."""

    imported: int = 0
    updated: int = 0
    ignored: int = 0
    deleted: int = 0
    conflicts: list[ImportConflict] = field(default_factory=list)
    dry_run: bool = False
    valid_only: bool = False

    @property
    def status(self) -> str:
        if not self.conflicts:
            return "SUCCESS"
        return "WARNING" if self.valid_only else "ERROR"

    @property
    def written(self) -> bool:
        return not self.dry_run and (not self.conflicts or self.valid_only)

    def as_dict(self, max_conflicts: int = 1000) -> dict[str, Any]:
        description = {
            "SUCCESS": "Import process completed successfully",
            "WARNING": "Import process completed; rows with conflicts were ignored",
            "ERROR": "Nothing was imported: the file has conflicts "
            "(ask for the valid rows only to import the rest)",
        }[self.status]
        if self.dry_run:
            description = "Dry run: nothing was written. " + description
        return {
            "responseType": "ImportSummary",
            "status": self.status,
            "description": description,
            "dryRun": self.dry_run,
            "importCount": {
                "imported": self.imported,
                "updated": self.updated,
                "ignored": self.ignored,
                "deleted": self.deleted,
            },
            "conflicts": [c.as_dict() for c in self.conflicts[:max_conflicts]],
            "conflictCount": len(self.conflicts),
        }
