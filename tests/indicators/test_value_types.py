"""DHIS2's aggregate value types: each type's own check (DHIS2's ValidationUtils rules), the
metadata import of every type, and a data value of each type accepted and refused through the API."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, select

from jiaowei.indicators import store
from jiaowei.indicators.model import (
    BOOLEAN_TYPES,
    EXPECTED,
    INTEGER_TYPES,
    NAMES,
    NUMERIC_TYPES,
    ValueType,
    carried_in_annotation,
    normalise_value,
    numeric,
)
from tests.factories import login, make_user, small_tree, token_for

FIXTURES = Path(__file__).parent.parent / "fixtures" / "dhis2"
V = ValueType

# (type, what is written, what is stored)
ACCEPTED = [
    (V.INTEGER, "-12", "-12"),
    (V.INTEGER, "007", "7"),
    (V.INTEGER, "12.0", "12"),
    (V.INTEGER_POSITIVE, "1", "1"),
    (V.INTEGER_ZERO_OR_POSITIVE, "0", "0"),
    (V.INTEGER_ZERO_OR_POSITIVE, "35", "35"),
    (V.INTEGER_NEGATIVE, "-1", "-1"),
    (V.NUMBER, "-2.50", "-2.5"),
    (V.UNIT_INTERVAL, "0", "0"),
    (V.UNIT_INTERVAL, "1", "1"),
    (V.UNIT_INTERVAL, "0.25", "0.25"),
    (V.PERCENTAGE, "100", "100"),
    (V.BOOLEAN, "TRUE", "true"),
    (V.BOOLEAN, "t", "true"),
    (V.BOOLEAN, "1", "true"),
    (V.BOOLEAN, "False", "false"),
    (V.BOOLEAN, "F", "false"),
    (V.BOOLEAN, "0", "false"),
    (V.TRUE_ONLY, "true", "true"),
    (V.TRUE_ONLY, "True", "true"),
    (V.TRUE_ONLY, "1", "true"),
    (V.TEXT, " 教学楼 ", "教学楼"),
    (V.LONG_TEXT, "x" * 50_000, "x" * 50_000),
    (V.LETTER, "A", "A"),
    (V.LETTER, "甲", "甲"),
    (V.DATE, "2020-02-29", "2020-02-29"),
    (V.AGE, "2016-03-15", "2016-03-15"),
    (V.DATETIME, "2020-09-01T08:30", "2020-09-01T08:30"),
    (V.DATETIME, "2020-09-01T08:30:15.123Z", "2020-09-01T08:30:15.123Z"),
    (V.DATETIME, "2020-09-01 08:30:00+08:00", "2020-09-01 08:30:00+08:00"),
    (V.TIME, "08:30", "08:30"),
    (V.TIME, "8:30", "08:30"),
    (V.TIME, "23:59", "23:59"),
    (V.PHONE_NUMBER, "+86 21 2312 3456", "+86 21 2312 3456"),
    (V.PHONE_NUMBER, "021-1234 ext 5", "021-1234 ext 5"),
    (V.EMAIL, "office@jw.sh.gov.cn", "office@jw.sh.gov.cn"),
    (V.EMAIL, "a.b+c@example.org", "a.b+c@example.org"),
    (V.URL, "https://dhis2.org/downloads?v=2.40#top", "https://dhis2.org/downloads?v=2.40#top"),
    (V.URL, "http://localhost:8080/", "http://localhost:8080/"),
    (V.URL, "ftp://10.0.0.1/a", "ftp://10.0.0.1/a"),
]
REFUSED = [
    (V.INTEGER, "1.5", "not a whole number"),
    (V.INTEGER, "ten", "not a number"),
    (V.INTEGER_POSITIVE, "0", "not a whole number above zero"),
    (V.INTEGER_ZERO_OR_POSITIVE, "-1", "a negative number is not allowed"),
    (V.INTEGER_NEGATIVE, "0", "not a whole number below zero"),
    (V.NUMBER, "1e20", "not a finite number below 10^15"),
    (V.NUMBER, "NaN", "not a finite number below 10^15"),
    (V.UNIT_INTERVAL, "1.01", "a unit interval value must lie between 0 and 1"),
    (V.UNIT_INTERVAL, "-0.1", "a unit interval value must lie between 0 and 1"),
    (V.PERCENTAGE, "100.5", "a percentage must lie between 0 and 100"),
    (V.BOOLEAN, "maybe", "not a boolean"),
    (V.BOOLEAN, "2", "not a boolean"),
    (V.TRUE_ONLY, "false", "only true may be stored (leave the value empty otherwise)"),
    (V.TRUE_ONLY, "0", "only true may be stored (leave the value empty otherwise)"),
    (V.LONG_TEXT, "x" * 50_001, "text longer than 50,000 characters"),
    (V.LETTER, "AB", "not a single letter"),
    (V.LETTER, "1", "not a single letter"),
    (V.DATE, "2021-02-29", "not a date"),
    (V.DATE, "2020-9-1", "not a date"),
    (V.DATE, "20200901", "not a date"),
    (V.AGE, "15 years", "not a date"),
    (V.DATETIME, "2020-09-01", "not a date and time"),
    (V.DATETIME, "2020-09-01T25:00", "not a date and time"),
    (V.TIME, "24:00", "not a time of day"),
    (V.TIME, "08:60", "not a time of day"),
    (V.TIME, "8.30", "not a time of day"),
    (V.PHONE_NUMBER, "12345", "not a phone number"),
    (V.PHONE_NUMBER, "call me", "not a phone number"),
    (V.EMAIL, "office@localhost", "not an e-mail address"),
    (V.EMAIL, "a b@example.org", "not an e-mail address"),
    (V.URL, "www.example.org", "not a web address"),
    (V.URL, "javascript:alert(1)", "not a web address"),
    (V.URL, "https://exa mple.org", "not a web address"),
]


@pytest.mark.parametrize(("value_type", "raw", "stored"), ACCEPTED)
def test_each_type_accepts_and_normalises_what_dhis2_accepts(
    value_type: ValueType, raw: str, stored: str
) -> None:
    assert normalise_value(value_type, raw) == stored


@pytest.mark.parametrize(("value_type", "raw", "reason"), REFUSED)
def test_each_type_refuses_with_its_reason(value_type: ValueType, raw: str, reason: str) -> None:
    with pytest.raises(ValueError) as refused:
        normalise_value(value_type, raw)
    assert str(refused.value.args[0]) == reason


def test_every_type_has_its_cases_an_expectation_and_a_name() -> None:
    assert {t for t, _, _ in ACCEPTED} == set(ValueType)
    assert {t for t, _, _ in REFUSED} >= set(ValueType) - {V.TEXT}  # text takes anything short enough
    assert set(EXPECTED) == set(NAMES) == set(ValueType)
    assert {t.value for t in ValueType} >= {
        "INTEGER_ZERO_OR_POSITIVE",
        "UNIT_INTERVAL",
        "LONG_TEXT",
        "TRUE_ONLY",
        "LETTER",
        "DATETIME",
        "TIME",
        "PHONE_NUMBER",
        "EMAIL",
        "URL",
    }


@given(st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1))
def test_integer_types_follow_the_sign(number: int) -> None:
    allowed = {
        V.INTEGER: True,
        V.INTEGER_POSITIVE: number > 0,
        V.INTEGER_ZERO_OR_POSITIVE: number >= 0,
        V.INTEGER_NEGATIVE: number < 0,
    }
    for value_type, ok in allowed.items():
        try:
            assert normalise_value(value_type, str(number)) == str(number) and ok
        except ValueError:
            assert not ok


@given(st.decimals(min_value=-2, max_value=2, places=4, allow_nan=False))
def test_unit_interval_is_zero_to_one_inclusive(number: Decimal) -> None:
    try:
        stored = normalise_value(V.UNIT_INTERVAL, str(number))
    except ValueError:
        assert not 0 <= number <= 1
    else:
        assert 0 <= number <= 1 and Decimal(stored) == number


@given(st.dates())
def test_every_calendar_date_is_a_date_and_an_age(day: Any) -> None:
    text = day.isoformat()
    if len(text) == 10:  # years before 1000 are written with fewer digits by no one
        assert normalise_value(V.DATE, text) == normalise_value(V.AGE, text) == text


def test_numbers_aggregate_booleans_count_and_the_rest_go_in_adx_annotations() -> None:
    assert INTEGER_TYPES | {V.NUMBER, V.UNIT_INTERVAL, V.PERCENTAGE} == NUMERIC_TYPES
    assert numeric("UNIT_INTERVAL", "0.5") == 0.5 and numeric("INTEGER_NEGATIVE", "-3") == -3.0
    assert numeric("TRUE_ONLY", "true") == 1.0 and numeric("BOOLEAN", "false") == 0.0
    assert numeric("DATE", "2020-01-01") is None and numeric("LONG_TEXT", "12") is None
    for value_type in ValueType:
        assert carried_in_annotation(value_type) is (value_type not in NUMERIC_TYPES)
    assert (
        carried_in_annotation("BOOLEAN")
        and carried_in_annotation("TEXT")
        and not carried_in_annotation("NUMBER")
    )
    assert {t for t in ValueType if carried_in_annotation(t)} >= BOOLEAN_TYPES


# ---------------------------------------------------------------- through the API


def _headers(conn: Connection) -> dict[str, str]:
    return token_for(conn, make_user(conn, role="commission_staff", capture=["SH"]))


def _element(value_type: ValueType) -> dict[str, Any]:
    code = "VT_" + value_type.value
    return {
        "code": code,
        "name": code,
        "shortName": code,
        "valueType": value_type.value,
        "domainType": "AGGREGATE",
        "aggregationType": "SUM" if value_type in NUMERIC_TYPES else "NONE",
        "categoryCombo": {"id": "bjDvmb4bfuf"},
    }


def _every_type(client: TestClient, conn: Connection) -> dict[str, str]:
    small_tree(conn)
    headers = _headers(conn)
    bundle = {
        "dataElements": [_element(t) for t in ValueType],
        "dataSets": [
            {
                "code": "VT",
                "name": "Value types",
                "periodType": "Yearly",
                "organisationUnits": [{"code": "S1"}],
                "dataSetElements": [{"dataElement": {"code": "VT_" + t.value}} for t in ValueType],
            }
        ],
    }
    report = client.post("/api/metadata", json=bundle, headers=headers)
    assert report.status_code == 200, report.text
    return headers


def test_a_bundle_with_every_aggregate_value_type_imports(client: TestClient, conn: Connection) -> None:
    _every_type(client, conn)
    saved = dict(conn.execute(select(store.data_elements.c.code, store.data_elements.c.value_type)).all())
    assert {saved["VT_" + t.value] for t in ValueType} == {t.value for t in ValueType}
    refused = client.post(
        "/api/metadata",
        json={"dataElements": [{**_element(V.TEXT), "code": "F", "valueType": "FILE_RESOURCE"}]},
        headers=_headers(conn),
    )
    assert refused.status_code in (409, 422) and "FILE_RESOURCE" in refused.text
    assert "INTEGER_ZERO_OR_POSITIVE" in refused.text  # the refusal lists what is accepted


def test_dhis2s_own_aggregate_bundle_imports_its_value_types(client: TestClient, conn: Connection) -> None:
    """DHIS2's e2e aggregate metadata: 66 INTEGER_ZERO_OR_POSITIVE and 9 BOOLEAN data elements."""
    small_tree(conn)
    document = json.loads((FIXTURES / "metadata" / "aggregate_metadata.json").read_text(encoding="utf-8"))
    kinds = ("categoryOptions", "categories", "categoryCombos", "dataElements")
    report = client.post("/api/metadata", json={k: document[k] for k in kinds}, headers=_headers(conn))
    assert report.status_code == 200, report.text
    saved = dict(conn.execute(select(store.data_elements.c.uid, store.data_elements.c.value_type)).all())
    assert {e["id"]: e["valueType"] for e in document["dataElements"]}.items() <= saved.items()
    assert set(saved.values()) == {"INTEGER_ZERO_OR_POSITIVE", "BOOLEAN"}


