"""Case files of a lottery: read and check them, draw, write the proof, verify it, correct it.

A CASE_DIR holds ``case.json``, ``schools.csv``, ``applicants.csv``, ``priorities.csv``
(optional) and ``seed.json``. Everything is checked before anything is drawn; every problem
names its file, row (the header is row 1), column and value. The published algorithm, the
byte-level definitions and the correction design are in docs/lottery.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import numpy as np

from jiaowei.admissions.model import FORMAT, Applicant, Case, Mechanism, Multiples, Outcome, School
from jiaowei.errors import Conflict, IntegrityError, NotFound, Problem, ValidationError

POOL_FILES = ("case.json", "schools.csv", "applicants.csv", "priorities.csv")
INPUT_FILES = (*POOL_FILES, "seed.json")
OUTPUT_FILES = ("results.csv", "cutoffs.csv", "transcript.txt")
MANIFEST = "manifest.json"
ADDITION_FILES = ("applicants.csv", "priorities.csv", "seats.csv")
MAX_PROBLEMS = 200

_ID = re.compile(r'[^\s,;"]+')
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
    return pool_digest_of(_read_files(Path(case_dir), POOL_FILES))


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
    columns: Any = field(default=None, repr=False)  # engine.Columns of the applicants, or None
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


class _Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.more = 0

    def add(self, message: str, *, file: str, column: str | None = None, row: int | None = None,
            value: Any = None, expected: str | None = None) -> None:
        if len(self.items) >= MAX_PROBLEMS:
            self.more += 1
            return
        where = f"{file}:{column}" if column else file
        self.items.append(Problem(f"{file}: {message}", row=row, field=where, value=value, expected=expected))

    def raise_if_any(self, detail: str) -> None:
        if not self.items:
            return
        problems = list(self.items)
        if self.more:
            problems.append(Problem(f"... and {self.more} more problems"))
        total = len(self.items) + self.more
        raise ValidationError(f"{detail}: {total} problem(s); nothing was drawn or written.", problems)


def read_case(case_dir: Path | str, *, need_seed: bool = True) -> CaseFiles:
    """Read and check every file of a case; raises ValidationError listing every problem."""
    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        raise NotFound(f"No case directory {str(case_dir)!r}.")
    files = _read_files(case_dir, INPUT_FILES)
    return parse_case(files, need_seed=need_seed, label=str(case_dir))


def parse_case(files: Mapping[str, bytes], *, need_seed: bool = True, label: str = "the case") -> CaseFiles:
    problems = _Problems()
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
                found["lottery"] = (seed, _engine().lottery_digests(seed, ids))
            else:
                found["ids"] = set(ids)

        columns = _fast_applicants(files.get("applicants.csv"), schools, with_ids=with_ids)
    applicants: list[Applicant] = []
    if columns is not None:
        if "ids" not in found and _distinct_values(found["lottery"][1]):  # so the ids are distinct
            applicant_ids: set[str] = _named_ids(files.get("priorities.csv"), columns.ids)
        else:
            applicant_ids = found.get("ids") or set(columns.ids)
            if len(applicant_ids) != len(columns.ids):
                columns = None
    if columns is None:
        applicants = _parse_applicants(files.get("applicants.csv"), "applicants.csv", school_ids, problems)
        applicant_ids = {a.applicant_id for a in applicants}
    priorities = _parse_priorities(files.get("priorities.csv"), "priorities.csv", school_ids,
                                   applicant_ids, problems)
    sources = _parse_seed(files.get("seed.json"), problems) if need_seed else []
    problems.raise_if_any(f"The case in {label} is not valid")
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
    _, rows = _rows(priorities, "priorities.csv", ("school_id", "applicant_id", "tier"), (), _Problems())
    return {cells[1] for _, cells in rows}.intersection(ids)


def _seed_if_valid(files: Mapping[str, bytes], digests: Mapping[str, str]) -> bytes | None:
    """The seed of the draw when seed.json is valid (its problems are reported in order later)."""
    probe = _Problems()
    sources = _parse_seed(files.get("seed.json"), probe)
    if probe.items:
        return None
    empty = hashlib.sha256(b"").digest()
    joined = b"".join(bytes.fromhex(digests[n]) if n in digests else empty for n in POOL_FILES)
    return derive_seed(hashlib.sha256(joined).hexdigest(), sources)


def _read_files(directory: Path, names: Iterable[str]) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in names if (directory / name).is_file()}


def _json(data: bytes | None, file: str, problems: _Problems, expected: str) -> Any:
    if data is None:
        problems.add("missing file", file=file, expected=expected)
        return None
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        problems.add("not UTF-8 text", file=file, expected=expected)
    except json.JSONDecodeError as error:
        problems.add(f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
                     file=file, row=error.lineno, expected=expected)
    return None


def _parse_case_json(data: bytes | None, problems: _Problems) -> dict[str, Any]:
    shape = ('{"format": "jiaowei-lottery/1", "title": "...", "mechanism": "deferred-acceptance" | '
             '"choice-rounds", "multiples": "separate" | "together", "default_tier": 9}')
    fallback = {"title": "", "mechanism": "choice-rounds", "multiples": "separate", "default_tier": 0}
    doc = _json(data, "case.json", problems, shape)
    if doc is None:
        return fallback
    if not isinstance(doc, dict):
        problems.add("not a JSON object", file="case.json", expected=shape)
        return fallback
    for key in sorted(set(doc) - _CASE_KEYS):
        problems.add("unknown key", file="case.json", column=key, value=key,
                     expected=", ".join(sorted(_CASE_KEYS)))
    checks: dict[str, tuple[Callable[[Any], bool], str]] = {
        "format": (lambda v: v == FORMAT, f'"{FORMAT}"'),
        "title": (lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string"),
        "mechanism": (lambda v: v in set(Mechanism), " or ".join(m.value for m in Mechanism)),
        "multiples": (lambda v: v in set(Multiples), " or ".join(m.value for m in Multiples)),
        "default_tier": (lambda v: type(v) is int and v >= 0, "a whole number, 0 or more"),
    }
    for key, (ok, expected) in checks.items():
        if key not in doc:
            problems.add("missing key", file="case.json", column=key, expected=expected)
        elif not ok(doc[key]):
            problems.add(f"wrong {key}", file="case.json", column=key, value=doc[key], expected=expected)
    if "correction" in doc and not isinstance(doc["correction"], dict):
        problems.add("not a JSON object", file="case.json", column="correction", value=doc["correction"])
    return {**fallback, **{k: v for k, v in doc.items() if k in checks and checks[k][0](v)},
            **({"correction": doc["correction"]} if isinstance(doc.get("correction"), dict) else {})}


def _parse_seed(data: bytes | None, problems: _Problems) -> list[str]:
    shape = '{"sources": ["public randomness named before the draw", ...]}'
    doc = _json(data, "seed.json", problems, shape)
    if doc is None:
        return []
    sources = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(sources, list) or not sources:
        problems.add("no seed sources", file="seed.json", column="sources",
                     value=None if sources is None else sources, expected=shape)
        return []
    for index, source in enumerate(sources, start=1):
        if not isinstance(source, str) or not source.strip() or "\n" in source or "\r" in source:
            problems.add(f"source {index} is not a non-empty one-line string", file="seed.json",
                         column="sources", value=source, expected="a non-empty string without line breaks")
    return [s for s in sources if isinstance(s, str)]


def _rows(data: bytes | None, file: str, required: Sequence[str], optional: Sequence[str],
          problems: _Problems) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """The header's column positions and the data rows (row number, cells); header = row 1."""
    header_rule = ",".join(required) + "".join(f"[,{c}]" for c in optional)
    if data is None:
        problems.add("missing file", file=file, expected=f"a CSV file with header {header_rule}")
        return {}, []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problems.add(f"not UTF-8 text (byte {error.start})", file=file, expected="UTF-8 CSV")
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
            problems.add(f"malformed CSV: {error}", file=file, row=len(rows) + 1, expected="RFC 4180 CSV")
            return {}, []
    if not rows:
        problems.add("empty file", file=file, row=1, expected=f"header {header_rule}")
        return {}, []
    header = rows[0][1]
    if header[: len(required)] != list(required) or len(set(header)) != len(header):
        problems.add("wrong header", file=file, row=1, value=",".join(header), expected=header_rule)
        return {}, []
    width = len(header)
    body = []
    for number, cells in rows[1:]:
        if not cells:
            continue  # a blank line
        if len(cells) != width:
            problems.add(f"{len(cells)} columns instead of {width}", file=file, row=number,
                         value=",".join(cells), expected=",".join(header))
            continue
        body.append((number, cells))
    return {name: i for i, name in enumerate(header)}, body


