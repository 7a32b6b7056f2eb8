"""The proof bundle of a draw: draw and write every file byte for byte, verify it, correct it.

``run_draw`` checks a case (:mod:`jiaowei.admissions.case`), draws, and writes ``results.csv``,
``cutoffs.csv``, ``transcript.txt``, ``manifest.json`` and ``inputs/`` into a new directory.
``verify`` re-derives every output of a draw and of each correction from their ``inputs/`` and
names the first difference of each file; ``run_correction`` adds correction N+1 to a bundle that
verifies: a new draw for the seats still free among everyone not yet placed, on new public
randomness. The original draw is never changed. The formats and the design are in docs/lottery.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import numpy as np

from jiaowei.admissions import engine
from jiaowei.admissions.case import (
    ADDITION_FILES,
    INPUT_FILES,
    MANIFEST,
    OUTPUT_FILES,
    POOL_FILES,
    CaseFiles,
    Problems,
    csv_rows,
    parse_applicants,
    parse_case,
    parse_priorities,
    read_case,
    read_files,
    sha256_hex,
    whole_number,
)
from jiaowei.admissions.model import FORMAT, Outcome
from jiaowei.errors import Conflict, IntegrityError, Problem, ValidationError

# ---------------------------------------------------------------- drawing and writing the proof


_MALLOC_TUNED: list[bool] = []


def keep_freed_memory() -> None:
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
    return str(engine.ENGINE_VERSION)


def draw_case(checked: CaseFiles) -> Outcome:
    """Run the engine; a combination it refuses becomes a ValidationError."""
    try:
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


def csv_cell(value: str) -> str:
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


def render_results(outcome: Outcome) -> bytes:
    arrays = engine.result_arrays(outcome)
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
    text = dump_json(manifest)
    if not outcome.ineligible:
        return text
    empty = b'\n "ineligible": [],\n'  # a key of the top level: indented by one space
    at = text.index(empty)
    listed = _pairs_json(outcome.ineligible).encode("utf-8")
    return text[:at] + b'\n "ineligible": ' + listed + b",\n" + text[at + len(empty):]


_JSON_ESCAPED = re.compile(r'[\x00-\x1f"\\]')  # what json escapes with ensure_ascii=False


def _pairs_json(pairs: Sequence[Sequence[str]]) -> str:
    """A list of lists of strings as ``dump_json`` writes it as a value of the top level (indent=1):
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


def dump_json(doc: Any) -> bytes:
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


def write_dir(target: Path, files: Mapping[str, bytes]) -> None:
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
    keep_freed_memory()
    with engine.no_cyclic_gc():
        checked = read_case(case_dir)
        outcome = draw_case(checked)
        outputs = render(checked, outcome)
        write_dir(out, {**outputs, **{f"inputs/{n}": d for n, d in checked.files.items()}})
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
    inputs = read_files(directory / "inputs", INPUT_FILES)
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
    keep_freed_memory()
    with engine.no_cyclic_gc():
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
    inputs = read_files(directory / "inputs", ("case.json", "seed.json"))
    try:
        meta = json.loads(inputs.get("case.json", b"{}"))["correction"]
        sources = json.loads(inputs.get("seed.json", b"{}"))["sources"]
        reason = meta["reason"]
    except (ValueError, KeyError, TypeError):
        problem = Problem("no correction reason or seed sources", field=f"{label}inputs/case.json")
        raise ValidationError(f"{label}inputs/ does not describe a correction.", [problem]) from None
    additions = read_files(directory / "additions", ADDITION_FILES)
    return correction_inputs(previous.checked, previous.outcome, previous.manifest, number=number,
                             reason=reason, sources=sources, additions=additions, known=known,
                             used_sources=used_sources)


def correction_inputs(previous: CaseFiles, outcome: Outcome, previous_manifest: bytes, *, number: int,
                      reason: Any, sources: Any, additions: Mapping[str, bytes], known: set[str],
                      used_sources: set[str]) -> dict[str, bytes]:
    """The case of correction ``number``: everyone not yet placed plus the added applicants, for the
    seats still free plus the added seats, with new public randomness. Deterministic bytes."""
    problems = Problems()
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
    added = parse_applicants(additions.get("applicants.csv"), "additions/applicants.csv", school_ids,
                              problems, taken=dict.fromkeys(known, "by an earlier draw of this case")
                              ) if "applicants.csv" in additions else []
    waiting = [a for a in previous.case.applicants if outcome.placements.get(a.applicant_id) is None]
    pool_ids = {a.applicant_id for a in waiting} | {a.applicant_id for a in added}
    added_priorities = parse_priorities(additions.get("priorities.csv"), "additions/priorities.csv",
                                         school_ids, pool_ids, problems)
    problems.raise_if_any("The correction is not valid")
    admitted = {c.school_id: c.admitted for c in outcome.cutoffs}
    case = previous.case
    schools = ["school_id,capacity,districts,program"]
    free = {s.school_id: s.capacity - admitted.get(s.school_id, 0) + added_seats.get(s.school_id, 0)
            for s in case.schools}
    schools += [f"{s.school_id},{free[s.school_id]},{csv_cell(';'.join(sorted(s.districts)))},"
                f"{csv_cell(s.program)}" for s in case.schools]
    applicants = ["applicant_id,choices,group_id,district"]
    applicants += [f"{a.applicant_id},{';'.join(a.choices)},{a.group_id},{csv_cell(a.district)}"
                   for a in (*waiting, *added)]
    priorities = {k: v for k, v in case.priorities.items() if k[1] in pool_ids}
    priorities.update(added_priorities)
    priority_lines = ["school_id,applicant_id,tier"]
    priority_lines += [f"{s},{a},{t}" for (s, a), t in sorted(priorities.items())]
    settings = {"format": FORMAT, "title": case.title, "mechanism": case.mechanism.value,
                "multiples": case.multiples.value, "default_tier": case.default_tier,
                "correction": {"number": number, "reason": reason,
                               "previous_manifest_sha256": sha256_hex(previous_manifest)}}
    return {"case.json": dump_json(settings), "schools.csv": _lines(schools),
            "applicants.csv": _lines(applicants), "priorities.csv": _lines(priority_lines),
            "seed.json": dump_json({"sources": sources})}


def _lines(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def _parse_seats(data: bytes | None, school_ids: set[str], problems: Problems) -> dict[str, int]:
    file = "additions/seats.csv"
    seats: dict[str, int] = {}
    if data is None:
        return seats
    _, rows = csv_rows(data, file, ("school_id", "added"), (), problems)
    for number, cells in rows:
        if cells[0] not in school_ids:
            problems.add("unknown school", file=file, column="school_id", row=number, value=cells[0],
                         expected="a school_id of the case")
        elif cells[0] in seats:
            problems.add("duplicate school_id", file=file, column="school_id", row=number, value=cells[0])
        added = whole_number(cells[1], file=file, column="added", row=number, problems=problems)
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
    added = read_files(Path(additions), ADDITION_FILES) if additions is not None else {}
    if additions is not None and not added:
        raise ValidationError(f"{additions} holds none of {', '.join(ADDITION_FILES)}.")
    chain = [out, *_correction_dirs(out, [])]
    known: set[str] = set()
    used: set[str] = set()
    checked_draws = []
    for directory in chain:
        checked = parse_case(read_files(directory / "inputs", INPUT_FILES))
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
    write_dir(out / "corrections" / str(number), files)
    manifest: dict[str, Any] = json.loads(outputs[MANIFEST])
    return manifest