GOOD_AND_BAD = {
    V.INTEGER: ("120", "1.5"),
    V.INTEGER_POSITIVE: ("3", "0"),
    V.INTEGER_ZERO_OR_POSITIVE: ("0", "-2"),
    V.INTEGER_NEGATIVE: ("-4", "4"),
    V.NUMBER: ("2.5", "two"),
    V.UNIT_INTERVAL: ("0.5", "2"),
    V.PERCENTAGE: ("86.2", "101"),
    V.BOOLEAN: ("T", "maybe"),
    V.TRUE_ONLY: ("true", "false"),
    V.TEXT: ("教学楼", None),
    V.LONG_TEXT: ("长" * 2000, "x" * 50_001),
    V.LETTER: ("B", "BB"),
    V.DATE: ("2020-09-01", "2020-13-01"),
    V.AGE: ("2016-03-15", "four"),
    V.DATETIME: ("2020-09-01T08:30:00", "yesterday"),
    V.TIME: ("7:45", "7h45"),
    V.PHONE_NUMBER: ("+86 21 2312 3456", "123"),
    V.EMAIL: ("office@example.org", "office"),
    V.URL: ("https://example.org", "example.org"),
}


def test_a_value_of_each_type_is_accepted_or_refused_naming_what_fits(
    client: TestClient, conn: Connection
) -> None:
    headers = _every_type(client, conn)
    assert set(GOOD_AND_BAD) == set(ValueType)
    for value_type, (good, bad) in GOOD_AND_BAD.items():
        cell = {"dataElement": "VT_" + value_type.value, "period": "2020", "orgUnit": "S1"}
        saved = client.post("/api/dataValues", json={**cell, "value": good}, headers=headers)
        assert saved.status_code == 200, (value_type, saved.text)
        assert saved.json()["dataValue"]["value"] == normalise_value(value_type, good)
        if bad is None:
            continue
        refused = client.post("/api/dataValues", json={**cell, "value": bad}, headers=headers)
        assert refused.status_code == 422, (value_type, refused.text)
        problem = refused.json()["problems"][0]
        if value_type is V.LONG_TEXT:  # the request body's own limit answers first, naming the length
            assert problem["field"] == "value" and "50000" in problem["message"]
            continue
        assert problem["field"] == "value" and problem["expected"] == EXPECTED[value_type], value_type
    zh = client.post(
        "/api/dataValues",
        headers={**headers, "Accept-Language": "zh-CN"},
        json={"dataElement": "VT_TIME", "period": "2020", "orgUnit": "S1", "value": "25:00"},
    )
    assert "时刻 HH:MM" in zh.json()["problems"][0]["expected"]


