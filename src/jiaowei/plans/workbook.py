"""Key tasks and rectification findings in and out of one XLSX workbook.

The workbook has a sheet ``tasks`` (or 任务) and a sheet ``findings`` (or 问题); either may be left
out. The first row of each names its columns (:data:`TASK_COLUMNS`, :data:`FINDING_COLUMNS`, in any
order; the export's ``status`` and ``measure_state`` columns are read back and ignored).

- A task row: ``year``, ``number`` (as printed: 一, 1, (1)), ``parent_number`` (a section's number for a
  task, a task's for a sub-task: the nearest row above with that number and a fitting kind, else the
  plan's own item), ``kind`` (section, task, subtask), ``title_zh``, ``title_en``, ``lead_unit`` and
  ``supporting_units`` (codes or names; several separated by commas or 、), ``owner``, ``deadline``,
  ``description`` and ``indicators``: links separated by ``;``, each ``CODE[@UNIT][/PERIOD][=TARGET]``
  (the unit defaults to the lead unit, the period to the year, the target to the Indicators module's).
  A row whose year, parent and number name an item of the plan updates it (its milestones, outcome and
  checkpoint dates are kept); otherwise it creates one. A year without a plan gets one.
- A finding row: ``finding`` (rows with the same value are one finding; its columns are read from the
  first), ``source_kind``, ``source``, ``found_on``, ``unit``, ``severity``, ``text``, and one measure:
  ``measure``, ``measure_owner``, ``measure_deadline``. A finding identical to a recorded one (kind,
  source, date, unit and text) is left as it is, so an export imports again without doubling.

Every row is checked, then written through the services (:func:`jiaowei.plans.tasks.service.save_item`,
:func:`jiaowei.plans.ledger.service.record_finding`) inside one savepoint; each problem names its sheet
and column (``tasks.deadline``), row and value, and any problem writes nothing. A dry run checks and
writes nothing. Uploads are opened by :func:`jiaowei.workbooks.open_workbook`, which refuses broken,
encrypted or oversized files; at most :data:`MAX_ROWS` rows a sheet.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Connection

from jiaowei import clock
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.domains import N_
from jiaowei.errors import M_, JiaoweiError, NotFound, Problem, ValidationError
from jiaowei.indicators.targets import compute
from jiaowei.plans.ledger import queries as ledger_queries
from jiaowei.plans.ledger import service as ledger
from jiaowei.plans.tasks import queries as task_queries
from jiaowei.plans.tasks import service as tasks
from jiaowei.plans.tasks.store import plans
from jiaowei.plans.workbook_columns import SHEETS as SHEET_COLUMNS
from jiaowei.registry import queries as registry
from jiaowei.workbooks import FIRST_ROW, column_codes, numbered, open_workbook

TASK_COLUMNS = (
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
)
FINDING_COLUMNS = (
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
)
EXPORT_ONLY = {"tasks": ("status",), "findings": ("measure_state",)}
REQUIRED = {
    "tasks": ("year", "number", "kind", "title_zh"),
    "findings": ("source_kind", "source", "found_on", "unit", "severity", "text"),
}
SHEETS = {
    "tasks": "tasks",
    "任务": "tasks",
    "重点任务": "tasks",
    "findings": "findings",
    "问题": "findings",
    "整改台账": "findings",
}
KINDS = ("section", "task", "subtask")
PARENT_KINDS = {"section": (), "task": ("section",), "subtask": ("task", "subtask")}
MAX_ROWS = 5000
EXPECTED = "an .xlsx workbook with a sheet tasks and/or findings, as the template"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_LIST = re.compile(r"\s*[,，、\n]\s*")
_LINKS = re.compile(r"\s*[;；\n]\s*")
_LINK = re.compile(r"^(?P<code>[^@/=\s]+)(?:@(?P<unit>[^/=]+))?(?:/(?P<period>[^=]+))?(?:=(?P<target>.+))?$")
Progress = Callable[[str, int, int], None]


@dataclass
class Summary:
    """What an import did (or, in a dry run, would do)."""

    dry_run: bool
    plans_created: int = 0
    items_created: int = 0
    items_updated: int = 0
    items_unchanged: int = 0
    findings_created: int = 0
    findings_unchanged: int = 0
    measures_created: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "dryRun": self.dry_run,
            "plansCreated": self.plans_created,
            "itemsCreated": self.items_created,
            "itemsUpdated": self.items_updated,
            "itemsUnchanged": self.items_unchanged,
            "findingsCreated": self.findings_created,
            "findingsUnchanged": self.findings_unchanged,
            "measuresCreated": self.measures_created,
        }


# ---------------------------------------------------------------- reading the workbook


@dataclass
class Sheet:
    name: str  # tasks | findings
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def read_sheets(data: bytes, filename: str, problems: list[Problem]) -> dict[str, Sheet]:
    """The tasks and findings sheets of the workbook, each row as {column: cell} with its sheet row."""
    found: dict[str, Sheet] = {}
    with open_workbook(data, filename=filename, expected=EXPECTED) as book:
        for ws in book.worksheets:
            kind = SHEETS.get(str(ws.title).strip().lower())
            if kind is None or kind in found:
                continue
            found[kind] = _read_sheet(kind, ws.iter_rows(values_only=True), problems)
    if not found:
        problems.append(
            Problem(
                N_("no sheet named tasks or findings"), field="file", value=filename or None,
                expected=EXPECTED
            )
        )
    return found


def _read_sheet(kind: str, lines: Iterable[Sequence[Any]], problems: list[Problem]) -> Sheet:
    sheet = Sheet(kind)
    header: list[str] = []
    for number, values in numbered(lines):
        if number == FIRST_ROW:  # codes or labels (workbook_columns), in any case
            header = [name.lower() for name in column_codes([_text(v) for v in values], SHEET_COLUMNS[kind])]
            _check_header(kind, header, problems)
            continue
        if not any(_text(v) for v in values):
            continue
        if len(sheet.rows) >= MAX_ROWS:
            problems.append(
                Problem("too many rows", row=number, field=kind, expected=M_("at most {most} rows",
                                                                             most=MAX_ROWS))
            )
            break
        sheet.rows.append((number, {name: v for name, v in zip(header, values, strict=False) if name}))
    if not header:
        problems.append(Problem("no header row", row=1, field=kind, expected=", ".join(_columns(kind))))
    return sheet


def _columns(kind: str) -> tuple[str, ...]:
    return TASK_COLUMNS if kind == "tasks" else FINDING_COLUMNS


def _check_header(kind: str, header: list[str], problems: list[Problem]) -> None:
    known = (*_columns(kind), *EXPORT_ONLY[kind])
    for name in header:
        if name and name not in known:
            problems.append(
                Problem("unknown column", row=1, field=kind, value=name, expected=", ".join(known))
            )
    for name in REQUIRED[kind]:
        if name not in header:
            problems.append(
                Problem(N_("missing column"), row=1, field=f"{kind}.{name}", expected="a column " + name)
            )
    if len(set(filter(None, header))) != len(list(filter(None, header))):
        problems.append(Problem(N_("a column appears twice"), row=1, field=kind, expected="each column once"))


def _text(value: Any) -> str:
    """A cell as text: numbers without a trailing ``.0``, dates as YYYY-MM-DD, empty as ""."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


