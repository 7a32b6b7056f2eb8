"""Units in and out of CSV and XLSX files.

One row per unit, columns :data:`COLUMNS`. An import checks every row before it writes
anything; any problem (row, column, value, what would be accepted) means nothing is
written. New codes open units (on ``valid_from``, default today), existing codes change
from ``valid_from`` on and close on ``valid_to``. Rows are numbered as a spreadsheet shows them,
the header being row 1 (:func:`jiaowei.workbooks.numbered`). The header may name a column by its
code or by its label in English or Chinese, and ``type``, ``ownership`` and ``sector`` may be given
as codes or as the labels the pages show (小学, 公办, 教育; Primary school, Public, Education):
:mod:`jiaowei.registry.labels`. An export lists the units visible to a principal on a date
(optionally those matching a search), parents before children, in the same format, so that
importing an export changes nothing: CSV with the codes as header, XLSX with the labels in the
reader's language (:func:`jiaowei.workbooks.write_tables`). Names are written so that a
spreadsheet never computes them: text cells in XLSX, and in CSV a leading ``'`` that the import
removes (:mod:`jiaowei.text`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, func, or_, select

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, unit_filter
from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.registry import queries, service, store
from jiaowei.registry.labels import CHOICES, UNIT_COLUMNS
from jiaowei.registry.model import FOREVER, Ownership, Sector, UnitVersion
from jiaowei.registry.store import unit_paths, unit_versions, units
from jiaowei.text import csv_cell, csv_uncell
from jiaowei.workbooks import (
    Table,
    choice_code,
    choice_codes,
    column_codes,
    numbered,
    open_workbook,
    write_tables,
)

COLUMNS = tuple(c.code for c in UNIT_COLUMNS)
"""code, name_zh, name_en, type, ownership, sector, parent, valid_from, valid_to, attributes, synthetic"""
SPELLINGS = {name: choice_codes(labels) for name, labels in CHOICES.items()}
FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TRUE, FALSE = {"true", "1", "yes", "y"}, {"false", "0", "no", "n"}
XLSX_MAGIC = b"PK\x03\x04"
MAX_REPORTED = 1000
TEXT_COLUMNS = ("name_zh", "name_en")
"""Free text columns: a CSV export guards them against formulas (see :func:`jiaowei.text.csv_cell`)."""

Progress = Callable[[str, int, int], None]
"""Called as ``progress(what, done, total)`` while an import runs."""


@dataclass
class ImportSummary:
    """What an import did (or, for a dry run, would do).

    Each row counts once as created, changed or unchanged; ``closed`` counts the units
    the import closed, new or existing.
    """

    created: int = 0
    changed: int = 0
    unchanged: int = 0
    closed: int = 0
    dry_run: bool = False
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "changed": self.changed, "unchanged": self.unchanged,
                "closed": self.closed, "dry_run": self.dry_run,
                "problems": [p.as_dict() for p in self.problems]}


@dataclass
class Row:
    """One parsed data row. ``fields`` holds only the versioned fields the row gives."""

    number: int
    code: str
    fields: dict[str, Any]
    parent_given: bool
    parent: str | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    synthetic: bool | None

    @property
    def effective(self) -> dt.date:
        return self.valid_from or queries.today()


# ---------------------------------------------------------------- reading files


def read_table(data: bytes, filename: str) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """The header (as column codes) and the numbered data rows of a CSV or XLSX file (header = row 1)."""
    table = _xlsx_rows(data, filename) if is_xlsx(data, filename) else _csv_rows(data)
    header = next(table, None)
    if header is None or not any(_text(v) for v in header[1]):
        raise ValidationError(N_("The file is empty."), [
            Problem("no header row", row=1, expected="a header row: " + ",".join(COLUMNS))])
    return column_codes([_text(v) for v in header[1]], UNIT_COLUMNS), table


def is_xlsx(data: bytes, filename: str) -> bool:
    return data.startswith(XLSX_MAGIC) or filename.lower().endswith(".xlsx")


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(N_("The file is not UTF-8 text."), [
            Problem("not UTF-8", row=line, expected=N_("CSV saved as UTF-8 (Excel: “CSV UTF-8”), or XLSX"))
        ]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ValidationError(N_("The file is not readable as CSV."), [
            Problem(M_("malformed CSV: {exc}", exc=exc), row=reader.line_num,
                    expected="comma-separated cells, in double quotes where they hold commas, quotes or "
                             "line breaks")]) from None
    return numbered(rows)


def _xlsx_rows(data: bytes, filename: str) -> Iterator[tuple[int, list[Any]]]:
    """The rows of the first sheet, read at once: a broken part is refused here, not half-way."""
    expected = "an .xlsx file saved by Excel or WPS, or CSV"
    with open_workbook(data, filename=filename, expected=expected) as book:
        if not book.worksheets:
            raise ValidationError(N_("The workbook has no sheet."), [
                Problem(N_("no worksheet"), field="file", value=filename or None, expected=expected)])
        rows = [list(values) for values in book.worksheets[0].iter_rows(values_only=True)]
    return numbered(rows)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


# ---------------------------------------------------------------- parsing rows


def parse(data: bytes, filename: str) -> tuple[list[Row], list[Problem]]:
    """Every row of the file, and every problem found in it on its own."""
    header, table = read_table(data, filename)
    problems = _header_problems(header)
    if problems:
        return [], problems
    rows: list[Row] = []
    first_row: dict[str, int] = {}
    guarded = () if is_xlsx(data, filename) else TEXT_COLUMNS
    for number, values in table:
        raw = {name: _text(values[i]) if i < len(values) else "" for i, name in enumerate(header) if name}
        if not any(raw.values()):
            continue
        raw.update({name: csv_uncell(raw[name]) for name in guarded if name in raw})
        row = _parse_row(number, raw, problems)
        if row.code in first_row:
            problems.append(Problem(M_("the code appears more than once (first on row {first})",
                                       first=first_row[row.code]),
                                    row=number, field="code", value=row.code, expected=N_("each code once")))
        first_row.setdefault(row.code, number)
        rows.append(row)
    return rows, problems


def _header_problems(header: list[str]) -> list[Problem]:
    problems = []
    for index, name in enumerate(header):
        if name and name not in COLUMNS:
            problems.append(Problem("unknown column", row=1, field=name, value=name,
                                    expected="columns " + ", ".join(COLUMNS)))
        elif name and name in header[:index]:
            problems.append(Problem(N_("the column appears twice"), row=1, field=name, value=name,
                                    expected="each column once"))
    if "code" not in header:
        problems.append(Problem(N_("the code column is missing"), row=1, field="code",
                                expected=N_("a header row with at least the column code")))
    return problems


def _parse_row(number: int, raw: Mapping[str, str], problems: list[Problem]) -> Row:
    fields: dict[str, Any] = {k: choice_code(raw[k], SPELLINGS[k]) if k in SPELLINGS else raw[k]
                              for k in ("name_zh", "name_en", "type", "ownership", "sector") if raw.get(k)}
    if "attributes" in raw:
        fields["attributes"] = _attributes(number, raw["attributes"], problems)
    problems += service.check_fields({"code": raw["code"], **fields}, number)
    parent = raw.get("parent") or None
    if parent is not None and parent == raw["code"]:
        problems.append(Problem(N_("a unit cannot be its own parent"), row=number, field="parent",
                                value=parent,
                                expected=N_("the code of another unit")))
    row = Row(number=number, code=raw["code"], fields=fields, parent_given="parent" in raw, parent=parent,
              valid_from=_date(number, raw, "valid_from", problems),
              valid_to=_date(number, raw, "valid_to", problems),
              synthetic=_flag(number, raw.get("synthetic", ""), problems))
    if row.valid_to is not None and row.valid_to <= row.effective:
        problems.append(Problem(N_("the closing date is not after valid_from"), row=number, field="valid_to",
                                value=raw["valid_to"],
                                expected=M_("a date after {day}", day=row.effective.isoformat())))
    return row


def _attributes(number: int, text: str, problems: list[Problem]) -> Any:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        problems.append(Problem(M_("not valid JSON ({error})",
                                   error=exc.args[0] if exc.args else exc), row=number,
                                field="attributes", value=text,
                                expected=N_('a JSON object such as {"双一流": true}')))
        return {}
    return value  # check_fields reports anything but an object


def _date(number: int, raw: Mapping[str, str], name: str, problems: list[Problem]) -> dt.date | None:
    text = raw.get(name, "")
    if not text:
        return None
    try:
        if DATE.match(text):
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    problems.append(Problem("not a date", row=number, field=name, value=text,
                            expected="YYYY-MM-DD, e.g. 2020-09-01"))
    return None


def _flag(number: int, text: str, problems: list[Problem]) -> bool | None:
    if not text:
        return None
    if text.lower() in TRUE | FALSE:
        return text.lower() in TRUE
    problems.append(Problem(N_("not true or false"), row=number, field="synthetic", value=text,
                            expected=N_("true, false, 1, 0 or empty")))
    return None


# ---------------------------------------------------------------- checking against the registry


@dataclass
class Plan:
    """What the import will do: new units parents first, and the existing units' changes."""

    new: list[Row] = field(default_factory=list)
    changes: list[tuple[Row, dict[str, Any]]] = field(default_factory=list)
    closes: list[Row] = field(default_factory=list)
    unchanged: int = 0


