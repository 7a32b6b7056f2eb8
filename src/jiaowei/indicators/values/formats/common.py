"""What the file formats share: problems collected while reading, text decoding, value text.

A reader collects the problems of a file with :func:`add_problem` and raises them together
with :func:`raise_any`; at :data:`MAX_PROBLEMS` it stops reading. Used by the DHIS2 JSON and CSV
readers (:mod:`~jiaowei.indicators.values.formats`), ADX
(:mod:`~jiaowei.indicators.values.formats.adx`) and the XLSX
template (:mod:`~jiaowei.indicators.values.formats.xlsx`); this module imports none of them.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.text import text_problem

MAX_PROBLEMS = 1000


def add_problem(problems: list[Problem], problem: Problem, what: str) -> None:
    """Collect ``problem``; at :data:`MAX_PROBLEMS` stop reading and raise them all."""
    problems.append(problem)
    if len(problems) >= MAX_PROBLEMS:
        _fail(problems, what)


def raise_any(problems: list[Problem], what: str) -> None:
    if problems:
        _fail(problems, what)


def _fail(problems: list[Problem], what: str) -> NoReturn:
    count = f"at least {MAX_PROBLEMS}" if len(problems) >= MAX_PROBLEMS else str(len(problems))
    detail = f"The {what} file has {count} problem(s); nothing was read."
    raise ValidationError(detail, problems[:MAX_PROBLEMS])


def unreadable(what: str, message: str, expected: str) -> ValidationError:
    return ValidationError(M_("The file is not readable as {what}.",
                              what=what), [Problem(message, expected=expected)])


def decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise unreadable(what, f"not UTF-8 text (line {line})", N_("a file saved as UTF-8")) from None


def json_value(raw: Any) -> str | None:
    """The text of a JSON value: text as is, ``12`` and ``12.0`` as ``"12"``, booleans true/false."""
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float) and math.isfinite(raw):
        return str(int(raw)) if raw.is_integer() else repr(raw)
    raise ValueError("not a value" if not isinstance(raw, float) else "not a finite number")


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def lone_surrogate(raw: Any, *, field: str, row: int | None) -> Problem | None:
    """The problem of text holding a lone surrogate (only JSON's ``\\ud800`` escapes make one):
    no database, log or answer can encode it. Other text passes here."""
    if isinstance(raw, str) and _SURROGATE.search(raw):
        return text_problem(raw, field=field, multiline=True, row=row)
    return None


@dataclass(frozen=True)
class Completion:
    """A form a file says is complete (DHIS2 JSON/XML ``completeDate``, ADX ``dataSetComplete``).

    ``date`` is the day as written (ISO), or None when the file says only that it is complete.
    ``row`` is where the file says it, for the conflict that names it.
    """

    data_set: str
    period: str
    org_unit: str
    attribute_option_combo: str | None = None
    date: str | None = None
    row: int = 0


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cycle collector while a reader or the checks make a few acyclic objects per row (over
    a million rows it nearly doubles the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
