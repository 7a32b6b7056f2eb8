"""The applicants' CSV: its rows with their numbers (the header is row 1) and every problem found.

Problems name the row, the column and, except for names and ID numbers, the value. Nothing here
touches the database: the web routes read a file before the request's transaction begins.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

from jiaowei.admissions.applications.tiers import WHOLE, parse_priorities
from jiaowei.admissions.drawing import DEFAULT_TIER
from jiaowei.admissions.model import ApplicantSpec
from jiaowei.domains import N_
from jiaowei.errors import M_, Problem

APPLICANT_COLUMNS = ("number", "name", "id_number", "birth_date", "district", "residence_tier", "catchment",
                     "group_id", "choices", "priorities")
REQUIRED_COLUMNS = ("name", "id_number", "birth_date", "district")
MAX_IMPORT_ROWS = 100_000

ApplicantsRead = tuple[list[int], list[ApplicantSpec], list[Problem]]


def cells(table: list[list[str]], header: list[str],
          problems: list[Problem]) -> Iterator[tuple[int, dict[str, str]]]:
    """Each non-blank row below the header as (row number, header → stripped value); a row with
    another number of columns than the header is a problem (appended) and is skipped."""
    for n, values in enumerate(table[1:], start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            problems.append(Problem(N_("wrong number of columns"), row=n, value=len(values),
                                    expected=M_("{count} columns, as in the header", count=len(header))))
            continue
        yield n, {h: v.strip() for h, v in zip(header, values, strict=True)}


def copied(parsed: ApplicantsRead) -> ApplicantsRead:
    numbers, people, problems = parsed
    return list(numbers), list(people), list(problems)  # the caller's lists stay as they were


def read_applicants(data: bytes) -> ApplicantsRead:
    """The rows of an applicants CSV (header = row 1) with their row numbers, and every problem found."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [], [Problem(N_("not UTF-8"), row=data[: exc.start].count(b"\n") + 1,
                                expected=N_("CSV saved as UTF-8 (Excel: “CSV UTF-8”)"))]
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return [], [], [Problem(M_("malformed CSV: {error}", error=str(exc)),
                                expected=N_("comma-separated values"))]
    if not table or not any(v.strip() for v in table[0]):
        return [], [], [Problem(N_("no header row"), row=1, expected=",".join(APPLICANT_COLUMNS))]
    header = [v.strip().lower() for v in table[0]]
    problems = _header_problems(header, len(table) - 1)
    if problems:
        return [], [], problems
    rows, people = [], []
    for n, cell in cells(table, header, problems):
        person = _applicant_from(n, cell, problems)
        if person is not None:
            rows.append(n)
            people.append(person)
    if not rows and not problems:
        problems.append(Problem(N_("no applicants in the file"), row=2, expected=N_("one applicant per row")))
    return rows, people, problems


def _header_problems(header: list[str], rows: int) -> list[Problem]:
    problems = [Problem(N_("unknown column"), row=1, field=h, value=h, expected=", ".join(APPLICANT_COLUMNS))
                for h in header if h not in APPLICANT_COLUMNS]
    problems += [Problem(N_("column missing"), row=1, field=c, expected=M_("a column named {name}", name=c))
                 for c in REQUIRED_COLUMNS if c not in header]
    problems += [Problem(N_("column twice"), row=1, field=h, value=h, expected=N_("each column once"))
                 for h in sorted({h for h in header if header.count(h) > 1})]
    if rows > MAX_IMPORT_ROWS:
        problems.append(Problem(N_("too many rows"), value=rows,
                                expected=M_("at most {count}", count=MAX_IMPORT_ROWS)))
    return problems


def _applicant_from(n: int, cell: dict[str, str], problems: list[Problem]) -> ApplicantSpec | None:
    before = len(problems)
    try:
        birth = dt.date.fromisoformat(cell.get("birth_date", ""))
    except ValueError:
        birth = dt.date(2000, 1, 1)
        problems.append(Problem(N_("not a date"), row=n, field="birth_date", value=cell.get("birth_date", ""),
                                expected="YYYY-MM-DD"))
    tier = cell.get("residence_tier", "") or "1"
    if not WHOLE.fullmatch(tier):
        problems.append(Problem(N_("not a whole number"), row=n, field="residence_tier", value=tier,
                                expected=M_("{low} to {high}", low=0, high=DEFAULT_TIER)))
        tier = "1"
    chosen = tuple(s.strip() for s in cell.get("choices", "").split(";") if s.strip())
    tiers = parse_priorities(cell.get("priorities", ""), row=n, problems=problems)
    if len(problems) > before:
        return None
    return ApplicantSpec(name=cell["name"], id_number=cell["id_number"], birth_date=birth,
                         district=cell["district"], residence_tier=int(tier),
                         catchment=cell.get("catchment", ""), group_id=cell.get("group_id", ""),
                         choices=chosen, number=cell.get("number", ""), priorities=tiers)
