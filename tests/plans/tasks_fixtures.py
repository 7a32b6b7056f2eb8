"""A small 2020 plan built through the key tasks' services, for the tests of tasks.

The tree is ``small_tree`` (SH → D1, D2 → S1, S2) with the indicator metadata of ``tests.factories``
(``PTR``, pupils per teacher). 2020 values give PTR 23.0 at D1 (S1: 230 pupils, 10 teachers) and 9.0 at
D2. The plan:

- section 一 "教育" with task 1 (lead D1, supporting S1; deadline 2020-12-31; milestones "方案" due
  2020-03-01 done, "验收" due 2020-11-30; PTR at D1 for 2020 with a target of 25) and its sub-task (1)
  (lead S1);
- section 二 "卫生" with task 2 (lead D2; deadline 2020-06-30; no links).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM, Principal
from jiaowei.plans.tasks import service
from tests.factories import indicator_setup, make_user

YEAR = 2020
VALUES = [
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S1", "categoryOptionCombo": "M", "value": "120"},
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S1", "categoryOptionCombo": "F", "value": "110"},
    {"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S1", "value": "10"},
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S2", "categoryOptionCombo": "M", "value": "50"},
    {"dataElement": "PUPILS", "period": "2020", "orgUnit": "S2", "categoryOptionCombo": "F", "value": "40"},
    {"dataElement": "TEACHERS", "period": "2020", "orgUnit": "S2", "value": "10"},
]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@dataclass
class Plan:
    staff: Principal  # commission staff (plans.manage), scope SH
    plan: str
    education: str  # section 一
    health: str  # section 二
    task1: str  # lead D1
    sub1: str  # lead S1, under task 1
    task2: str  # lead D2


def build_plan(conn: Connection, *, staff: Principal | None = None) -> Plan:
    """The tree, the indicator metadata and the 2020 plan (no data values)."""
    indicator_setup(conn)
    staff = staff or make_user(conn, "planner", role="commission_staff", capture=["SH"])
    plan = service.create_plan(
        conn, principal=staff, year=YEAR, title_zh="2020年工作要点", title_en="Key tasks 2020"
    )

    def item(**fields: object) -> str:
        return service.save_item(conn, principal=staff, year=YEAR, **fields)  # type: ignore[arg-type]

    education = item(parent=None, kind="section", number="一", title_zh="教育", title_en="Education")
    health = item(parent=None, kind="section", number="二", title_zh="卫生", title_en="Health")
    task1 = item(
        parent=education,
        kind="task",
        number="1",
        title_zh="建成托育点",
        title_en="Open childcare points",
        lead_unit="D1",
        supporting_units=["S1"],
        owner="张三",
        deadline=dt.date(2020, 12, 31),
        milestones=[
            {"title": "方案", "due": dt.date(2020, 3, 1), "done_on": dt.date(2020, 2, 20)},
            {"title": "验收", "due": dt.date(2020, 11, 30)},
        ],
        links=[{"indicator": "PTR", "unit": "D1", "period": "2020", "target": 25}],
    )
    sub1 = item(parent=task1, kind="subtask", number="(1)", title_zh="选址", lead_unit="S1")
    task2 = item(
        parent=health,
        kind="task",
        number="2",
        title_zh="公共卫生",
        title_en="Public health",
        lead_unit="D2",
        deadline=dt.date(2020, 6, 30),
    )
    return Plan(staff, plan, education, health, task1, sub1, task2)


def post_values(client: TestClient, conn: Connection) -> None:
    """The 2020 values (PTR: D1 23.0, D2 9.0), imported through the data values service."""
    from jiaowei.indicators.model import ValueRow
    from jiaowei.indicators.values import service as values

    rows = [
        ValueRow(
            data_element=v["dataElement"],
            period=v["period"],
            org_unit=v["orgUnit"],
            category_option_combo=v.get("categoryOptionCombo"),
            value=v["value"],
            row=i,
        )
        for i, v in enumerate(VALUES, 1)
    ]
    summary = values.import_values(conn, principal=SYSTEM, rows=rows, source="test")
    assert not summary.conflicts, summary