def test_the_entry_form_and_the_xlsx_template_fit_each_type(client: TestClient, conn: Connection) -> None:
    headers = _every_type(client, conn)
    make_user(conn, "vtentry", role="commission_staff", capture=["SH"])
    login(client, "vtentry")
    form = client.get("/data/entry", params={"ds": "VT", "pe": "2020", "ou": "S1"}).text

    def cell(value_type: str) -> str:
        start = form.index(f'id="cell-VT_{value_type}.')
        return form[form.rindex("<", 0, start) : form.index(">", start)]

    assert cell("TRUE_ONLY").startswith("<select") and cell("BOOLEAN").startswith("<select")
    assert cell("LONG_TEXT").startswith("<textarea")
    inputs = {
        "DATE": "date",
        "AGE": "date",
        "TIME": "time",
        "EMAIL": "email",
        "URL": "url",
        "PHONE_NUMBER": "tel",
        "TEXT": "text",
        "INTEGER_POSITIVE": "text",
        "UNIT_INTERVAL": "text",
    }
    for value_type, kind in inputs.items():
        assert f'type="{kind}"' in cell(value_type), value_type
    assert 'inputmode="numeric"' in cell("INTEGER_ZERO_OR_POSITIVE") and 'maxlength="1"' in cell("LETTER")
    true_only = form[
        form.index('id="cell-VT_TRUE_ONLY.') : form.index("</select>", form.index('id="cell-VT_TRUE_ONLY.'))
    ]
    assert 'value="true"' in true_only and 'value="false"' not in true_only
    template = client.get(
        "/api/dataValueSets/template",
        headers=headers,
        params={"dataSet": "VT", "period": "2020", "orgUnit": "S1", "language": "en"},
    )
    assert template.status_code == 200
    checks = openpyxl.load_workbook(io.BytesIO(template.content)).active.data_validations.dataValidation
    kinds = {(v.type, v.formula1, v.formula2) for v in checks}
    assert {
        ("whole", "1", "999999999999999"),
        ("whole", "0", "999999999999999"),
        ("whole", "-999999999999999", "-1"),
        ("decimal", "0", "1"),
        ("list", '"true"', None),
        ("textLength", "1", "1"),
    } <= kinds
