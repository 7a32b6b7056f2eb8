"""Unit import and export (CSV, XLSX) on both databases: all or nothing, dry runs, round trips."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from jiaowei.audit.store import audit_log
from jiaowei.auth.model import SYSTEM
from jiaowei.errors import ValidationError
from jiaowei.registry import queries, service
from jiaowei.registry.store import unit_events, unit_paths, unit_versions, units
from jiaowei.registry.transfer import COLUMNS, export_units, import_units
from tests.factories import make_user, small_tree, token_for

HEADER = "code,name_zh,name_en,type,ownership,sector,parent,valid_from,valid_to,attributes,synthetic"
TREE = f"""{HEADER}
K1,幼儿园,Kindergarten,kindergarten,private,education,S9,2012-09-01,,"{{""双语"": true}}",true
S9,学校九,School 9,primary_school,public,education,D9,2010-09-01,,,false
D9,九区,District 9,district_bureau,public,education,SH9,2000-01-01,,,
SH9,教委,Commission,commission,public,education,,2000-01-01,,{{}},
"""


def counts(conn) -> dict[str, int]:
    return {t.name: conn.scalar(select(func.count()).select_from(t))
            for t in (units, unit_versions, unit_paths, unit_events, audit_log)}


def run(conn, text: str, *, filename: str = "units.csv", dry_run: bool = False):
    return import_units(conn, principal=SYSTEM, data=text.encode(), filename=filename, dry_run=dry_run)


def test_parents_after_children_in_the_file_are_opened_in_order(conn):
    summary = run(conn, TREE)
    assert (summary.created, summary.changed, summary.unchanged) == (4, 0, 0)
    unit = queries.get_unit(conn, principal=SYSTEM, code="K1", as_of=dt.date(2020, 1, 1))
    assert [a.code for a in unit.ancestors] == ["SH9", "D9", "S9"]
    assert unit.attributes == {"双语": True} and unit.ownership == "private" and unit.synthetic
    assert unit.opened == dt.date(2012, 9, 1)


def test_csv_round_trip_changes_nothing(conn):
    run(conn, TREE)
    exported = export_units(conn, principal=SYSTEM, as_of=dt.date(2020, 1, 1), format="csv")
    assert exported.startswith("\ufeff".encode())
    lines = exported.decode("utf-8-sig").splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert [line.split(",")[0] for line in lines[1:]] == ["SH9", "D9", "S9", "K1"]
    before = counts(conn)
    summary = import_units(conn, principal=SYSTEM, data=exported, filename="export.csv")
    assert (summary.created, summary.changed, summary.unchanged, summary.closed) == (0, 0, 4, 0)
    assert counts(conn) == before


def test_xlsx_round_trip_into_an_empty_registry(conn):
    run(conn, TREE)
    service.change_unit(conn, principal=SYSTEM, code="D9", effective=dt.date(2015, 1, 1),
                        changes={"name_zh": "新九区"})
    service.close_unit(conn, principal=SYSTEM, code="K1", effective=dt.date(2030, 1, 1))
    exported = export_units(conn, principal=SYSTEM, as_of=dt.date(2020, 1, 1), format="xlsx")
    assert import_units(conn, principal=SYSTEM, data=exported, filename="u.xlsx").unchanged == 4
    with conn.begin_nested() as savepoint:
        for table in (unit_events, unit_paths, unit_versions, units):
            conn.execute(table.delete())
        summary = import_units(conn, principal=SYSTEM, data=exported, filename="u.xlsx")
        assert (summary.created, summary.closed) == (4, 1)
        again = export_units(conn, principal=SYSTEM, as_of=dt.date(2020, 1, 1), format="csv")
        savepoint.rollback()
    assert again == export_units(conn, principal=SYSTEM, as_of=dt.date(2020, 1, 1), format="csv")


def test_xlsx_cells_may_be_numbers_dates_and_booleans(conn):
    book = Workbook()
    sheet = book.active
    sheet.append(["code", "name_zh", "name_en", "type", "valid_from", "synthetic"])
    sheet.append([310999, "区", "District", "district_bureau", dt.datetime(2001, 2, 3), True])
    buffer = io.BytesIO()
    book.save(buffer)
    assert import_units(conn, principal=SYSTEM, data=buffer.getvalue(), filename="u.xlsx").created == 1
    unit = queries.get_unit(conn, principal=SYSTEM, code="310999", as_of=dt.date(2001, 2, 3))
    assert unit.opened == dt.date(2001, 2, 3) and unit.synthetic is True


def test_one_bad_row_names_row_column_value_and_writes_nothing(conn):
    before = counts(conn)
    text = TREE.replace("primary_school", "castle")
    with pytest.raises(ValidationError) as caught:
        run(conn, text)
    problem = caught.value.problems[0]
    assert (problem.row, problem.field, problem.value) == (3, "type", "castle")
    assert "primary_school" in (problem.expected or "")
    assert counts(conn) == before


@pytest.mark.parametrize(("line", "row", "field"), [
    ("X1,x,x,other,,,NOPE,,,,", 2, "parent"),
    ("X1,x,x,other,,,,2020-02-30,,,", 2, "valid_from"),
    ("X1,x,x,other,,,,2020-01-01,2019-01-01,,", 2, "valid_to"),
    ("X1,x,x,other,,,,,,[1],", 2, "attributes"),
    ("X1,x,x,other,,,,,,{bad,", 2, "attributes"),
    ("X1,x,x,other,,,,,,,maybe", 2, "synthetic"),
    ("X1,x,x,other,,,X1,,,,", 2, "parent"),
    ("X1,,x,other,,,,,,,", 2, "name_zh"),
])
def test_each_kind_of_bad_value_is_reported(conn, line, row, field):
    with pytest.raises(ValidationError) as caught:
        run(conn, f"{HEADER}\n{line}\n")
    assert (caught.value.problems[0].row, caught.value.problems[0].field) == (row, field)


def test_header_duplicates_and_cycles_are_reported_together(conn):
    with pytest.raises(ValidationError) as caught:
        run(conn, "code,name_zh,name_en,type,parent,colour\nA,a,a,other,B,\nB,b,b,other,A,\n")
    assert [(p.row, p.field) for p in caught.value.problems] == [(1, "colour")]
    with pytest.raises(ValidationError) as caught:
        run(conn, "code,name_zh,name_en,type,parent\nA,a,a,other,B\nB,b,b,other,A\nB,b,b,other,A\n")
    found = {(p.row, p.field) for p in caught.value.problems}
    assert (4, "code") in found and (2, "parent") in found


def test_a_parent_closed_on_the_date_is_found_by_the_dry_run_too(conn):
    small_tree(conn)
    service.close_unit(conn, principal=SYSTEM, code="S2", effective=dt.date(2010, 1, 1))
    before = counts(conn)
    text = "code,name_zh,name_en,type,parent,valid_from\nK5,园,KG,kindergarten,S2,2012-01-01\n"
    for dry_run in (True, False):
        with pytest.raises(ValidationError) as caught:
            run(conn, text, dry_run=dry_run)
        assert caught.value.problems[0].row == 2 and "S2" in caught.value.problems[0].message
    assert counts(conn) == before


def test_dry_run_reports_and_writes_nothing(conn):
    small_tree(conn)
    before = counts(conn)
    text = f"{TREE}S1,新名,Renamed,primary_school,public,education,D2,2021-01-01,,,\n"
    summary = run(conn, text, dry_run=True)
    assert (summary.created, summary.changed, summary.dry_run) == (4, 1, True)
    assert counts(conn) == before
    assert queries.get_unit(conn, principal=SYSTEM, code="S1").parent == "D1"


def test_import_changing_a_parent_records_a_move(conn):
    small_tree(conn)
    text = "code,parent,valid_from\nS1,D2,2021-09-01\n"
    summary = run(conn, text)
    assert (summary.changed, summary.created) == (1, 0)
    unit = queries.get_unit(conn, principal=SYSTEM, code="S1", as_of=dt.date(2021, 9, 1))
    assert unit.parent == "D2"
    assert [e.kind for e in unit.events] == ["open", "move"]
    assert queries.get_unit(conn, principal=SYSTEM, code="S1", as_of=dt.date(2021, 8, 31)).parent == "D1"


def test_import_closes_children_before_parents(conn):
    small_tree(conn)
    summary = run(conn, "code,valid_from,valid_to\nD1,2020-01-01,2022-01-01\nS1,2020-01-01,2021-01-01\n")
    assert (summary.unchanged, summary.closed) == (2, 2)
    assert queries.get_unit(conn, principal=SYSTEM, code="D1").closed == dt.date(2022, 1, 1)


def test_export_is_limited_to_the_principals_scope(conn):
    small_tree(conn)
    staff = make_user(conn, role="district_staff", capture=["D1"])
    text = export_units(conn, principal=staff, format="csv").decode("utf-8-sig")
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == ["D1", "S1"]


def test_import_and_export_through_the_api(client, conn):
    small_tree(conn)
    headers = token_for(conn, make_user(conn))
    files = {"file": ("units.csv", TREE.encode(), "text/csv")}
    dry = client.post("/api/units/import", headers=headers, files=files, data={"dry_run": "true"})
    assert dry.status_code == 200, dry.text
    assert dry.json()["created"] == 4 and dry.json()["dry_run"] is True
    raw = client.post("/api/units/import", headers=headers, content=TREE.encode(),
                      params={"filename": "units.csv"})
    assert raw.json()["created"] == 4
    bad = client.post("/api/units/import", headers=headers, files={"file": ("u.csv", b"code,colour\nA,1\n")})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "colour"
    exported = client.get("/api/units/export", headers=headers, params={"format": "xlsx"})
    assert exported.status_code == 200 and exported.content.startswith(b"PK")
    csv_text = client.get("/api/units/export", headers=headers).content.decode("utf-8-sig")
    assert "SH9" in csv_text and "S1" in csv_text
    again = client.post("/api/units/import", headers=headers,
                        files={"file": ("u.xlsx", exported.content)}).json()
    assert again["unchanged"] == 9 and again["created"] == 0
