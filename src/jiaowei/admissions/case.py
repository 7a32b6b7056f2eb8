"""Case files of a lottery: the published digests, and reading and checking a case.

A CASE_DIR holds ``case.json``, ``schools.csv``, ``applicants.csv``, ``priorities.csv``
(optional) and ``seed.json``. Everything is checked before anything is drawn; every problem
names its file, row (the header is row 1), column and value. A large plain ``applicants.csv``
is read as columns by :mod:`jiaowei.admissions.csv_reader`; drawing, writing, verifying and
correcting the proof bundle is :mod:`jiaowei.admissions.proof`. The published algorithm, the
byte-level definitions and the correction design are in docs/lottery.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from jiaowei.admissions import csv_reader, engine
from jiaowei.admissions.model import CASE_ID, FORMAT, Applicant, Case, Mechanism, Multiples, School
from jiaowei.errors import M_, NotFound, Problem, ValidationError

POOL_FILES = ("case.json", "schools.csv", "applicants.csv", "priorities.csv")
INPUT_FILES = (*POOL_FILES, "seed.json")
OUTPUT_FILES = ("results.csv", "cutoffs.csv", "transcript.txt")
MANIFEST = "manifest.json"
ADDITION_FILES = ("applicants.csv", "priorities.csv", "seats.csv")
MAX_PROBLEMS = 200

_WHOLE = re.compile(r"-?[0-9]+")
_ID_RULE = "a non-empty id without spaces, commas, semicolons or quotes"
_CASE_KEYS = {"format", "title", "mechanism", "multiples", "default_tier", "correction"}


# ---------------------------------------------------------------- the published algorithm


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pool_digest_of(files: Mapping[str, bytes]) -> str:
    """SHA-256 over the four raw 32-byte SHA-256 digests of the pool files, in POOL_FILES order."""
    joined = b"".join(hashlib.sha256(files.get(name, b"")).digest() for name in POOL_FILES)
    return hashlib.sha256(joined).hexdigest()


def pool_digest(case_dir: Path | str) -> str:
    """The digest to publish before the seed exists (``priorities.csv`` absent = empty bytes)."""
    return pool_digest_of(read_files(Path(case_dir), POOL_FILES))


def derive_seed(pool_digest: str, sources: Sequence[str]) -> bytes:
    """SHA-256 of UTF-8 ``"jiaowei-lottery/1\\n" + pool_digest + "\\n" + "\\n".join(sources)``."""
    text = f"{FORMAT}\n{pool_digest}\n" + "\n".join(sources)
    return hashlib.sha256(text.encode("utf-8")).digest()


# ---------------------------------------------------------------- reading and checking a case


@dataclass(frozen=True)
class CaseFiles:
    """A checked case: the exact bytes of its files and what they say.

    ``case`` is built on first access when the applicants were read as columns (the fast path of
    a large case): ``draw_case`` uses the columns and never needs an object per applicant.
    """

    files: Mapping[str, bytes]  # name -> bytes, only the files present
    settings: Case  # the case with its applicants left out when ``columns`` holds them
    sources: tuple[str, ...]
    correction: Mapping[str, Any] | None  # the "correction" object of case.json, if any
    columns: engine.Columns | None = field(default=None, repr=False)  # the applicants as columns, or None
    # (seed, engine.lottery_digests(seed, columns.ids)) when computed while reading, else None
    lottery: tuple[bytes, bytes] | None = field(default=None, repr=False)

    @cached_property
    def case(self) -> Case:
        if self.columns is None:
            return self.settings
        c, names = self.columns, [s.school_id for s in self.settings.schools]
        groups = c.group_ids or [""] * len(c.ids)
        districts = [c.districts[k] for k in c.home.tolist()]
        applicants = tuple(
            Applicant(applicant_id=a, choices=tuple(names[k] for k in row if k >= 0), group_id=g, district=d)
            for a, row, g, d in zip(c.ids, c.choices.tolist(), groups, districts, strict=True))
        return Case(title=self.settings.title, mechanism=self.settings.mechanism,
                    multiples=self.settings.multiples, default_tier=self.settings.default_tier,
                    schools=self.settings.schools, applicants=applicants, priorities=self.settings.priorities)

    @property
    def applicant_ids(self) -> list[str]:
        """The applicant ids in file order, without building the applicants."""
        if self.columns is not None:
            return list(self.columns.ids)
        return [a.applicant_id for a in self.settings.applicants]

    @cached_property
    def digests(self) -> dict[str, str]:
        """SHA-256 (hex) of each file present, each file hashed once."""
        return {name: sha256_hex(data) for name, data in self.files.items()}

    @cached_property
    def pool_digest(self) -> str:
        digests = self.digests
        joined = b"".join(bytes.fromhex(digests[name]) if name in digests else hashlib.sha256(b"").digest()
                          for name in POOL_FILES)
        return hashlib.sha256(joined).hexdigest()

    @cached_property
    def seed(self) -> bytes:
        return derive_seed(self.pool_digest, self.sources)


class Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.more = 0

    def add(self, message: str, *, file: str, column: str | None = None, row: int | None = None,
            value: Any = None, expected: str | None = None) -> None:
        if len(self.items) >= MAX_PROBLEMS:
            self.more += 1
            return
        where = f"{file}:{column}" if column else file
        self.items.append(Problem(M_("{file}: {message}", file=file, message=message), row=row, field=where,
                                  value=value, expected=expected))

    def raise_if_any(self, detail: str) -> None:
        if not self.items:
            return
        problems = list(self.items)
        if self.more:
            problems.append(Problem(M_("... and {count} more problems", count=self.more)))
        total = len(self.items) + self.more
        raise ValidationError(M_("{detail}: {count} problem(s); nothing was drawn or written.", detail=detail,
                                 count=total), problems)


def read_case(case_dir: Path | str, *, need_seed: bool = True) -> CaseFiles:
    """Read and check every file of a case; raises ValidationError listing every problem."""
    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        raise NotFound(M_("No case directory {folder}.", folder=repr(str(case_dir))))
    files = read_files(case_dir, INPUT_FILES)
    return parse_case(files, need_seed=need_seed, label=str(case_dir))


def parse_case(files: Mapping[str, bytes], *, need_seed: bool = True, label: str = "the case") -> CaseFiles:
    problems = Problems()
    settings = _parse_case_json(files.get("case.json"), problems)
    schools = _parse_schools(files.get("schools.csv"), "schools.csv", problems)
    school_ids = {s.school_id for s in schools}
    columns = None
    digests = {name: sha256_hex(data) for name, data in files.items() if name in INPUT_FILES}
    found: dict[str, Any] = {}
    if not problems.items:  # the fast path; on any doubt the exact checks below say what is wrong
        seed = _seed_if_valid(files, digests) if need_seed else None

        def with_ids(ids: list[str]) -> None:  # Python work, in a thread beside the numpy parsing
            if seed is not None:
                found["lottery"] = (seed, engine.lottery_digests(seed, ids))
            else:
                found["ids"] = set(ids)

        columns = csv_reader.fast_applicants(files.get("applicants.csv"), schools, with_ids=with_ids)
    applicants: list[Applicant] = []
    if columns is not None:
        if "ids" not in found and _distinct_values(found["lottery"][1]):  # so the ids are distinct
            applicant_ids: set[str] = _named_ids(files.get("priorities.csv"), columns.ids)
        else:
            applicant_ids = found.get("ids") or set(columns.ids)
            if len(applicant_ids) != len(columns.ids):
                columns = None
    if columns is None:
        applicants = parse_applicants(files.get("applicants.csv"), "applicants.csv", school_ids, problems)
        applicant_ids = {a.applicant_id for a in applicants}
    priorities = parse_priorities(files.get("priorities.csv"), "priorities.csv", school_ids,
                                   applicant_ids, problems)
    sources = _parse_seed(files.get("seed.json"), problems) if need_seed else []
    problems.raise_if_any(M_("The case in {label} is not valid", label=label))
    case = Case(title=settings["title"], mechanism=Mechanism(settings["mechanism"]),
                multiples=Multiples(settings["multiples"]), default_tier=settings["default_tier"],
                schools=tuple(schools), applicants=tuple(applicants), priorities=priorities)
    present = {name: data for name, data in files.items() if name in INPUT_FILES}
    checked = CaseFiles(files=present, settings=case, sources=tuple(sources),
                        correction=settings.get("correction"), columns=columns,
                        lottery=found.get("lottery") if columns is not None else None)
    checked.__dict__["digests"] = digests  # the cached_property, computed once above
    return checked


def _distinct_values(digests: bytes) -> bool:
    """True when no two lottery values share their leading 64 bits (so no applicant id is repeated:
    equal ids have equal values); False says nothing."""
    top = np.frombuffer(digests, dtype=">u8")[::4].astype(np.uint64)
    top.sort()
    return not bool((top[1:] == top[:-1]).any())


def _named_ids(priorities: bytes | None, ids: list[str]) -> set[str]:
    """The applicant ids of priorities.csv that are among ``ids``: all that checking it needs to
    know, without a set of a million ids."""
    if priorities is None:
        return set()
    _, rows = csv_rows(priorities, "priorities.csv", ("school_id", "applicant_id", "tier"), (), Problems())
    return {cells[1] for _, cells in rows}.intersection(ids)


def _seed_if_valid(files: Mapping[str, bytes], digests: Mapping[str, str]) -> bytes | None:
    """The seed of the draw when seed.json is valid (its problems are reported in order later)."""
    probe = Problems()
    sources = _parse_seed(files.get("seed.json"), probe)
    if probe.items:
        return None
    empty = hashlib.sha256(b"").digest()
    joined = b"".join(bytes.fromhex(digests[n]) if n in digests else empty for n in POOL_FILES)
    return derive_seed(hashlib.sha256(joined).hexdigest(), sources)


def read_files(directory: Path, names: Iterable[str]) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in names if (directory / name).is_file()}


def _json(data: bytes | None, file: str, problems: Problems, expected: str) -> Any:
    if data is None:
        problems.add(M_("missing file"), file=file, expected=expected)
        return None
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        problems.add(M_("not UTF-8 text"), file=file, expected=expected)
    except json.JSONDecodeError as error:
        problems.add(M_("not valid JSON: {error} (line {line}, column {column})", error=error.msg,
                        line=error.lineno, column=error.colno),
                     file=file, row=error.lineno, expected=expected)
    return None


def _parse_case_json(data: bytes | None, problems: Problems) -> dict[str, Any]:
    shape = ('{"format": "jiaowei-lottery/1", "title": "...", "mechanism": "deferred-acceptance" | '
             '"choice-rounds", "multiples": "separate" | "together", "default_tier": 9}')
    fallback = {"title": "", "mechanism": "choice-rounds", "multiples": "separate", "default_tier": 0}
    doc = _json(data, "case.json", problems, shape)
    if doc is None:
        return fallback
    if not isinstance(doc, dict):
        problems.add(M_("not a JSON object"), file="case.json", expected=shape)
        return fallback
    for key in sorted(set(doc) - _CASE_KEYS):
        problems.add(M_("unknown key"), file="case.json", column=key, value=key,
                     expected=", ".join(sorted(_CASE_KEYS)))
    checks: dict[str, tuple[Callable[[Any], bool], str]] = {
        "format": (lambda v: v == FORMAT, f'"{FORMAT}"'),
        "title": (lambda v: isinstance(v, str) and v.strip() != "", M_("a non-empty string")),
        "mechanism": (lambda v: v in set(Mechanism), " or ".join(m.value for m in Mechanism)),
        "multiples": (lambda v: v in set(Multiples), " or ".join(m.value for m in Multiples)),
        "default_tier": (lambda v: type(v) is int and v >= 0, M_("a whole number, 0 or more")),
    }
    for key, (ok, expected) in checks.items():
        if key not in doc:
            problems.add(M_("missing key"), file="case.json", column=key, expected=expected)
        elif not ok(doc[key]):
            problems.add(M_("wrong {key}", key=key), file="case.json", column=key, value=doc[key],
                         expected=expected)
    if "correction" in doc and not isinstance(doc["correction"], dict):
        problems.add(M_("not a JSON object"), file="case.json", column="correction", value=doc["correction"])
    return {**fallback, **{k: v for k, v in doc.items() if k in checks and checks[k][0](v)},
            **({"correction": doc["correction"]} if isinstance(doc.get("correction"), dict) else {})}


def _parse_seed(data: bytes | None, problems: Problems) -> list[str]:
    shape = '{"sources": ["public randomness named before the draw", ...]}'
    doc = _json(data, "seed.json", problems, shape)
    if doc is None:
        return []
    sources = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(sources, list) or not sources:
        problems.add(M_("no seed sources"), file="seed.json", column="sources",
                     value=None if sources is None else sources, expected=shape)
        return []
    for index, source in enumerate(sources, start=1):
        if not isinstance(source, str) or not source.strip() or "\n" in source or "\r" in source:
            problems.add(M_("source {index} is not a non-empty one-line string", index=index),
                         file="seed.json", column="sources", value=source,
                         expected=M_("a non-empty string without line breaks"))
    return [s for s in sources if isinstance(s, str)]


def csv_rows(data: bytes | None, file: str, required: Sequence[str], optional: Sequence[str],
          problems: Problems) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """The header's column positions and the data rows (row number, cells); header = row 1."""
    header_rule = ",".join(required) + "".join(f"[,{c}]" for c in optional)
    if data is None:
        problems.add(M_("missing file"), file=file, expected=M_("a CSV file with header {header}",
                                                                   header=header_rule))
        return {}, []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problems.add(M_("not UTF-8 text (byte {byte})", byte=error.start), file=file, expected="UTF-8 CSV")
        return {}, []
    rows: list[tuple[int, list[str]]] = []
    if '"' not in text and "\r" not in text:  # no quoting: the same cells as csv, many times faster
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        rows = [(number, line.split(",") if line else []) for number, line in enumerate(lines, start=1)]
    else:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            for number, cells in enumerate(reader, start=1):
                rows.append((number, cells))
        except csv.Error as error:
            problems.add(M_("malformed CSV: {error}", error=str(error)), file=file, row=len(rows) + 1,
                         expected="RFC 4180 CSV")
            return {}, []
    if not rows:
        problems.add(M_("empty file"), file=file, row=1, expected=M_("header {header}", header=header_rule))
        return {}, []
    header = rows[0][1]
    if header[: len(required)] != list(required) or len(set(header)) != len(header):
        problems.add(M_("wrong header"), file=file, row=1, value=",".join(header), expected=header_rule)
        return {}, []
    width = len(header)
    body = []
    for number, cells in rows[1:]:
        if not cells:
            continue  # a blank line
        if len(cells) != width:
            problems.add(M_("{count} columns instead of {width}", count=len(cells), width=width), file=file,
                         row=number,
                         value=",".join(cells), expected=",".join(header))
            continue
        body.append((number, cells))
    return {name: i for i, name in enumerate(header)}, body


