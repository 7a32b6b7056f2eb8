"""ADX as DHIS2 reads and writes it (issue 13, item 2), tried on DHIS2's own ADX files.

The files are dhis2-core's ADX test resources (tests/fixtures/dhis2/README.md). DHIS2 writes a value
that is not a number as ``value="0"`` with the value in ``<annotation>``; jiaowei read the ``0``
and said SUCCESS. The ``comment`` attribute and a group's ``comment``/``dataSetComplete`` were read
as categories; the group's ``dataSet`` was never checked.
"""

from __future__ import annotations

import io
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
from jiaowei.indicators.values.formats.adx import AdxCatalog, adx_read, parse_adx
from jiaowei.indicators.values.formats.common import Completion
from tests.factories import make_unit, make_user, token_for

ADX = Path(__file__).parents[2] / "fixtures" / "dhis2" / "adx"
TEXT_ELEMENTS = frozenset({"MAL03", "Malaria text"})


def in_annotation(element: str) -> bool | None:
    return element in TEXT_ELEMENTS


def dhis2_catalog(**parts: Any) -> AdxCatalog:
    return AdxCatalog(in_annotation=in_annotation, **parts)


def read(name: str, catalog: AdxCatalog | None = None) -> Any:
    return adx_read(parse_adx((ADX / name).read_bytes()), catalog or dhis2_catalog())


# ---------------------------------------------------------------- reading DHIS2's files


def test_a_text_value_is_read_from_its_annotation_not_from_value_0() -> None:
    rows = read("adx_data_sample1.xml").rows
    text = [row for row in rows if row.data_element == "MAL03"]
    assert [(row.value, row.comment) for row in text] == [
        ("Some qualifying text here on the datavalue", None)
    ]
    assert {row.value for row in rows if row.data_element == "MAL01"} == {"32"}


def test_without_the_catalog_the_annotation_stays_a_comment() -> None:
    (text,) = [
        row
        for row in formats.read_adx((ADX / "adx_data_sample1.xml").read_bytes())
        if row.data_element == "MAL03"
    ]
    assert (text.value, text.comment) == ("0", "Some qualifying text here on the datavalue")


def test_reserved_group_attributes_are_not_categories() -> None:
    """``dataSetComplete`` and ``comment`` on a group are DHIS2's, not categories: the attribute combo
    is the mechanism alone."""
    found = read("adx_data_sample2.xml")
    assert {row.attribute_option_combo for row in found.rows} == {"PEPFAR", "OTHER"}
    assert {row.category_option_combo for row in found.rows if row.data_element == "MAL04"} == {
        "under5_M",
        "under5_F",
        "5andOver_M",
        "5andOver_F",
    }
    # the first group says it is complete but names no data set: a conflict of its first row
    assert [(p.row, p.field, p.value) for p in found.refused] == [(1, "dataSetComplete", "true")]


def test_complete_date_and_data_set_complete_become_completions() -> None:
    found = read("adx_data_sample1.xml")
    assert found.completions == [Completion("Malaria", "201501", "342", "McDonalds", "2015-06-17", 1)]
    document = (
        (ADX / "exportA.adx.xml")
        .read_bytes()
        .replace(b'orgUnit="123">', b'orgUnit="123" dataSetComplete="2020-02-05">', 1)
    )
    assert read_bytes(document).completions == [
        Completion("MalariaDS", "202001", "123", None, "2020-02-05", 1)
    ]


def read_bytes(data: bytes, catalog: AdxCatalog | None = None) -> Any:
    return adx_read(parse_adx(data), catalog or dhis2_catalog())


def test_the_comment_attribute_is_the_comment_and_not_a_category() -> None:
    document = (
        b'<adx xmlns="urn:ihe:qrph:adx:2015"><group orgUnit="U" period="2020-01-01/P1M" dataSet="DS">'
        b'<dataValue dataElement="A" SEX="F" value="4" comment="late" storedBy="me" followup="true"/>'
        b"</group></adx>"
    )
    (row,) = read_bytes(document).rows
    assert row == ValueRow("A", "202001", "U", "F", None, "4", "me", "late", True, False, 1)


def test_dhis2_categories_and_option_combos_of_import_a() -> None:
    rows = read("importA.adx.xml").rows
    assert len(rows) == 9
    assert rows[0].category_option_combo == "FFFFFFFFFFF_under555555"  # options joined in written order
    assert rows[2].category_option_combo == "FOver555555"  # an explicit categoryOptionCombo wins
    assert (rows[4].data_element, rows[4].value) == ("Malaria text", "Text data value")
    assert [row.attribute_option_combo for row in rows[6:]] == ["PEPFARRRRRR", "McDonaldsss", "cocMcDonald"]


