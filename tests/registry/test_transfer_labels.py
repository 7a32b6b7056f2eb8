"""The units file speaks the UI's words: labels for types, ownerships and sectors, headers in the reader's
language, and the units page's export of what it lists; on both databases."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from jiaowei.auth.model import SYSTEM
from jiaowei.errors import ValidationError
from jiaowei.registry import queries
from jiaowei.registry.transfer import COLUMNS, export_units, import_units
from tests.factories import login, make_unit, make_user, small_tree, token_for

DAY = dt.date(2020, 1, 1)


def imported(conn, text: str):
    return import_units(conn, principal=SYSTEM, data=text.encode(), filename="units.csv")


def test_the_import_takes_the_chinese_labels_the_pages_show(conn):
    small_tree(conn)
    summary = imported(conn, "单位代码,中文名称,英文名称,类别,办别,系统,上级单位,生效日期\n"
                             "K1,一幼,Kindergarten 1,幼儿园,民办,教育,D1,2019-09-01\n"
                             "H1,一院,Hospital 1,医院,公办,卫生,SH,2019-09-01\n")
    assert summary.created == 2
    k1 = queries.get_unit(conn, principal=SYSTEM, code="K1", as_of=DAY)
    h1 = queries.get_unit(conn, principal=SYSTEM, code="H1", as_of=DAY)
    assert (k1.type, k1.ownership, k1.sector) == ("kindergarten", "private", "education")
    assert (h1.type, h1.ownership, h1.sector) == ("hospital", "public", "health")


def test_the_import_takes_the_english_labels_in_any_case_and_the_codes(conn):
    small_tree(conn)
    imported(conn, "Unit code,Chinese name,English name,Type,Ownership,Sector,Parent unit\n"
                   "S7,七小,School 7,primary school,PRIVATE,Education,D1\n"
                   "S8,八小,School 8,nine_year_school,public,education,D1\n")
    assert queries.get_unit(conn, principal=SYSTEM, code="S7").type == "primary_school"
    assert queries.get_unit(conn, principal=SYSTEM, code="S7").ownership == "private"
    assert queries.get_unit(conn, principal=SYSTEM, code="S8").type == "nine_year_school"


def test_a_label_that_names_nothing_is_refused_with_its_row(conn):
    small_tree(conn)
    with pytest.raises(ValidationError) as error:
        imported(conn, "code,name_zh,name_en,type,parent\nS7,七小,School 7,小学校,D1\n")
    problem, = error.value.problems
    assert (problem.row, problem.field, problem.value) == (2, "type", "小学校")


def test_a_chinese_xlsx_export_has_chinese_headers_and_imports_again_unchanged(conn):
    small_tree(conn)
    data = export_units(conn, principal=SYSTEM, as_of=DAY, format="xlsx", language="zh_CN")
    sheet = load_workbook(io.BytesIO(data))["units"]
    assert [c.value for c in sheet[1]][:6] == ["单位代码", "中文名称", "英文名称", "类别", "办别", "系统"]
    assert sheet.freeze_panes == "A2" and sheet.column_dimensions["B"].width >= 12
    english = load_workbook(io.BytesIO(export_units(conn, principal=SYSTEM, as_of=DAY, format="xlsx",
                                                    language="en")))["units"]
    assert [c.value for c in english[1]][:3] == ["Unit code", "Chinese name", "English name"]
    summary = import_units(conn, principal=SYSTEM, data=data, filename="units.xlsx")
    assert (summary.created, summary.changed, summary.unchanged) == (0, 0, 5)


def test_the_api_exports_what_a_search_finds_on_a_date(client, conn):
    small_tree(conn)
    make_unit(conn, "S9", parent="D1", name_zh="新开小学", name_en="New school", opened=dt.date(2021, 9, 1))
    headers = token_for(conn, make_user(conn))
    found = client.get("/api/units/export", headers=headers,
                       params={"format": "csv", "q": "S", "as_of": "2020-01-01"})
    lines = found.content.decode("utf-8-sig").splitlines()
    assert lines[0] == ",".join(COLUMNS)  # CSV keeps the codes as its header
    assert [line.split(",")[0] for line in lines[1:]] == ["SH", "S1", "S2"]  # S9 opens later
    later = client.get("/api/units/export", headers={**headers, "accept-language": "en"},
                       params={"format": "xlsx", "q": "新开", "as_of": "2021-09-01"})
    sheet = load_workbook(io.BytesIO(later.content))["units"]
    assert [c.value for c in sheet[1]][0] == "Unit code"
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == ["S9"]


def test_the_units_page_offers_an_export_of_what_it_lists(client, conn):
    small_tree(conn)
    make_user(conn, "looker", role="viewer", view=["D1"])
    login(client, "looker")
    page = client.get("/units", params={"as_of": "2020-01-01", "q": "S1"}).text
    assert 'href="/api/units/export?as_of=2020-01-01&amp;q=S1&amp;format=xlsx"' in page
    assert 'href="/api/units/export?as_of=2020-01-01&amp;q=S1&amp;format=csv"' in page
    exported = client.get("/api/units/export", params={"as_of": "2020-01-01", "format": "csv"})
    assert exported.status_code == 200
    codes = [line.split(",")[0] for line in exported.content.decode("utf-8-sig").splitlines()[1:]]
    assert codes == ["D1", "S1"]  # the viewer's scope only