def plan(conn: Connection, rows: Sequence[Row]) -> tuple[Plan, list[Problem]]:
    """Sort rows into new and existing units and find every problem with them."""
    problems: list[Problem] = []
    in_file = {r.code for r in rows}
    ids = store.unit_ids_for(conn, [r.code for r in rows] + [r.parent for r in rows if r.parent])
    for row in rows:
        if row.parent and row.parent not in ids and row.parent not in in_file:
            problems.append(Problem(N_("no such parent unit"), row=row.number, field="parent",
                                    value=row.parent,
                                    expected=N_("the code of an existing unit or of a unit in this file")))
    problems += _cycles(rows)
    result = Plan()
    existing = [r for r in rows if r.code in ids]
    result.new = _parents_first([r for r in rows if r.code not in ids])
    for row in result.new:
        problems += _new_row_problems(row)
        if row.valid_to is not None:
            result.closes.append(row)
    _plan_existing(conn, existing, ids, result, problems)
    return result, problems


def _new_row_problems(row: Row) -> list[Problem]:
    return [Problem(N_("required for a new unit"), row=row.number, field=name, value="",
                    expected=N_("a value (this code is not in the registry yet)"))
            for name in ("name_zh", "name_en", "type") if name not in row.fields]


def _cycles(rows: Sequence[Row]) -> list[Problem]:
    """Units of the file that would be their own ancestors through the file's parents."""
    parent_of = {r.code: r.parent for r in rows if r.parent_given}
    number = {r.code: r.number for r in rows}
    state: dict[str, int] = {}  # 1 on the current walk, 2 done
    problems = []
    for start in parent_of:
        walk: list[str] = []
        code: str | None = start
        while code is not None and code in parent_of and code not in state:
            state[code] = 1
            walk.append(code)
            code = parent_of[code]
        if code is not None and state.get(code) == 1:
            cycle = walk[walk.index(code):]
            problems.append(Problem("the parents in the file form a cycle: " + " → ".join([*cycle, code]),
                                    row=min(number[c] for c in cycle), field="parent",
                                    value=parent_of[cycle[0]],
                                    expected=N_("a parent that is not below the unit")))
        for c in walk:
            state[c] = 2
    return problems


