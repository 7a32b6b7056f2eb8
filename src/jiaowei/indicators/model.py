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
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from jiaowei.errors import M_, Problem

DEFAULT = "default"
"""Code of the default category, option, combo and option combo (no disaggregation)."""

CODE = re.compile(r"^[A-Za-z0-9_\-]{1,50}$")
CODE_EXPECTED = "1 to 50 letters, digits, '_' or '-' (no dots or spaces)"
UID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
MAX_COMBINATIONS = 10_000
"""A category combo may not have more option combos than this."""


def new_uid() -> str:
    """A DHIS2-style identifier: a letter then ten letters or digits."""
    return secrets.choice(UID_ALPHABET[:52]) + "".join(secrets.choice(UID_ALPHABET) for _ in range(10))


class ValueType(StrEnum):
    INTEGER = "INTEGER"
    NUMBER = "NUMBER"
    PERCENTAGE = "PERCENTAGE"
    BOOLEAN = "BOOLEAN"
    TEXT = "TEXT"


NUMERIC_TYPES = frozenset({ValueType.INTEGER, ValueType.NUMBER, ValueType.PERCENTAGE})


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
    if not isinstance(value, str) or not CODE.match(value):
        return Problem(M_("not a valid code"), row=row, field=field, value=value, expected=CODE_EXPECTED)
    return None


# ---------------------------------------------------------------- values

_BOOLEAN = {"true": "true", "1": "true", "yes": "true", "false": "false", "0": "false", "no": "false"}
_MAX_NUMBER = Decimal("1e15")


def normalise_value(value_type: ValueType, raw: str) -> str:
    """The stored text of ``raw`` for a value of ``value_type``; raises ValueError saying why.

    Integers lose leading zeros and a ``.0``; numbers keep their digits (no float rounding);
    percentages lie between 0 and 100; booleans are ``true``/``false``.
    """
    text = raw.strip()
    if value_type is ValueType.TEXT:
        if len(text) > 50_000:
            raise ValueError(M_("text longer than 50,000 characters"))
        return text
    if value_type is ValueType.BOOLEAN:
        try:
            return _BOOLEAN[text.lower()]
        except KeyError:
            raise ValueError(M_("not a boolean")) from None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(M_("not a number")) from None
    if not number.is_finite() or abs(number) >= _MAX_NUMBER:
        raise ValueError(M_("not a finite number below 10^15"))
    if value_type is ValueType.INTEGER:
        if number != number.to_integral_value():
            raise ValueError(M_("not a whole number"))
        return str(int(number))
    if value_type is ValueType.PERCENTAGE and not 0 <= number <= 100:
        raise ValueError(M_("a percentage must lie between 0 and 100"))
    return _plain(number)


def _plain(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


EXPECTED = {
    ValueType.INTEGER: M_("a whole number, e.g. 120"),
    ValueType.NUMBER: M_("a number, e.g. 12.5"),
    ValueType.PERCENTAGE: M_("a number from 0 to 100, e.g. 86.2"),
    ValueType.BOOLEAN: M_("true or false"),
    ValueType.TEXT: M_("text up to 50,000 characters"),
}


def numeric(value_type: str, text: str | None) -> float | None:
    """A stored value as a number for computation (booleans count 1/0; text is None)."""
    if text is None or text == "":
        return None
    if value_type == ValueType.BOOLEAN:
        return 1.0 if text == "true" else 0.0
    if value_type == ValueType.TEXT:
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


class ImportStrategy(StrEnum):
    CREATE_AND_UPDATE = "CREATE_AND_UPDATE"
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
