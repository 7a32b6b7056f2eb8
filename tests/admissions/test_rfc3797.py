"""IETF RFC 3797: the RFC's own worked example (section 6) and a published NomCom selection."""

from __future__ import annotations

import pytest

from jiaowei.admissions import rfc3797
from jiaowei.errors import ValidationError

RFC_SOURCES = ["9319", "2 5 12 8 10", "9 18 26 34 41 45"]
# RFC 3797 section 6: the key, the MD5 of each step, and the selection from a pool of 25.
RFC_KEY = "9319./2.5.8.10.12./9.18.26.34.41.45./"
RFC_DIGESTS = [
    "990DD0A5692A029A98B5E01AA28F3459", "3691E55CB63FCC37914430B2F70B5EC6",
    "FE814EDF564C190AC1D25753979990FA", "1863CCACEB568C31D7DDBDF1D4E91387",
    "F4AB33DF4889F0AF29C513905BE1D758", "13EAEB529F61ACFB9A29D0BA3A60DE4A",
    "992DB77C382CA2BDB9727001F3CDCCD9", "63AB4258ECA922976811C7F55C383CE7",
    "DFBC5AC97CED01B3A6E348E3CC63F40D", "31CB111C4A4EBE9287CEAE16FE51B909",
]
RFC_SELECTED = [17, 7, 2, 16, 25, 23, 8, 24, 19, 13]


def test_the_rfc_example_key_string():
    assert rfc3797.key_string(RFC_SOURCES) == RFC_KEY


def test_the_rfc_example_selection():
    names = [f"volunteer {n}" for n in range(1, 26)]
    chosen = rfc3797.select(names, RFC_SOURCES, 10)
    assert [s.digest for s in chosen] == RFC_DIGESTS
    assert [s.remaining for s in chosen] == list(range(25, 15, -1))
    assert [s.number for s in chosen] == RFC_SELECTED
    assert [s.name for s in chosen] == [f"volunteer {n}" for n in RFC_SELECTED]


def test_the_2013_nomcom_selection():
    # the 2013-2014 NomCom: pool of 154, 12 selected, with the reference implementation's output
    sources = ["7 8 11 17 19 25 46", "08285182", "60115701", "2 3 18 26 32 33 42"]
    assert rfc3797.key_string(sources) == "7.8.11.17.19.25.46./8285182./60115701./2.3.18.26.32.33.42./"
    chosen = rfc3797.select([str(n) for n in range(1, 155)], sources, 12)
    assert chosen[0].digest == "D31D1C4AC453CA37989E9920B4E9BC03"
    assert [s.number for s in chosen] == [138, 151, 89, 112, 117, 145, 118, 143, 144, 122, 95, 139]


@pytest.mark.parametrize(("text", "canonical"), [("0042", "42."), ("0", "0."), ("3.140", "3.14"),
                                                 ("3.0", "3."), ("007.50", "7.5")])
def test_numbers_are_written_as_the_rfc_says(text, canonical):
    assert rfc3797.canonical_number(text) == canonical


def test_numbers_are_sorted_numerically_within_a_source():
    assert rfc3797.key_string(["10 9 100", "1,2"]) == "9.10.100./1.2./"


@pytest.mark.parametrize("sources", [["drand abc"], [""], [], ["1 -2"]])
def test_non_numeric_sources_are_refused(sources):
    with pytest.raises(ValidationError):
        rfc3797.key_string(sources)


def test_cannot_select_more_than_the_pool():
    with pytest.raises(ValidationError, match="Cannot select"):
        rfc3797.select(["a", "b"], ["1"], 3)


def test_a_pool_file_has_one_name_per_line():
    assert rfc3797.read_pool("张三\nLi Si\n".encode()) == ["张三", "Li Si"]
    with pytest.raises(ValidationError) as caught:
        rfc3797.read_pool(b"a\n\nb\n", "pool.txt")
    assert caught.value.problems[0].row == 2