class Cells:
    """One row's cells, read with the problems of each recorded against its sheet, column and row."""

    def __init__(self, kind: str, row: int, cells: dict[str, Any], problems: list[Problem]) -> None:
        self.kind, self.row, self.cells, self.problems = kind, row, cells, problems

    def problem(self, column: str, message: str, value: Any, expected: str) -> None:
        self.problems.append(
            Problem(message, row=self.row, field=f"{self.kind}.{column}", value=value, expected=expected)
        )

    def text(self, column: str, *, required: bool = False) -> str:
        value = _text(self.cells.get(column))
        if required and not value:
            self.problem(column, "required", None, "a value")
        return value

    def date(self, column: str, *, required: bool = False) -> dt.date | None:
        raw = self.cells.get(column)
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        value = self.text(column, required=required)
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.problem(column, "not a date", value, "a date YYYY-MM-DD, e.g. 2020-06-30")
            return None

    def year(self, column: str) -> int | None:
        value = self.text(column, required=True)
        if value and (not value.isdigit() or not 1900 <= int(value) <= 2100):
            self.problem(column, "not a year", value, "a year, e.g. 2020")
            return None
        return int(value) if value else None


# ---------------------------------------------------------------- units by code or name


class Units:
    """Unit codes from what a cell names: a code, else a Chinese or English name (unique on the day)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.names: dict[dt.date, dict[str, set[str]]] = {}

    def code(self, cells: Cells, column: str, given: str, day: dt.date) -> str | None:
        if registry.id_of(self.conn, given) is not None:
            return given
        codes = self._names(day).get(given, set())
        if len(codes) == 1:
            return next(iter(codes))
        message = "the name fits several units" if codes else "no unit with this code or name"
        cells.problem(column, message, given, N_("a unit's code, or its name if no other unit has it"))
        return None

    def _names(self, day: dt.date) -> dict[str, set[str]]:
        if day not in self.names:
            names: dict[str, set[str]] = {}
            for unit in registry.units_on(self.conn, day, attributes=False):
                for name in {unit.name_zh, unit.name_en} - {""}:
                    names.setdefault(name, set()).add(unit.code)
            self.names[day] = names
        return self.names[day]


# ---------------------------------------------------------------- tasks


@dataclass
class TaskRow:
    row: int
    year: int
    number: str
    parent_number: str
    kind: str
    fields: dict[str, Any]  # save_item's keyword arguments besides year, parent, kind, number and uid
    failed: bool = False  # the row has problems: it is not written, nor are the rows below it


def _task_row(units: Units, row: int, cells: dict[str, Any], problems: list[Problem]) -> TaskRow | None:
    c = Cells("tasks", row, cells, problems)
    before = len(problems)
    year, kind, number = (
        c.year("year"),
        c.text("kind", required=True).lower(),
        c.text("number", required=True),
    )
    if kind and kind not in KINDS:
        c.problem("kind", "unknown kind", kind, " | ".join(KINDS))
    day = dt.date(year, 12, 31) if year else clock.today()
    lead = c.text("lead_unit")
    supporting = [s for s in _LIST.split(c.text("supporting_units")) if s]
    fields = {
        "title_zh": c.text("title_zh", required=True),
        "title_en": c.text("title_en"),
        "description": c.text("description"),
        "owner": c.text("owner"),
        "deadline": c.date("deadline"),
        "lead_unit": units.code(c, "lead_unit", lead, day) if lead else None,
        "supporting_units": [u for u in (units.code(c, "supporting_units", s, day) for s in supporting) if u],
        "links": _links(units, c, day),
    }
    if year is None:
        return None
    return TaskRow(row, year, number, c.text("parent_number"), kind, fields, failed=len(problems) > before)


def _links(units: Units, c: Cells, day: dt.date) -> list[dict[str, Any]]:
    out = []
    for part in (p for p in _LINKS.split(c.text("indicators")) if p):
        found = _LINK.match(part)
        if found is None:
            c.problem(
                "indicators",
                "not a linked indicator",
                part,
                "CODE[@UNIT][/PERIOD][=TARGET], e.g. KG_POINTS=53",
            )
            continue
        target = found["target"]
        try:
            value = float(target) if target else None
        except ValueError:
            c.problem("indicators", N_("the target is not a number"), part, N_("a number after ="))
            continue
        unit = units.code(c, "indicators", found["unit"].strip(), day) if found["unit"] else None
        out.append({"indicator": found["code"], "unit": unit, "period": found["period"], "target": value})
    return out


@dataclass
class Placed:
    uid: str | None  # None: the row was not written (its problems are named already)
    kind: str
    number: str


class Plans:
    """The items of each year's plan, found by parent and number, and the rows written so far."""

    def __init__(self, conn: Connection, principal: Principal, today: dt.date, summary: Summary) -> None:
        self.conn, self.principal, self.today, self.summary = conn, principal, today, summary
        self.existing: dict[int, dict[tuple[str | None, str], Any]] = {}
        self.written: dict[int, list[Placed]] = {}

    def items(self, year: int) -> dict[tuple[str | None, str], Any]:
        """The year's items by (parent uid, number); the plan is created when there is none."""
        if year not in self.existing:
            try:
                task_queries.plan_of_year(self.conn, year)
            except NotFound:
                tasks.create_plan(
                    self.conn,
                    principal=self.principal,
                    year=year,
                    title_zh=f"{year}年重点工作",
                    title_en=f"Key tasks {year}",
                )
                self.summary.plans_created += 1
            loaded = task_queries.load(self.conn, plans.c.year == year)
            uids = {item.row.id: item.row.uid for item in loaded}
            self.existing[year] = {(uids.get(item.row.parent_id), item.row.number): item for item in loaded}
        return self.existing[year]

    def parent(self, task: TaskRow, problems: list[Problem]) -> tuple[bool, str | None]:
        """(found, the parent's uid) of a row: the nearest row above, else the plan's one item.

        Not found when the parent row was not written: its problems are named already."""
        if not task.parent_number:
            if task.kind != "section":
                problems.append(
                    Problem(
                        "required",
                        row=task.row,
                        field="tasks.parent_number",
                        expected=N_("the number of its section (a task) or task (a sub-task)"),
                    )
                )
                return False, None
            return True, None
        fitting = PARENT_KINDS[task.kind]
        for placed in reversed(self.written.get(task.year, [])):
            if placed.number == task.parent_number and placed.kind in fitting:
                return placed.uid is not None, placed.uid
        stored = [
            i.row.uid
            for (_, number), i in self.items(task.year).items()
            if number == task.parent_number and i.row.kind in fitting
        ]
        if len(stored) == 1:
            return True, stored[0]
        message = "the number fits several items" if stored else "no item above with this number"
        problems.append(
            Problem(
                message,
                row=task.row,
                field="tasks.parent_number",
                value=task.parent_number,
                expected=M_("the number of a {kinds} above it", kinds=' or '.join(fitting) or 'nothing'),
            )
        )
        return False, None

    def skip(self, task: TaskRow) -> None:
        self.written.setdefault(task.year, []).append(Placed(None, task.kind, task.number))

    def save(self, task: TaskRow, parent: str | None) -> None:
        existing = self.items(task.year).get((parent, task.number))
        kept: dict[str, Any] = {}
        if existing is not None and self._same(existing, task):
            self.written.setdefault(task.year, []).append(Placed(existing.row.uid, task.kind, task.number))
            self.summary.items_unchanged += 1
            return
        if existing is not None:
            kept = {
                "outcome": existing.row.outcome,
                "milestones": [
                    {"title": m.title, "due": m.due, "done_on": m.done_on} for m in existing.milestones
                ],
                "checkpoints": {c.stage: c.due for c in existing.checkpoints},
            }
        uid = tasks.save_item(
            self.conn,
            principal=self.principal,
            year=task.year,
            parent=parent,
            kind=task.kind,
            number=task.number,
            uid=existing.row.uid if existing is not None else None,
            **task.fields,
            **kept,
        )
        self.written.setdefault(task.year, []).append(Placed(uid, task.kind, task.number))
        if existing is None:
            self.summary.items_created += 1
        else:
            self.summary.items_updated += 1

    def _same(self, existing: Any, task: TaskRow) -> bool:
        """Whether the row says what the stored item says already (then it is left as it is)."""
        r, f = existing.row, task.fields
        codes = registry.codes_of(
            self.conn, {r.lead_unit_id, *existing.supporting, *(k.unit_id for k in existing.links)}
        )
        lead = codes.get(r.lead_unit_id)
        indicators = {d.id: d.code for d in compute.all_indicators(self.conn)}
        stored = [
            (indicators.get(k.indicator_id), _own(codes.get(k.unit_id), lead), k.period, k.target)
            for k in existing.links
        ]
        given = [
            (k["indicator"], _own(k["unit"], f["lead_unit"]), k["period"] or str(task.year), k["target"])
            for k in f["links"]
        ]
        return (
            r.kind == task.kind
            and (r.title_zh, r.title_en, r.description, r.owner, r.deadline, lead)
            == (f["title_zh"], f["title_en"], f["description"], f["owner"], f["deadline"], f["lead_unit"])
            and sorted(codes[u] for u in existing.supporting) == sorted(f["supporting_units"])
            and stored == given
        )


