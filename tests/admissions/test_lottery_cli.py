"""``jiaowei lottery``, run as a subprocess the way operators and families run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jiaowei.admissions import case

EXAMPLE = Path(case.__file__).parent / "examples" / "private-primary"


def lottery(*args: str | Path, expect: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}
    done = subprocess.run([sys.executable, "-m", "jiaowei", "lottery", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == expect, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLE, tmp_path / "case"))


def test_commit_prints_the_pool_digest_alone_on_the_last_line(case_dir):
    done = lottery("commit", case_dir)
    assert done.stdout.strip().splitlines()[-1] == case.pool_digest(case_dir)


def test_commit_needs_no_seed(case_dir):
    (case_dir / "seed.json").unlink()
    assert lottery("commit", case_dir).stdout.strip().splitlines()[-1] == case.pool_digest(case_dir)


def test_draw_then_verify(case_dir, tmp_path):
    out = tmp_path / "out"
    done = lottery("draw", case_dir, "--out", out)
    assert case.pool_digest(case_dir) in done.stdout
    verified = lottery("verify", out, "--pool-digest", case.pool_digest(case_dir))
    assert verified.stdout.startswith("OK")
    lottery("verify", out, "--pool-digest", "0" * 64, expect=9)


def test_verify_exits_non_zero_naming_the_first_difference(case_dir, tmp_path):
    out = tmp_path / "out"
    lottery("draw", case_dir, "--out", out)
    results = (out / "results.csv").read_text(encoding="utf-8")
    (out / "results.csv").write_text(results.replace(",MB03,1\n", ",MB01,1\n", 1), encoding="utf-8")
    done = lottery("verify", out, expect=9)
    assert "first difference: results.csv line" in done.stderr


def test_draw_refuses_a_non_empty_out_dir(case_dir, tmp_path):
    out = tmp_path / "out"
    lottery("draw", case_dir, "--out", out)
    lottery("draw", case_dir, "--out", out, expect=4)


def test_bad_input_exits_2_naming_file_row_and_value(case_dir, tmp_path):
    text = (case_dir / "schools.csv").read_text(encoding="utf-8")
    (case_dir / "schools.csv").write_text(text.replace("MB02,2", "MB02,-2"), encoding="utf-8")
    done = lottery("draw", case_dir, "--out", tmp_path / "out", expect=2)
    assert "schools.csv:capacity" in done.stderr and "-2" in done.stderr
    assert "│ 3 " in done.stderr  # the row column of the problem table
    assert not (tmp_path / "out").exists()


def test_correct_adds_a_verified_correction(case_dir, tmp_path):
    out = tmp_path / "out"
    lottery("draw", case_dir, "--out", out)
    lottery("correct", out, "--source", "example only: 51234", "--reason", "appeal decision 7")
    assert (out / "corrections" / "1" / "manifest.json").is_file()
    assert "1 correction(s)" in lottery("verify", out).stdout


def test_rfc3797_prints_the_rfc_example_selection(tmp_path):
    pool = tmp_path / "pool.txt"
    pool.write_text("".join(f"name {n}\n" for n in range(1, 26)), encoding="utf-8")
    done = lottery("rfc3797", "--pool", pool, "--source", "9319", "--source", "2 5 12 8 10",
                   "--source", "9 18 26 34 41 45", "--count", "10")
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "key: 9319./2.5.8.10.12./9.18.26.34.41.45./"
    assert [int(line.split()[3]) for line in lines[2:]] == [17, 7, 2, 16, 25, 23, 8, 24, 19, 13]
    assert lines[2].endswith("name 17")


def test_rfc3797_refuses_a_non_numeric_source(tmp_path):
    pool = tmp_path / "pool.txt"
    pool.write_text("a\nb\n", encoding="utf-8")
    done = lottery("rfc3797", "--pool", pool, "--source", "heads", "--count", "1", expect=2)
    assert "heads" in done.stderr