def _parents_first(rows: Sequence[Row]) -> list[Row]:
    """New rows ordered so that a parent in the file comes before its children."""
    by_code = {r.code: r for r in rows}
    depth: dict[str, int] = {}
    for row in rows:
        chain: list[str] = []
        code = row.code
        while code in by_code and code not in depth and code not in chain:
            chain.append(code)
            code = by_code[code].parent or ""
        base = depth.get(code, 0)
        for steps, below in enumerate(reversed(chain), 1):
            depth[below] = base + steps
    return sorted(rows, key=lambda r: depth[r.code])


def _plan_existing(conn: Connection, rows: Sequence[Row], ids: Mapping[str, int], result: Plan,
                   problems: list[Problem]) -> None:
    versions = store.versions_of(conn, [ids[r.code] for r in rows])
    parent_ids = {v.parent_id for vs in versions.values() for v in vs if v.parent_id}
    codes = codes_for(conn, parent_ids)
    synthetic = _synthetic_flags(conn, [ids[r.code] for r in rows if r.synthetic is not None])
    for row in rows:
        history = versions[ids[row.code]]
        current = next((v for v in history if v.covers(row.effective)), None)
        if current is None:
            problems.append(Problem(N_("the unit is not open on this date"), row=row.number,
                                    field="valid_from",
                                    value=row.effective.isoformat(), expected=_life(history)))
            continue
        if row.synthetic is not None and row.synthetic != synthetic[ids[row.code]]:
            problems.append(Problem(N_("synthetic cannot change for an existing unit"), row=row.number,
                                    field="synthetic", value=row.synthetic,
                                    expected=str(synthetic[ids[row.code]]).lower() + " or empty"))
        closes = _closes(row, history, problems)
        diff = _diff(row, current, codes)
        if diff:
            result.changes.append((row, diff))
        else:
            result.unchanged += 1
        if closes:
            result.closes.append(row)