def _own(unit: str | None, lead: str | None) -> str | None:
    """A link's unit, None when it is the lead unit's (where a link is measured by default)."""
    return None if unit == lead else unit


# ---------------------------------------------------------------- findings


@dataclass
class FindingRow:
    row: int
    key: str
    fields: dict[str, Any]
    measures: list[dict[str, Any]]


def _finding_rows(
    units: Units, rows: list[tuple[int, dict[str, Any]]], problems: list[Problem]
) -> list[FindingRow]:
    """One finding per ``finding`` value (a row without one is a finding of its own), with its measures."""
    out: dict[str, FindingRow] = {}
    for row, cells in rows:
        c = Cells("findings", row, cells, problems)
        key = c.text("finding") or f"row {row}"
        if key not in out:
            before = len(problems)
            found_on = c.date("found_on", required=True)
            unit = c.text("unit", required=True)
            fields = {
                "source_kind": c.text("source_kind", required=True),
                "source": c.text("source", required=True),
                "found_on": found_on,
                "severity": c.text("severity", required=True),
                "text": c.text("text", required=True),
                "unit": units.code(c, "unit", unit, found_on or clock.today()) if unit else None,
            }
            if len(problems) > before:
                continue
            out[key] = FindingRow(row, key, fields, [])
        measure = _measure(c)
        if measure is not None and key in out:
            out[key].measures.append(measure)
    return list(out.values())


