"""DHIS2 CSV read as DHIS2 reads it: columns by position, a header recognised whatever its words.

The data is DHIS2's own test file ``dataValueSetBooleanTest.csv`` (tests/fixtures/dhis2/README.md):
its header misspells ``dataelelement`` and says ``timestamp``, names no reader knows by heart.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.errors import ValidationError
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import formats
from tests.factories import make_unit, make_user, token_for

FIXTURE = Path(__file__).parents[2] / "fixtures" / "dhis2" / "dataValueSetBooleanTest.csv"
ELEMENTS = ("jH26dja2f30", "jH26dja2f31")
UNITS = ("DiszpKrYNg8", "BdfsJfj87js")


def dhis2_metadata(conn: Connection) -> dict[str, str]:
    """The boolean elements and the units the fixture names, collected monthly from primary schools;
    returns a data administrator's headers."""
    from jiaowei.indicators.metadata import service as metadata

    for unit in UNITS:
        make_unit(conn, unit)
    for element in ELEMENTS:
        metadata.save_data_element(conn, principal=SYSTEM, code=element, name_zh=f"布尔{element}",
                                   name_en=f"Boolean {element}", value_type="BOOLEAN",
                                   aggregation_type="COUNT")
    metadata.save_data_set(conn, principal=SYSTEM, code="DHIS2_M", name_zh="DHIS2 月报",
                           name_en="DHIS2 monthly", period_type="Monthly", elements=list(ELEMENTS),
                           unit_types=["primary_school"], due_days=15, expiry_days=0)
    return token_for(conn, make_user(conn, "dataadmin"))


def export(client: TestClient, headers: dict[str, str], format: str) -> bytes:
    """The stored values of the fixture's units and months, exported in ``format``."""
    response = client.get("/api/dataValueSets", headers=headers,
                          params={"orgUnit": UNITS, "period": ["201201", "201202"], "format": format})
    assert response.status_code == 200, response.text
    return response.content


def exported(client: TestClient, headers: dict[str, str]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Each stored value by (element, period, unit), as DHIS2 JSON exports it."""
    values = json.loads(export(client, headers, "dhis2-json"))["dataValues"]
    return {(v["dataElement"], v["period"], v["orgUnit"]): v for v in values}


def test_dhis2_file_is_read_by_position_and_its_header_skipped() -> None:
    rows = formats.read_csv(FIXTURE.read_bytes())
    assert len(rows) == 18 and [row.row for row in rows] == list(range(2, 20))  # the header is row 1
    assert rows[0] == ValueRow("jH26dja2f30", "201201", "DiszpKrYNg8", None, None, "true", "john", "comment",
                               False, False, 2)
    assert rows[8] == ValueRow("jH26dja2f30", "201201", "BdfsJfj87js", None, None, "1", "john", "comment",
                               False, False, 10)


def test_the_same_file_without_its_header_starts_at_row_1() -> None:
    data = FIXTURE.read_bytes()
    headerless = data[data.index(b"\n") + 1:]
    assert formats.read_csv(headerless) == [replace(row, row=row.row - 1) for row in formats.read_csv(data)]


@pytest.mark.parametrize("header", [
    "dataelement,period,orgunit,catoptcombo,attroptcombo,value,strby,lstupd,cmt,flwup,deleted",
    '"de","pe","ou","coc","aoc","v","storedBy","timestamp","comment","followUp"',
    "Data element,Period,Organisation unit,,,Value",
    "dataElement,period,orgUnit,categoryOptionCombo,attributeOptionCombo,value,storedBy,created,comment",
])
def test_any_header_words_are_skipped_and_the_columns_read_by_position(header: str) -> None:
    data = f"{header}\r\nA,2020,U1,M,,7,me,2020-01-01,note,true\r\n".encode()
    assert formats.read_csv(data) == [
        ValueRow("A", "2020", "U1", "M", None, "7", "me", "note", True, False, 2)]


@pytest.mark.parametrize(("first", "numbers"), [
    ("A,2020,U1,,,5", [1, 2]),       # a period: data
    ("A,x2020,U1,,,5", [1, 2]),      # a mistyped period but a number: data, its period refused later
    ("A,period,U1,,,value", [2]),    # words where the period and the value go: a header
    ("A,period,U1", [2]),            # words and no value cell at all: a header
])
def test_a_header_is_recognised_by_its_period_and_value_cells(first: str, numbers: list[int]) -> None:
    rows = formats.read_csv(f"{first}\nB,2021,U2,,,6\n".encode())
    assert [row.row for row in rows] == numbers
    assert rows[-1] == ValueRow("B", "2021", "U2", None, None, "6", row=2)


def test_a_first_row_without_period_is_data_and_its_problem_reported() -> None:
    with pytest.raises(ValidationError) as excinfo:
        formats.read_csv(b"A,,U1,,,5\nB,2021,U2,,,6\n")
    found = [(p.row, p.field, p.message) for p in excinfo.value.problems]
    assert found == [(1, "period", "the column is empty")]


def test_a_reordering_header_of_known_names_is_still_read_by_name() -> None:
    data = b"value,orgunit,dataelement,period,strby\n5,U1,A,2020,me\n"
    with pytest.raises(ValidationError) as excinfo:
        formats.read_csv(data)
    assert [(p.row, p.field, p.message) for p in excinfo.value.problems] == [(1, "strby", "unknown column")]


@pytest.mark.parametrize("header_rows", [1, 0])
def test_dhis2_file_imports_with_and_without_its_header(client: TestClient, conn: Connection,
                                                        header_rows: int) -> None:
    """DHIS2's file repeats keys: with ``atomicMode=NONE`` the first of each is imported, the rest
    are conflicts naming their rows (counted from the header, or from the first row without one)."""
    headers = dhis2_metadata(conn)
    data = FIXTURE.read_bytes()
    if not header_rows:
        data = data[data.index(b"\n") + 1:]
    response = client.post("/api/dataValueSets", content=data,
                           params={"format": "dhis2-csv", "atomicMode": "NONE"},
                           headers={**headers, "content-type": "text/csv"})
    assert response.status_code == 200, response.text
    body = response.json()["response"]
    assert body["importCount"] == {"imported": 4, "updated": 0, "ignored": 14, "deleted": 0}
    repeated = [3, 5, 6, 7, 8, 9, 11, 12, 13, 15, 16, 17, 18, 19]
    assert [c["row"] for c in body["conflicts"]] == [row - 1 + header_rows for row in repeated]
    values = exported(client, headers)
    assert {key: v["value"] for key, v in values.items()} == {
        ("jH26dja2f30", "201201", "DiszpKrYNg8"): "true",   # row 2: "true"
        ("jH26dja2f30", "201202", "DiszpKrYNg8"): "false",  # row 4: "false"
        ("jH26dja2f30", "201201", "BdfsJfj87js"): "true",   # row 10: "1"
        ("jH26dja2f31", "201202", "DiszpKrYNg8"): "true",   # row 14: "1"
    }
    assert {(v["storedBy"], v["comment"], v.get("followup", False)) for v in values.values()} == {
        ("john", "comment", False)}
    again = client.post("/api/dataValueSets", content=export(client, headers, "dhis2-csv"),
                        params={"format": "dhis2-csv"}, headers={**headers, "content-type": "text/csv"})
    assert again.status_code == 200, again.text
    assert again.json()["response"]["importCount"] == {"imported": 0, "updated": 0, "ignored": 4,
                                                       "deleted": 0}
