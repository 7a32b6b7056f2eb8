"""The shortcuts a large case takes say exactly what the plain code says.

The lottery values are hashed in a thread while applicants.csv is parsed (from
``csv_reader._THREAD_FROM`` applicants), short school ids are looked up in one collision-free hash
table, and ``run_draw`` returns the manifest without parsing its list of ineligible choices.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from jiaowei.admissions import case as case_files
from jiaowei.admissions import csv_reader, engine, proof
from jiaowei.errors import ValidationError

EXAMPLE = Path(case_files.__file__).parent / "examples" / "private-primary"


def example_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in EXAMPLE.iterdir()}


def test_the_threaded_reader_reads_the_same_case(monkeypatch: pytest.MonkeyPatch) -> None:
    files = example_files()
    plain = case_files.parse_case(files)
    expected = proof.render(plain, engine.draw(plain.case, plain.seed))
    monkeypatch.setattr(csv_reader, "_THREAD_FROM", 1)  # the reader hashes in a thread
    threaded = case_files.parse_case(files)
    assert threaded.columns is not None and plain.columns is not None
    assert threaded.case == plain.case
    assert threaded.lottery == (plain.seed, engine.lottery_digests(plain.seed, plain.columns.ids))
    assert proof.render(threaded, proof.draw_case(threaded)) == expected
    assert list(expected) == ["results.csv", "cutoffs.csv", "transcript.txt", "manifest.json"]


@pytest.mark.parametrize("thread_from", [1, 10**9])
def test_a_repeated_applicant_is_still_named_with_its_row(monkeypatch: pytest.MonkeyPatch,
                                                          thread_from: int) -> None:
    monkeypatch.setattr(csv_reader, "_THREAD_FROM", thread_from)
    files = example_files()
    files["applicants.csv"] += b"P002,MB01,,pudong\n"
    with pytest.raises(ValidationError) as raised:
        case_files.parse_case(files)
    assert any("duplicate applicant_id" in p.message for p in raised.value.problems)


def test_a_priority_for_an_unknown_applicant_is_named() -> None:
    files = example_files()
    files["priorities.csv"] += b"MB01,NOBODY,1\n"
    with pytest.raises(ValidationError) as raised:
        case_files.parse_case(files)
    assert [p.value for p in raised.value.problems] == ["NOBODY"]


def test_the_short_lookup_agrees_with_the_general_one() -> None:
    rng = np.random.default_rng(5)
    names = ["S1", "S10", "S100", "ABCDEFGH", "学校", "x"]
    asked = names + ["S", "S1000", "ABCDEFG", "y", "学"]
    tokens = [asked[k] for k in rng.integers(0, len(asked), size=500).tolist()]

    def laid_out(words: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raw = [w.encode("utf-8") for w in words]
        length = np.array([len(r) for r in raw], dtype=np.int64)
        blob = np.frombuffer(b"".join(raw) + bytes(16), dtype=np.uint8)
        return blob, np.cumsum(length) - length, length

    blob, start, length = laid_out(tokens)
    table_blob, table_start, table_length = laid_out(names)
    general = csv_reader._lookup(csv_reader._token_keys(blob, start, length),
                                 csv_reader._token_keys(table_blob, table_start, table_length))
    short = csv_reader._lookup_short(blob, start, length, table_blob, table_length)
    assert short is not None
    assert short.tolist() == general.tolist()
    assert (short < 0).any() and (short >= 0).any()


def test_run_draw_returns_the_manifest_it_writes(tmp_path: Path) -> None:
    case_dir = Path(shutil.copytree(EXAMPLE, tmp_path / "case"))
    manifest = proof.run_draw(case_dir, tmp_path / "out")
    written = json.loads((tmp_path / "out" / "manifest.json").read_bytes())
    assert manifest["ineligible"]
    assert manifest == written and list(manifest) == list(written)


def test_ineligible_pairs_that_need_escaping_take_the_exact_encoder() -> None:
    pairs = [("a", "b"), ('q"uote', "back\\slash"), ("tab\there", "é")]
    expected = json.dumps({"ineligible": [list(p) for p in pairs]}, ensure_ascii=False, indent=1)
    assert expected == '{\n "ineligible": ' + proof._pairs_json(pairs) + "\n}"
    plain = [("a", "b"), ("中文", "S2")]
    expected = json.dumps({"ineligible": [list(p) for p in plain]}, ensure_ascii=False, indent=1)
    assert expected == '{\n "ineligible": ' + proof._pairs_json(plain) + "\n}"
