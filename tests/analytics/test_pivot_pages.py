"""The pivot table pages on both databases: the builder's form, the table with its totals and sort,
the CSV and XLSX exports, the charts, drill-down to the stored values, and scope."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.values import service as values
from tests.factories import indicator_setup, login, make_user, mentions
from tests.pages_helpers import visible_text

# 2020: S1 (under D1) 230 pupils, 15 teachers; S2 (under D2) 90 pupils, 10 teachers. 2019: S1 200 pupils.
STORED = [("PUPILS", "2020", "S1", "M", "120"), ("PUPILS", "2020", "S1", "F", "110"),
          ("TEACHERS", "2020", "S1", None, "15"), ("PUPILS", "2020", "S2", "M", "50"),
          ("PUPILS", "2020", "S2", "F", "40"), ("TEACHERS", "2020", "S2", None, "10"),
          ("PUPILS", "2019", "S1", "M", "100"), ("PUPILS", "2019", "S1", "F", "100")]
BY_DISTRICT = [("dimension", "dx:PUPILS;TEACHERS"), ("filter", "pe:2020"), ("dimension", "ou:SH;LEVEL-2"),
               ("rows", "ou"), ("columns", "dx")]
BY_DISTRICT_CELLS = [["230", "15", "245"], ["90", "10", "100"], ["320", "25", "345"]]  # with the totals


@pytest.fixture
def staff(browser: TestClient, conn: Connection) -> TestClient:
    """The small tree with the values above, and a logged-in administrator reading Chinese."""
    indicator_setup(conn)
    rows = [ValueRow(data_element=de, period=p, org_unit=u, category_option_combo=c, value=v)
            for de, p, u, c, v in STORED]
    values.import_values(conn, principal=SYSTEM, rows=rows, source="test", synthetic=True)
    make_user(conn, "analyst")
    login(browser, "analyst")
    browser.cookies.set("jiaowei_lang", "zh_CN")
    return browser


def table(page: str) -> list[list[str]]:
    """The pivot table's rows of cell texts, header rows included."""
    body = page[page.index('id="pivot-table"'):page.index("</table>", page.index('id="pivot-table"'))]
    return [[visible_text(c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def links(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'<td class="num"><a href="([^"]+)"', page)]


def test_the_form_makes_a_pivot_a_url(staff: TestClient) -> None:
    form = [("build", "1"), ("dx", "PUPILS"), ("dx", "TEACHERS"), ("pe", "2020"), ("ou", "SH"),
            ("level", "2"), ("dx_on", "columns"), ("pe_on", "filter"), ("ou_on", "rows")]
    response = staff.get("/analytics", params=form, follow_redirects=False)
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert target.path == "/analytics" and sorted(parse_qsl(target.query)) == sorted(BY_DISTRICT)
    missing = staff.get("/analytics", params=[("build", "1"), ("pe", "2020"), ("ou", "SH")])
    assert missing.status_code == 422 and "请选择" in visible_text(missing.text)
    assert 'id="dx-error"' in missing.text


def test_a_pivot_has_totals_where_they_add_up(staff: TestClient) -> None:
    page = staff.get("/analytics", params=BY_DISTRICT)
    assert page.status_code == 200
    rows = table(page.text)
    assert rows[0][1:] == ["在校学生数", "专任教师数", "合计"]
    assert rows[-1][0] == "合计"
    assert [r[1:] for r in rows[1:]] == BY_DISTRICT_CELLS
    json_link = re.search(r'href="(/api/analytics\?[^"]+)"', page.text)
    assert json_link
    assert sorted(parse_qsl(urlsplit(html.unescape(json_link.group(1))).query)) == sorted(BY_DISTRICT)
    ratio = staff.get("/analytics", params=[("dimension", "dx:PUPILS;PTR"), *BY_DISTRICT[1:]])
    rows = table(ratio.text)
    assert [r[1:] for r in rows[1:]] == [["230", "15.3", "—"], ["90", "9", "—"], ["320", "—", "—"]]


def test_rows_sort_by_any_column(staff: TestClient) -> None:
    ascending = table(staff.get("/analytics", params=[*BY_DISTRICT, ("sort", "0")]).text)
    descending = table(staff.get("/analytics", params=[*BY_DISTRICT, ("sort", "-0")]).text)
    assert [r[1] for r in ascending[1:3]] == ["90", "230"]
    assert [r[1] for r in descending[1:3]] == ["230", "90"]
    header = staff.get("/analytics", params=[*BY_DISTRICT, ("sort", "0")]).text
    assert 'aria-sort="ascending"' in header and "sort=-0" in header  # a second click sorts descending


def test_the_exports_hold_the_table_as_shown(staff: TestClient) -> None:
    csv_file = staff.get("/analytics.csv", params=BY_DISTRICT)
    assert csv_file.status_code == 200 and csv_file.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    assert lines[0] == ["组织机构", "在校学生数", "专任教师数", "合计"]
    assert [line[1:] for line in lines[1:]] == BY_DISTRICT_CELLS
    from openpyxl import load_workbook

    for lang, header in (("zh_CN", ["组织机构", "在校学生数", "专任教师数", "合计"]),
                         ("en", ["Organisation unit", "Pupils", "Teachers", "Total"])):
        staff.cookies.set("jiaowei_lang", lang)
        workbook = staff.get("/analytics.xlsx", params=BY_DISTRICT)
        assert workbook.status_code == 200 and "attachment" in workbook.headers["content-disposition"]
        sheet = load_workbook(io.BytesIO(workbook.content)).active
        found = [list(r) for r in sheet.iter_rows(values_only=True)]
        top = found.index(header)
        assert found[top + 1][1:] == [230, 15, 245] and isinstance(found[top + 1][1], int)
        assert found[top + 3][1:] == [320, 25, 345]
        assert sheet.column_dimensions["A"].width >= 8 and sheet.freeze_panes == f"B{top + 2}"


def test_each_chart_gets_its_data_from_the_server(staff: TestClient) -> None:
    by_year = [("dimension", "dx:PUPILS"), ("dimension", "pe:2020"), ("dimension", "ou:S1;S2"),
               ("rows", "ou"), ("columns", "pe")]
    for kind in ("line", "bar", "stacked", "pie"):
        page = staff.get("/analytics", params=[*by_year, ("chart", kind)])
        spec = json.loads(html.unescape(re.search(r"data-chart='([^']*)'", page.text).group(1)))
        assert spec["kind"] == kind and spec["series"][0]["data"]
    line = staff.get("/analytics", params=[*by_year, ("chart", "line")]).text
    spec = json.loads(html.unescape(re.search(r"data-chart='([^']*)'", line).group(1)))
    assert len(spec["categories"]) == 1 and "2020" in spec["categories"][0]  # time on the axis
    assert [s["data"] for s in spec["series"]] == [[230], [90]]
    yoy = staff.get("/analytics", params=[*by_year, ("chart", "yoy")]).text
    spec = json.loads(html.unescape(re.search(r"data-chart='([^']*)'", yoy).group(1)))
    assert [s["data"] for s in spec["series"]] == [[230], [200], [90], [None]]
    assert spec["series"][1]["kind"] == "earlier" and "上年同期" in spec["series"][1]["name"]


def test_a_cell_drills_down_a_level_and_at_a_school_to_its_values(staff: TestClient) -> None:
    page = staff.get("/analytics", params=BY_DISTRICT).text
    down = links(page)[0]
    assert ("dimension", "ou:D1;LEVEL-3") in parse_qsl(urlsplit(down).query)
    schools = staff.get(down)
    assert [r[:2] for r in table(schools.text)[1:]] == [["单位S1", "230"]]
    leaf = links(schools.text)[0]
    assert urlsplit(leaf).path == "/analytics/values"
    assert dict(parse_qsl(urlsplit(leaf).query)) == {"dx": "PUPILS", "pe": "2020", "ou": "S1"}
    stored = staff.get(leaf)
    assert stored.status_code == 200
    text = visible_text(stored.text)
    assert all(word in text for word in ("120", "110", "男", "女", "合成数据", "新增数值", "填报人"))
    assert "2019" not in text  # only the values of the cell's period


def test_a_district_user_cannot_drill_into_another_district(
    browser: TestClient, conn: Connection
) -> None:
    indicator_setup(conn)
    rows = [ValueRow(data_element=de, period=p, org_unit=u, category_option_combo=c, value=v)
            for de, p, u, c, v in STORED]
    values.import_values(conn, principal=SYSTEM, rows=rows, source="test", synthetic=True)
    make_user(conn, "d1staff", role="district_staff", capture=["D1"], view=["D1"])
    login(browser, "d1staff")
    mine = browser.get("/analytics", params=[("dimension", "dx:PUPILS"), ("filter", "pe:2020"),
                                             ("dimension", "ou:USER_ORGUNIT;LEVEL-3"), ("rows", "ou")])
    assert mine.status_code == 200
    assert [r[:2] for r in table(mine.text)[1:]] == [["单位S1", "230"]]
    other = browser.get("/analytics", params=[("dimension", "dx:PUPILS"), ("filter", "pe:2020"),
                                              ("dimension", "ou:D2;LEVEL-3"), ("rows", "ou")])
    assert other.status_code in (404, 409) and not mentions(table_or_empty(other.text), "S2")
    hidden = browser.get("/analytics/values", params={"dx": "PUPILS", "pe": "2020", "ou": "S2"})
    assert hidden.status_code == 404 and "50" not in visible_text(hidden.text)


def table_or_empty(page: str) -> str:
    return " ".join(" ".join(r) for r in table(page)) if 'id="pivot-table"' in page else ""


def test_the_page_speaks_english_too(staff: TestClient) -> None:
    staff.cookies.set("jiaowei_lang", "en")
    page = staff.get("/analytics", params=[*BY_DISTRICT, ("chart", "bar")])
    text = visible_text(page.text)
    words = ("Pivot tables and charts", "Pupils", "Teachers", "Total", "Stacked bar", "Download XLSX",
             "Save to my dashboard")
    assert all(word in text for word in words)
    assert table(page.text)[0][1:] == ["Pupils", "Teachers", "Total"]
    # No query yet: a first pivot at once (a headline indicator, the user's own unit one level down),
    # as a URL the user goes on from.
    first = staff.get("/analytics", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/analytics?dimension=dx%3APTR")
    shown = staff.get(first.headers["location"])
    assert shown.status_code == 200 and 'id="pivot-table"' in shown.text
    assert re.search(r'<option value="SH" selected>', shown.text)


def test_a_ratio_indicator_is_written_one_to_n(staff: TestClient, conn: Connection) -> None:
    """Teachers per pupil as a ratio: 15 to 230 is 1:15 (1:15.3), not 0.0652 at four decimals."""
    from jiaowei.indicators.metadata import service as metadata

    metadata.save_indicator(conn, principal=SYSTEM, code="TPR", name_zh="师生比", name_en="Teacher ratio",
                            numerator="#{TEACHERS}", denominator="#{PUPILS}", display="ratio", decimals=0)
    page = staff.get("/analytics", params=[("dimension", "dx:TPR;PUPILS"), ("filter", "pe:2020"),
                                           ("dimension", "ou:SH;LEVEL-2"), ("rows", "ou"), ("columns", "dx")])
    assert page.status_code == 200
    rows = table(page.text)
    assert rows[1][1:3] == ["1:15", "230"] and rows[2][1:3] == ["1:9", "90"]
    grid = staff.get("/api/analytics", params=[("dimension", "dx:TPR"), ("dimension", "ou:D1"),
                                               ("filter", "pe:2020")]).json()
    assert grid["rows"] == [["TPR", "D1", "0.0652174"]]  # the API keeps the number, to six digits
