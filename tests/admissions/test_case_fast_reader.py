"""The fast reader of applicants.csv says exactly what the exact reader says.

Large cases are read as columns (``csv_reader.fast_applicants``); any file the fast path is
unsure of falls back to the exact reader. Here random plain files, with byte-order marks,
non-ASCII ids, twins' group ids and long district names, go through both.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jiaowei.admissions import case as case_files
from jiaowei.admissions import engine, proof

ID_CHARS = st.sampled_from(list("abcXYZ019-_") + ["张", "王", "é", "学"])
IDS = st.text(ID_CHARS, min_size=1, max_size=12)
DISTRICTS = st.sampled_from(["", "310101", "黄浦区", "a-district-name-longer-than-sixteen-bytes"])


@st.composite
def case_bytes(draw: st.DrawFn) -> dict[str, bytes]:
    schools = draw(st.lists(IDS, min_size=1, max_size=5, unique=True))
    ids = draw(st.lists(IDS, min_size=1, max_size=25, unique=True))
    lines = ["applicant_id,choices,group_id,district"]
    for applicant in ids:
        choices = draw(st.lists(st.sampled_from(schools), min_size=1, max_size=len(schools), unique=True))
        group = draw(st.sampled_from(["", "", "g1", "双胞胎2"]))
        lines.append(f"{applicant},{';'.join(choices)},{group},{draw(DISTRICTS)}")
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    capacities = "\n".join(f"{s},{draw(st.integers(0, 4))}" for s in schools)
    return {
        "case.json": json.dumps({"format": "jiaowei-lottery/1", "title": "t", "mechanism": "choice-rounds",
                                 "multiples": "separate", "default_tier": 9}).encode(),
        "schools.csv": f"school_id,capacity\n{capacities}\n".encode(),
        "applicants.csv": bom + ("\n".join(lines) + "\n").encode(),
        "seed.json": b'{"sources": ["test"]}',
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case_bytes())
def test_fast_reader_agrees_with_the_exact_reader(files):
    checked = case_files.parse_case(files)
    problems = case_files.Problems()
    exact = case_files.parse_applicants(files["applicants.csv"], "applicants.csv",
                                        {s.school_id for s in checked.settings.schools}, problems)
    assert problems.items == []
    assert list(checked.case.applicants) == exact
    slow = engine.draw(checked.case, checked.seed)
    assert proof.render_results(proof.draw_case(checked)) == proof.render_results(slow)


def test_a_plain_file_takes_the_fast_path():
    files = {
        "case.json": b'{"format": "jiaowei-lottery/1", "title": "t", "mechanism": "choice-rounds", '
                     b'"multiples": "separate", "default_tier": 9}',
        "schools.csv": b"school_id,capacity\nS1,1\n",
        "applicants.csv": b"applicant_id,choices,group_id\nA1,S1,\nA2,S1,\n",
        "seed.json": b'{"sources": ["x"]}',
    }
    assert case_files.parse_case(files).columns is not None
