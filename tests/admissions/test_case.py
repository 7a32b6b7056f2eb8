"""Case files, the published algorithm, the proof bundle, verification and corrections."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from jiaowei.admissions import case, proof
from jiaowei.errors import Conflict, IntegrityError, ValidationError

EXAMPLE = Path(case.__file__).parent / "examples" / "private-primary"
FILES = ("case.json", "schools.csv", "applicants.csv", "priorities.csv")


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLE, tmp_path / "case"))


@pytest.fixture
def drawn(case_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    proof.run_draw(case_dir, out)
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def snapshot(directory: Path) -> dict[str, bytes]:
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    return {str(p.relative_to(directory)): p.read_bytes() for p in files}


# --------------------------------------------------------------------------- bad input

BAD_INPUTS: list[tuple[Any, ...]] = [
    # (name, file, old, new, field, row, value)
    ("duplicate applicant", "applicants.csv", "P012,MB01;MB03,,minhang", "P001,MB01;MB03,,minhang",
     "applicants.csv:applicant_id", 13, "P001"),
    ("unknown school in choices", "applicants.csv", "P003,MB02;MB01", "P003,MB02;MB99",
     "applicants.csv:choices", 4, "MB99"),
    ("duplicate choice", "applicants.csv", "P004,MB01,", "P004,MB01;MB01,", "applicants.csv:choices", 5,
     "MB01;MB01"),
    ("wrong column count", "applicants.csv", "P007,MB02;MB03,,pudong", "P007,MB02;MB03,,pudong,extra",
     "applicants.csv", 8, None),
    ("malformed CSV", "applicants.csv", "P011,MB03,,pudong", 'P011,"MB03,,pudong', "applicants.csv",
     None, None),
    ("wrong header", "schools.csv", "school_id,capacity", "id,capacity", "schools.csv", 1,
     "id,capacity,districts,program"),
    ("duplicate school", "schools.csv", "MB03,4", "MB01,4", "schools.csv:school_id", 4, "MB01"),
    ("negative capacity", "schools.csv", "MB02,2", "MB02,-2", "schools.csv:capacity", 3, "-2"),
    ("non-integer capacity", "schools.csv", "MB02,2", "MB02,2.5", "schools.csv:capacity", 3, "2.5"),
    ("unknown school in priorities", "priorities.csv", "MB03,P008,2", "MB77,P008,2",
     "priorities.csv:school_id", 3, "MB77"),
    ("unknown applicant in priorities", "priorities.csv", "MB03,P008,2", "MB03,P999,2",
     "priorities.csv:applicant_id", 3, "P999"),
    ("bad JSON", "case.json", '"default_tier": 9', '"default_tier": 9,', "case.json", 7, None),
    ("wrong format", "case.json", "jiaowei-lottery/1", "jiaowei-lottery/2", "case.json:format", None,
     "jiaowei-lottery/2"),
    ("unknown mechanism", "case.json", "choice-rounds", "boston", "case.json:mechanism", None, "boston"),
    ("empty sources", "seed.json", '"sources": [', '"sources": [], "old": [', "seed.json:sources", None, []),
]


@pytest.mark.parametrize(("file", "old", "new", "field", "row", "value"),
                         [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_names_file_row_and_value_and_writes_nothing(case_dir, tmp_path, file, old, new, field,
                                                               row, value):
    edit(case_dir / file, old, new)
    out = tmp_path / "out"
    with pytest.raises(ValidationError) as caught:
        proof.run_draw(case_dir, out)
    problems = [p for p in caught.value.problems if p.field == field]
    assert problems, caught.value.problems
    assert file in problems[0].message
    if row is not None:
        assert problems[0].row == row
    if value is not None:
        assert problems[0].value == value
    assert not out.exists()


def test_missing_seed_is_refused(case_dir, tmp_path):
    (case_dir / "seed.json").unlink()
    with pytest.raises(ValidationError) as caught:
        proof.run_draw(case_dir, tmp_path / "out")
    assert [p.field for p in caught.value.problems] == ["seed.json"]
    assert not (tmp_path / "out").exists()


def test_every_problem_of_every_file_is_reported_at_once(case_dir, tmp_path):
    edit(case_dir / "schools.csv", "MB02,2", "MB02,-1")
    edit(case_dir / "applicants.csv", "P003,MB02;MB01", "P003,MB02;MB09")
    edit(case_dir / "case.json", "together", "triplets")
    with pytest.raises(ValidationError) as caught:
        proof.run_draw(case_dir, tmp_path / "out")
    fields = {p.field for p in caught.value.problems}
    assert {"schools.csv:capacity", "applicants.csv:choices", "case.json:multiples"} <= fields


def test_a_combination_the_engine_refuses_writes_nothing(case_dir, tmp_path):
    edit(case_dir / "case.json", "choice-rounds", "deferred-acceptance")
    with pytest.raises(ValidationError, match="refuses"):
        proof.run_draw(case_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_non_empty_out_dir_is_refused(case_dir, drawn):
    before = snapshot(drawn)
    with pytest.raises(Conflict, match="not empty"):
        proof.run_draw(case_dir, drawn)
    assert snapshot(drawn) == before


def test_an_empty_out_dir_is_used(case_dir, tmp_path):
    (tmp_path / "empty").mkdir()
    proof.run_draw(case_dir, tmp_path / "empty")
    assert (tmp_path / "empty" / "results.csv").is_file()


# --------------------------------------------------------------------------- the published algorithm


def independent_pool_digest(directory: Path) -> str:
    parts = b""
    for name in FILES:
        path = directory / name
        parts += hashlib.sha256(path.read_bytes() if path.exists() else b"").digest()
    return hashlib.sha256(parts).hexdigest()


def test_pool_digest_and_seed_match_an_independent_computation(case_dir):
    pool = independent_pool_digest(case_dir)
    assert case.pool_digest(case_dir) == pool
    sources = json.loads((case_dir / "seed.json").read_text(encoding="utf-8"))["sources"]
    seed = hashlib.sha256(("jiaowei-lottery/1\n" + pool + "\n" + "\n".join(sources)).encode()).digest()
    assert case.derive_seed(pool, sources) == seed
    assert case.read_case(case_dir).seed == seed


def test_pool_digest_counts_an_absent_priorities_file_as_empty_bytes(case_dir):
    (case_dir / "priorities.csv").unlink()
    assert case.pool_digest(case_dir) == independent_pool_digest(case_dir)
    empty = hashlib.sha256(b"").digest()
    raw = b"".join(hashlib.sha256((case_dir / n).read_bytes()).digest() for n in FILES[:3]) + empty
    assert case.pool_digest(case_dir) == hashlib.sha256(raw).hexdigest()


def test_the_seed_does_not_change_the_pool_digest(case_dir):
    before = case.pool_digest(case_dir)
    (case_dir / "seed.json").write_text('{"sources": ["other"]}', encoding="utf-8")
    assert case.pool_digest(case_dir) == before


def test_results_follow_the_published_lottery_values(drawn):
    manifest = json.loads((drawn / "manifest.json").read_bytes())
    seed = bytes.fromhex(manifest["seed"])
    lines = (drawn / "results.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "applicant_id,lottery_rank,lottery_value,school_id,choice_rank"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == 12
    for rank, (applicant_id, lottery_rank, value, _, _) in enumerate(rows, start=1):
        assert int(lottery_rank) == rank
        assert value == hashlib.sha256(seed + applicant_id.encode()).hexdigest()
    assert [r[2] for r in rows] == sorted(r[2] for r in rows)
    assert manifest["pool_digest"] == independent_pool_digest(drawn / "inputs")


def test_the_bundle_has_every_output_and_an_exact_copy_of_the_inputs(case_dir, drawn):
    assert sorted(p.name for p in drawn.iterdir()) == [
        "cutoffs.csv", "inputs", "manifest.json", "results.csv", "transcript.txt"]
    assert snapshot(drawn / "inputs") == snapshot(case_dir)
    manifest = json.loads((drawn / "manifest.json").read_bytes())
    for name in ("results.csv", "cutoffs.csv", "transcript.txt"):
        assert manifest["outputs"][name] == hashlib.sha256((drawn / name).read_bytes()).hexdigest()
    assert set(manifest) >= {"format", "engine", "inputs", "pool_digest", "seed_sources", "seed", "outputs",
                             "ineligible"}
    assert ["P010", "MB02"] in manifest["ineligible"]  # MB02 admits only pudong and xuhui
    assert b"\r" not in b"".join(snapshot(drawn).values())


def test_the_same_case_gives_byte_identical_bundles(case_dir, tmp_path):
    proof.run_draw(case_dir, tmp_path / "one")
    proof.run_draw(case_dir, tmp_path / "two")
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")


# --------------------------------------------------------------------------- verification


def test_an_untouched_draw_verifies(drawn):
    assert proof.verify(drawn) == []


def _change_seat(out: Path) -> None:
    edit(out / "results.csv", ",MB03,1\n", ",MB01,1\n")


def _change_rank(out: Path) -> None:
    lines = (out / "results.csv").read_text(encoding="utf-8").split("\n")
    lines[1], lines[2] = lines[2], lines[1]
    (out / "results.csv").write_text("\n".join(lines), encoding="utf-8")


def _change_input_byte(out: Path) -> None:
    data = bytearray((out / "inputs" / "applicants.csv").read_bytes())
    data[-3] ^= 1
    (out / "inputs" / "applicants.csv").write_bytes(bytes(data))


def _change_manifest_field(out: Path) -> None:
    manifest = json.loads((out / "manifest.json").read_bytes())
    manifest["seed_sources"][0] = "example only: 739202"
    (out / "manifest.json").write_bytes(proof.dump_json(manifest))


def _change_input_and_its_digest(out: Path) -> None:
    edit(out / "inputs" / "schools.csv", "MB03,4", "MB03,5")
    manifest = json.loads((out / "manifest.json").read_bytes())
    manifest["inputs"]["schools.csv"] = sha256(out / "inputs" / "schools.csv")
    (out / "manifest.json").write_bytes(proof.dump_json(manifest))


TAMPERING = [
    ("changed seat", _change_seat, "results.csv line"),
    ("changed rank", _change_rank, "results.csv line 2"),
    ("changed cutoff", lambda out: edit(out / "cutoffs.csv", "MB02,2,2", "MB02,2,1"), "cutoffs.csv line 3"),
    ("changed input byte", _change_input_byte, "inputs/applicants.csv: SHA-256"),
    ("changed manifest field", _change_manifest_field, "manifest.json field seed_sources"),
    ("changed input with its digest", _change_input_and_its_digest, "results.csv line 2"),
    ("deleted output", lambda out: (out / "cutoffs.csv").unlink(), "cutoffs.csv: missing"),
    ("deleted input", lambda out: (out / "inputs" / "priorities.csv").unlink(),
     "inputs/priorities.csv: missing"),
    ("deleted manifest", lambda out: (out / "manifest.json").unlink(), "manifest.json: missing"),
    ("added file", lambda out: (out / "extra.csv").write_text("x"), "extra.csv: not part of the draw"),
    ("changed transcript", lambda out: edit(out / "transcript.txt", "applicants: 12", "applicants: 13"),
     "transcript.txt line"),
]


@pytest.mark.parametrize(("tamper", "first"), [t[1:] for t in TAMPERING], ids=[t[0] for t in TAMPERING])
def test_verify_names_the_first_difference(drawn, tamper, first):
    tamper(drawn)
    differences = proof.verify(drawn)
    assert differences, "tampering was not detected"
    assert differences[0].startswith(first), differences


# --------------------------------------------------------------------------- corrections


@pytest.fixture
def additions(tmp_path: Path) -> Path:
    directory = tmp_path / "additions"
    directory.mkdir()
    (directory / "seats.csv").write_text("school_id,added\nMB01,1\n", encoding="utf-8")
    (directory / "applicants.csv").write_text(
        "applicant_id,choices,group_id,district\nP013,MB01;MB03,,xuhui\n", encoding="utf-8")
    return directory


REASON = "appeal decision: one seat added"


@pytest.fixture
def corrected(drawn, additions) -> tuple[Path, dict[str, bytes], dict[str, Any]]:
    """The drawn example with correction 1 (one seat and one applicant added): (bundle, before, manifest)."""
    before = snapshot(drawn)
    manifest = proof.run_correction(drawn, ["example only: 51234"], REASON, additions)
    return drawn, before, manifest


def test_a_correction_leaves_the_original_draw_unchanged_and_verifies(corrected):
    drawn, before, _manifest = corrected
    assert snapshot(drawn) == {**before, **{k: v for k, v in snapshot(drawn).items()
                                           if k.startswith("corrections/")}}
    assert proof.verify(drawn) == []


def test_a_correction_records_its_number_reason_predecessor_and_seed(corrected):
    drawn, before, manifest = corrected
    fix = drawn / "corrections" / "1"
    assert manifest["correction"]["number"] == 1
    assert manifest["correction"]["reason"] == REASON
    assert manifest["correction"]["previous_manifest_sha256"] == hashlib.sha256(
        before["manifest.json"]).hexdigest()
    assert manifest["seed_sources"] == ["example only: 51234"]
    assert manifest["pool_digest"] == independent_pool_digest(fix / "inputs")
    transcript = (fix / "transcript.txt").read_text(encoding="utf-8")
    assert f"reason: \"{REASON}\"" in transcript
    assert "source 1: \"example only: 51234\"" in transcript


def test_a_correction_draws_the_free_and_added_seats_among_those_not_yet_placed(corrected):
    drawn, _before, _manifest = corrected
    fix = drawn / "corrections" / "1"
    assert "MB01,1,," in (fix / "inputs" / "schools.csv").read_text(encoding="utf-8")
    rows = (fix / "inputs" / "applicants.csv").read_text().splitlines()[1:]
    waiting = [line.split(",")[0] for line in rows]
    placed = {line.split(",")[0] for line in (drawn / "results.csv").read_text().splitlines()[1:]
              if line.split(",")[3]}
    assert "P013" in waiting and not placed & set(waiting)


def test_corrections_chain_and_are_verified(drawn, additions):
    proof.run_correction(drawn, ["example only: 51234"], "first appeal")
    proof.run_correction(drawn, ["example only: 777"], "second appeal", additions)
    assert proof.verify(drawn) == []
    edit(drawn / "corrections" / "2" / "results.csv", "P013,", "P014,")
    assert proof.verify(drawn)[0].startswith("corrections/2/results.csv line")


def test_a_correction_whose_inputs_do_not_follow_from_the_draw_is_detected(drawn, additions):
    proof.run_correction(drawn, ["example only: 51234"], "appeal", additions)
    fix = drawn / "corrections" / "1"
    edit(fix / "inputs" / "schools.csv", "MB01,1,", "MB01,2,")
    manifest = json.loads((fix / "manifest.json").read_bytes())
    manifest["inputs"]["schools.csv"] = sha256(fix / "inputs" / "schools.csv")
    (fix / "manifest.json").write_bytes(proof.dump_json(manifest))
    assert proof.verify(drawn)[0].startswith("corrections/1/inputs/schools.csv line 2")


def test_a_correction_needs_new_randomness_and_a_reason(drawn):
    with pytest.raises(ValidationError, match="correction"):
        proof.run_correction(drawn, ["example only: 739201"], "reusing the old source")
    with pytest.raises(ValidationError):
        proof.run_correction(drawn, ["fresh"], " ")
    assert not (drawn / "corrections").exists()


def test_an_added_applicant_must_be_new(drawn, additions):
    (additions / "applicants.csv").write_text("applicant_id,choices,group_id\nP001,MB01,\n", encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        proof.run_correction(drawn, ["fresh"], "appeal", additions)
    assert caught.value.problems[0].field == "additions/applicants.csv:applicant_id"
    assert caught.value.problems[0].row == 2


def test_a_tampered_draw_cannot_be_corrected(drawn):
    _change_seat(drawn)
    with pytest.raises(IntegrityError, match="results.csv"):
        proof.run_correction(drawn, ["fresh"], "appeal")
    assert not (drawn / "corrections").exists()
