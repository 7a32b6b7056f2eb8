"""Text that people give, checked in one place, and text written to spreadsheets kept inert.

:func:`text_problems` refuses control characters wherever text enters (unit names, metadata
names, data value comments and text values, campaign titles): C0 controls, DEL, C1 controls
and lone surrogates. Tab and line breaks pass only in text that may hold several lines
(comments, long text values). Such characters break the XLSX exports (Excel's XML cannot hold
them) and hide what a name really says.

:func:`csv_cell` and :func:`csv_uncell` keep a CSV cell from being read as a formula by a
spreadsheet (OWASP's advice: a leading ``'`` before ``=``, ``+``, ``-``, ``@``, tab or CR),
reversibly, so that importing an exported file gives back the same text. :func:`xlsx_cell` and
:func:`xlsx_row` write text cells of openpyxl sheets, never formulas. Pure: no database, no web framework.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from jiaowei.errors import M_, Problem

_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_REFUSED_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
ONE_LINE = "text without control characters, tabs or line breaks"
SEVERAL_LINES = "text without control characters (tabs and line breaks are allowed)"
_SHOWN = 200


def control_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character of ``text`` that text may not hold, or None."""
    found = (_REFUSED if multiline else _REFUSED_ONE_LINE).search(text)
    return found.group() if found else None


def escaped(text: str) -> str:
    """``text`` with every control character and surrogate written as an escape (``\\x00``,
    ``\\ud800``), shortened to 200 characters: safe to show and to send as JSON."""
    shown = _REFUSED_ONE_LINE.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace")
                                  .decode("ascii"), text[:_SHOWN])
    return shown + ("…" if len(text) > _SHOWN else "")


def text_problem(value: Any, *, field: str, multiline: bool = False,
                 row: int | None = None) -> Problem | None:
    """The problem with ``value`` if it is text holding a character that text may not hold."""
    if not isinstance(value, str):
        return None
    bad = control_character(value, multiline=multiline)
    if bad is None:
        return None
    return Problem(M_("the text holds the control character U+{point:04X}",
                      point=ord(bad)), row=row, field=field,
                   value=escaped(value), expected=SEVERAL_LINES if multiline else ONE_LINE)


def text_problems(values: Mapping[str, Any], names: Iterable[str], *, multiline: Iterable[str] = (),
                  row: int | None = None) -> list[Problem]:
    """The problems of the text fields ``names`` of ``values``; those in ``multiline`` may hold
    tabs and line breaks. Fields absent from ``values`` are skipped."""
    several = set(multiline)
    found = (text_problem(values[name], field=name, multiline=name in several, row=row)
             for name in names if name in values)
    return [problem for problem in found if problem is not None]


# ---------------------------------------------------------------- spreadsheets

_FORMULA_START = frozenset("=+-@\t\r")


def _risky(text: str) -> bool:
    return text.lstrip("'")[:1] in _FORMULA_START


def csv_cell(value: Any) -> Any:
    """A text cell for a CSV export: a leading ``'`` when a spreadsheet would read a formula.

    Text already starting with ``'`` before such a character gets one more, so that
    :func:`csv_uncell` gives back exactly the text. Anything but text passes unchanged.
    """
    if isinstance(value, str) and value and _risky(value):
        return "'" + value
    return value


def csv_uncell(text: str) -> str:
    """The text of a CSV cell that :func:`csv_cell` wrote (text it did not change stays as it is)."""
    if text.startswith("'") and _risky(text):
        return text[1:]
    return text


def xlsx_cell(sheet: Any, row: int, column: int, value: Any) -> Any:
    """Put ``value`` into a cell of an openpyxl sheet; text stays text, never a formula.

    Characters XML cannot hold (left from before they were refused) become U+FFFD, so that one
    old value cannot break a whole workbook. Returns the cell.
    """
    cell = sheet.cell(row, column, _xml_safe(value))
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def xlsx_row(sheet: Any, values: Iterable[Any]) -> list[Any]:
    """The cells of one row for ``sheet.append`` on a write-only sheet; text as text (:func:`xlsx_cell`)."""
    from openpyxl.cell import WriteOnlyCell  # imported here: slow to import, and only XLSX files need it

    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=_xml_safe(value))
        if isinstance(value, str):
            cell.data_type = "s"
        cells.append(cell)
    return cells


def _xml_safe(value: Any) -> Any:
    return _XML_ILLEGAL.sub("\ufffd", value) if isinstance(value, str) else value


_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


# ---------------------------------------------------------------- pinyin initials (the unit picker's search)


@lru_cache(maxsize=65536)
def pinyin_initials(name: str) -> tuple[frozenset[str], ...]:
    """For each character of a name that can be typed, the letters it may be typed as: the first
    letters of every reading of a Chinese character (长 → c or z), a letter or digit itself (lower
    case); other characters are dropped. ``黄浦区`` → ``({h}, {p}, {q, o})``."""
    from pypinyin import Style, pinyin  # function-level: its dictionaries load in ~0.2 s, not for --help

    letters: list[frozenset[str]] = []
    for readings in pinyin(name, style=Style.FIRST_LETTER, heteronym=True, errors="default"):
        if all(len(r) == 1 for r in readings):  # one character, with its readings
            found = frozenset(r.casefold() for r in readings if r.isascii() and r.isalnum())
            letters += [found] if found else []
        else:  # a run of characters without pinyin, as written
            letters += [frozenset(ch.casefold()) for ch in readings[0] if ch.isascii() and ch.isalnum()]
    return tuple(letters)


MAX_SPELLINGS = 64  # a name with more ways to be typed is matched position by position instead


@lru_cache(maxsize=65536)
def spellings(name: str) -> tuple[str, ...] | None:
    """Every string of initials a name can be typed as (长宁区: cnq, znq, cnqo…); None when too many."""
    spelt = [""]
    for letters in pinyin_initials(name):
        spelt = [s + ch for s in spelt for ch in sorted(letters)]
        if len(spelt) > MAX_SPELLINGS:
            return None
    return tuple(spelt)


def initials_at(name: str, needle: str) -> tuple[bool, bool]:
    """Whether ``needle`` can be the initials the name begins with, and whether anywhere in it."""
    spelt = spellings(name)
    if spelt is not None:
        return any(s.startswith(needle) for s in spelt), any(needle in s for s in spelt)
    letters = pinyin_initials(name)
    starts = [i for i in range(len(letters) - len(needle) + 1)
              if all(ch in letters[i + j] for j, ch in enumerate(needle))]
    return starts[:1] == [0], bool(starts)
