"""Data values in and out of DHIS2 JSON, DHIS2 CSV, ADX and the XLSX template (no database)."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from jiaowei.errors import Problem, ValidationError
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import formats
from jiaowei.indicators.values.formats import TemplateForm, TemplateRow

ROWS = [
    ValueRow("DE_PUPILS", "2020", "U001", "M_Y6_11", "default", "120", "admin", "checked, twice", True,
             False, 1),
    ValueRow("DE_PUPILS", "2020", "U001", "F_Y6_11", None, "118", None, None, None, False, 2),
    ValueRow("DE_RATE", "2020Q1", "U002", "default", None, "86.25", None, "第一季度\n复核", False, False, 3),
    ValueRow("DE_NOTE", "202003", "U002", None, None, "文字, \"quoted\"", "李老师", None, None, False, 4),
    ValueRow("DE_PUPILS", "2020SY", "U003", "default", None, None, None, None, None, True, 5),
]


def numbered(rows: list[ValueRow], first: int = 1) -> list[ValueRow]:
    """The rows as a reader gives them back: ``row`` is their position in the file (a CSV file's
    header is row 1, so its first value row is 2)."""
    return [dataclasses.replace(row, row=n) for n, row in enumerate(rows, first)]


def written(format: str, rows: list[ValueRow], **extra: object) -> bytes:
    out = io.BytesIO()
    formats.write(format, rows, out, **extra)
    return out.getvalue()


def problems_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> list[Problem]:
    return excinfo.value.problems


def only_problem(excinfo: pytest.ExceptionInfo[ValidationError]) -> Problem:
    (problem,) = excinfo.value.problems
    return problem


# ---------------------------------------------------------------- DHIS2 JSON


def test_json_round_trip_keeps_every_field() -> None:
    assert formats.read("dhis2-json", written("dhis2-json", ROWS)) == numbered(ROWS)


def test_json_writes_dhis2_shape_without_empty_fields() -> None:
    document = json.loads(written("dhis2-json", ROWS[1:2], data_set="DS_SCHOOL"))
    assert document == {"dataSet": "DS_SCHOOL", "dataValues": [{
        "dataElement": "DE_PUPILS", "period": "2020", "orgUnit": "U001", "categoryOptionCombo": "F_Y6_11",
        "value": "118"}]}
    assert json.loads(written("dhis2-json", ROWS[4:]))["dataValues"][0]["deleted"] is True


def test_json_writes_an_empty_set() -> None:
    assert json.loads(written("dhis2-json", [])) == {"dataValues": []}


def test_json_reads_dhis2_document_with_top_level_defaults_and_typed_values() -> None:
    document = {
        "dataSet": "DS_SCHOOL", "completeDate": "2020-02-01", "period": "202001", "orgUnit": "U001",
        "attributeOptionCombo": "default",
        "dataValues": [
            {"dataElement": "A", "value": 12},
            {"dataElement": "B", "value": 12.0, "period": "202002"},
            {"dataElement": "C", "value": 12.5, "orgUnit": "U002", "followup": "true"},
            {"dataElement": "D", "value": True, "attributeOptionCombo": "AOC", "deleted": "false"},
            {"dataElement": "E", "value": "007", "categoryOptionCombo": "M", "storedBy": "x", "comment": "c",
             "followup": False, "deleted": True, "lastUpdated": "2020-01-01"},
            {"dataElement": "F", "value": -3e-7, "period": ""},
        ]}
    rows = formats.read_json(json.dumps(document).encode())
    assert [(r.data_element, r.period, r.org_unit, r.attribute_option_combo, r.value) for r in rows] == [
        ("A", "202001", "U001", "default", "12"),
        ("B", "202002", "U001", "default", "12"),
        ("C", "202001", "U002", "default", "12.5"),
        ("D", "202001", "U001", "AOC", "true"),
        ("E", "202001", "U001", "default", "007"),
        ("F", "202001", "U001", "default", "-3e-07"),
    ]
    assert rows[2].followup is True and rows[3].deleted is False
    assert rows[4] == ValueRow("E", "202001", "U001", "M", "default", "007", "x", "c", False, True, 5)


def test_json_reads_utf8_with_bom_and_empty_values() -> None:
    data = b"\xef\xbb\xbf" + json.dumps({"dataValues": [{"dataElement": "A", "period": "2020",
                                                         "orgUnit": "U", "value": None}]}).encode()
    assert formats.read_json(data) == [ValueRow("A", "2020", "U", row=1)]


@pytest.mark.parametrize(("data", "message"), [
    (b'{"dataValues": [', "not JSON: Expecting value at line 1, column 17"),
    (b"\xff\xfe\x00", "not JSON"),
    (b'{"dataValues": [{"value": NaN}]}', "not JSON: NaN is not a number JSON allows"),
])
def test_json_unreadable(data: bytes, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        formats.read_json(data)
    assert only_problem(excinfo).message.startswith(message)
    assert "dataValues" in (only_problem(excinfo).expected or "")


@pytest.mark.parametrize(("document", "found"), [
    ([], "the document is a list"),
    ({"dataValue": []}, "the document is an object without a dataValues list"),
    ({"dataValues": {"dataElement": "A"}}, "the document is an object without a dataValues list"),
])
def test_json_not_a_data_value_set(document: object, found: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        formats.read_json(json.dumps(document).encode())
    assert only_problem(excinfo).message == found
    assert only_problem(excinfo).field == "dataValues"


def test_json_top_level_default_must_be_text() -> None:
    with pytest.raises(ValidationError) as excinfo:
        formats.read_json(json.dumps({"orgUnit": 110101, "dataValues": []}).encode())
    assert only_problem(excinfo) == Problem("not text", field="orgUnit", value=110101,
                                            expected='text in quotes, e.g. "orgUnit": "CODE"')


def test_json_every_problem_names_row_field_value_and_what_is_accepted() -> None:
    document = {"period": "2020", "dataValues": [
        {"dataElement": "A", "orgUnit": "U", "value": "1"},
        "A,2020,U,1",
        {"dataElement": 7, "orgUnit": "U", "value": [1, 2]},
        {"dataElement": "C", "value": "3"},
        {"dataElement": "D", "orgUnit": "U", "followup": "maybe", "deleted": 1, "comment": {"a": 1}},
        {"dataElement": "E", "orgUnit": "U", "value": 999},
    ]}
    with pytest.raises(ValidationError) as excinfo:
        formats.read_json(json.dumps(document).encode().replace(b"999", b"1e400"))  # inf
    found = {(p.row, p.field): p for p in problems_of(excinfo)}
    assert sorted(found) == [(2, "dataValues"), (3, "dataElement"), (3, "value"), (4, "orgUnit"),
                             (5, "comment"), (5, "deleted"), (5, "followup"), (6, "value")]
    assert found[2, "dataValues"].value == "A,2020,U,1"
    assert found[3, "dataElement"].value == 7 and found[3, "dataElement"].message == "not text"
    assert found[3, "value"].value == "[1, 2]"
    assert found[3, "value"].expected == "text, a number or true/false"
    assert found[4, "orgUnit"].message == "orgUnit is missing"
    assert "top of the document" in (found[4, "orgUnit"].expected or "")
    assert found[5, "followup"].value == "maybe" and found[5, "followup"].expected == "true or false"
    assert found[6, "value"].message == "not a finite number"
    assert found[6, "value"].value == "inf"
    assert "8 problem(s)" in excinfo.value.detail


def test_json_problems_stop_at_the_limit() -> None:
    data = json.dumps({"dataValues": [{"value": "1"}] * 2000}).encode()
    with pytest.raises(ValidationError) as excinfo:
        formats.read_json(data)
    assert len(problems_of(excinfo)) == formats.MAX_PROBLEMS
    assert "at least 1000 problem(s)" in excinfo.value.detail


JSON_FIELD = st.one_of(st.none(), st.text(max_size=3), st.integers(-5, 5), st.booleans(),
                       st.floats(allow_nan=False), st.sampled_from(["true", "false", "", "x"]))
JSON_ITEM = st.dictionaries(st.sampled_from(formats._JSON_KEYS), JSON_FIELD)


@settings(max_examples=200, deadline=None)
@given(JSON_ITEM, st.sampled_from([None, "P"]), st.sampled_from([None, "U"]))
@example({"dataElement": "A", "period": "P", "orgUnit": 0}, None, "U")
@example({"dataElement": "A", "period": False, "orgUnit": ""}, "P", "U")
def test_json_fast_path_agrees_with_checked_path(
    item: dict[str, object], period: str | None, unit: str | None
) -> None:
    fast = formats._plain_json_row(item, 7, period, unit, None)
    checked = formats._checked_json_row(item, 7, (period, unit, None), [])
    if fast is not None:
        assert fast == checked
        assert type(fast) is ValueRow and hash(fast) == hash(checked)


# ---------------------------------------------------------------- DHIS2 CSV


def test_csv_round_trip_keeps_every_field() -> None:
    data = written("dhis2-csv", ROWS)
    assert data.splitlines()[0] == b",".join(name.encode() for name in formats.CSV_HEADER)
    assert formats.read("dhis2-csv", data) == numbered(ROWS, 2)


def test_csv_bom_is_written_on_request_and_read() -> None:
    data = written("dhis2-csv", ROWS, bom=True)
    assert data.startswith(b"\xef\xbb\xbfdataelement,")
    assert formats.read_csv(data) == numbered(ROWS, 2)


def test_csv_reads_dhis2_export_with_old_lower_case_header() -> None:
    data = (b"dataelement,period,orgunit,catoptcombo,attroptcombo,value,storedby,lastupdated,comment,"
            b"followup\r\n"
            b"A,202001,U1,default,default,12,admin,2020-02-01T10:00:00.000+0000,,false\r\n"
            b"\r\n"
            b'B,202001,U1,M,default,"1,5",,,"a ""note""",TRUE\r\n')
    assert formats.read_csv(data) == [
        ValueRow("A", "202001", "U1", "default", "default", "12", "admin", None, False, False, 2),
        ValueRow("B", "202001", "U1", "M", "default", "1,5", None, 'a "note"', True, False, 4),
    ]


