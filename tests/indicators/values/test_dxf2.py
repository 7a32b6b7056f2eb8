"""DXF2 XML, DHIS2's default XML for data values, in and out (issue 13, item 9).

The files are dhis2-core's own ``dataValueSet*.xml`` test resources (tests/fixtures/dhis2/README.md),
imported after creating the metadata they name.
"""

from __future__ import annotations

import dataclasses
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.errors import ValidationError
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import formats
from jiaowei.indicators.values.formats.common import Completion
from jiaowei.indicators.values.formats.dxf2 import parse_dxf2
from tests.factories import make_unit, make_user, token_for

DXF2 = Path(__file__).parents[2] / "fixtures" / "dhis2" / "dxf2"
ELEMENTS = ("f7n9E0hX8qk", "Ix2HsbDMLea", "eY5ehpbEsB7")
UNITS = ("DiszpKrYNg8", "BdfsJfj87js")


def fixture(name: str) -> bytes:
    return (DXF2 / name).read_bytes()


# ---------------------------------------------------------------- reading DHIS2's files


def test_dhis2s_data_value_set_a_is_read_value_by_value() -> None:
    rows = formats.read("dxf2", fixture("dataValueSetA.xml"))
    assert rows == [
        ValueRow(
            "f7n9E0hX8qk", "201201", "DiszpKrYNg8", None, None, "10001", "john", "comment", False, False, 1
        ),
        ValueRow(
            "f7n9E0hX8qk", "201201", "BdfsJfj87js", None, None, "10002", "john", "comment", False, False, 2
        ),
        ValueRow(
            "f7n9E0hX8qk", "201202", "DiszpKrYNg8", None, None, "10003", "john", "comment", False, False, 3
        ),
    ]


def test_the_documents_defaults_apply_to_each_value_and_complete_date_is_a_completion() -> None:
    read = parse_dxf2(fixture("dataValueSetD.xml"))
    assert {(row.period, row.org_unit, row.attribute_option_combo) for row in read.rows} == {
        ("201201", "DiszpKrYNg8", "kjuiHgy67hg")
    }
    assert [row.data_element for row in read.rows] == list(ELEMENTS)
    assert read.data_set == "pBOMPrpg1QX"
    assert read.completions == [
        Completion("pBOMPrpg1QX", "201201", "DiszpKrYNg8", "kjuiHgy67hg", "2012-01-09", 1)
    ]


def test_a_complete_date_that_names_no_form_is_refused_at_row_1() -> None:
    read = parse_dxf2(
        fixture("dataValueSetA.xml").replace(
            b'dataSet="pBOMPrpg1QX"', b'dataSet="pBOMPrpg1QX" completeDate="2012-01-09"'
        )
    )
    assert read.completions == []
    assert [(p.row, p.field, p.value) for p in read.refused] == [(1, "completeDate", "2012-01-09")]


@pytest.mark.parametrize("date", ["2012-02-30", "soon"])
def test_a_complete_date_that_is_no_day_is_refused_at_row_1(date: str) -> None:
    read = parse_dxf2(
        fixture("dataValueSetD.xml").replace(b'completeDate="2012-01-09"', f'completeDate="{date}"'.encode())
    )
    assert read.completions == []
    assert [(p.row, p.field, p.value) for p in read.refused] == [(1, "completeDate", date)]