def _closes(row: Row, history: Sequence[UnitVersion], problems: list[Problem]) -> bool:
    end = history[-1].valid_to
    if row.valid_to is None or row.valid_to == end:
        return False
    if end != FOREVER:
        problems.append(Problem(M_("the unit is already closed on {day}",
                                   day=end.isoformat()), row=row.number,
                                field="valid_to", value=row.valid_to.isoformat(),
                                expected=M_("{day} or empty", day=end.isoformat())))
        return False
    return True


def _diff(row: Row, current: UnitVersion, codes: Mapping[int, str]) -> dict[str, Any]:
    diff = {name: value for name, value in row.fields.items() if value != getattr(current, name)}
    if row.parent_given:
        now = codes.get(current.parent_id) if current.parent_id else None
        if row.parent != now:
            diff["parent"] = row.parent
    return diff


def _life(versions: Sequence[UnitVersion]) -> str:
    end = versions[-1].valid_to
    until = "" if end == FOREVER else f" to before {end.isoformat()}"
    return f"a date from {versions[0].valid_from.isoformat()}{until}"


def _synthetic_flags(conn: Connection, unit_ids: Sequence[int]) -> dict[int, bool]:
    out: dict[int, bool] = {}
    for start in range(0, len(unit_ids), 500):
        chunk = unit_ids[start : start + 500]
        out.update({r.id: bool(r.synthetic) for r in conn.execute(
            select(units.c.id, units.c.synthetic).where(units.c.id.in_(chunk)))})
    return out


def codes_for(conn: Connection, unit_ids: Iterable[int]) -> dict[int, str]:
    ids = list(unit_ids)
    out: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        out.update({r.id: r.code for r in conn.execute(select(units.c.id, units.c.code)
                                                         .where(units.c.id.in_(chunk)))})
    return out


# ---------------------------------------------------------------- importing