def _check_id(value: str, *, file: str, column: str, row: int, problems: Problems) -> bool:
    if CASE_ID.fullmatch(value):
        return True
    problems.add(M_("not a valid id"), file=file, column=column, row=row, value=value, expected=_ID_RULE)
    return False


def whole_number(value: str, *, file: str, column: str, row: int, problems: Problems) -> int | None:
    if not _WHOLE.fullmatch(value):
        problems.add(M_("not a whole number"), file=file, column=column, row=row, value=value,
                     expected=M_("a whole number, 0 or more"))
        return None
    number = int(value)
    if number < 0:
        problems.add(M_("negative {column}", column=column), file=file, column=column, row=row, value=value,
                     expected=M_("a whole number, 0 or more"))
        return None
    return number


def _parse_schools(data: bytes | None, file: str, problems: Problems) -> list[School]:
    columns, rows = csv_rows(data, file, ("school_id", "capacity"), ("districts", "program"), problems)
    districts_at, program_at = columns.get("districts"), columns.get("program")
    schools: list[School] = []
    first_row: dict[str, int] = {}
    for number, cells in rows:
        school_id = cells[0]
        if not _check_id(school_id, file=file, column="school_id", row=number, problems=problems):
            continue
        if school_id in first_row:
            problems.add(M_("duplicate school_id (first on row {row})", row=first_row[school_id]), file=file,
                         column="school_id", row=number, value=school_id, expected=M_("each school once"))
            continue
        first_row[school_id] = number
        capacity = whole_number(cells[1], file=file, column="capacity", row=number, problems=problems)
        districts = cells[districts_at] if districts_at is not None else ""
        schools.append(School(school_id=school_id, capacity=capacity or 0,
                              districts=frozenset(d for d in districts.split(";") if d),
                              program=cells[program_at] if program_at is not None else ""))
    return schools