def test_csv_reads_json_names_in_any_order_and_case() -> None:
    data = b"Value,OrgUnit,dataElement,PERIOD,categoryOptionCombo,Created\n5,U1,A,2020,default,x\n"
    assert formats.read_csv(data) == [ValueRow("A", "2020", "U1", "default", None, "5", row=2)]


def test_csv_without_header_uses_dhis2_column_order() -> None:
    data = "\ufeffA,2020,U1,default,,7\nB,2020,U1,,,,,,备注,,true\n".encode()
    assert formats.read_csv(data) == [
        ValueRow("A", "2020", "U1", "default", None, "7", row=1),
        ValueRow("B", "2020", "U1", None, None, None, comment="备注", deleted=True, row=2),
    ]


def test_csv_empty_file_has_no_rows() -> None:
    assert formats.read_csv(b"") == []


def test_csv_header_problems() -> None:
    with pytest.raises(ValidationError) as excinfo:
        formats.read_csv(b"dataelement,perod,value,value\nA,2020,1,1\n")
    found = [(p.field, p.message) for p in problems_of(excinfo)]
    assert found == [("perod", "unknown column"), ("value", "the column appears twice"),
                     ("period", "the column is missing"), ("orgunit", "the column is missing")]
    assert "dataelement, period, orgunit" in (problems_of(excinfo)[0].expected or "")