def _check_id(value: str, *, file: str, column: str, row: int, problems: _Problems) -> bool:
    if _ID.fullmatch(value):
        return True
    problems.add("not a valid id", file=file, column=column, row=row, value=value, expected=_ID_RULE)
    return False


def _whole(value: str, *, file: str, column: str, row: int, problems: _Problems) -> int | None:
    if not _WHOLE.fullmatch(value):
        problems.add("not a whole number", file=file, column=column, row=row, value=value,
                     expected="a whole number, 0 or more")
        return None
    number = int(value)
    if number < 0:
        problems.add(f"negative {column}", file=file, column=column, row=row, value=value,
                     expected="a whole number, 0 or more")
        return None
    return number


def _parse_schools(data: bytes | None, file: str, problems: _Problems) -> list[School]:
    columns, rows = _rows(data, file, ("school_id", "capacity"), ("districts", "program"), problems)
    districts_at, program_at = columns.get("districts"), columns.get("program")
    schools: list[School] = []
    first_row: dict[str, int] = {}
    for number, cells in rows:
        school_id = cells[0]
        if not _check_id(school_id, file=file, column="school_id", row=number, problems=problems):
            continue
        if school_id in first_row:
            problems.add(f"duplicate school_id (first on row {first_row[school_id]})", file=file,
                         column="school_id", row=number, value=school_id, expected="each school once")
            continue
        first_row[school_id] = number
        capacity = _whole(cells[1], file=file, column="capacity", row=number, problems=problems)
        districts = cells[districts_at] if districts_at is not None else ""
        schools.append(School(school_id=school_id, capacity=capacity or 0,
                              districts=frozenset(d for d in districts.split(";") if d),
                              program=cells[program_at] if program_at is not None else ""))
    return schools


def _parse_applicants(data: bytes | None, file: str, school_ids: set[str], problems: _Problems,
                      *, taken: Mapping[str, str] | None = None) -> list[Applicant]:
    columns, rows = _rows(data, file, ("applicant_id", "choices", "group_id"), ("district",), problems)
    district_at = columns.get("district")
    applicants: list[Applicant] = []
    first_row: dict[str, int] = {}
    for number, cells in rows:
        applicant_id, choices_text, group_id = cells[0], cells[1], cells[2]
        ok = _check_id(applicant_id, file=file, column="applicant_id", row=number, problems=problems)
        if ok and applicant_id in first_row:
            problems.add(f"duplicate applicant_id (first on row {first_row[applicant_id]})", file=file,
                         column="applicant_id", row=number, value=applicant_id,
                         expected="each applicant once")
            continue
        if ok and taken is not None and applicant_id in taken:
            problems.add(f"applicant_id already used ({taken[applicant_id]})", file=file,
                         column="applicant_id", row=number, value=applicant_id, expected="a new applicant id")
            continue
        first_row[applicant_id] = number
        choices = tuple(choices_text.split(";")) if choices_text else ()
        for choice in choices:
            if choice not in school_ids:
                problems.add("unknown school in choices", file=file, column="choices", row=number,
                             value=choice, expected="a school_id of schools.csv, separated by ;")
        if len(set(choices)) != len(choices):
            problems.add("the same school twice in one applicant's choices", file=file, column="choices",
                         row=number, value=choices_text, expected="each school at most once")
        if group_id:
            _check_id(group_id, file=file, column="group_id", row=number, problems=problems)
        if ok:
            applicants.append(Applicant(applicant_id=applicant_id, choices=choices, group_id=group_id,
                                        district=cells[district_at] if district_at is not None else ""))
    return applicants


# ---------------------------------------------------------------- the fast path for applicants.csv
#
# A city's applicants.csv (a million rows) is read on the bytes with numpy. It applies only when
# the file is plain (UTF-8, no quotes, no CR, no NUL, every row with the header's column count,
# ids and choices short) and everything in it is valid; otherwise it gives up (None) and the
# exact checks above read the file again and name every problem with its row.

_BAD_ID_BYTE = np.zeros(256, dtype=bool)
_BAD_ID_BYTE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, ord(";"), ord(","), ord('"')]] = True
_IDS = re.compile(r'(?:[^\s,;"]+,)*')
_MAX_KEY_BYTES = 16


_WORD_MASK = np.array([(2**64 - 1) ^ (2 ** (64 - 8 * k) - 1) for k in range(9)], dtype=np.uint64)