def parse_applicants(data: bytes | None, file: str, school_ids: set[str], problems: Problems,
                      *, taken: Mapping[str, str] | None = None) -> list[Applicant]:
    columns, rows = csv_rows(data, file, ("applicant_id", "choices", "group_id"), ("district",), problems)
    district_at = columns.get("district")
    applicants: list[Applicant] = []
    first_row: dict[str, int] = {}
    for number, cells in rows:
        applicant_id, choices_text, group_id = cells[0], cells[1], cells[2]
        ok = _check_id(applicant_id, file=file, column="applicant_id", row=number, problems=problems)
        if ok and applicant_id in first_row:
            problems.add(M_("duplicate applicant_id (first on row {row})", row=first_row[applicant_id]),
                         file=file,
                         column="applicant_id", row=number, value=applicant_id,
                         expected=M_("each applicant once"))
            continue
        if ok and taken is not None and applicant_id in taken:
            problems.add(M_("applicant_id already used ({where})", where=taken[applicant_id]), file=file,
                         column="applicant_id", row=number, value=applicant_id,
                         expected=M_("a new applicant id"))
            continue
        first_row[applicant_id] = number
        choices = tuple(choices_text.split(";")) if choices_text else ()
        for choice in choices:
            if choice not in school_ids:
                problems.add(M_("unknown school in choices"), file=file, column="choices", row=number,
                             value=choice, expected=M_("a school_id of schools.csv, separated by ;"))
        if len(set(choices)) != len(choices):
            problems.add(M_("the same school twice in one applicant's choices"), file=file, column="choices",
                         row=number, value=choices_text, expected=M_("each school at most once"))
        if group_id:
            _check_id(group_id, file=file, column="group_id", row=number, problems=problems)
        if ok:
            applicants.append(Applicant(applicant_id=applicant_id, choices=choices, group_id=group_id,
                                        district=cells[district_at] if district_at is not None else ""))
    return applicants