def test_dhis2_created_and_last_updated_children_are_skipped() -> None:
    (row,) = read("importDates.adx.xml").rows
    assert (row.value, row.category_option_combo) == ("33", "over5555555_MMMMMMMMMMM")


def test_a_text_value_without_annotation_is_refused_naming_the_row() -> None:
    document = (
        (ADX / "exportA.adx.xml")
        .read_bytes()
        .replace(
            b'value="0">\n            <annotation>Some text</annotation>\n        </dataValue>',
            b'value="0"/>',
        )
    )
    found = read_bytes(document)
    assert [(p.row, p.field, p.value) for p in found.refused] == [(2, "annotation", "0")]


def test_an_unknown_data_set_or_an_element_outside_it_is_refused() -> None:
    def in_data_set(data_set: str, element: str) -> bool | None:
        return None if data_set != "MalariaDS" else element == "Malaria numeric"

    found = read("importA.adx.xml", dhis2_catalog(in_data_set=in_data_set))
    refused = [(p.row, p.field, p.value) for p in found.refused]
    assert refused[0] == (5, "dataElement", "Malaria text")
    assert refused[1:] == [
        (7, "dataSet", "MalariaMechanismDS"),
        (8, "dataSet", "MalariaMechanismDS"),
        (9, "dataSet", "MalariaMechanismDS"),
    ]


def test_an_unreadable_completion_is_a_problem_of_the_file() -> None:
    document = (
        (ADX / "exportA.adx.xml")
        .read_bytes()
        .replace(b'orgUnit="123">', b'orgUnit="123" dataSetComplete="soon">', 1)
    )
    with pytest.raises(ValidationError) as excinfo:
        read_bytes(document)
    assert [(p.row, p.field, p.value) for p in excinfo.value.problems] == [(1, "dataSetComplete", "soon")]


# ---------------------------------------------------------------- writing as DHIS2 does


def canonical(data: bytes) -> list[tuple[str, dict[str, str], str | None]]:
    """Each element of an ADX document: its name, attributes (but ``exported``) and text."""
    return [
        (
            element.tag,
            {k: v for k, v in element.attrib.items() if k != "exported"},
            (element.text or "").strip() or None,
        )
        for element in ET.fromstring(data).iter()
    ]


def test_jiaowei_writes_dhis2s_export_a() -> None:
    """dhis2-core's ``exportA.adx.xml``, what DHIS2 writes for a number and a text value: so does jiaowei."""
    rows = [
        ValueRow("Malaria numeric", "202001", "123", "F_under5", value="1"),
        ValueRow("Malaria text", "202002", "123", value="Some text"),
    ]
    out = io.BytesIO()
    formats.write_adx(
        rows,
        out,
        data_set="MalariaDS",
        in_annotation=in_annotation,
        combo_attributes=lambda e, c: (
            {"Age_category": "under555555", "Sex_category": "FFFFFFFFFFF"} if c == "F_under5" else None
        ),
    )
    assert canonical(out.getvalue()) == canonical((ADX / "exportA.adx.xml").read_bytes())


# ---------------------------------------------------------------- through the API, with metadata


def malaria_metadata(conn: Connection) -> dict[str, str]:
    """The data set ``Malaria`` of DHIS2's ``adx_data_sample1.xml``: MAL01, MAL02, MAL04 numbers, MAL03
    text, for unit ``342``, monthly."""
    from jiaowei.indicators.metadata import service as metadata

    make_unit(conn, "342")
    for code, value_type in (
        ("MAL01", "INTEGER"),
        ("MAL02", "INTEGER"),
        ("MAL03", "TEXT"),
        ("MAL04", "INTEGER"),
    ):
        metadata.save_data_element(
            conn,
            principal=SYSTEM,
            code=code,
            name_zh=f"疟疾{code}",
            name_en=f"Malaria {code}",
            value_type=value_type,
            aggregation_type="SUM" if value_type == "INTEGER" else "NONE",
        )
    metadata.save_data_set(
        conn,
        principal=SYSTEM,
        code="Malaria",
        name_zh="疟疾月报",
        name_en="Malaria",
        period_type="Monthly",
        elements=["MAL01", "MAL02", "MAL03", "MAL04"],
        unit_types=["primary_school"],
        due_days=15,
        expiry_days=0,
    )
    return token_for(conn, make_user(conn, "dataadmin"))