def _token_keys(padded: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Tokens of at most 16 bytes as two big-endian uint64 words each, zero-padded: (T, 2).

    ``padded`` ends with 16 zero bytes after the data, so a window never runs past it.
    """
    padded = np.ascontiguousarray(padded)
    words = np.ndarray(shape=(padded.size - 7,), dtype=">u8", buffer=padded, strides=(1,))  # at every byte
    first = words[start].astype(np.uint64)
    first &= _WORD_MASK[np.minimum(length, 8)]
    if not (start.size and int(length.max()) > 8):
        return np.stack((first, np.zeros_like(first)), axis=1)
    second = words[start + 8].astype(np.uint64)
    second &= _WORD_MASK[np.clip(length - 8, 0, 8)]
    return np.stack((first, second), axis=1)


def _key_hash(keys: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return keys[:, 0] * np.uint64(0x9E3779B97F4A7C15) + keys[:, 1] * np.uint64(0xC2B2AE3D27D4EB4F)


def _lookup(keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    """For each key (T, 2), its row in ``table`` (S, 2) of distinct keys, or -1.

    Small hash tables, one after the other: each holds the table keys that did not fit an earlier
    one; every candidate is confirmed by comparing the whole key. When every key fits one word
    (ids of at most 8 bytes) only that word is hashed and compared.
    """
    found = np.full(keys.shape[0], -1, dtype=np.int64)
    one_word = not table[:, 1].any() and not keys[:, 1].any()
    if one_word:
        hashed, table_hash = np.ascontiguousarray(keys[:, 0]), np.ascontiguousarray(table[:, 0])
    else:
        hashed, table_hash = _key_hash(keys), _key_hash(table)
    left = np.arange(table.shape[0])  # table rows not in a hash table yet
    todo: np.ndarray | None = None  # keys not found yet (None: all of them)
    bits = max(8, min(20, 2 * int(table.shape[0]).bit_length() + 4))
    shift = np.uint64(64 - bits)
    for level in range(64):
        if not left.size or (todo is not None and not todo.size):
            break
        mult = np.uint64((0x9E3779B97F4A7C15 + level * 0x632BE59BD9B4E01A) % 2**64 | 1)
        with np.errstate(over="ignore"):
            slots = (table_hash[left] * mult) >> shift
        lut = np.full(1 << bits, -1, dtype=np.int32)
        lut[slots[::-1]] = left[::-1]  # on a clash the first row keeps the slot
        placed = lut[slots] == left
        mine = hashed if todo is None else hashed[todo]
        with np.errstate(over="ignore"):
            candidate = lut[(mine * mult) >> shift].astype(np.int64)
        clipped = np.maximum(candidate, 0)
        hit = candidate >= 0
        if one_word:
            hit &= table_hash[clipped] == mine
        else:
            rows = keys if todo is None else keys[todo]
            hit &= (table[:, 0][clipped] == rows[:, 0]) & (table[:, 1][clipped] == rows[:, 1])
        if todo is None:
            found[hit] = candidate[hit]
            todo = np.flatnonzero(~hit)
        else:
            found[todo[hit]] = candidate[hit]
            todo = todo[~hit]
        left = left[~placed]
    return found


_LOW_BYTES = np.array([2 ** (8 * k) - 1 for k in range(8)] + [2**64 - 1], dtype=np.uint64)


def _short_keys(padded: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Tokens of at most 8 bytes as one little-endian uint64 each, the bytes past the token zero."""
    words = np.ndarray(shape=(padded.size - 7,), dtype="<u8", buffer=padded, strides=(1,))
    keys = words[start].astype(np.uint64, copy=False)
    keys &= _LOW_BYTES[length]
    return keys


def _lookup_short(padded: np.ndarray, start: np.ndarray, length: np.ndarray, table_blob: np.ndarray,
                  table_length: np.ndarray) -> np.ndarray | None:
    """``_lookup`` for tokens and table keys of at most 8 bytes: one collision-free hash table.

    Each token's row in the table (in the order of ``table_length``, keys laid end to end in
    ``table_blob``), or -1; None when this does not apply (long keys, or no multiplier found).
    """
    if not table_length.size or int(table_length.max()) > 8 or (length.size and int(length.max()) > 8):
        return None
    table = _short_keys(np.ascontiguousarray(table_blob), np.cumsum(table_length) - table_length,
                        table_length)
    if np.unique(table).size != table.size:
        return None
    bits = max(10, min(22, int(table.size).bit_length() + 10))
    shift = np.uint64(64 - bits)
    with np.errstate(over="ignore"):
        for attempt in range(32):
            mult = np.uint64((0x9E3779B97F4A7C15 + attempt * 0x632BE59BD9B4E01A) % 2**64 | 1)
            slots = (table * mult) >> shift
            if np.unique(slots).size == slots.size:
                break
        else:
            return None
        lut = np.full(1 << bits, table.size, dtype=np.int16 if table.size < 2**15 else np.int32)
        lut[slots] = np.arange(table.size)
        known = np.append(table, np.uint64(0))  # a token is never all zero bytes (no NUL, not empty)
        keys = _short_keys(padded, start, length)
        hashed = keys * mult
        hashed >>= shift
    rows = lut[hashed].astype(np.int64)
    hit = known[rows] == keys
    if not hit.all():
        rows[~hit] = -1
    return rows


def _fast_applicants(data: bytes | None, schools: Sequence[School],
                     with_ids: Callable[[list[str]], None] | None = None) -> Any:
    """applicants.csv as engine.Columns when it is plain and valid, else None (see above).

    ``with_ids(ids)`` is called once the ids are read (unless the file is given up before), in a
    thread beside the rest of the parsing (numpy work, which releases the GIL) for a large file.
    """
    if data is None or b'"' in data or b"\r" in data or b"\0" in data:
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    head_end = data.find(b"\n")
    if head_end < 0:
        return None
    header = data[:head_end].decode("utf-8").split(",")
    if header[:3] != ["applicant_id", "choices", "group_id"] or len(set(header)) != len(header):
        return None
    width = len(header)
    size = len(data) - head_end - 1
    tail = b"\n" if size and not data.endswith(b"\n") else b""
    padded = np.empty(size + len(tail) + _MAX_KEY_BYTES, dtype=np.uint8)  # the body, one copy
    padded[:size] = np.frombuffer(data, dtype=np.uint8)[head_end + 1:]
    padded[size:] = 0
    if tail:
        padded[size] = 10
    arr = padded[: size + len(tail)]
    ends = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    non_blank = ends > starts
    if not non_blank.all():
        starts, ends = starts[non_blank], ends[non_blank]
    n = ends.size
    if n == 0 or any(len(s.school_id.encode("utf-8")) > _MAX_KEY_BYTES or "\0" in s.school_id
                     for s in schools):
        return None
    commas = np.flatnonzero(arr == 44)
    if commas.size != n * (width - 1):
        return None
    cells = commas.reshape(n, width - 1)
    if not ((cells[:, 0] > starts).all() and (cells[:, -1] < ends).all()):
        return None  # some row has too many or too few columns, or an empty applicant_id
    field_start = np.concatenate((starts[:, None], cells + 1), axis=1)
    field_end = np.concatenate((cells, ends[:, None]), axis=1)
    # applicant_id: "id," for every row, checked as a whole
    id_length = field_end[:, 0] - field_start[:, 0] + 1
    longest = int(id_length.max())
    if longest <= _MAX_KEY_BYTES:  # windows of the longest id, then the bytes past each id dropped
        windows = np.lib.stride_tricks.as_strided(padded, shape=(arr.size, longest), strides=(1, 1))
        blob_bytes = windows[field_start[:, 0]][np.arange(longest) < id_length[:, None]]
    else:
        total = int(id_length.sum())
        offsets = np.cumsum(id_length) - id_length
        blob_bytes = arr[np.repeat(field_start[:, 0] - offsets, id_length) + np.arange(total)]
    blob = blob_bytes.tobytes()
    check = blob_bytes.copy()
    check[np.cumsum(id_length) - 1] = ord("x")  # the separators
    if _BAD_ID_BYTE[check].any():
        return None
    text = blob.decode("utf-8")
    if not text.isascii() and not _IDS.fullmatch(text):
        return None
    ids = text.split(",")
    ids.pop()
    if with_ids is None:
        return _fast_columns(ids, header, padded, arr, field_start, field_end, schools)
    if len(ids) < _THREAD_FROM:
        with_ids(ids)
        return _fast_columns(ids, header, padded, arr, field_start, field_end, schools)
    switch = sys.getswitchinterval()
    with ThreadPoolExecutor(max_workers=1) as pool:
        beside = pool.submit(with_ids, ids)
        sys.setswitchinterval(min(switch, 0.0002))  # hand the GIL back soon after each numpy call
        try:
            columns = _fast_columns(ids, header, padded, arr, field_start, field_end, schools)
        finally:
            sys.setswitchinterval(switch)
            beside.result()
    return columns


_THREAD_FROM = 50_000  # applicants; below that a thread costs more than it saves


def _fast_columns(ids: list[str], header: list[str], padded: np.ndarray, arr: np.ndarray,
                  field_start: np.ndarray, field_end: np.ndarray, schools: Sequence[School]) -> Any:
    """The rest of ``_fast_applicants``: groups, choices and districts, once the ids are read."""
    n = len(ids)
    body = padded.data  # a memoryview: slices without copying the file
    # group_id: empty, or a valid id
    group_length = field_end[:, 2] - field_start[:, 2]
    group_ids: list[str] | None = None
    if group_length.any():
        group_ids = [""] * n
        for r in np.flatnonzero(group_length).tolist():
            g = bytes(body[field_start[r, 2]:field_end[r, 2]]).decode("utf-8")
            if not _ID.fullmatch(g):
                return None
            group_ids[r] = g
    # choices: school ids separated by ;
    c_start, c_end = field_start[:, 1], field_end[:, 1]
    semis = np.flatnonzero(arr == 59)
    row_of = np.searchsorted(c_start, semis, side="right") - 1  # the row whose choices start before
    inside = semis < c_end[row_of]
    if not inside.all():
        semis, row_of = semis[inside], row_of[inside]
    listed = (c_end > c_start).astype(np.int64)
    per_row = np.bincount(row_of, minlength=n)
    count = per_row + listed
    first = np.cumsum(count) - count  # each row's first token
    semi_first = np.cumsum(per_row) - per_row
    token_start = np.empty(int(count.sum()), dtype=np.int64)
    token_end = np.empty_like(token_start)
    at = first[row_of] + np.arange(semis.size) - semi_first[row_of]  # the token a ; ends
    token_end[at], token_start[at + 1] = semis, semis + 1
    rows_listed = np.flatnonzero(listed)
    token_start[first[rows_listed]] = c_start[rows_listed]
    token_end[first[rows_listed] + count[rows_listed] - 1] = c_end[rows_listed]
    token_length = token_end - token_start
    if token_length.size and (token_length.min() <= 0 or token_length.max() > _MAX_KEY_BYTES):
        return None
    school_blob = np.frombuffer("".join(s.school_id for s in schools).encode("utf-8") + bytes(_MAX_KEY_BYTES),
                                dtype=np.uint8)
    school_length = np.array([len(s.school_id.encode("utf-8")) for s in schools], dtype=np.int64)
    codes = _lookup_short(padded, token_start, token_length, school_blob, school_length)
    if codes is None:
        table = _token_keys(school_blob, np.cumsum(school_length) - school_length, school_length)
        codes = _lookup(_token_keys(padded, token_start, token_length), table)
        if (codes < 0).any():
            return None
    elif codes.size and int(codes.min()) < 0:
        return None
    m = int(count.max()) if n else 0
    matrix = np.full((n, max(m, 1)), -1, dtype=np.int64)[:, :m]
    rows = np.repeat(np.arange(n), count)
    matrix[rows, np.arange(codes.size) - np.repeat(first, count)] = codes
    if m > 1:
        ordered = np.sort(matrix, axis=1)
        if ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any():
            return None
    # district
    districts, home = [""], np.zeros(n, dtype=np.int64)
    if "district" in header:
        at = header.index("district")
        d_start, d_length = field_start[:, at], field_end[:, at] - field_start[:, at]
        if d_length.max() > _MAX_KEY_BYTES:
            given = [bytes(body[s:s + k]).decode("utf-8")
                     for s, k in zip(d_start.tolist(), d_length.tolist(), strict=True)]
            index = {d: k for k, d in enumerate(dict.fromkeys(given))}
            home = np.fromiter(map(index.__getitem__, given), dtype=np.int64, count=n)
            return _engine().Columns(ids=ids, choices=matrix, districts=list(index), home=home,
                                     group_ids=group_ids)
        keys = _token_keys(padded, d_start, d_length)
        hashed = _key_hash(keys)
        distinct, first_row, home = np.unique(hashed, return_index=True, return_inverse=True)
        if not (keys[first_row][home.ravel()] == keys).all():
            return None
        home = home.ravel().astype(np.int64)
        districts = [bytes(body[s:s + k]).decode("utf-8")
                     for s, k in zip(d_start[first_row].tolist(), d_length[first_row].tolist(), strict=True)]
    engine = _engine()
    return engine.Columns(ids=ids, choices=matrix, districts=districts, home=home, group_ids=group_ids)


def _parse_priorities(data: bytes | None, file: str, school_ids: set[str], applicant_ids: set[str],
                      problems: _Problems) -> dict[tuple[str, str], int]:
    priorities: dict[tuple[str, str], int] = {}
    if data is None:
        return priorities
    _, rows = _rows(data, file, ("school_id", "applicant_id", "tier"), (), problems)
    first_row: dict[tuple[str, str], int] = {}
    for number, cells in rows:
        school_id, applicant_id = cells[0], cells[1]
        if school_id not in school_ids:
            problems.add("unknown school", file=file, column="school_id", row=number, value=school_id,
                         expected="a school_id of schools.csv")
        if applicant_id not in applicant_ids:
            problems.add("unknown applicant", file=file, column="applicant_id", row=number,
                         value=applicant_id, expected="an applicant_id of applicants.csv")
        tier = _whole(cells[2], file=file, column="tier", row=number, problems=problems)
        key = (school_id, applicant_id)
        if key in first_row:
            problems.add(f"duplicate priority (first on row {first_row[key]})", file=file,
                         column="applicant_id", row=number, value=f"{school_id},{applicant_id}",
                         expected="one tier per school and applicant")
        elif tier is not None:
            first_row[key] = number
            priorities[key] = tier
    return priorities


# ---------------------------------------------------------------- drawing and writing the proof


def _engine() -> Any:
    from jiaowei.admissions import engine

    return engine


_MALLOC_TUNED: list[bool] = []


def _keep_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse instead of returning it to the OS (once per process).

    A draw at a million applicants makes many numpy temporaries of 8 to 40 MB; by default glibc
    maps each with mmap and unmaps it when freed, so the next one page-faults again (1.5 to 2 s of
    system time). With a 32 MiB mmap threshold (the most glibc allows), trimming only past 1 GiB
    free and 256 MiB of padding, they come from the heap and are reused (the process keeps that
    memory for its next draw or verification). No-op without glibc's mallopt.
    """
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED.append(True)
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, ImportError, TypeError):  # not glibc (or no C library to load)
        return
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 1 << 30)
    mallopt(m_top_pad, 256 << 20)


def engine_version() -> str:
    engine = _engine()
    return str(engine.ENGINE_VERSION)


def draw_case(checked: CaseFiles) -> Outcome:
    """Run the engine; a combination it refuses becomes a ValidationError."""
    try:
        engine = _engine()
        if checked.columns is not None:
            seed = checked.seed
            digests = checked.lottery[1] if checked.lottery and checked.lottery[0] == seed else None
            outcome: Outcome = engine.draw_columns(checked.settings, checked.columns, seed, digests)
        else:
            outcome = engine.draw(checked.case, checked.seed)
    except ValueError as error:
        raise ValidationError("The engine refuses this case; nothing was drawn or written.",
                              [Problem(str(error), field="case.json")]) from None
    return outcome


def _cell(value: str) -> str:
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


def render_results(outcome: Outcome) -> bytes:
    arrays = _engine().result_arrays(outcome)
    if arrays is None:
        return _render_results_slowly(outcome)
    fast = _render_results_fast(*arrays)
    if fast is not None:
        return fast
    ids, order, hex_matrix, school, column, school_ids = arrays
    hexes = hex_matrix.tobytes().decode("ascii")
    n = len(ids)
    width = int(column.max()) + 1 if n else 0
    seats = [f"{s},{c + 1}" for s in school_ids for c in range(width)] + [","]
    code = np.where(school >= 0, school * width + column, len(seats) - 1).tolist()
    ranked = [ids[r] for r in order.tolist()]
    values = [hexes[i:i + 64] for i in range(0, 64 * n, 64)]
    placed = [seats[k] for k in code]
    lines = map(",".join, zip(ranked, map(str, range(1, n + 1)), values, placed, strict=True))
    head = "applicant_id,lottery_rank,lottery_value,school_id,choice_rank\n"
    return (head + "".join(line + "\n" for line in lines)).encode("utf-8")


_RESULTS_HEAD = b"applicant_id,lottery_rank,lottery_value,school_id,choice_rank\n"
_RESULTS_HEAD_ARRAY = np.frombuffer(_RESULTS_HEAD, dtype=np.uint8)


def _padded(blob: bytes, count: int) -> np.ndarray | None:
    """``count`` newline-separated tokens of ``blob`` as rows of a zero-padded uint8 matrix."""
    arr = np.frombuffer(blob + b"\n", dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    if ends.size != count:
        return None
    starts = np.empty_like(ends)
    starts[0], starts[1:] = 0, ends[:-1] + 1
    length = ends - starts
    width = int(length.max())
    if width and int(length.min()) == width:  # all the same length: a reshape
        return arr.reshape(count, width + 1)[:, :width]
    matrix = np.zeros((count, width), dtype=np.uint8)
    total = int(length.sum())
    rows = np.repeat(np.arange(count), length)
    within = np.arange(total) - np.repeat(np.cumsum(length) - length, length)
    matrix[rows, within] = arr[np.repeat(starts, length) + within]
    return matrix


def _render_results_fast(ids: list[str], order: np.ndarray, hex_matrix: np.ndarray, school: np.ndarray,
                         column: np.ndarray, school_ids: list[str]) -> bytes | None:
    """results.csv built as one byte matrix, a row per applicant, each field left-aligned in its
    own zero-padded columns; dropping the zero bytes leaves the file. None when a NUL or a line
    break in an id would break that (then the caller builds it line by line)."""
    n = len(ids)
    if n == 0:
        return None
    id_blob = "\n".join(ids).encode("utf-8")
    width = int(column.max()) + 1
    seat_text = [f"{s},{c + 1}" for s in school_ids for c in range(width)] + [","]
    seat_blob = "\n".join(seat_text).encode("utf-8")
    if b"\0" in id_blob or b"\0" in seat_blob:
        return None
    id_matrix = _padded(id_blob, n)
    seat_matrix = _padded(seat_blob, len(seat_text))
    if id_matrix is None or seat_matrix is None:
        return None
    rank = np.arange(1, n + 1, dtype=np.int64)
    digits = len(str(n))
    count = np.ones(n, dtype=np.int64)
    for k in range(1, digits):
        count += rank >= 10**k
    rank_matrix = np.zeros((n, digits), dtype=np.uint8)
    for k in range(digits):  # k-th digit from the left, where the number has one
        shift = count - 1 - k
        rank_matrix[:, k] = np.where(shift >= 0, (rank // 10 ** np.maximum(shift, 0)) % 10 + 48, 0)
    code = np.where(school >= 0, school * width + column, len(seat_text) - 1)
    parts = [id_matrix[order], None, rank_matrix, None, hex_matrix, None, seat_matrix[code], None]
    widths = [1 if part is None else part.shape[1] for part in parts]
    matrix = np.empty((n, sum(widths)), dtype=np.uint8)
    at = 0
    for part, separator, w in zip(parts, b" , , , \n", widths, strict=True):  # separators at odd places
        matrix[:, at:at + w] = separator if part is None else part
        at += w
    flat = matrix.reshape(-1)
    return np.concatenate((_RESULTS_HEAD_ARRAY, flat[flat != 0])).tobytes()


def _render_results_slowly(outcome: Outcome) -> bytes:
    by_rank: list[str] = [""] * len(outcome.tickets)
    for applicant_id, ticket in outcome.tickets.items():
        by_rank[ticket.rank - 1] = applicant_id
    lines = ["applicant_id,lottery_rank,lottery_value,school_id,choice_rank"]
    tickets, placements = outcome.tickets, outcome.placements
    for applicant_id in by_rank:
        ticket, placed = tickets[applicant_id], placements.get(applicant_id)
        seat = f"{placed.school_id},{placed.choice_rank}" if placed else ","
        lines.append(f"{applicant_id},{ticket.rank},{ticket.value},{seat}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def render_cutoffs(outcome: Outcome) -> bytes:
    lines = ["school_id,capacity,admitted,last_tier,last_lottery_rank"]
    lines += [f"{c.school_id},{c.capacity},{c.admitted},{_opt(c.last_tier)},{_opt(c.last_lottery_rank)}"
              for c in outcome.cutoffs]
    return ("\n".join(lines) + "\n").encode("utf-8")


def render_transcript(checked: CaseFiles, outcome: Outcome) -> bytes:
    case = checked.settings  # its applicants may be in checked.columns: count them, build nothing
    count = len(checked.columns.ids) if checked.columns is not None else len(case.applicants)
    lines = [f"{FORMAT} draw", f"title: {json.dumps(case.title, ensure_ascii=False)}"]
    if checked.correction is not None:
        c = checked.correction
        lines += [f"correction: {c.get('number')} of the draw with manifest sha256 "
                  f"{c.get('previous_manifest_sha256')}",
                  f"reason: {json.dumps(c.get('reason'), ensure_ascii=False)}"]
    lines += [f"mechanism: {case.mechanism.value}", f"multiples: {case.multiples.value}",
              f"schools: {len(case.schools)}", f"applicants: {count}"]
    lines += [f"sha256 {name}: {checked.digests.get(name) or sha256_hex(b'')}" for name in POOL_FILES]
    lines.append(f"pool_digest: {checked.pool_digest}")
    lines += [f"source {i}: {json.dumps(s, ensure_ascii=False)}" for i, s in enumerate(checked.sources, 1)]
    lines += [f"seed: {checked.seed.hex()}", f"ineligible choices: {len(outcome.ineligible)}", "--- engine"]
    lines += list(outcome.transcript)
    return ("\n".join(lines) + "\n").encode("utf-8")


def render_manifest(checked: CaseFiles, outcome: Outcome, outputs: Mapping[str, bytes]) -> bytes:
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "engine": engine_version(),
        "title": checked.settings.title,
        "inputs": dict(sorted(checked.digests.items())),
        "pool_digest": checked.pool_digest,
        "seed_sources": list(checked.sources),
        "seed": checked.seed.hex(),
        "outputs": {name: sha256_hex(outputs[name]) for name in OUTPUT_FILES},
        "ineligible": [],
    }
    if checked.correction is not None:
        manifest["correction"] = dict(checked.correction)
    text = _dump(manifest)
    if not outcome.ineligible:
        return text
    empty = b'\n "ineligible": [],\n'  # a key of the top level: indented by one space
    at = text.index(empty)
    listed = _pairs_json(outcome.ineligible).encode("utf-8")
    return text[:at] + b'\n "ineligible": ' + listed + b",\n" + text[at + len(empty):]


_JSON_ESCAPED = re.compile(r'[\x00-\x1f"\\]')  # what json escapes with ensure_ascii=False


def _pairs_json(pairs: Sequence[Sequence[str]]) -> str:
    """A list of lists of strings as ``_dump`` writes it as a value of the top level (indent=1):
    json's own string encoder, the layout of its pure-Python encoder (which is slow on 100k pairs)."""
    if not pairs:
        return "[]"
    if all(map(len, pairs)) and not _JSON_ESCAPED.search("".join(map("".join, pairs))):
        # nothing to escape: the same text in two joins, not a call per string
        joined = '"\n  ],\n  [\n   "'.join(map('",\n   "'.join, pairs))
        return '[\n  [\n   "' + joined + '"\n  ]\n ]'
    encode = encode_basestring  # what json.dumps uses with ensure_ascii=False
    items = ["  []" if not pair else "  [\n" + ",\n".join(["   " + encode(v) for v in pair]) + "\n  ]"
             for pair in pairs]
    return "[\n" + ",\n".join(items) + "\n ]"


def _dump(doc: Any) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8")


def render(checked: CaseFiles, outcome: Outcome) -> dict[str, bytes]:
    """Every file a draw writes (except inputs/), byte for byte.

    (Not in a thread: glibc gives a thread its own arena, where the large temporaries of
    results.csv would be mapped and unmapped each time, which costs more than the overlap saves.)
    """
    outputs = {"results.csv": render_results(outcome), "cutoffs.csv": render_cutoffs(outcome),
               "transcript.txt": render_transcript(checked, outcome)}
    outputs[MANIFEST] = render_manifest(checked, outcome, outputs)
    return outputs


def _write_dir(target: Path, files: Mapping[str, bytes]) -> None:
    """Write all files to a temporary sibling, then rename it onto ``target`` (absent or empty)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        for name, data in files.items():
            path = partial / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if target.is_dir():
            target.rmdir()  # empty, checked by the caller
        os.replace(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _refuse_non_empty(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise Conflict(f"{out_dir} exists and is not empty; a draw is never re-run over another. "
                       "Choose a new directory, or add a correction with `jiaowei lottery correct`.")


def run_draw(case_dir: Path | str, out_dir: Path | str) -> dict[str, Any]:
    """Check the case, draw, and write the proof bundle to OUT_DIR; returns the manifest."""
    out = Path(out_dir)
    _refuse_non_empty(out)
    _keep_freed_memory()
    with _engine()._no_cyclic_gc():
        checked = read_case(case_dir)
        outcome = draw_case(checked)
        outputs = render(checked, outcome)
        _write_dir(out, {**outputs, **{f"inputs/{n}": d for n, d in checked.files.items()}})
        return _manifest_doc(outputs[MANIFEST], outcome)


def _manifest_doc(manifest: bytes, outcome: Outcome) -> dict[str, Any]:
    """``json.loads(manifest)`` without parsing the (long) list of ineligible choices."""
    if not outcome.ineligible:
        doc: dict[str, Any] = json.loads(manifest)
        return doc
    start = manifest.index(b'\n "ineligible": [\n') + len(b'\n "ineligible": ')
    end = manifest.index(b"\n ],\n", start) + len(b"\n ]")
    doc = json.loads(manifest[:start] + b"[]" + manifest[end:])
    doc["ineligible"] = [list(pair) for pair in outcome.ineligible]
    return doc


# ---------------------------------------------------------------- verification


def _first_line_difference(name: str, expected: bytes, found: bytes) -> str:
    want, got = expected.split(b"\n"), found.split(b"\n")
    for number, (a, b) in enumerate(zip(want, got, strict=False), start=1):
        if a != b:
            return (f"{name} line {number}: expected {a.decode('utf-8', 'replace')[:200]!r}, "
                    f"found {b.decode('utf-8', 'replace')[:200]!r}")
    return f"{name}: expected {len(want)} lines, found {len(got)}"


def _first_field_difference(name: str, expected: Any, found: Any, path: str = "") -> str | None:
    if isinstance(expected, dict) and isinstance(found, dict):
        for key in sorted(set(expected) | set(found)):
            where = f"{path}.{key}" if path else key
            if key not in found:
                return f"{name} field {where}: missing"
            if key not in expected:
                return f"{name} field {where}: not expected"
            diff = _first_field_difference(name, expected[key], found[key], where)
            if diff:
                return diff
        return None
    if expected != found:
        return f"{name} field {path}: expected {json.dumps(expected, ensure_ascii=False)[:200]}, " \
               f"found {json.dumps(found, ensure_ascii=False)[:200]}"
    return None


def _compare(label: str, name: str, expected: bytes, found: bytes | None) -> str | None:
    if found is None:
        return f"{label}{name}: missing"
    if expected == found:
        return None
    if name == MANIFEST:
        try:
            diff = _first_field_difference(label + name, json.loads(expected), json.loads(found))
        except ValueError:
            return f"{label}{name}: not valid JSON"
        if diff:
            return diff
    return _first_line_difference(label + name, expected, found)


@dataclass(frozen=True)
class _Verified:
    checked: CaseFiles
    outcome: Outcome
    manifest: bytes


def _verify_draw(directory: Path, label: str, expected_inputs: Mapping[str, bytes] | None,
                 allowed: set[str]) -> tuple[list[str], _Verified | None]:
    """Re-derive one draw (the original or a correction) from its inputs/ and compare every byte."""
    manifest_bytes = (directory / MANIFEST).read_bytes() if (directory / MANIFEST).is_file() else None
    if manifest_bytes is None:
        return [f"{label}{MANIFEST}: missing"], None
    try:
        manifest = json.loads(manifest_bytes)
        recorded = dict(manifest["inputs"])
    except (ValueError, KeyError, TypeError):
        return [f"{label}{MANIFEST}: not valid JSON with an 'inputs' field"], None
    inputs = _read_files(directory / "inputs", INPUT_FILES)
    for name in INPUT_FILES:
        if name in recorded and name not in inputs:
            return [f"{label}inputs/{name}: missing"], None
        if name in inputs and name not in recorded:
            return [f"{label}inputs/{name}: not recorded in {MANIFEST}"], None
        if name in inputs and sha256_hex(inputs[name]) != recorded[name]:
            return [f"{label}inputs/{name}: SHA-256 is {sha256_hex(inputs[name])}, "
                    f"{MANIFEST} records {recorded[name]}"], None
    if expected_inputs is not None:
        for name in sorted(set(expected_inputs) | set(inputs)):
            diff = _compare(f"{label}inputs/", name, expected_inputs.get(name, b""), inputs.get(name))
            if diff:
                return [diff + " (not what the previous draw and the additions give)"], None
    try:
        checked = parse_case(inputs, label=f"{label}inputs/")
        outcome = draw_case(checked)
    except ValidationError as error:
        first = error.problems[0] if error.problems else error.detail
        return [f"{label}inputs/: {first}"], None
    differences = []
    for name, data in render(checked, outcome).items():
        found = (directory / name).read_bytes() if (directory / name).is_file() else None
        diff = _compare(label, name, data, found)
        if diff:
            differences.append(diff)
    extra = sorted(p.name for p in directory.iterdir() if p.name not in allowed)
    differences += [f"{label}{name}: not part of the draw" for name in extra]
    extra_inputs = sorted(p.name for p in (directory / "inputs").iterdir() if p.name not in INPUT_FILES) \
        if (directory / "inputs").is_dir() else []
    differences += [f"{label}inputs/{name}: not part of the draw" for name in extra_inputs]
    return differences, _Verified(checked, outcome, manifest_bytes)


def verify(out_dir: Path | str) -> list[str]:
    """Every difference between OUT_DIR and a re-derivation from its inputs/, first first; [] = OK."""
    out = Path(out_dir)
    if not out.is_dir():
        return [f"{out}: no such directory"]
    allowed = {*OUTPUT_FILES, MANIFEST, "inputs"}
    _keep_freed_memory()
    with _engine()._no_cyclic_gc():
        differences, previous = _verify_draw(out, "", None, allowed | {"corrections"})
    if previous is None:
        return differences
    known = set(previous.checked.applicant_ids)
    used_sources = set(previous.checked.sources)
    for number, directory in enumerate(_correction_dirs(out, differences), start=1):
        label = f"corrections/{number}/"
        try:
            expected = _correction_inputs_from(directory, previous, number, known, used_sources, label)
        except ValidationError as error:
            return differences + [f"{label}: {error.problems[0] if error.problems else error.detail}"]
        found, current = _verify_draw(directory, label, expected, allowed | {"additions"})
        differences += found
        if current is None:
            return differences
        known |= set(current.checked.applicant_ids)
        used_sources |= set(current.checked.sources)
        previous = current
    return differences


def _correction_dirs(out: Path, differences: list[str]) -> list[Path]:
    root = out / "corrections"
    if not root.is_dir():
        return []
    names = sorted(p.name for p in root.iterdir())
    expected = [str(n) for n in range(1, len(names) + 1)]
    if names != sorted(expected):
        differences.append(f"corrections/: expected directories {', '.join(expected)}, "
                           f"found {', '.join(names)}")
        return []
    return [root / str(n) for n in range(1, len(names) + 1)]


# ---------------------------------------------------------------- corrections


def _correction_inputs_from(directory: Path, previous: _Verified, number: int, known: set[str],
                            used_sources: set[str], label: str) -> dict[str, bytes]:
    inputs = _read_files(directory / "inputs", ("case.json", "seed.json"))
    try:
        meta = json.loads(inputs.get("case.json", b"{}"))["correction"]
        sources = json.loads(inputs.get("seed.json", b"{}"))["sources"]
        reason = meta["reason"]
    except (ValueError, KeyError, TypeError):
        problem = Problem("no correction reason or seed sources", field=f"{label}inputs/case.json")
        raise ValidationError(f"{label}inputs/ does not describe a correction.", [problem]) from None
    additions = _read_files(directory / "additions", ADDITION_FILES)
    return correction_inputs(previous.checked, previous.outcome, previous.manifest, number=number,
                             reason=reason, sources=sources, additions=additions, known=known,
                             used_sources=used_sources)


def correction_inputs(previous: CaseFiles, outcome: Outcome, previous_manifest: bytes, *, number: int,
                      reason: Any, sources: Any, additions: Mapping[str, bytes], known: set[str],
                      used_sources: set[str]) -> dict[str, bytes]:
    """The case of correction ``number``: everyone not yet placed plus the added applicants, for the
    seats still free plus the added seats, with new public randomness. Deterministic bytes."""
    problems = _Problems()
    if not isinstance(reason, str) or not reason.strip():
        problems.add("a correction needs a reason", file="case.json", column="correction.reason",
                     value=reason)
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        problems.add("a correction needs new seed sources", file="seed.json", column="sources", value=sources)
        sources = []
    for source in sources:
        if source in used_sources:
            problems.add("this source was already used by an earlier draw", file="seed.json",
                         column="sources", value=source, expected="new public randomness")
    school_ids = {s.school_id for s in previous.case.schools}
    added_seats = _parse_seats(additions.get("seats.csv"), school_ids, problems)
    added = _parse_applicants(additions.get("applicants.csv"), "additions/applicants.csv", school_ids,
                              problems, taken=dict.fromkeys(known, "by an earlier draw of this case")
                              ) if "applicants.csv" in additions else []
    waiting = [a for a in previous.case.applicants if outcome.placements.get(a.applicant_id) is None]
    pool_ids = {a.applicant_id for a in waiting} | {a.applicant_id for a in added}
    added_priorities = _parse_priorities(additions.get("priorities.csv"), "additions/priorities.csv",
                                         school_ids, pool_ids, problems)
    problems.raise_if_any("The correction is not valid")
    admitted = {c.school_id: c.admitted for c in outcome.cutoffs}
    case = previous.case
    schools = ["school_id,capacity,districts,program"]
    free = {s.school_id: s.capacity - admitted.get(s.school_id, 0) + added_seats.get(s.school_id, 0)
            for s in case.schools}
    schools += [f"{s.school_id},{free[s.school_id]},{_cell(';'.join(sorted(s.districts)))},{_cell(s.program)}"
                for s in case.schools]
    applicants = ["applicant_id,choices,group_id,district"]
    applicants += [f"{a.applicant_id},{';'.join(a.choices)},{a.group_id},{_cell(a.district)}"
                   for a in (*waiting, *added)]
    priorities = {k: v for k, v in case.priorities.items() if k[1] in pool_ids}
    priorities.update(added_priorities)
    priority_lines = ["school_id,applicant_id,tier"]
    priority_lines += [f"{s},{a},{t}" for (s, a), t in sorted(priorities.items())]
    settings = {"format": FORMAT, "title": case.title, "mechanism": case.mechanism.value,
                "multiples": case.multiples.value, "default_tier": case.default_tier,
                "correction": {"number": number, "reason": reason,
                               "previous_manifest_sha256": sha256_hex(previous_manifest)}}
    return {"case.json": _dump(settings), "schools.csv": _lines(schools),
            "applicants.csv": _lines(applicants), "priorities.csv": _lines(priority_lines),
            "seed.json": _dump({"sources": sources})}


def _lines(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def _parse_seats(data: bytes | None, school_ids: set[str], problems: _Problems) -> dict[str, int]:
    file = "additions/seats.csv"
    seats: dict[str, int] = {}
    if data is None:
        return seats
    _, rows = _rows(data, file, ("school_id", "added"), (), problems)
    for number, cells in rows:
        if cells[0] not in school_ids:
            problems.add("unknown school", file=file, column="school_id", row=number, value=cells[0],
                         expected="a school_id of the case")
        elif cells[0] in seats:
            problems.add("duplicate school_id", file=file, column="school_id", row=number, value=cells[0])
        added = _whole(cells[1], file=file, column="added", row=number, problems=problems)
        if added is not None:
            seats[cells[0]] = added
    return seats


def run_correction(out_dir: Path | str, sources: Sequence[str], reason: str,
                   additions: Path | str | None = None) -> dict[str, Any]:
    """Add correction N+1 to a verified draw: a new draw with new public randomness, written to
    OUT_DIR/corrections/N+1/. The original draw and earlier corrections are never changed."""
    out = Path(out_dir)
    differences = verify(out)
    if differences:
        raise IntegrityError(f"{out} does not verify, so it cannot be corrected: {differences[0]}")
    added = _read_files(Path(additions), ADDITION_FILES) if additions is not None else {}
    if additions is not None and not added:
        raise ValidationError(f"{additions} holds none of {', '.join(ADDITION_FILES)}.")
    chain = [out, *_correction_dirs(out, [])]
    known: set[str] = set()
    used: set[str] = set()
    checked_draws = []
    for directory in chain:
        checked = parse_case(_read_files(directory / "inputs", INPUT_FILES))
        known |= set(checked.applicant_ids)
        used |= set(checked.sources)
        checked_draws.append(checked)
    last, number = checked_draws[-1], len(chain)
    last_manifest = (chain[-1] / MANIFEST).read_bytes()
    inputs = correction_inputs(last, draw_case(last), last_manifest, number=number, reason=reason,
                               sources=list(sources), additions=added, known=known, used_sources=used)
    checked = parse_case(inputs, label=f"correction {number}")
    outputs = render(checked, draw_case(checked))
    files = {**outputs, **{f"inputs/{n}": d for n, d in inputs.items()},
             **{f"additions/{n}": d for n, d in added.items()}}
    _write_dir(out / "corrections" / str(number), files)
    manifest: dict[str, Any] = json.loads(outputs[MANIFEST])
    return manifest