def nothing_imported(count: int) -> str:
    """The detail of a refused import: how many problems, and whether only the first are listed."""
    if count > MAX_REPORTED:
        return M_("{count} problems in the file; nothing was imported (the first {shown} are listed).",
                  count=count, shown=MAX_REPORTED)
    if count > 1:
        return M_("{count} problems in the file; nothing was imported.", count=count)
    return M_("1 problem in the file; nothing was imported.")


def import_units(conn: Connection, *, principal: Principal, data: bytes, filename: str, dry_run: bool = False,
                 progress: Progress | None = None,
                 parsed: tuple[list[Row], list[Problem]] | None = None) -> ImportSummary:
    """Import units from a CSV or XLSX file: all rows or none.

    Raises ValidationError listing every problem found before writing, or the first one
    found while writing (such as a parent closed on a child's date); nothing is written
    then. A dry run does the same work in a savepoint that it rolls back.
    """
    require_action(principal, Action.REGISTRY_WRITE)
    report = progress or (lambda what, done, total: None)
    rows, problems = parse(data, filename) if parsed is None else parsed  # parsed: before the transaction
    report("checking rows", 0, len(rows))
    the_plan, more = plan(conn, rows)
    problems += more
    if problems:
        problems.sort(key=lambda p: p.row or 0)
        shown = problems[:MAX_REPORTED]
        raise ValidationError(nothing_imported(len(problems)), shown)
    with conn.begin_nested() as savepoint:
        summary = _write(conn, principal, the_plan, report)
        summary.dry_run = dry_run
        if dry_run:
            savepoint.rollback()
    return summary


def _write(conn: Connection, principal: Principal, the_plan: Plan, report: Progress) -> ImportSummary:
    total = len(the_plan.new) + len(the_plan.changes) + len(the_plan.closes)
    summary = ImportSummary(created=len(the_plan.new), changed=len(the_plan.changes),
                            unchanged=the_plan.unchanged, closed=len(the_plan.closes))
    if the_plan.new:
        report("opening new units", 0, total)
        service.import_new_units(conn, principal=principal, specs=[_spec(r) for r in the_plan.new],
                                 rows=[r.number for r in the_plan.new], note="import")
    done = len(the_plan.new)
    for row, diff in the_plan.changes:
        with _at_row(row):
            service.change_unit(conn, principal=principal, code=row.code, effective=row.effective,
                                changes=diff,
                                note="import")
        done += 1
        report("changing units", done, total)
    for row in _deepest_first(conn, the_plan.closes):
        assert row.valid_to is not None
        with _at_row(row):
            service.close_unit(conn, principal=principal, code=row.code, effective=row.valid_to,
                               note="import")
        done += 1
        report("closing units", done, total)
    report("done", total, total)
    return summary


def _spec(row: Row) -> service.UnitSpec:
    f = row.fields
    return service.UnitSpec(
        code=row.code, name_zh=f["name_zh"], name_en=f["name_en"], type=f["type"],
        ownership=f.get("ownership", Ownership.PUBLIC.value), sector=f.get("sector", Sector.EDUCATION.value),
        parent=row.parent, opened=row.effective, attributes=f.get("attributes", {}),
        synthetic=bool(row.synthetic),
    )


def _deepest_first(conn: Connection, rows: Sequence[Row]) -> list[Row]:
    """Children close before their parents."""
    ids = store.unit_ids_for(conn, [r.code for r in rows])
    depth = {}
    for row in rows:
        path = store.last_path(conn, ids[row.code], row.valid_to or FOREVER)
        depth[row.code] = path.count("/") if path else 0
    return sorted(rows, key=lambda r: -depth[r.code])


@contextmanager
def _at_row(row: Row) -> Iterator[None]:
    """Put the row's number on the problems a service raises for it."""
    try:
        yield
    except ValidationError as error:
        error.detail = f"Row {row.number} ({row.code}): {error.detail}"
        error.problems[:] = [replace(p, row=p.row or row.number) for p in error.problems]
        raise


# ---------------------------------------------------------------- exporting