def summary_of(response: Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return body.get("response", body)  # DHIS2's WebMessage carries the import summary as its response


def post_adx(client: TestClient, headers: dict[str, str], data: bytes, **params: str) -> Response:
    return client.post(
        "/api/dataValueSets", content=data, headers=headers, params={"format": "adx", **params}
    )


def export_adx(client: TestClient, headers: dict[str, str]) -> str:
    response = client.get(
        "/api/dataValueSets",
        headers=headers,
        params={"orgUnit": "342", "period": "201501", "dataSet": "Malaria", "format": "adx"},
    )
    assert response.status_code == 200, response.text
    return response.text


def test_dhis2s_sample_imports_its_text_value_from_the_annotation(
    client: TestClient, conn: Connection
) -> None:
    """``adx_data_sample1.xml``: the first group's attribute combo is not in jiaowei and its repeated
    keys conflict; with atomicMode=NONE the second group's values are imported, MAL03's from its
    annotation; the export writes it back the way DHIS2 does."""
    headers = malaria_metadata(conn)
    response = post_adx(client, headers, (ADX / "adx_data_sample1.xml").read_bytes(), atomicMode="NONE")
    summary = summary_of(response)
    assert summary["importCount"]["imported"] == 4, summary
    exported = export_adx(client, headers)
    assert (
        '<dataValue dataElement="MAL03" value="0"><annotation>Some qualifying text here on the datavalue'
        "</annotation></dataValue>"
    ) in exported
    assert '<dataValue dataElement="MAL01" value="32"/>' in exported
    again = summary_of(post_adx(client, headers, exported.encode()))
    assert again["importCount"] == {"imported": 0, "updated": 0, "ignored": 4, "deleted": 0}


def test_a_text_value_without_annotation_is_a_conflict_and_writes_nothing(
    client: TestClient, conn: Connection
) -> None:
    headers = malaria_metadata(conn)
    document = (
        b'<adx xmlns="urn:ihe:qrph:adx:2015" exported="2020-01-01T00:00:00Z">'
        b'<group orgUnit="342" period="2015-01-01/P1M" dataSet="Malaria">'
        b'<dataValue dataElement="MAL01" value="5"/><dataValue dataElement="MAL03" value="0"/>'
        b'<dataValue dataElement="NOPE" value="1"/></group>'
        b'<group orgUnit="342" period="2015-02-01/P1M" dataSet="Nowhere">'
        b'<dataValue dataElement="MAL01" value="6"/></group></adx>'
    )
    response = post_adx(client, headers, document)
    assert response.status_code == 409
    conflicts = [(c["row"], c["field"], c["object"]) for c in summary_of(response)["conflicts"]]
    assert (2, "annotation", "0") in conflicts and (4, "dataSet", "Nowhere") in conflicts
    assert (3, "dataElement", "NOPE") in conflicts
    assert "MAL01" not in export_adx(client, headers)


def test_an_element_outside_the_groups_data_set_is_a_conflict(client: TestClient, conn: Connection) -> None:
    from jiaowei.indicators.metadata import service as metadata

    headers = malaria_metadata(conn)
    metadata.save_data_element(
        conn,
        principal=SYSTEM,
        code="OTHER",
        name_zh="其他",
        name_en="Other",
        value_type="INTEGER",
        aggregation_type="SUM",
    )
    document = (
        b'<adx xmlns="urn:ihe:qrph:adx:2015" exported="2020-01-01T00:00:00Z">'
        b'<group orgUnit="342" period="2015-01-01/P1M" dataSet="Malaria">'
        b'<dataValue dataElement="MAL01" value="5"/><dataValue dataElement="OTHER" value="1"/>'
        b"</group></adx>"
    )
    summary = summary_of(post_adx(client, headers, document, atomicMode="NONE"))
    assert [(c["row"], c["field"], c["object"]) for c in summary["conflicts"]] == [
        (2, "dataElement", "OTHER")
    ]
    assert summary["importCount"]["imported"] == 1


def test_data_set_complete_registers_the_form_complete(client: TestClient, conn: Connection) -> None:
    from jiaowei.indicators.approval import completeness

    headers = malaria_metadata(conn)
    document = (
        b'<adx xmlns="urn:ihe:qrph:adx:2015" exported="2020-01-01T00:00:00Z">'
        b'<group orgUnit="342" period="2015-01-01/P1M" dataSet="Malaria" dataSetComplete="true">'
        b'<dataValue dataElement="MAL01" value="5"/></group></adx>'
    )
    response = post_adx(client, headers, document)
    assert response.status_code == 200, response.text
    shown = completeness.completion_of(
        conn, principal=SYSTEM, data_set="Malaria", period="201501", unit="342"
    )
    assert shown["completed"] is True, shown
