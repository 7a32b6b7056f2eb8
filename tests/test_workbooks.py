"""Tables in and out (jiaowei.workbooks): the shared XLSX writer, column labels, and one rule for row
numbers across importers (the header is row 1), the last through the API on both databases."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from jiaowei.workbooks import Column, Table, cell_width, column_codes, numbered, write_tables
from tests.factories import indicator_setup, make_user, token_for

COLUMNS = (Column("code", "Unit code"), Column("name_zh", "Chinese name"), Column("note", "Note", width=30))
ROWS = [["S1", "第一小学校名很长很长很长", "=SUM(A1)"], ["S2", "二小", 12]]


def written(language: str) -> object:
    data = write_tables([Table("units", COLUMNS, ROWS)], language=language)
    return load_workbook(io.BytesIO(data))["units"]


def test_the_header_is_in_the_readers_language_bold_and_frozen() -> None:
    zh, en = written("zh_CN"), written("en")
    assert [c.value for c in zh[1]] == ["单位代码", "中文名称", "备注"]
    assert [c.value for c in en[1]] == ["Unit code", "Chinese name", "Note"]
    assert zh.freeze_panes == "A2" and all(c.font.bold for c in zh[1])
    assert [c.value for c in zh[2]] == ROWS[0] and zh["C2"].data_type == "s"  # text stays text, no formula
    assert zh["C3"].value == 12 and zh["C3"].data_type == "n"


def test_columns_are_as_wide_as_their_widest_cell() -> None:
    sheet = written("zh_CN")
    assert sheet.column_dimensions["A"].width == cell_width("单位代码") + 2
    assert sheet.column_dimensions["B"].width == cell_width(ROWS[0][1]) + 2 == 26  # CJK counts two
    assert sheet.column_dimensions["C"].width == 30  # the column's own width


def test_a_header_may_name_a_column_by_code_or_label_in_either_language() -> None:
    header = ["CODE", " unit code ", "中文名称", "Chinese Name", "note", "备注", "stray"]
    assert column_codes(header, COLUMNS) == ["code", "code", "name_zh", "name_zh", "note", "note", "stray"]


def test_rows_are_numbered_as_a_spreadsheet_shows_them() -> None:
    assert list(numbered(["header", "first", "second"])) == [(1, "header"), (2, "first"), (3, "second")]


UNITS_CSV = (
    "code,name_zh,name_en,type,parent,valid_from,attributes\r\n"
    "X1,一校,School X1,primary_school,D1,,\r\n"
    'X2,二校,School X2,primary_school,D1,,"{\r\n""分校"": true}"\r\n'  # one row over two lines of the file
    "X3,三校,School X3,primary_school,D1,2020-13-45,\r\n"  # row 4: not a date
)
VALUES_CSV = (
    "dataelement,period,orgunit,value,comment,followup\r\n"
    "TEACHERS,2020,S1,1,,\r\n"
    'TEACHERS,2020,S2,2,"two\r\nlines",\r\n'
    "TEACHERS,2020,S1,3,,maybe\r\n"  # row 4: followup is not true or false
)


def test_the_same_bad_line_has_the_same_row_number_in_every_importer(client, conn) -> None:
    indicator_setup(conn)
    headers = token_for(conn, make_user(conn))
    units = client.post("/api/units/import?filename=units.csv", content=UNITS_CSV.encode(), headers=headers)
    values = client.post("/api/dataValueSets?format=dhis2-csv", content=VALUES_CSV.encode(),
                         headers={**headers, "content-type": "text/csv"})
    assert units.status_code == values.status_code == 422, (units.text, values.text)
    unit_problem, = units.json()["problems"]
    value_problem, = values.json()["problems"]
    assert (unit_problem["field"], unit_problem["row"]) == ("valid_from", 4)
    assert (value_problem["field"], value_problem["row"]) == ("followup", 4)