def test_csv_row_problems_name_the_row() -> None:
    data = (b"dataelement,period,orgunit,value,followup\n"
            b"A,2020,U,1,\n,2020,U,2,\nC,2020,U,3,maybe\nD,2020,U,4,,x\n")
    with pytest.raises(ValidationError) as excinfo:
        formats.read_csv(data)
    found = {(p.row, p.field): p for p in problems_of(excinfo)}
    assert sorted(found, key=str) == [(3, "dataelement"), (4, "followup"), (5, None)]  # the header is row 1
    assert found[4, "followup"].value == "maybe" and found[4, "followup"].expected == "true or false"
    assert found[5, None].value == "x"


@pytest.mark.parametrize(("data", "message"), [
    (b'A,2020,U,"1"x\n', "malformed CSV at line 1"),
    (b'A,2020,U,1\nB,2020,U,"2\n', "malformed CSV at line 2"),
    (b"A,2020,U,\xff\n", "not UTF-8 text (line 1)"),
])
def test_csv_unreadable(data: bytes, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        formats.read_csv(data)
    assert only_problem(excinfo).message.startswith(message)


# ---------------------------------------------------------------- ADX

ADX_ROWS = [row for row in ROWS if not row.deleted]
CATEGORIES = {"M_Y6_11": {"SEX": "M", "AGE": "Y6_11"}, "F_Y6_11": {"SEX": "F", "AGE": "Y6_11"}}


def combo_attributes(element: str, combo: str) -> dict[str, str] | None:
    return CATEGORIES.get(combo)


def combo_code(element: str, categories: dict[str, str]) -> str | None:
    if not categories:
        return "default"
    return next((code for code, options in CATEGORIES.items() if options == categories), None)


def adx_rows(rows: list[ValueRow]) -> list[ValueRow]:
    """What ADX carries of ``rows``: no stored_by/followup, default attribute combo, combo default."""
    return numbered([dataclasses.replace(row, stored_by=None, followup=None, category_option_combo=
                                         row.category_option_combo or "default",
                                         attribute_option_combo=None) for row in rows])


def test_adx_round_trip_with_category_attributes() -> None:
    data = written("adx", ROWS, data_set="DS_SCHOOL", combo_attributes=combo_attributes,
                   exported="2020-04-01T00:00:00+00:00")
    assert b'SEX="M" AGE="Y6_11"' in data and b"categoryOptionCombo" not in data
    assert formats.read("adx", data, combo_code=combo_code) == adx_rows(ADX_ROWS)


def test_adx_round_trip_without_callables_writes_combo_codes() -> None:
    data = written("adx", ADX_ROWS, data_set="DS_SCHOOL")
    assert b'categoryOptionCombo="M_Y6_11"' in data
    assert formats.read_adx(data) == adx_rows(ADX_ROWS)


def test_adx_writes_groups_periods_and_escapes() -> None:
    rows = [ValueRow("A", "2020Q1", "U1", value="1", comment="<b> & \"c\""),
            ValueRow("A", "2020SY", "U1", attribute_option_combo="FUND_X", value="2"),
            ValueRow("B", "2020Q1", "U1", value="3")]
    text = written("adx", rows, data_set="DS", exported="2020-04-01T00:00:00+00:00").decode()
    assert text.count("<group ") == 2
    assert '<group orgUnit="U1" period="2020-01-01/P3M" dataSet="DS">' in text
    assert 'period="2020-09-01/P1Y" dataSet="DS" attributeOptionCombo="FUND_X"' in text
    assert """comment='&lt;b&gt; &amp; "c"'""" in text  # DHIS2 reads the comment attribute
    back = formats.read_adx(text.encode())
    assert [(r.data_element, r.period, r.attribute_option_combo, r.comment) for r in back] == [
        ("A", "2020Q1", None, '<b> & "c"'), ("B", "2020Q1", None, None), ("A", "2020SY", "FUND_X", None)]


def test_adx_refuses_category_codes_that_are_not_attribute_names() -> None:
    with pytest.raises(ValidationError) as excinfo:
        written("adx", ROWS[:1], combo_attributes=lambda e, c: {"1SEX": "M"})
    assert only_problem(excinfo).value == "1SEX"


ADX_DOCUMENT = b"""<?xml version="1.0" encoding="UTF-8"?>
<adx xmlns="urn:ihe:qrph:adx:2015" exported="2020-04-01T10:00:00Z">
  <group orgUnit="U1" period="2020-01-01/P1M" dataSet="DS" completeDate="2020-02-03">
    <dataValue dataElement="A" SEX="F" AGE="Y6_11" value="4"><annotation>late</annotation></dataValue>
    <dataValue dataElement="A" AGE="Y6_11" SEX="M" value="5"/>
    <dataValue dataElement="B" value="6.5"/>
  </group>
  <group orgUnit="U2" period="2020-09-01/P1Y" dataSet="DS" FUND="X">
    <dataValue dataElement="C" value="7"/>
  </group>
</adx>"""


def test_adx_reads_categories_through_the_callable() -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    def code(element: str, categories: dict[str, str]) -> str | None:
        seen.append((element, categories))
        return combo_code(element, categories)

    rows = formats.read_adx(ADX_DOCUMENT, combo_code=code)
    assert rows == [
        ValueRow("A", "202001", "U1", "F_Y6_11", None, "4", comment="late", row=1),
        ValueRow("A", "202001", "U1", "M_Y6_11", None, "5", row=2),
        ValueRow("B", "202001", "U1", "default", None, "6.5", row=3),
        ValueRow("C", "2020SY", "U2", "default", "X", "7", row=4),
    ]
    assert seen[1] == ("A", {"AGE": "Y6_11", "SEX": "M"})


def test_adx_without_callable_joins_options_in_written_order() -> None:
    rows = formats.read_adx(ADX_DOCUMENT)
    assert [r.category_option_combo for r in rows] == ["F_Y6_11", "Y6_11_M", "default", "default"]


def test_adx_unknown_categories_name_the_row() -> None:
    with pytest.raises(ValidationError) as excinfo:
        formats.read_adx(ADX_DOCUMENT.replace(b'SEX="M"', b'SEX="X"'), combo_code=combo_code)
    assert only_problem(excinfo) == Problem(
        "the data element is unknown or has no combo of these category options", row=2,
        field="categoryOptionCombo", value="AGE=Y6_11, SEX=X",
        expected="one option of each category of the data element")


def test_adx_structure_problems_name_the_row() -> None:
    document = ADX_DOCUMENT.replace(b'period="2020-01-01/P1M"', b'period="2020-01-02/P1M"').replace(
        b'<dataValue dataElement="B"', b'<dataValue dataElemnt="B"').replace(
        b'orgUnit="U2" ', b"").replace(b"<annotation>late</annotation>", b"<note>late</note>")
    with pytest.raises(ValidationError) as excinfo:
        formats.read_adx(document)
    found = {(p.row, p.field): p for p in problems_of(excinfo)}
    assert sorted(found, key=str) == [(1, "period"), (1, "{urn:ihe:qrph:adx:2015}note"),
                                      (3, "dataElement"), (4, "orgUnit")]
    assert found[1, "period"].value == "2020-01-02/P1M"
    assert found[1, "{urn:ihe:qrph:adx:2015}note"].expected == "<annotation>"


@pytest.mark.parametrize(("data", "message"), [
    (b'<!DOCTYPE adx [<!ENTITY a "aaaa">]><adx xmlns="urn:ihe:qrph:adx:2015">&a;</adx>',
     "declares a DOCTYPE"),
    (b"<adx><group></adx>", "not well-formed XML at line 1, column 15"),
    (b'<dataValueSet xmlns="http://dhis2.org/schema/dxf/2.0"/>', "the document is <{http://dhis2.org"),
    (b"<adx>\xff</adx>", "not UTF-8 text"),
])
def test_adx_unreadable(data: bytes, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        formats.read_adx(data)
    assert message in only_problem(excinfo).message


_DTD_ATTACK = ('<?xml version="1.0" encoding="UTF-16"?>'
               '<!DOCTYPE adx [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
               '<adx xmlns="urn:ihe:qrph:adx:2015"><group orgUnit="&b;" period="2020-01-01/P1Y">'
               '<dataValue dataElement="A" value="1"/></group></adx>')


@pytest.mark.parametrize("data", [
    _DTD_ATTACK.encode("utf-16-le"),  # no BOM: the bytes b"<!DOCTYPE" never occur
    _DTD_ATTACK.encode("utf-16-be"),
    _DTD_ATTACK.encode("utf-16"),
    _DTD_ATTACK.replace("UTF-16", "UTF-8").encode(),
    b'<!DOCTYPE adx SYSTEM "http://evil.example/adx.dtd"><adx/>',
    b'<?xml version="1.0"?>\n<!DOCTYPE adx><adx/>',
])
def test_adx_refuses_every_dtd_whatever_the_encoding(data: bytes) -> None:
    with pytest.raises(ValidationError) as excinfo:
        formats.read_adx(data)
    assert "declares a DOCTYPE" in only_problem(excinfo).message


def test_adx_without_namespace_and_empty_value_reads() -> None:
    data = b'<adx><group orgUnit="U" period="2020-01-01/P1Y"><dataValue dataElement="A"/></group></adx>'
    assert formats.read_adx(data) == [ValueRow("A", "2020", "U", "default", None, None, row=1)]


# ---------------------------------------------------------------- XLSX template


def form(language: str = "zh_CN") -> TemplateForm:
    return TemplateForm(
        data_set="DS_SCHOOL", data_set_name="学校基本情况", period="2020SY", unit="U001",
        unit_name="第一中学", language=language, period_name="2020学年", rows=[
            TemplateRow("DE_PUPILS", "在校生数", "M_Y6_11", "男, 6-11岁", "INTEGER", "120"),
            TemplateRow("DE_PUPILS", "在校生数", "F_Y6_11", "女, 6-11岁", "INTEGER", None),
            TemplateRow("DE_RATE", "巩固率", "default", "默认", "PERCENTAGE", "86.25", "复核"),
            TemplateRow("DE_OPEN", "是否开放", "default", "默认", "BOOLEAN", "true"),
            TemplateRow("DE_NOTE", "说明", "default", "默认", "TEXT", "007"),
        ])


def template_bytes(template: TemplateForm) -> bytes:
    out = io.BytesIO()
    formats.write_template(out, form=template)
    return out.getvalue()


def test_template_reads_back_current_values() -> None:
    rows = formats.read_template(template_bytes(form()))
    assert rows == [
        ValueRow("DE_PUPILS", "2020SY", "U001", "M_Y6_11", None, "120", row=8),
        ValueRow("DE_PUPILS", "2020SY", "U001", "F_Y6_11", None, None, row=9),
        ValueRow("DE_RATE", "2020SY", "U001", "default", None, "86.25", comment="复核", row=10),
        ValueRow("DE_OPEN", "2020SY", "U001", "default", None, "true", row=11),
        ValueRow("DE_NOTE", "2020SY", "U001", "default", None, "007", row=12),
    ]


def test_template_layout_names_validation_and_languages() -> None:
    book = load_workbook(io.BytesIO(template_bytes(form())))
    sheet = book[formats.SHEET]
    assert {name: book.defined_names[name].attr_text for name in formats.DEFINED_NAMES} == {
        "JW_DATASET": "'data'!$B$2", "JW_UNIT": "'data'!$B$3", "JW_PERIOD": "'data'!$B$4",
        "JW_TABLE": "'data'!$A$7"}
    assert [c.value for c in sheet[7]] == ["数据元代码", "分类组合代码", "数据元", "分类组合", "数值", "备注"]
    assert sheet["A8"].fill.fgColor.rgb.endswith("D9D9D9") and sheet["E8"].value == 120
    assert sheet["E8"].protection.locked is False and sheet["A8"].protection.locked is True
    kinds = {dv.type: str(dv.sqref) for dv in sheet.data_validations.dataValidation}
    assert kinds == {"whole": "E8 E9", "decimal": "E10", "list": "E11"}
    english = load_workbook(io.BytesIO(template_bytes(form("en"))))[formats.SHEET]
    assert english["E7"].value == "Value" and english["A5"].value.startswith("Fill in only")


def test_filled_template_gives_changed_and_cleared_values() -> None:
    book = load_workbook(io.BytesIO(template_bytes(form())))
    sheet = book[formats.SHEET]
    sheet["E8"] = None  # cleared
    sheet["E9"] = 98  # filled in
    sheet["E10"] = 90.5
    sheet["F10"] = None
    sheet["E11"] = False
    sheet["F12"] = "  新备注 "
    out = io.BytesIO()
    book.save(out)
    rows = formats.read("xlsx", out.getvalue())
    assert [(r.row, r.value, r.comment) for r in rows] == [
        (8, None, None), (9, "98", None), (10, "90.5", None), (11, "false", None), (12, "007", "新备注")]


def test_template_with_changed_grey_cells_is_refused() -> None:
    book = load_workbook(io.BytesIO(template_bytes(form())))
    sheet = book[formats.SHEET]
    sheet["B4"] = None
    sheet["A9"] = None
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ValidationError) as excinfo:
        formats.read_template(out.getvalue())
    assert only_problem(excinfo).field == "JW_PERIOD"
    sheet["B4"] = "2020SY"
    book.save(out := io.BytesIO())
    with pytest.raises(ValidationError) as excinfo:
        formats.read_template(out.getvalue())
    assert only_problem(excinfo) == Problem("the element code is empty", row=9, field="element",
                                            expected="the code the template was downloaded with")


def test_workbook_that_is_not_a_template_is_refused() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["A1"] = "dataelement"
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(ValidationError) as excinfo:
        formats.read_template(out.getvalue())
    assert excinfo.value.detail == "The workbook is not a jiaowei data entry template."
    assert only_problem(excinfo).field == "JW_DATASET"
    assert "template downloaded from jiaowei" in (only_problem(excinfo).expected or "")
    with pytest.raises(ValidationError) as excinfo:
        formats.read_template(b"PK\x03\x04 not really a zip")
    assert only_problem(excinfo).message.startswith("not a readable XLSX workbook")


def test_xlsx_writer_fills_a_form_or_makes_a_plain_one() -> None:
    stored = [ValueRow("DE_PUPILS", "2020SY", "U001", "F_Y6_11", value="77", comment="新")]
    rows = formats.read("xlsx", written("xlsx", stored, form=form()))
    assert (rows[1].value, rows[1].comment, rows[0].value) == ("77", "新", "120")
    plain = [row for row in ROWS if row.org_unit == "U001"]
    assert formats.read("xlsx", written("xlsx", plain, data_set="DS")) == [
        dataclasses.replace(row, attribute_option_combo=None, stored_by=None, followup=None, row=n)
        for n, row in enumerate(plain, 8)]
    with pytest.raises(ValidationError) as excinfo:
        written("xlsx", ROWS)
    assert only_problem(excinfo).message == "the values are for 3 unit-period pairs"  # the deleted left out


# ---------------------------------------------------------------- detection and dispatch


@pytest.mark.parametrize(("filename", "content_type", "data", "format"), [
    ("values.JSON", None, b"", "dhis2-json"),
    ("values.csv", "application/json", b"{", "dhis2-csv"),
    ("values.adx", None, b"", "adx"),
    ("values.xml", None, b"", "adx"),
    ("form.xlsx", None, b"", "xlsx"),
    ("upload", "application/json; charset=utf-8", b"", "dhis2-json"),
    ("upload", "text/csv", b"", "dhis2-csv"),
    ("upload", "application/adx+xml", b"", "adx"),
    ("upload", formats.MEDIA_TYPES["xlsx"], b"", "xlsx"),
    ("upload", "application/octet-stream", b'\xef\xbb\xbf  {"dataValues": []}', "dhis2-json"),
    ("", None, b"PK\x03\x04...", "xlsx"),
    ("", None, b"\n<?xml version='1.0'?><adx/>", "adx"),
    ("", None, b"DataElement,Period\n", "dhis2-csv"),
])
def test_detect_format(filename: str, content_type: str | None, data: bytes, format: str) -> None:
    assert formats.detect_format(filename, content_type, data) == format


def test_undetectable_format_lists_the_formats() -> None:
    with pytest.raises(ValidationError) as excinfo:
        formats.detect_format("values.txt", "text/plain", b"A,2020,U,1")
    assert only_problem(excinfo).value == "values.txt"
    assert all(name in (only_problem(excinfo).expected or "") for name in formats.FORMATS)


def test_unknown_format_is_refused_by_read_and_write() -> None:
    with pytest.raises(ValidationError):
        formats.read("dxf", b"")
    with pytest.raises(ValidationError) as excinfo:
        formats.write("dxf", [], io.BytesIO())
    assert only_problem(excinfo).field == "format"
    assert set(formats.MEDIA_TYPES) == set(formats.FORMATS)
