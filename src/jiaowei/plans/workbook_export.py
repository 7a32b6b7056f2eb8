"""Key tasks and findings out of jiaowei as one XLSX workbook, and the empty template to fill in.

The export has the columns :mod:`jiaowei.plans.workbook` imports (plus ``status`` of each task on the day
asked about, and ``measure_state``), so that it imports again: each task's links are written as
``CODE[@UNIT][/PERIOD][=TARGET]``, the unit and period only where they differ from the lead unit and the
year. The findings found in the year follow, one row per measure. The header shows each column's label
in the reader's language (:mod:`jiaowei.plans.workbook_columns`), which the import reads as well as the
codes; the sheets keep their names ``tasks`` and ``findings``. :func:`jiaowei.workbooks.write_tables`
writes them (bold frozen header, fitted widths).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from jiaowei.auth.model import Principal
from jiaowei.indicators.targets import compute
from jiaowei.plans.ledger import queries as ledger_queries
from jiaowei.plans.tasks import queries as task_queries
from jiaowei.plans.tasks.store import plans
from jiaowei.plans.workbook import FINDING_COLUMNS, TASK_COLUMNS
from jiaowei.plans.workbook_columns import NOTES, columns
from jiaowei.registry import queries as registry
from jiaowei.workbooks import Table, write_tables


def export_workbook(conn: Connection, *, principal: Principal, year: int, today: dt.date,
                    language: str = "zh_CN") -> bytes:
    """The year's tasks (with their status on ``today``) and the findings found in the year, as XLSX."""
    board = task_queries.board(conn, principal=principal, year=year, today=today)
    order = _depth_first(board.sections, None)
    loaded = {i.row.uid: i for i in task_queries.load(conn, plans.c.year == year)}
    codes = registry.codes_of(
        conn,
        {
            u
            for i in loaded.values()
            for u in (i.row.lead_unit_id, *i.supporting, *(k.unit_id for k in i.links))
        },
    )
    indicators = {d.id: d.code for d in compute.all_indicators(conn)}
    task_lines = [
        [
            *_task_line(loaded[item.uid], parent, year, codes, indicators),
            item.status.value if item.status else "",
        ]
        for item, parent in order
        if item.uid in loaded
    ]
    found = [
        f for f in ledger_queries.findings(conn, principal=principal, today=today) if f.found_on.year == year
    ]
    return write_tables(
        [
            Table("tasks", columns("tasks", (*TASK_COLUMNS, "status")), task_lines),
            Table("findings", columns("findings", (*FINDING_COLUMNS, "measure_state")),
                  _finding_lines(found)),
        ],
        language=language,
    )


def _depth_first(items: Iterable[Any], parent: str | None) -> list[tuple[Any, str]]:
    out = []
    for item in items:
        out.append((item, parent or ""))
        out += _depth_first(item.children, item.number)
    return out


def _task_line(
    item: Any, parent: str, year: int, codes: dict[int, str], indicators: dict[int, str]
) -> list[Any]:
    r = item.row
    links = []
    for k in item.links:
        text = indicators.get(k.indicator_id, "")
        text += f"@{codes[k.unit_id]}" if k.unit_id is not None and k.unit_id != r.lead_unit_id else ""
        text += f"/{k.period}" if k.period != str(year) else ""
        text += f"={k.target:g}" if k.target is not None else ""
        links.append(text)
    return [
        year,
        r.number,
        parent,
        r.kind,
        r.title_zh,
        r.title_en,
        codes.get(r.lead_unit_id, ""),
        ", ".join(codes[u] for u in item.supporting),
        r.owner,
        r.deadline.isoformat() if r.deadline else "",
        r.description,
        "; ".join(links),
    ]


def _finding_lines(found: Sequence[Any]) -> list[list[Any]]:
    lines = []
    for n, f in enumerate(found, 1):
        head = [n, f.source_kind, f.source, f.found_on.isoformat(), f.unit, f.severity, f.text]
        for m in f.measures or [None]:
            tail = [m.text, m.owner, m.deadline.isoformat(), m.state] if m else ["", "", "", ""]
            lines.append([*head, *tail])
    return lines


TEMPLATE_NOTES = (
    ("tasks", "One row per section, task or sub-task (每行一个部分、任务或子任务)."),
    ("year", "The plan's year, e.g. 2020 (年度)."),
    (
        "number / parent_number",
        "As printed: 一, 1, (1); a task names its section, a sub-task its task (编号 / 上级编号).",
    ),
    ("kind", "section | task | subtask (部分 / 任务 / 子任务)."),
    (
        "lead_unit / supporting_units",
        "Unit codes or names; several separated by commas (牵头单位 / 配合单位).",
    ),
    ("deadline", "YYYY-MM-DD (完成时限)."),
    (
        "indicators",
        "CODE[@UNIT][/PERIOD][=TARGET]; several separated by ; e.g. KG_POINTS=53 (关联指标及目标).",
    ),
    ("findings", "One row per measure; rows with the same finding value are one finding (每行一项整改措施)."),
    ("source_kind", "inspection | audit | review, or 巡视, 巡察, 审计, 检查 (来源类别)."),
    ("severity", "high | medium | low, or 严重, 较重, 一般 (严重程度)."),
    ("found_on / measure_deadline", "YYYY-MM-DD (发现日期 / 整改时限)."),
)


def template_workbook(*, language: str = "zh_CN") -> bytes:
    """An empty workbook with both sheets' columns, and a sheet describing them."""
    return write_tables(
        [
            Table("tasks", columns("tasks", TASK_COLUMNS), []),
            Table("findings", columns("findings", FINDING_COLUMNS), []),
            Table("README", NOTES, [list(n) for n in TEMPLATE_NOTES]),
        ],
        language=language,
    )