def parse_priorities(data: bytes | None, file: str, school_ids: set[str], applicant_ids: set[str],
                      problems: Problems) -> dict[tuple[str, str], int]:
    priorities: dict[tuple[str, str], int] = {}
    if data is None:
        return priorities
    _, rows = csv_rows(data, file, ("school_id", "applicant_id", "tier"), (), problems)
    first_row: dict[tuple[str, str], int] = {}
    for number, cells in rows:
        school_id, applicant_id = cells[0], cells[1]
        if school_id not in school_ids:
            problems.add(M_("unknown school"), file=file, column="school_id", row=number, value=school_id,
                         expected=M_("a school_id of schools.csv"))
        if applicant_id not in applicant_ids:
            problems.add(M_("unknown applicant"), file=file, column="applicant_id", row=number,
                         value=applicant_id, expected=M_("an applicant_id of applicants.csv"))
        tier = whole_number(cells[2], file=file, column="tier", row=number, problems=problems)
        key = (school_id, applicant_id)
        if key in first_row:
            problems.add(M_("duplicate priority (first on row {row})", row=first_row[key]), file=file,
                         column="applicant_id", row=number, value=f"{school_id},{applicant_id}",
                         expected=M_("one tier per school and applicant"))
        elif tier is not None:
            first_row[key] = number
            priorities[key] = tier
    return priorities