def _measure(c: Cells) -> dict[str, Any] | None:
    text = c.text("measure")
    owner, deadline = c.text("measure_owner"), c.date("measure_deadline")
    if not text:
        if owner or deadline:
            c.problem("measure", "required", None, N_("the measure's text, with its owner and deadline"))
        return None
    if deadline is None:
        c.problem("measure_deadline", "required", None, "a date YYYY-MM-DD")
    return {"text": text, "owner": owner, "deadline": deadline}


def _same_finding(found: Any, fields: dict[str, Any]) -> bool:
    return (
        found.source == fields["source"]
        and found.found_on == fields["found_on"]
        and found.unit == fields["unit"]
        and found.text == fields["text"]
    )


# ---------------------------------------------------------------- the import


def import_workbook(
    conn: Connection,
    *,
    principal: Principal,
    data: bytes,
    filename: str,
    today: dt.date,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Summary:
    """Import the tasks and findings of the workbook, all or nothing (see the module's description)."""
    require_action(principal, Action.PLANS_MANAGE)
    report = progress or (lambda stage, done, total: None)
    problems: list[Problem] = []
    sheets = read_sheets(data, filename, problems)
    units = Units(conn)
    task_rows = [t for t in (_task_row(units, r, c, problems) for r, c in _rows(sheets, "tasks")) if t]
    finding_rows = _finding_rows(units, _rows(sheets, "findings"), problems)
    if not sheets:
        _refuse(problems)
    summary = Summary(dry_run)
    savepoint = conn.begin_nested()
    try:
        _write_tasks(conn, principal, today, task_rows, summary, problems, report)
        _write_findings(conn, principal, today, finding_rows, summary, problems, report)
        _refuse(problems)
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return summary


def _rows(sheets: dict[str, Sheet], kind: str) -> list[tuple[int, dict[str, Any]]]:
    return sheets[kind].rows if kind in sheets else []


def _refuse(problems: list[Problem]) -> None:
    if problems:
        raise ValidationError(M_("Nothing was imported: {count} problems in the workbook.",
                                 count=len(problems)), problems)


def _each_row(
    conn: Connection, kind: str, row: int, problems: list[Problem], write: Callable[[], object]
) -> bool:
    """Run one row's write in its own savepoint; its errors become problems naming the row."""
    savepoint = conn.begin_nested()
    try:
        write()
    except JiaoweiError as error:
        savepoint.rollback()
        found = error.problems or [Problem(error.detail or error.title)]
        problems.extend(
            Problem(
                p.message,
                row=row,
                field=f"{kind}.{p.field}" if p.field else kind,
                value=p.value,
                expected=p.expected or error.detail,
            )
            for p in found
        )
        return False
    savepoint.commit()
    return True


def _write_tasks(
    conn: Connection,
    principal: Principal,
    today: dt.date,
    rows: list[TaskRow],
    summary: Summary,
    problems: list[Problem],
    report: Progress,
) -> None:
    book = Plans(conn, principal, today, summary)
    for done, task in enumerate(rows, 1):
        found, parent = book.parent(task, problems) if not task.failed else (False, None)
        if not (found and _each_row(conn, "tasks", task.row, problems, partial(book.save, task, parent))):
            book.skip(task)
        report("tasks", done, len(rows))


def _write_findings(
    conn: Connection,
    principal: Principal,
    today: dt.date,
    rows: list[FindingRow],
    summary: Summary,
    problems: list[Problem],
    report: Progress,
) -> None:
    recorded = ledger_queries.findings(conn, principal=principal, today=today) if rows else []
    for done, finding in enumerate(rows, 1):
        if any(_same_finding(f, finding.fields) for f in recorded):
            summary.findings_unchanged += 1
        elif _each_row(
            conn,
            "findings",
            finding.row,
            problems,
            partial(
                ledger.record_finding, conn, principal=principal, measures=finding.measures, **finding.fields
            ),
        ):
            summary.findings_created += 1
            summary.measures_created += len(finding.measures)
        report("findings", done, len(rows))