def export_rows(
    conn: Connection, *, principal: Principal, as_of: dt.date | None = None, q: str = ""
) -> list[dict[str, Any]]:
    """Units visible to ``principal`` on ``as_of``, parents before children, as file rows.

    ``q`` keeps the units whose code or name contains it, as the units page's search does.
    ``valid_from`` is the date from which the row holds as written (never before its
    parent's), so that importing the rows, here or into an empty registry, changes nothing.
    For a principal limited by scope, a row's dates stay within the period in which the unit
    stood within that scope.
    """
    day = as_of or queries.today()
    query = (store.units_on_select(day).add_columns(unit_versions.c.valid_from.label("version_from"))
             .where(unit_filter(conn, principal, Action.VIEW, day)).order_by(unit_paths.c.path))
    if q.strip():
        like = f"%{q.strip()}%"
        query = query.where(or_(units.c.code.ilike(like), unit_versions.c.name_zh.like(like),
                                unit_versions.c.name_en.ilike(like)))
    found = conn.execute(query).all()
    codes = {r.id: r.code for r in found}
    codes.update(codes_for(conn, {r.parent_id for r in found if r.parent_id and r.parent_id not in codes}))
    ends = _ends(conn, list(codes))
    spans = queries.scope_spans_on(conn, principal=principal, ids=[r.id for r in found], day=day)
    starts: dict[int, dt.date] = {}
    out = []
    for r in found:
        span = spans.get(r.id, (dt.date.min, FOREVER))
        start = max(r.version_from, starts.get(r.parent_id, dt.date.min), span[0])
        starts[r.id] = start
        end = min(ends.get(r.id, FOREVER), span[1])
        out.append({
            "code": r.code, "name_zh": r.name_zh, "name_en": r.name_en, "type": r.type,
            "ownership": r.ownership, "sector": r.sector,
            "parent": codes.get(r.parent_id, "") if r.parent_id else "",
            "valid_from": start.isoformat(), "valid_to": "" if end == FOREVER else end.isoformat(),
            "attributes": json.dumps(r.attributes or {}, ensure_ascii=False, sort_keys=True),
            "synthetic": "true" if r.synthetic else "false",
        })
    return out


def _ends(conn: Connection, unit_ids: Sequence[int]) -> dict[int, dt.date]:
    out: dict[int, dt.date] = {}
    for start in range(0, len(unit_ids), 500):
        chunk = unit_ids[start : start + 500]
        query = (select(unit_versions.c.unit_id, func.max(unit_versions.c.valid_to).label("end"))
                 .where(unit_versions.c.unit_id.in_(chunk)).group_by(unit_versions.c.unit_id))
        out.update({r.unit_id: r.end for r in conn.execute(query)})
    return out


def export_units(conn: Connection, *, principal: Principal, as_of: dt.date | None = None,
                 format: str = "csv", q: str = "", language: str = "zh_CN") -> bytes:
    """The units visible to ``principal`` on ``as_of`` (matching ``q``) as a CSV (UTF-8 with BOM,
    the column codes as header) or XLSX file (the column labels in ``language`` as header)."""
    if format not in FORMATS:
        raise ValidationError(N_("Unknown export format."), [
            Problem(N_("unknown format"), field="format", value=format, expected=", ".join(FORMATS))])
    rows = export_rows(conn, principal=principal, as_of=as_of, q=q)
    return _csv_bytes(rows) if format == "csv" else _xlsx_bytes(rows, language)


def _csv_bytes(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """CSV with the names guarded against formulas (a leading ' that the import removes again)."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({**row, **{name: csv_cell(row[name]) for name in TEXT_COLUMNS}} for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def _xlsx_bytes(rows: Sequence[Mapping[str, Any]], language: str) -> bytes:
    lines = [[row[name] for name in COLUMNS] for row in rows]
    return write_tables([Table("units", UNIT_COLUMNS, lines)], language=language)
