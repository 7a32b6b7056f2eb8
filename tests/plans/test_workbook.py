"""Key tasks and findings in and out of one XLSX workbook, through the API, the page and the CLI, on both
databases: the import with units by code or name and linked indicators, row-level problems that write
nothing, the dry run, the export with computed status that imports again, the template, who may import."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import Connection, func, select

from jiaowei.audit.store import audit_log
from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.plans import workbook_columns
from jiaowei.plans.ledger.store import findings as findings_table
from jiaowei.plans.tasks.store import plan_items, plans
from jiaowei.workbooks import column_codes
from tests.cli.test_cli import cli_env, jiaowei
from tests.factories import indicator_metadata, login, make_user, small_tree, token_for

API = "/api/plans"
TASK_HEAD = [
    "year",
    "number",
    "parent_number",
    "kind",
    "title_zh",
    "title_en",
    "lead_unit",
    "supporting_units",
    "owner",
    "deadline",
    "description",
    "indicators",
]
TASKS: list[list[Any]] = [
    [2020, "一", None, "section", "学前教育", "Pre-school", None, None, None, None, None, None],
    [
        2020,
        "1",
        "一",
        "task",
        "建成托育点",
        "Childcare points",
        "单位D1",
        "S1、D2",
        "张三",
        "2020-12-31",
        "普惠",
        "PTR=53",
    ],
    [2020, "(1)", "1", "subtask", "选址", "", "S1", "", "", "2020-06-30", "", "PTR@S1/2019"],
    [2020, "二", None, "section", "基础教育", "", None, None, None, None, None, None],
    [2020, "1", "二", "task", "课后服务", "", "D2", "", "", "2020-09-01", "", ""],
]
FINDING_HEAD = [
    "finding",
    "source_kind",
    "source",
    "found_on",
    "unit",
    "severity",
    "text",
    "measure",
    "measure_owner",
    "measure_deadline",
]
FINDINGS: list[list[Any]] = [
    [
        1,
        "巡视",
        "2020年市委巡视",
        "2020-04-15",
        "S1",
        "严重",
        "即知即改不到位",
        "修订制度",
        "办公室",
        "2020-06-30",
    ],
    [1, None, None, None, None, None, None, "专题培训", "组织部", "2020-09-30"],
    [2, "audit", "2020年审计", "2020-05-01", "D2", "low", "票据不规范", None, None, None],
]


def book(tasks: list[list[Any]] | None = TASKS, found: list[list[Any]] | None = FINDINGS) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for title, head, rows in (("tasks", TASK_HEAD, tasks), ("findings", FINDING_HEAD, found)):
        if rows is not None:
            ws = wb.create_sheet(title)
            for row in (head, *rows):
                ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def staff(conn: Connection) -> dict[str, str]:
    small_tree(conn)
    indicator_metadata(conn)
    return token_for(conn, make_user(conn, "staff", role="commission_staff", capture=["SH"]))


def send(client: TestClient, who: dict[str, str], data: bytes, dry_run: bool = False) -> Any:
    return client.post(
        f"{API}/import",
        headers=who,
        params={"as_of": "2020-07-01"},
        files={"file": ("plan.xlsx", data, "application/octet-stream")},
        data={"dry_run": "true" if dry_run else ""},
    )


def count(conn: Connection, table: Any) -> int:
    return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def test_an_import_builds_the_plan_tree_and_records_the_findings(
    client: TestClient, conn: Connection, staff: dict[str, str]
) -> None:
    response = send(client, staff, book())
    assert response.status_code == 200, response.text
    assert response.json() == {
        "dryRun": False,
        "plansCreated": 1,
        "itemsCreated": 5,
        "itemsUpdated": 0,
        "itemsUnchanged": 0,
        "findingsCreated": 2,
        "findingsUnchanged": 0,
        "measuresCreated": 2,
    }
    board = client.get(f"{API}/years/2020", headers=staff, params={"as_of": "2020-07-01"}).json()
    first, second = board["sections"]
    task = first["children"][0]
    assert (task["number"], task["lead_unit"]["code"], task["owner"]) == ("1", "D1", "张三")  # D1 by its name
    assert sorted(u["code"] for u in task["supporting_units"]) == ["D2", "S1"]
    assert task["children"][0]["title_zh"] == "选址" and second["children"][0]["lead_unit"]["code"] == "D2"
    detail = client.get(f"{API}/tasks/{task['uid']}", headers=staff).json()
    assert [(k["indicator"], k["target"]) for k in detail["links"]] == [("PTR", 53.0)]
    found = client.get(f"{API}/rectification/findings", headers=staff, params={"as_of": "2020-07-01"}).json()
    texts = sorted((f["text"], len(f["measures"])) for f in found["findings"])
    assert texts == [("即知即改不到位", 2), ("票据不规范", 0)]
    actions = {r.action for r in conn.execute(select(audit_log.c.action))}
    assert {
        "plans.tasks.plan.create",
        "plans.tasks.item.create",
        "plans.rectification.finding.record",
    } <= actions


@pytest.mark.parametrize(
    ("rows", "field", "value"),
    [
        ([[2020, "1", "一", "chapter", "x", "", "S1", "", "", "", "", ""]], "tasks.kind", "chapter"),
        (
            [[2020, "1", "一", "task", "x", "", "S1", "", "", "2020-13-01", "", ""]],
            "tasks.deadline",
            "2020-13-01",
        ),
        ([[2020, "1", "一", "task", "x", "", "NOWHERE", "", "", "", "", ""]], "tasks.lead_unit", "NOWHERE"),
        ([[2020, "1", "九", "task", "x", "", "S1", "", "", "", "", ""]], "tasks.parent_number", "九"),
        (
            [[2020, "1", "一", "task", "x", "", "S1", "", "", "", "", "PTR=many"]],
            "tasks.indicators",
            "PTR=many",
        ),
        ([["twenty", "1", "一", "task", "x", "", "S1", "", "", "", "", ""]], "tasks.year", "twenty"),
        (
            [[2020, "1", "一", "task", "x", "", "S1", "", "", "", "", "NOPE"]],
            "tasks.links[0].indicator",
            "NOPE",
        ),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_written(
    client: TestClient, conn: Connection, staff: dict[str, str], rows: list[list[Any]], field: str, value: str
) -> None:
    before = count(conn, audit_log)
    response = send(client, staff, book([TASKS[0], *rows], FINDINGS))
    assert response.status_code == 422, response.text
    problems = response.json()["problems"]
    assert any(p["row"] == 3 and p["field"] == field and p.get("value") == value for p in problems), problems
    assert count(conn, plans) == count(conn, plan_items) == count(conn, findings_table) == 0
    assert count(conn, audit_log) == before


def test_findings_rows_are_checked_too(client: TestClient, conn: Connection, staff: dict[str, str]) -> None:
    bad = [
        [1, "巡视", "x", "2020-04-15", "S9", "严重", "t", "m", "o", "2020-06-30"],
        [2, "巡视", "x", "someday", "S1", "严重", "t", "m", "o", None],
        [3, "nonsense", "x", "2020-04-15", "S1", "严重", "t", None, None, None],
    ]
    response = send(client, staff, book(None, bad))
    assert response.status_code == 422
    found = {(p["row"], p["field"]) for p in response.json()["problems"]}
    assert {(2, "findings.unit"), (3, "findings.found_on"), (4, "findings.source_kind")} <= found
    assert count(conn, findings_table) == 0


def test_a_dry_run_checks_and_writes_nothing(
    client: TestClient, conn: Connection, staff: dict[str, str]
) -> None:
    response = send(client, staff, book(), dry_run=True)
    assert response.status_code == 200 and response.json()["itemsCreated"] == 5 and response.json()["dryRun"]
    assert count(conn, plans) == count(conn, plan_items) == count(conn, findings_table) == 0


def test_the_export_shows_status_and_imports_again_unchanged(
    client: TestClient, conn: Connection, staff: dict[str, str]
) -> None:
    assert send(client, staff, book()).status_code == 200
    exported = client.get(f"{API}/export", headers=staff, params={"year": 2020, "as_of": "2020-07-01"})
    assert exported.status_code == 200 and exported.content[:2] == b"PK"
    wb = load_workbook(io.BytesIO(exported.content))
    tasks = [list(r) for r in wb["tasks"].iter_rows(values_only=True)]
    assert tasks[0][:3] == ["年份", "编号", "上级编号"]  # labels in the reader's language (zh-CN by default)
    assert column_codes(tasks[0], workbook_columns.TASKS) == [*TASK_HEAD, "status"]
    assert [[c or "" for c in r[1:4]] for r in tasks[1:]] == [
        ["一", "", "section"],
        ["1", "一", "task"],
        ["(1)", "1", "subtask"],
        ["二", "", "section"],
        ["1", "二", "task"],
    ]
    assert (
        tasks[2][6] == "D1"
        and sorted(tasks[2][7].split(", ")) == ["D2", "S1"]
        and tasks[2][11] == "PTR=53"
        and tasks[3][11] == "PTR/2019"
    )  # S1 leads it: its own unit
    assert tasks[2][12] in ("on_track", "at_risk", "late", "done") and tasks[1][12] in ("", None)
    findings = [list(r) for r in wb["findings"].iter_rows(values_only=True)]
    measures = {r[7]: (r[0], r[10]) for r in findings[1:]}
    assert len(findings) == 4 and measures["修订制度"][1] == "open" and measures[None][1] in ("", None)
    assert (
        measures["修订制度"][0] == measures["专题培训"][0] != measures[None][0]
    )  # one finding, two measures
    again = send(client, staff, exported.content)
    assert again.status_code == 200, again.text
    assert again.json() | {"dryRun": False} == {
        "dryRun": False,
        "plansCreated": 0,
        "itemsCreated": 0,
        "itemsUpdated": 0,
        "itemsUnchanged": 5,
        "findingsCreated": 0,
        "findingsUnchanged": 2,
        "measuresCreated": 0,
    }
    assert count(conn, plan_items) == 5 and count(conn, findings_table) == 2


def test_a_changed_row_updates_its_item(client: TestClient, conn: Connection, staff: dict[str, str]) -> None:
    assert send(client, staff, book()).status_code == 200
    changed = [list(r) for r in TASKS]
    changed[2][4], changed[4][9] = "选址完成", "2020-10-01"
    response = send(client, staff, book(changed, FINDINGS))
    assert response.status_code == 200, response.text
    assert (response.json()["itemsUpdated"], response.json()["itemsUnchanged"]) == (2, 3)
    board = client.get(f"{API}/years/2020", headers=staff).json()
    assert board["sections"][0]["children"][0]["children"][0]["title_zh"] == "选址完成"
    assert board["sections"][1]["children"][0]["deadline"] == "2020-10-01" and count(conn, plan_items) == 5


def test_broken_files_and_the_template(client: TestClient, conn: Connection, staff: dict[str, str]) -> None:
    broken = send(client, staff, b"PK\x03\x04 not really a zip")
    assert broken.status_code == 422 and broken.json()["problems"][0]["field"] == "file"
    other = Workbook()
    other.active.title = "people"
    buffer = io.BytesIO()
    other.save(buffer)
    assert send(client, staff, buffer.getvalue()).status_code == 422
    template = client.get(f"{API}/import/template", headers=staff)
    wb = load_workbook(io.BytesIO(template.content))
    assert wb.sheetnames == ["tasks", "findings", "README"]
    assert column_codes([c.value for c in wb["tasks"][1]], workbook_columns.TASKS) == TASK_HEAD
    assert column_codes([c.value for c in wb["findings"][1]], workbook_columns.FINDINGS) == FINDING_HEAD
    empty = send(client, staff, template.content)
    assert empty.status_code == 200 and empty.json()["itemsCreated"] == 0


def test_only_plans_managers_import(client: TestClient, conn: Connection, staff: dict[str, str]) -> None:
    d1 = token_for(conn, make_user(conn, "d1staff", role="district_staff", capture=["D1"]))
    assert send(client, d1, book()).status_code == 403
    limited = token_for(conn, make_user(conn, "d1boss", role="commission_staff", capture=["D1"]))
    response = send(client, limited, book([TASKS[0], TASKS[3], TASKS[4]], None))
    assert response.status_code == 422  # the task led by D2, outside the user's scope, is named
    assert [(p["row"], p["field"]) for p in response.json()["problems"]] == [(4, "tasks")]
    assert count(conn, plan_items) == 0


def test_the_import_page(browser: TestClient, conn: Connection, staff: dict[str, str]) -> None:
    csrf = login(browser, "staff")
    page = browser.get("/plans/import")
    assert page.status_code == 200 and "/plans/import/template.xlsx" in page.text
    bad = browser.post(
        "/plans/import",
        data={"csrf_token": csrf},
        files={"file": ("p.xlsx", book([[2020, "1", "九", "task", "x", "", "S1"] + [""] * 5]), "x")},
    )
    assert bad.status_code == 422 and "九" in bad.text
    done = browser.post("/plans/import", data={"csrf_token": csrf}, files={"file": ("p.xlsx", book(), "x")})
    assert done.status_code == 200 and count(conn, plan_items) == 5
    assert browser.get("/plans/export.xlsx", params={"year": 2020}).content[:2] == b"PK"


def test_the_command_line_imports_and_exports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        small_tree(conn)
        indicator_metadata(conn)
    engine.dispose()
    env = cli_env(tmp_path / "home", url) | {"JIAOWEI_TODAY": "2020-07-01"}
    (tmp_path / "plan.xlsx").write_bytes(book())
    dry = jiaowei(env, "plans", "import", str(tmp_path / "plan.xlsx"), "--dry-run")
    assert "itemsCreated 5" in dry.stdout and "Dry run" in dry.stdout
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(book([[2020, "1", "九", "task", "x", "", "S1"] + [""] * 5], None))
    refused = jiaowei(env, "plans", "import", str(bad), expect=2)
    assert "parent_number" in refused.stderr
    jiaowei(env, "plans", "import", str(tmp_path / "plan.xlsx"))
    jiaowei(env, "plans", "export", "--year", "2020", "--out", str(tmp_path / "out.xlsx"))
    rows = list(load_workbook(tmp_path / "out.xlsx")["tasks"].iter_rows(values_only=True))
    assert len(rows) == 6 and rows[2][4] == "建成托育点"