def test_every_problem_names_its_row_field_and_value() -> None:
    document = b"""<dataValueSet xmlns="http://dhis2.org/schema/dxf/2.0" period="202001">
      <dataValue dataElement="A" orgUnit="U" value="1"/>
      <dataValue orgUnit="U" value="2"/>
      <dataValue dataElement="A" orgUnit="U" value="3" followUp="maybe"/>
      <note>hello</note>
      <dataValue dataElement="A" value="4"/>
    </dataValueSet>"""
    with pytest.raises(ValidationError) as excinfo:
        formats.read_dxf2(document)
    found = [(p.row, p.field, p.value) for p in excinfo.value.problems]
    assert found == [
        (2, "dataElement", None),
        (3, "followUp", "maybe"),
        (4, "{http://dhis2.org/schema/dxf/2.0}note", None),
        (5, "orgUnit", None),
    ]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            b'<!DOCTYPE d [<!ENTITY a "a">]><dataValueSet xmlns="http://dhis2.org/schema/dxf/2.0">&a;</dataValueSet>',
            "DOCTYPE",
        ),
        (
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY a "a">]><dataValueSet/>'.encode(
                "utf-16-le"
            ),
            "DOCTYPE",
        ),
        (b"<dataValueSet><dataValue></dataValueSet>", "not well-formed XML at line 1"),
        (b'<adx xmlns="urn:ihe:qrph:adx:2015"/>', "not <dataValueSet>"),
        (b"<dataValueSet>\xff</dataValueSet>", "not UTF-8"),
    ],
)
def test_unreadable_documents_are_refused_saying_why(data: bytes, says: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        formats.read_dxf2(data)
    (problem,) = excinfo.value.problems
    assert says in problem.message


def test_an_id_scheme_jiaowei_cannot_read_from_the_file_is_refused() -> None:
    assert formats.read_dxf2(fixture("dataValueSetACode.xml"))[0].data_element == "DE_A"  # code: read
    with pytest.raises(ValidationError) as excinfo:
        formats.read_dxf2(fixture("dataValueSetACode.xml").replace(b'idScheme="code"', b'idScheme="NAME"'))
    assert [(p.field, p.value) for p in excinfo.value.problems] == [("idScheme", "NAME")]


def test_the_writer_and_reader_agree_on_every_field() -> None:
    rows = [
        ValueRow(
            "A",
            "202001",
            "U1",
            "M",
            "FUND",
            "1",
            "me",
            'a <b> & "c"',
            True,
            False,
            1,
            created="2020-01-02T10:00:00.000",
            last_updated="2020-01-03T11:00:00.000",
        ),
        ValueRow("B", "2020W3", "U2", value=None, deleted=True, row=2),
    ]
    out = io.BytesIO()
    formats.write("dxf2", rows, out, data_set="DS")
    text = out.getvalue().decode()
    assert 'created="2020-01-02T10:00:00.000" lastUpdated="2020-01-03T11:00:00.000"' in text
    assert 'dataSet="DS"' in text and 'deleted="true"' in text and 'followUp="true"' in text
    back = formats.read_dxf2(out.getvalue())
    assert back == [dataclasses.replace(row, created=None, last_updated=None) for row in rows]


@pytest.mark.parametrize(
    ("filename", "content_type", "name", "expected"),
    [
        ("values.xml", None, "dataValueSetA.xml", "dxf2"),
        ("", "application/xml", "dataValueSetA.xml", "dxf2"),
        ("", None, "dataValueSetA.xml", "dxf2"),
        ("values.xml", None, "../adx/exportA.adx.xml", "adx"),
        ("", "text/xml", "../adx/exportA.adx.xml", "adx"),
        ("values.adx", None, "../adx/exportA.adx.xml", "adx"),
    ],
)
def test_dxf2_and_adx_are_told_apart_by_their_root(
    filename: str, content_type: str | None, name: str, expected: str
) -> None:
    assert formats.detect_format(filename, content_type, fixture(name)) == expected


def test_a_big_file_is_read_without_keeping_its_tree() -> None:
    """Each dataValue is freed once read: 5,000 values with 4 KB of text inside each (20 MB as a tree)
    are read in a few MB, their rows."""
    import tracemalloc

    value = (
        b'<dataValue dataElement="A" period="202001" orgUnit="U1" value="1"><x>'
        + b"x" * 4096
        + b"</x></dataValue>"
    )
    document = b'<dataValueSet xmlns="http://dhis2.org/schema/dxf/2.0">' + value * 5_000 + b"</dataValueSet>"
    tracemalloc.start()
    rows = formats.read_dxf2(document)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(rows) == 5_000
    assert peak < 5_000_000, peak


# ---------------------------------------------------------------- through the API, with DHIS2's metadata


def dhis2_metadata(conn: Connection) -> dict[str, str]:
    """The data set ``pBOMPrpg1QX`` of DHIS2's test files: three monthly numbers for two schools."""
    from jiaowei.indicators.metadata import service as metadata

    for unit in UNITS:
        make_unit(conn, unit)
    for element in ELEMENTS:
        metadata.save_data_element(
            conn,
            principal=SYSTEM,
            code=element,
            name_zh=f"元素{element}",
            name_en=f"Element {element}",
            value_type="INTEGER",
            aggregation_type="SUM",
        )
    metadata.save_data_set(
        conn,
        principal=SYSTEM,
        code="pBOMPrpg1QX",
        name_zh="DHIS2 月报",
        name_en="DHIS2 monthly",
        period_type="Monthly",
        elements=list(ELEMENTS),
        unit_types=["primary_school"],
        due_days=15,
        expiry_days=0,
    )
    return token_for(conn, make_user(conn, "dataadmin"))


def summary_of(response: Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return body.get("response", body)  # DHIS2's WebMessage carries the import summary as its response


def export(client: TestClient, headers: dict[str, str], format: str, **params: Any) -> Response:
    response = client.get(
        "/api/dataValueSets",
        headers=headers,
        params={"orgUnit": UNITS, "period": ["201201", "201202"], "format": format, **params},
    )
    assert response.status_code == 200, response.text
    return response


def stored(client: TestClient, headers: dict[str, str]) -> dict[tuple[str, str, str], tuple[str, str, str]]:
    values = json.loads(export(client, headers, "dhis2-json").content)["dataValues"]
    return {
        (v["dataElement"], v["period"], v["orgUnit"]): (v["value"], v.get("comment"), v.get("storedBy"))
        for v in values
    }


def test_dhis2s_files_import_and_round_trip_with_the_same_values_and_ids(
    client: TestClient, conn: Connection
) -> None:
    headers = dhis2_metadata(conn)
    response = client.post(
        "/api/dataValueSets",
        content=fixture("dataValueSetB.xml"),
        headers=headers,
        params={"filename": "dataValueSetB.xml"},
    )
    assert response.status_code == 200, response.text
    assert summary_of(response)["importCount"]["imported"] == 12
    before = stored(client, headers)
    assert len(before) == 12 and before[("eY5ehpbEsB7", "201202", "BdfsJfj87js")][:2] == ("10012", "comment")
    exported = export(client, headers, "dxf2", dataSet="pBOMPrpg1QX")
    assert exported.headers["content-type"].startswith("application/xml")
    assert exported.content.count(b"<dataValue ") == 12 and b'dataSet="pBOMPrpg1QX"' in exported.content
    first = formats.read_dxf2(exported.content)[0]
    written = ET.fromstring(exported.content)[0].attrib  # created and lastUpdated, as DHIS2 writes them
    assert written["created"][:4].isdigit() and written["lastUpdated"] >= written["created"]
    assert (first.stored_by, first.comment, first.followup) == ("john", "comment", False)
    again = client.post(
        "/api/dataValueSets", content=exported.content, headers={**headers, "Content-Type": "application/xml"}
    )
    assert summary_of(again)["importCount"] == {"imported": 0, "updated": 0, "ignored": 12, "deleted": 0}
    assert stored(client, headers) == before


def test_an_unknown_data_set_is_a_conflict_of_each_value(client: TestClient, conn: Connection) -> None:
    headers = dhis2_metadata(conn)
    document = fixture("dataValueSetA.xml").replace(b'dataSet="pBOMPrpg1QX"', b'dataSet="nonEx1sting"')
    response = client.post("/api/dataValueSets", content=document, headers=headers, params={"format": "dxf2"})
    assert response.status_code == 409
    assert [(c["row"], c["field"], c["object"]) for c in summary_of(response)["conflicts"]] == [
        (1, "dataSet", "nonEx1sting"),
        (2, "dataSet", "nonEx1sting"),
        (3, "dataSet", "nonEx1sting"),
    ]
    assert stored(client, headers) == {}


def test_complete_date_registers_the_form_complete(client: TestClient, conn: Connection) -> None:
    from jiaowei.indicators.approval import completeness

    headers = dhis2_metadata(conn)
    document = fixture("dataValueSetD.xml").replace(b' attributeOptionCombo="kjuiHgy67hg"', b"")
    response = client.post("/api/dataValueSets", content=document, headers=headers, params={"format": "dxf2"})
    assert response.status_code == 200, response.text
    assert summary_of(response)["importCount"]["imported"] == 3
    shown = completeness.completion_of(
        conn, principal=SYSTEM, data_set="pBOMPrpg1QX", period="201201", unit="DiszpKrYNg8"
    )
    assert shown["completed"] is True, shown
