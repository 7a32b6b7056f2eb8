"""Every ADX export is valid against the ADX schema, whatever the value types (issue 13, item 2).

The schema is ``adx_loose.xsd`` of the dhis2/adx repository, which "should validate any adx data
document" (tests/fixtures/dhis2/README.md): ``value`` is a decimal, so a value that is not a number
must go in ``<annotation>`` with ``value="0"``, as DHIS2 writes it. jiaowei wrote ``value="true"``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest
import xmlschema
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.model import NUMERIC_TYPES, ValueType, carried_in_annotation
from tests.factories import make_unit, make_user, token_for

SCHEMA = Path(__file__).parents[2] / "fixtures" / "dhis2" / "adx" / "schema" / "adx_loose.xsd"
NAMESPACE = "{urn:ihe:qrph:adx:2015}"

SAMPLES = {  # a value each type accepts, as jiaowei stores it
    "INTEGER": "-12",
    "INTEGER_POSITIVE": "7",
    "INTEGER_ZERO_OR_POSITIVE": "0",
    "INTEGER_NEGATIVE": "-3",
    "NUMBER": "2.5",
    "UNIT_INTERVAL": "0.25",
    "PERCENTAGE": "86.5",
    "BOOLEAN": "true",
    "TRUE_ONLY": "true",
    "TEXT": '含 <b> & "引号"',
    "LONG_TEXT": "第一行\n第二行",
    "LETTER": "A",
    "DATE": "2020-01-15",
    "DATETIME": "2020-01-15T10:30:00",
    "TIME": "10:30",
    "AGE": "2015-06-01",
    "PHONE_NUMBER": "+86 21 6212 3456",
    "EMAIL": "office@example.edu.cn",
    "URL": "https://example.edu.cn/report",
}


@cache
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA))


def every_type(conn: Connection) -> dict[str, str]:
    """A monthly data set with one element of each value type (element code = the type's name)."""
    from jiaowei.indicators.metadata import service as metadata

    make_unit(conn, "U1")
    for value_type in ValueType:
        metadata.save_data_element(
            conn,
            principal=SYSTEM,
            code=value_type.value,
            name_zh=f"类型{value_type.value}",
            name_en=f"Type {value_type.value}",
            value_type=value_type.value,
            aggregation_type="SUM" if value_type in NUMERIC_TYPES else "NONE",
        )
    metadata.save_data_set(
        conn,
        principal=SYSTEM,
        code="EVERY_TYPE",
        name_zh="每种类型",
        name_en="Every type",
        period_type="Monthly",
        elements=[t.value for t in ValueType],
        unit_types=["primary_school"],
        due_days=15,
        expiry_days=0,
    )
    return token_for(conn, make_user(conn, "dataadmin"))


def test_there_is_a_sample_of_every_value_type() -> None:
    assert set(ValueType) <= set(SAMPLES), "add a sample of the new value type"


def test_an_export_of_every_value_type_is_valid_adx_and_imports_back(
    client: TestClient, conn: Connection
) -> None:
    headers = every_type(conn)
    values = [
        {"dataElement": t.value, "period": "202001", "orgUnit": "U1", "value": SAMPLES[t.value]}
        for t in ValueType
    ]
    imported = client.post(
        "/api/dataValueSets", content=json.dumps({"dataValues": values}).encode(), headers=headers
    )
    assert imported.status_code == 200, imported.text
    exported = client.get(
        "/api/dataValueSets",
        headers=headers,
        params={"orgUnit": "U1", "period": "202001", "dataSet": "EVERY_TYPE", "format": "adx"},
    )
    assert exported.status_code == 200, exported.text
    schema().validate(exported.content)  # raises, naming the element and the rule, when it is not valid
    written = {value.get("dataElement"): value for value in _values(exported.content)}
    assert set(written) == {t.value for t in ValueType}
    for value_type in ValueType:
        value = written[value_type.value]
        if carried_in_annotation(value_type):
            assert value.get("value") == "0", value_type
            assert value.findtext(f"{NAMESPACE}annotation") == SAMPLES[value_type.value], value_type
        else:
            assert value.get("value") == SAMPLES[value_type.value] and len(value) == 0, value_type
    again = client.post(
        "/api/dataValueSets", content=exported.content, headers=headers, params={"format": "adx"}
    )
    summary = again.json().get("response", again.json())
    assert summary["importCount"] == {"imported": 0, "updated": 0, "ignored": len(ValueType), "deleted": 0}, (
        summary
    )


def _values(data: bytes) -> list[ET.Element]:
    return list(ET.fromstring(data).iter(f"{NAMESPACE}dataValue"))


@pytest.mark.parametrize(
    "bad",
    [
        b'<dataValue dataElement="BOOLEAN" value="true"/>',  # what jiaowei wrote before: not a decimal
        b'<dataValue dataElement="TEXT"/>',  # no value at all
    ],
)
def test_the_schema_refuses_what_dhis2_would_not_read(bad: bytes) -> None:
    document = (
        b'<adx xmlns="urn:ihe:qrph:adx:2015" exported="2020-01-01T00:00:00Z">'
        b'<group orgUnit="U1" period="2020-01-01/P1M">' + bad + b"</group></adx>"
    )
    assert not schema().is_valid(document)


# ---------------------------------------------------------------- one id scheme in an ADX export


def disaggregated(conn: Connection) -> dict[str, str]:
    """Unit U1; data set ``FORM`` (Monthly) of ``PUPILS`` (integer, by sex) and ``NOTE`` (text)."""
    from jiaowei.indicators.metadata import service as metadata

    make_unit(conn, "U1", name_en="First School")
    metadata.save_category(conn, principal=SYSTEM, code="SEX", name_zh="性别", name_en="Sex", options=[
        {"code": "M", "name_zh": "男", "name_en": "Male"},
        {"code": "F", "name_zh": "女", "name_en": "Female"}])
    metadata.save_category_combo(conn, principal=SYSTEM, code="BY_SEX", name_zh="按性别", name_en="By sex",
                                 categories=["SEX"])
    metadata.save_data_element(conn, principal=SYSTEM, code="PUPILS", name_zh="学生", name_en="Pupils",
                               category_combo="BY_SEX")
    metadata.save_data_element(conn, principal=SYSTEM, code="NOTE", name_zh="备注", name_en="Note",
                               value_type="TEXT", aggregation_type="NONE")
    metadata.save_data_set(conn, principal=SYSTEM, code="FORM", name_zh="表", name_en="Form",
                           period_type="Monthly", elements=["PUPILS", "NOTE"], unit_types=["primary_school"],
                           due_days=15, expiry_days=0)
    return token_for(conn, make_user(conn, "dataadmin"))


def identifiers(conn: Connection, scheme: str) -> dict[str, str]:
    """Each object's code with its identifier in ``scheme`` (NAME: the English name)."""
    from sqlalchemy import select

    from jiaowei.indicators import store
    from jiaowei.registry import queries as registry

    column = {"UID": "uid", "CODE": "code", "NAME": "name_en"}[scheme]
    found: dict[str, str] = {}
    for table, prefix in ((store.data_sets, ""), (store.data_elements, ""), (store.categories, ""),
                          (store.category_options, "option:")):
        rows = conn.execute(select(table.c.code, table.c[column]))
        found.update({prefix + code: key for code, key in rows})
    units = registry.unit_codes("u")
    uid = conn.execute(select(units.c.uid).where(units.c.code == "U1")).scalar_one()
    found["U1"] = {"UID": uid, "CODE": "U1", "NAME": "First School"}[scheme]
    return found


@pytest.mark.parametrize("scheme", ["UID", "CODE", "NAME"])
def test_an_adx_export_names_everything_in_the_scheme_asked_and_imports_back(
    client: TestClient, conn: Connection, scheme: str
) -> None:
    """Data set, unit, elements, categories and options all in the one scheme (jiaowei wrote categories
    and options by code under idScheme=UID); the export is valid ADX and imports back in that scheme."""
    headers = disaggregated(conn)
    values = [{"dataElement": "PUPILS", "categoryOptionCombo": sex, "period": "202001", "orgUnit": "U1",
               "value": str(n)} for n, sex in enumerate(("M", "F"), 10)]
    values.append({"dataElement": "NOTE", "period": "202001", "orgUnit": "U1", "value": "见 <附件>"})
    imported = client.post("/api/dataValueSets", content=json.dumps({"dataValues": values}).encode(),
                           headers=headers)
    assert imported.status_code == 200, imported.text
    exported = client.get("/api/dataValueSets", headers=headers, params={
        "orgUnit": "U1", "period": "202001", "dataSet": "FORM", "format": "adx", "idScheme": scheme})
    assert exported.status_code == 200, exported.text
    schema().validate(exported.content)
    key = identifiers(conn, scheme)
    (group,) = ET.fromstring(exported.content).iter(f"{NAMESPACE}group")
    assert {k: v for k, v in group.attrib.items()} == {
        "orgUnit": key["U1"], "period": "2020-01-01/P1M", "dataSet": key["FORM"]}
    written = sorted(((dict(v.attrib), v.findtext(f"{NAMESPACE}annotation"))
                      for v in _values(exported.content)), key=str)
    assert written == sorted([
        ({"dataElement": key["PUPILS"], key["SEX"]: key["option:M"], "value": "10"}, None),
        ({"dataElement": key["PUPILS"], key["SEX"]: key["option:F"], "value": "11"}, None),
        ({"dataElement": key["NOTE"], "value": "0"}, "见 <附件>"),
    ], key=str)
    again = client.post("/api/dataValueSets", content=exported.content, headers=headers,
                        params={"format": "adx", "idScheme": scheme})
    summary = again.json().get("response", again.json())
    assert summary["importCount"] == {"imported": 0, "updated": 0, "ignored": 3, "deleted": 0}, summary
    assert summary["conflicts"] == []
    changed = exported.content.replace(b'value="10"', b'value="12"')
    summary = client.post("/api/dataValueSets", content=changed, headers=headers,
                          params={"format": "adx", "idScheme": scheme}).json()["response"]
    assert summary["importCount"]["updated"] == 1, summary
