"""Data values: import (every format ends here), save one cell, read, export, history.

An import is checked whole before anything is written: every row's element, option combo,
period, unit, scope, data set assignment, lock and value. With conflicts nothing is written
unless the caller asks for the valid rows only (DHIS2's ``atomicMode=NONE``). A value equal
to the stored one is *ignored*, so importing the same file twice changes nothing. Each write
records every changed value in ``data_value_history`` and one entry in the hash-chained audit
log carrying the SHA-256 of those changes (decision 0006).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, scope_paths
from jiaowei.db.engine import inserted_id
from jiaowei.errors import NotFound, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.metadata.service import Catalog, DataSet, Element, load_catalog
from jiaowei.indicators.model import (
    DEFAULT,
    EXPECTED,
    ImportConflict,
    ImportStrategy,
    ImportSummary,
    ValueRow,
    ValueType,
    normalise_value,
)
from jiaowei.registry import store as registry_store
from jiaowei.registry.model import path_ids

Key = tuple[int, int, int, int, int]  # period, unit, element, coc, aoc
Progress = Callable[[int], None]
CHUNK = 500


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _today() -> dt.date:
    return dt.date.today()


# ---------------------------------------------------------------- resolving what rows name


@dataclass
class UnitOnPeriod:
    """A unit as it stood in a period: its path (for scope and locks) and its type."""

    unit_id: int
    path: str
    type: str


@dataclass
class Context:
    """Everything an import resolves once per distinct identifier, shared by every row."""

    conn: Connection
    principal: Principal
    catalog: Catalog
    check_expiry: bool
    periods: dict[str, pe.Period | None] = field(default_factory=dict)
    period_ids: dict[str, int] = field(default_factory=dict)
    unit_ids: dict[str, int] = field(default_factory=dict)
    on_period: dict[tuple[int, str], UnitOnPeriod | None] = field(default_factory=dict)
    scope: dict[dt.date, list[str]] = field(default_factory=dict)
    approved: set[tuple[int, int, int]] = field(default_factory=set)
    exceptions: dict[tuple[int, int, int], dt.date] = field(default_factory=dict)
    verdicts: dict[tuple[str, int], tuple[str | None, dict[int, str | None]]] = field(default_factory=dict)
    _element_sets: dict[int, frozenset[int]] = field(default_factory=dict)
    cells: dict[tuple[str, str | None], Any] = field(default_factory=dict)
    places: dict[tuple[str, str], Any] = field(default_factory=dict)
    allowed: dict[tuple[str, int, int], Any] = field(default_factory=dict)

    def element_sets(self, element_id: int) -> frozenset[int]:
        if element_id not in self._element_sets:
            self._element_sets[element_id] = frozenset(
                ds.id for ds in self.catalog.data_sets_with(element_id)
            )
        return self._element_sets[element_id]

    def period(self, code: str) -> pe.Period | None:
        if code not in self.periods:
            self.periods[code] = pe.parse(code) if pe.is_valid(code) else None
        return self.periods[code]


def _load_units(ctx: Context, rows: Sequence[ValueRow]) -> None:
    codes = sorted({r.org_unit for r in rows})
    ctx.unit_ids = registry_store.unit_ids_for(ctx.conn, codes)
    ids = sorted(set(ctx.unit_ids.values()))
    segments = registry_store.segments_of(ctx.conn, ids)
    versions = registry_store.versions_of(ctx.conn, ids)
    for code in {r.period for r in rows}:
        period = ctx.period(code)
        if period is None:
            continue
        for unit_id in ids:
            ctx.on_period[(unit_id, code)] = _unit_on(unit_id, period, segments[unit_id], versions[unit_id])


def _unit_on(
    unit_id: int, period: pe.Period, segments: Sequence[Any], versions: Sequence[Any]
) -> UnitOnPeriod | None:
    """The unit's last path and type inside the period; None if it was not open then."""
    end = period.end + dt.timedelta(days=1)
    path = next(
        (s.path for s in reversed(segments) if s.valid_from < end and s.valid_to > period.start), None
    )
    version = next((v for v in reversed(versions) if v.valid_from < end and v.valid_to > period.start), None)
    if path is None or version is None:
        return None
    return UnitOnPeriod(unit_id, path, version.type)


def _load_periods(ctx: Context, codes: Iterable[str]) -> None:
    known = [c for c in codes if ctx.period(c) is not None]
    for start in range(0, len(known), CHUNK):
        chunk = known[start : start + CHUNK]
        ctx.period_ids.update(
            dict(
                ctx.conn.execute(
                    select(store.periods.c.code, store.periods.c.id).where(store.periods.c.code.in_(chunk))
                ).all()
            )
        )


def ensure_periods(conn: Connection, codes: Iterable[str]) -> dict[str, int]:
    """Ids of the periods ``codes`` (valid identifiers), inserting the ones not yet stored."""
    wanted = sorted(set(codes))
    table = store.periods
    found = (
        dict(conn.execute(select(table.c.code, table.c.id).where(table.c.code.in_(wanted))).all())
        if wanted
        else {}
    )
    for code in wanted:
        if code not in found:
            p = pe.parse(code)
            result = conn.execute(
                insert(table).values(code=p.id, type=p.type.value, start_date=p.start, end_date=p.end)
            )
            found[code] = inserted_id(result)
    return found


def _load_locks(ctx: Context) -> None:
    ids = list(ctx.period_ids.values())
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for r in ctx.conn.execute(
            select(
                store.approvals.c.data_set_id, store.approvals.c.period_id, store.approvals.c.unit_id
            ).where(store.approvals.c.period_id.in_(chunk))
        ):
            ctx.approved.add((r.data_set_id, r.period_id, r.unit_id))
        for r in ctx.conn.execute(
            select(store.lock_exceptions).where(store.lock_exceptions.c.period_id.in_(chunk))
        ):
            ctx.exceptions[(r.data_set_id, r.period_id, r.unit_id)] = r.until


def _in_scope(ctx: Context, path: str, day: dt.date) -> bool:
    if ctx.principal.unlimited:
        return True
    if day not in ctx.scope:
        ctx.scope[day] = scope_paths(ctx.conn, ctx.principal, Action.DATA_CAPTURE, day)
    return any(path.startswith(p) for p in ctx.scope[day])


def lock_reason(ctx: Context, ds: DataSet, period: pe.Period, where: UnitOnPeriod) -> str | None:
    """Why values of ``ds`` at the unit in ``period`` cannot change now, or None."""
    period_id = ctx.period_ids.get(period.id)
    if period_id is not None:
        for ancestor in path_ids(where.path):
            if (ds.id, period_id, ancestor) in ctx.approved:
                return f"data set {ds.code} for {period.id} is approved and locked; unapprove it first"
    if ctx.check_expiry and ds.expiry_days > 0:
        closes = pe.days_after_end(period, ds.expiry_days)
        if _today() > closes:
            granted = ctx.exceptions.get((ds.id, period_id or 0, where.unit_id))
            if granted is None or granted < _today():
                return (
                    f"period {period.id} of data set {ds.code} closed on {closes.isoformat()} "
                    f"({ds.expiry_days} expiry days); an administrator can grant an exception"
                )
    return None


def _verdict(
    ctx: Context, element: Element, period: pe.Period, where: UnitOnPeriod
) -> tuple[str, str] | None:
    """(field, reason) if this element may not be written at the unit in the period, else None."""
    key = (period.id, where.unit_id)
    if key not in ctx.verdicts:
        ctx.verdicts[key] = _unit_verdict(ctx, period, where)
    scope_problem, locks = ctx.verdicts[key]
    if scope_problem:
        return "orgUnit", scope_problem
    mine = [reason for ds_id, reason in locks.items() if ds_id in ctx.element_sets(element.id)]
    if not mine:
        field = "period" if ctx.catalog.data_sets_with(element.id) else "dataElement"
        return field, (
            f"no data set with period type {period.type.value} collects {element.code} "
            f"from this unit (type {where.type})"
        )
    if all(mine):
        return "period", str(mine[0])
    return None


def _unit_verdict(
    ctx: Context, period: pe.Period, where: UnitOnPeriod
) -> tuple[str | None, dict[int, str | None]]:
    """The unit's scope problem, and for each data set it reports in this period type, its lock."""
    day = min(period.end, max(_today(), period.start))
    if not _in_scope(ctx, where.path, day):
        return "the unit is outside your capture scope", {}
    sets = [
        ds
        for ds in ctx.catalog.data_sets.values()
        if ds.period_type == period.type.value
        and (where.type in ds.unit_types or where.unit_id in ds.unit_ids)
    ]
    return None, {ds.id: lock_reason(ctx, ds, period, where) for ds in sets}


# ---------------------------------------------------------------- checking rows


@dataclass
class Checked:
    """The rows that passed, keyed, and what to write."""

    writes: dict[Key, tuple[str, str | None, bool | None, str | None]] = field(default_factory=dict)
    deletes: dict[Key, int] = field(default_factory=dict)
    conflicts: list[ImportConflict] = field(default_factory=list)


Refusal = tuple[str, Any, str, str | None]  # field, value, reason, expected: a conflict without its row
AOC_DEFAULTS = frozenset({None, "", DEFAULT, "HllvX50cXC0"})


def _cell(ctx: Context, element_key: str, coc_key: str | None) -> tuple[Element, int] | Refusal:
    """The element and option combo id a row names, or why not (cached per pair)."""
    element = ctx.catalog.element(element_key)
    if element is None:
        return "dataElement", element_key, "unknown data element", "the code of a data element"
    coc = ctx.catalog.option_combo(element, coc_key)
    if coc is None:
        known = ", ".join(c.code for c in ctx.catalog.cocs_of(element.combo_id))
        reason = f"data element {element.code} has no such category option combo"
        return "categoryOptionCombo", coc_key, reason, known
    return element, coc.id


def _place(ctx: Context, unit_code: str, period_code: str) -> tuple[pe.Period, UnitOnPeriod, int] | Refusal:
    """The period, the unit as it stood then and the period's slot, or why not (cached per pair)."""
    period = ctx.period(period_code)
    if period is None:
        return "period", period_code, "not a period identifier", PERIOD_EXAMPLES
    unit_id = ctx.unit_ids.get(unit_code)
    where = ctx.on_period.get((unit_id, period_code)) if unit_id is not None else None
    if where is None:
        reason = "unknown unit" if unit_id is None else f"the unit was not open during {period.id}"
        return "orgUnit", unit_code, reason, "the code of a unit open in the period"
    return period, where, _period_slot(ctx, period_code)


PERIOD_EXAMPLES = "e.g. 2020, 2020SY, 2020S1, 2020Q3, 202011, 2020W5, 20200315"
_NOT_YET = object()


def _check_row(ctx: Context, row: ValueRow, delete_all: bool) -> tuple[Key, str | None] | ImportConflict:
    """The row's key and normalised value (None: delete), or the conflict that stops it."""
    cell = ctx.cells.get((row.data_element, row.category_option_combo))
    if cell is None:
        cell = ctx.cells[(row.data_element, row.category_option_combo)] = _cell(
            ctx, row.data_element, row.category_option_combo
        )
    if len(cell) == 4:
        return ImportConflict(row.row, *cell)  # type: ignore[arg-type]
    element, coc_id = cell  # type: ignore[misc]
    if row.attribute_option_combo not in AOC_DEFAULTS:
        return ImportConflict(
            row.row,
            "attributeOptionCombo",
            row.attribute_option_combo,
            "unknown attribute option combo",
            DEFAULT,
        )
    place = ctx.places.get((row.org_unit, row.period))
    if place is None:
        place = ctx.places[(row.org_unit, row.period)] = _place(ctx, row.org_unit, row.period)
    if len(place) == 4:
        return ImportConflict(row.row, *place)  # type: ignore[arg-type]
    period, where, slot = place  # type: ignore[misc]
    verdict_key = (row.period, where.unit_id, element.id)
    problem = ctx.allowed.get(verdict_key, _NOT_YET)
    if problem is _NOT_YET:
        problem = ctx.allowed[verdict_key] = _verdict(ctx, element, period, where)
    if problem:
        field, reason = problem  # type: ignore[misc]
        shown = {"orgUnit": row.org_unit, "period": row.period, "dataElement": row.data_element}[field]
        return ImportConflict(row.row, field, shown, reason)
    key: Key = (slot, where.unit_id, element.id, coc_id, ctx.catalog.default_coc)
    value = row.value
    if delete_all or row.deleted or value is None or value.strip() == "":
        return key, None
    if element.value_type is ValueType.INTEGER and value.isdigit() and value.isascii() and value[0] != "0":
        return key, value  # the common case, already in normal form
    try:
        return key, normalise_value(element.value_type, value)
    except ValueError as error:
        reason = f"{error} for data element {element.code}"
        return ImportConflict(row.row, "value", value, reason, EXPECTED[element.value_type])


def check_rows(
    ctx: Context, rows: Sequence[ValueRow], strategy: ImportStrategy, progress: Progress | None = None
) -> Checked:
    out = Checked()
    seen: dict[Key, int] = {}
    delete_all = strategy is ImportStrategy.DELETE
    for i, row in enumerate(rows):
        if progress and i % 50_000 == 0:
            progress(i)
        result = _check_row(ctx, row, delete_all)
        if isinstance(result, ImportConflict):
            out.conflicts.append(result)
            continue
        key, value = result
        if key in seen:
            out.conflicts.append(
                ImportConflict(
                    row.row,
                    "dataValue",
                    row.data_element,
                    f"the same value appears again (first in row {seen[key]})",
                )
            )
            continue
        seen[key] = row.row
        if value is None:
            out.deletes[key] = row.row
        else:
            out.writes[key] = (value, row.comment, row.followup, row.stored_by)
    if progress:
        progress(len(rows))
    return out


def _period_slot(ctx: Context, code: str) -> int:
    """The period's id, or a negative placeholder for a period not stored yet."""
    if code not in ctx.period_ids:
        ctx.period_ids[code] = -1 - len([v for v in ctx.period_ids.values() if v < 0])
    return ctx.period_ids[code]


# ---------------------------------------------------------------- comparing with what is stored


def _stored(conn: Connection, keys: Iterable[Key]) -> dict[Key, tuple[str, str | None, bool]]:
    """The stored value, comment and follow-up flag of every key that has one."""
    pairs: dict[int, set[int]] = {}
    for k in keys:
        if k[0] > 0:
            pairs.setdefault(k[0], set()).add(k[1])
    out: dict[Key, tuple[str, str | None, bool]] = {}
    cursor = conn.connection.cursor()  # the request's own connection: plain tuples, no row objects
    try:
        for period_id, unit_set in pairs.items():
            unit_list = sorted(unit_set)
            for start in range(0, len(unit_list), CHUNK):
                chunk = unit_list[start : start + CHUNK]
                marks = ", ".join([_placeholder(conn)] * len(chunk))
                cursor.execute(
                    _sql(
                        conn,
                        "SELECT period_id, unit_id, data_element_id, coc_id, aoc_id, value, comment, "
                        f"followup FROM data_values WHERE period_id = ? AND unit_id IN ({marks})",
                    ),
                    (period_id, *chunk),
                )
                for r in cursor.fetchall():
                    out[r[:5]] = r[5:]  # value, comment, followup (0/1 on SQLite: equal to False/True)
    finally:
        cursor.close()
    return out


@dataclass
class Plan:
    creates: list[tuple[Key, str, str | None, bool, str | None]] = field(default_factory=list)
    updates: list[tuple[Key, str, str | None, bool, str | None, tuple[str, str | None, bool]]] = field(
        default_factory=list
    )
    deletes: list[tuple[Key, tuple[str, str | None, bool]]] = field(default_factory=list)
    ignored: int = 0


def plan_changes(checked: Checked, stored: dict[Key, tuple[str, str | None, bool]]) -> Plan:
    plan = Plan()
    for key, (value, comment, followup, by) in checked.writes.items():
        before = stored.get(key)
        if before is None:
            plan.creates.append((key, value, comment, bool(followup), by))
            continue
        new_comment = comment if comment is not None else before[1]
        new_followup = followup if followup is not None else before[2]
        if (value, new_comment, new_followup) == before:
            plan.ignored += 1
        else:
            plan.updates.append((key, value, new_comment, new_followup, by, before))
    for key in checked.deletes:
        before = stored.get(key)
        if before is None:
            plan.ignored += 1
        else:
            plan.deletes.append((key, before))
    return plan


# ---------------------------------------------------------------- writing


def _placeholder(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _sql(conn: Connection, text: str) -> str:
    return text.replace("?", _placeholder(conn))


def write_plan(conn: Connection, *, plan: Plan, import_id: int, synthetic: bool) -> None:
    """Apply the plan with one executemany per kind, then write each change's history row."""
    key = "period_id = ? AND unit_id = ? AND data_element_id = ? AND coc_id = ? AND aoc_id = ?"
    if plan.creates:
        conn.exec_driver_sql(
            _sql(
                conn,
                "INSERT INTO data_values (period_id, unit_id, data_element_id, coc_id, aoc_id, value, "
                "stored_by, comment, followup, synthetic, import_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ),
            [(*k, v, by, c, f, synthetic, import_id) for k, v, c, f, by in plan.creates],
        )
    if plan.updates:
        conn.exec_driver_sql(
            _sql(
                conn,
                "UPDATE data_values SET value = ?, comment = ?, followup = ?, stored_by = ?, "
                f"import_id = ? WHERE {key}",
            ),
            [(v, c, f, by, import_id, *k) for k, v, c, f, by, _ in plan.updates],
        )
    if plan.deletes:
        conn.exec_driver_sql(_sql(conn, f"DELETE FROM data_values WHERE {key}"), [k for k, _ in plan.deletes])
    if len(plan.creates) > BULK:  # one statement copies the new rows: no Python per row
        conn.exec_driver_sql(
            _sql(
                conn,
                "INSERT INTO data_value_history (period_id, unit_id, data_element_id, coc_id, aoc_id, "
                "import_id, change, value_before, value_after, comment, followup) SELECT period_id, unit_id, "
                "data_element_id, coc_id, aoc_id, import_id, 'CREATE', NULL, value, comment, followup "
                f"FROM data_values WHERE import_id = ? AND period_id IN ({_ids(_periods_of(plan.creates))})",
            ),
            (import_id,),
        )
    history: list[tuple[Any, ...]] = (
        [] if len(plan.creates) > BULK else [(*k, "CREATE", None, v, c, f) for k, v, c, f, _ in plan.creates]
    )
    history += [(*k, "UPDATE", b[0], v, c, f) for k, v, c, f, _, b in plan.updates]
    history += [(*k, "DELETE", b[0], None, b[1], b[2]) for k, b in plan.deletes]
    if history:
        conn.exec_driver_sql(
            _sql(
                conn,
                "INSERT INTO data_value_history (period_id, unit_id, data_element_id, coc_id, aoc_id, "
                f"import_id, change, value_before, value_after, comment, followup) "
                f"VALUES (?, ?, ?, ?, ?, {int(import_id)}, ?, ?, ?, ?, ?)",
            ),
            history,
        )


BULK = 20_000
"""Above this many new values, their history rows are copied by one INSERT … SELECT."""


def _periods_of(creates: list[tuple[Key, str, str | None, bool, str | None]]) -> set[int]:
    return {k[0] for k, *_ in creates}


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(str(int(i)) for i in sorted(ids))


def _fix_period_ids(conn: Connection, plan: Plan, ctx: Context) -> None:
    """Store the periods first used by this import and put their ids into the plan's keys."""
    new = {code: slot for code, slot in ctx.period_ids.items() if slot < 0}
    if not new:
        return
    ids = ensure_periods(conn, new)
    swap = {slot: ids[code] for code, slot in new.items()}
    plan.creates = [((swap.get(k[0], k[0]), *k[1:]), *rest) for k, *rest in plan.creates]  # type: ignore[misc]


def changes_digest(plan: Plan) -> str:
    """SHA-256 over every change in key order, one line each: what the audit entry vouches for.

    Lines are ``C|period|unit|element|coc|aoc|after``, ``U|…|before|after`` and ``D|…|before``,
    with the numeric ids of the stored rows, joined by newlines.
    """
    created, updated, deleted = "C|%d|%d|%d|%d|%d|%s", "U|%d|%d|%d|%d|%d|%s|%s", "D|%d|%d|%d|%d|%d|%s"
    changes: list[tuple[Key, str]] = [(k, created % (*k, v)) for k, v, *_ in plan.creates]
    changes += [(k, updated % (*k, b[0], v)) for k, v, _c, _f, _by, b in plan.updates]
    changes += [(k, deleted % (*k, b[0])) for k, b in plan.deletes]
    changes.sort(key=_first)
    digest = hashlib.sha256()
    for start in range(0, len(changes), 100_000):
        chunk = "\n".join(line for _, line in changes[start : start + 100_000])
        digest.update((("\n" if start else "") + chunk).encode())
    return digest.hexdigest()


def _first(item: tuple[Key, str]) -> Key:
    return item[0]


# ---------------------------------------------------------------- the use cases


def import_values(
    conn: Connection,
    *,
    principal: Principal,
    rows: Sequence[ValueRow],
    source: str,
    strategy: ImportStrategy = ImportStrategy.CREATE_AND_UPDATE,
    dry_run: bool = False,
    valid_only: bool = False,
    file_digest: str | None = None,
    synthetic: bool = False,
    check_expiry: bool = True,
    progress: Progress | None = None,
) -> ImportSummary:
    """Check every row, then (unless a dry run, or conflicts without ``valid_only``) write them."""
    require_action(principal, Action.DATA_CAPTURE)
    ctx = Context(conn, principal, load_catalog(conn), check_expiry)
    _load_units(ctx, rows)
    _load_periods(ctx, {r.period for r in rows})
    _load_locks(ctx)
    checked = check_rows(ctx, rows, strategy, progress)
    summary = ImportSummary(conflicts=checked.conflicts, dry_run=dry_run, valid_only=valid_only)
    plan = plan_changes(checked, _stored(conn, [*checked.writes, *checked.deletes]))
    if checked.conflicts and not valid_only:
        summary.ignored = len(rows)
        return summary
    summary.imported, summary.updated = len(plan.creates), len(plan.updates)
    summary.deleted, summary.ignored = len(plan.deletes), plan.ignored + len(checked.conflicts)
    if not dry_run and (plan.creates or plan.updates or plan.deletes):
        _record(
            conn,
            principal=principal,
            plan=plan,
            ctx=ctx,
            summary=summary,
            source=source,
            file_digest=file_digest,
            synthetic=synthetic,
        )
    return summary


def _record(
    conn: Connection,
    *,
    principal: Principal,
    plan: Plan,
    ctx: Context,
    summary: ImportSummary,
    source: str,
    file_digest: str | None,
    synthetic: bool,
) -> None:
    _fix_period_ids(conn, plan, ctx)
    digest = changes_digest(plan)
    counts = summary.as_dict(max_conflicts=20)
    import_id = inserted_id(
        conn.execute(
            insert(store.data_imports).values(
                at=_now(),
                actor=principal.username,
                source=source,
                file_digest=file_digest,
                changes_digest=digest,
                summary=counts,
            )
        )
    )
    write_plan(conn, plan=plan, import_id=import_id, synthetic=synthetic)
    audit.record(
        conn,
        actor=principal.username,
        action="data.import",
        entity="data_values",
        entity_key=str(import_id),
        after={
            "source": source,
            "file_digest": file_digest,
            "changes_digest": digest,
            "importCount": counts["importCount"],
            "conflictCount": counts["conflictCount"],
        },
    )


def save_value(
    conn: Connection,
    *,
    principal: Principal,
    data_element: str,
    period: str,
    org_unit: str,
    category_option_combo: str | None = None,
    value: str | None = None,
    comment: str | None = None,
    followup: bool | None = None,
) -> ImportSummary:
    """Save (or with an empty value, delete) one cell of a form; raises with the reason if refused."""
    row = ValueRow(
        data_element=data_element,
        period=period,
        org_unit=org_unit,
        category_option_combo=category_option_combo,
        value=value,
        comment=comment,
        followup=followup,
        row=1,
    )
    if value in (None, "") and (comment or followup is not None):
        row = _keep_value(conn, row)
    summary = import_values(conn, principal=principal, rows=[row], source="form")
    if summary.conflicts:
        conflict = summary.conflicts[0]
        raise ValidationError(f"The value was not saved: {conflict.reason}.", [conflict.as_problem()])
    return summary


def _keep_value(conn: Connection, row: ValueRow) -> ValueRow:
    """A comment or flag without a value keeps the stored value (there must be one)."""
    stored = read_cell(conn, row=row)
    if stored is None:
        raise ValidationError(
            "A comment or follow-up flag needs a value first.",
            [
                Problem(
                    "no value to comment on", field="value", value=row.value, expected="enter the value first"
                )
            ],
        )
    return ValueRow(**{**_as_kwargs(row), "value": stored["value"]})


def _as_kwargs(row: ValueRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in ValueRow.__slots__}  # type: ignore[attr-defined]


def read_cell(conn: Connection, *, row: ValueRow) -> dict[str, Any] | None:
    catalog = load_catalog(conn)
    element = catalog.element(row.data_element)
    coc = catalog.option_combo(element, row.category_option_combo) if element else None
    period_id = conn.execute(select(store.periods.c.id).where(store.periods.c.code == row.period)).scalar()
    unit_id = registry_store.unit_id_for(conn, row.org_unit)
    if element is None or coc is None or period_id is None or unit_id is None:
        return None
    dv, imports = store.data_values, store.data_imports
    found = conn.execute(
        select(dv, imports.c.actor, imports.c.at.label("updated_at"))
        .join(imports, imports.c.id == dv.c.import_id)
        .where(
            dv.c.period_id == period_id,
            dv.c.unit_id == unit_id,
            dv.c.data_element_id == element.id,
            dv.c.coc_id == coc.id,
        )
    ).first()
    if found is None:
        return None
    cell = dict(found._mapping)
    cell["stored_by"] = cell["stored_by"] or cell["actor"]
    cell["updated_at"] = _aware(cell["updated_at"])
    return cell


# ---------------------------------------------------------------- reading and exporting


def _visible_units(
    conn: Connection, principal: Principal, unit_code: str, children: bool, day: dt.date
) -> list[int]:
    from jiaowei.auth.scope import require_unit

    unit_id = registry_store.unit_id_for(conn, unit_code)
    if unit_id is None:
        raise NotFound(f"No unit with code {unit_code!r}.")
    require_unit(conn, principal, Action.VIEW, unit_id, day, unit_code)
    return registry_store.subtree_ids(conn, unit_id, day) if children else [unit_id]


def export_values(
    conn: Connection,
    *,
    principal: Principal,
    data_set: str | None = None,
    periods: Sequence[str] = (),
    units: Sequence[str] = (),
    children: bool = False,
) -> list[ValueRow]:
    """Stored values of a data set (or all elements), periods and units the principal may see."""
    require_action(principal, Action.VIEW)
    catalog = load_catalog(conn)
    problems: list[Problem] = []
    ds = catalog.data_set(data_set) if data_set else None
    if data_set and ds is None:
        problems.append(
            Problem("unknown data set", field="dataSet", value=data_set, expected="a data set code")
        )
    problems += [
        Problem("not a period", field="period", value=p, expected="e.g. 2020 or 202011")
        for p in periods
        if not pe.is_valid(p)
    ]
    if not units:
        problems.append(
            Problem("name at least one unit", field="orgUnit", value=None, expected="a unit code")
        )
    if problems:
        raise ValidationError("The export cannot be made with these parameters.", problems)
    wanted = [pe.parse(p) for p in periods]
    period_rows = _period_rows(conn, wanted)
    out: list[ValueRow] = []
    for period_id, code, end in period_rows:
        unit_ids = sorted({u for c in units for u in _visible_units(conn, principal, c, children, end)})
        out += _values_of(conn, catalog, ds, period_id, code, unit_ids)
    return out


def _period_rows(conn: Connection, wanted: Sequence[pe.Period]) -> list[tuple[int, str, dt.date]]:
    table = store.periods
    query = select(table.c.id, table.c.code, table.c.end_date).order_by(table.c.start_date, table.c.code)
    if wanted:
        query = query.where(table.c.code.in_([p.id for p in wanted]))
    return [(r.id, r.code, r.end_date) for r in conn.execute(query)]


def _values_of(
    conn: Connection,
    catalog: Catalog,
    ds: DataSet | None,
    period_id: int,
    period: str,
    unit_ids: Sequence[int],
) -> list[ValueRow]:
    from jiaowei.registry.store import units

    dv = store.data_values
    out: list[ValueRow] = []
    for start in range(0, len(unit_ids), CHUNK):
        query = (
            select(dv, units.c.code.label("unit_code"), store.data_imports.c.actor)
            .join(units, units.c.id == dv.c.unit_id)
            .join(store.data_imports, store.data_imports.c.id == dv.c.import_id)
            .where(dv.c.period_id == period_id, dv.c.unit_id.in_(unit_ids[start : start + CHUNK]))
            .order_by(units.c.code, dv.c.data_element_id, dv.c.coc_id)
        )
        if ds is not None:
            query = query.where(dv.c.data_element_id.in_(ds.element_ids))
        for r in conn.execute(query):
            element = catalog.elements[r.data_element_id]
            out.append(
                ValueRow(
                    data_element=element.code,
                    period=period,
                    org_unit=r.unit_code,
                    category_option_combo=catalog.option_combos[r.coc_id].code,
                    attribute_option_combo=catalog.option_combos[r.aoc_id].code,
                    value=r.value,
                    stored_by=r.stored_by or r.actor,
                    comment=r.comment,
                    followup=bool(r.followup),
                    row=len(out) + 1,
                )
            )
    return out


def history(
    conn: Connection,
    *,
    principal: Principal,
    data_element: str,
    period: str,
    org_unit: str,
    category_option_combo: str | None = None,
) -> list[dict[str, Any]]:
    """Every change of one value, newest first."""
    catalog = load_catalog(conn)
    element = catalog.element(data_element)
    coc = catalog.option_combo(element, category_option_combo) if element else None
    period_id = conn.execute(select(store.periods.c.id).where(store.periods.c.code == period)).scalar()
    if element is None or coc is None:
        raise NotFound(
            f"No data element {data_element!r} with option combo {category_option_combo or DEFAULT!r}."
        )
    day = pe.parse(period).end if pe.is_valid(period) else _today()
    _visible_units(conn, principal, org_unit, False, day)
    unit_id = registry_store.unit_id_for(conn, org_unit)
    h, imports = store.data_value_history, store.data_imports
    rows = conn.execute(
        select(h, imports.c.actor, imports.c.at, imports.c.source)
        .join(imports, imports.c.id == h.c.import_id)
        .where(
            h.c.period_id == (period_id or 0),
            h.c.unit_id == unit_id,
            h.c.data_element_id == element.id,
            h.c.coc_id == coc.id,
        )
        .order_by(h.c.import_id.desc())
    ).all()
    return [
        {
            "change": r.change,
            "value_before": r.value_before,
            "value_after": r.value_after,
            "comment": r.comment,
            "followup": r.followup,
            "actor": r.actor,
            "at": _aware(r.at).isoformat(),
            "source": r.source,
            "import_id": r.import_id,
        }
        for r in rows
    ]


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _period_context(conn: Connection, principal: Principal, period: pe.Period) -> Context:
    """A context for one period, with its stored id and the approvals and exceptions in it."""
    ctx = Context(conn, principal, load_catalog(conn), check_expiry=True)
    ctx.periods[period.id] = period
    _load_periods(ctx, [period.id])
    _load_locks(ctx)
    return ctx


def unit_on(conn: Connection, unit_id: int, period: pe.Period) -> UnitOnPeriod | None:
    """The unit's last path and type inside the period, as imports see it; None if not open then."""
    segments = registry_store.segments_of(conn, [unit_id])[unit_id]
    versions = registry_store.versions_of(conn, [unit_id])[unit_id]
    return _unit_on(unit_id, period, segments, versions)


def form_lock(
    conn: Connection, *, principal: Principal, data_set: DataSet, period: pe.Period, where: UnitOnPeriod
) -> str | None:
    """Why values of a form cannot change now (approval or expiry), exactly as imports decide."""
    return lock_reason(_period_context(conn, principal, period), data_set, period, where)


def form_state(
    conn: Connection, *, principal: Principal, data_set: DataSet, period: pe.Period, unit_id: int
) -> dict[str, Any]:
    """Whether the principal may enter this form now, and if not, why (scope, assignment, lock)."""
    ctx = _period_context(conn, principal, period)
    where = unit_on(conn, unit_id, period)
    if where is None:
        return {"editable": False, "reason": f"the unit was not open during {period.id}"}
    if not principal.may(Action.DATA_CAPTURE):
        return {"editable": False, "reason": "your role may not enter data"}
    if not _in_scope(ctx, where.path, min(period.end, max(_today(), period.start))):
        return {"editable": False, "reason": "the unit is outside your capture scope"}
    if not (where.type in data_set.unit_types or unit_id in data_set.unit_ids):
        return {"editable": False, "reason": f"data set {data_set.code} is not collected from this unit"}
    reason = lock_reason(ctx, data_set, period, where)
    return {"editable": reason is None, "reason": reason}


def verify_imports(conn: Connection) -> list[str]:
    """Recompute every write's ``changes_digest`` from the history rows; the writes that differ.

    The audit chain vouches for each write's digest, so together with ``audit.verify`` this
    shows that no history row was changed, added or removed since.
    """
    h, imports = store.data_value_history, store.data_imports
    key = (h.c.period_id, h.c.unit_id, h.c.data_element_id, h.c.coc_id, h.c.aoc_id)
    broken = []
    for record in conn.execute(select(imports.c.id, imports.c.changes_digest).order_by(imports.c.id)).all():
        plan = Plan()
        for r in conn.execute(select(h).where(h.c.import_id == record.id).order_by(*key)):
            k: Key = (r.period_id, r.unit_id, r.data_element_id, r.coc_id, r.aoc_id)
            if r.change == "CREATE":
                plan.creates.append((k, r.value_after, None, False, None))
            elif r.change == "UPDATE":
                plan.updates.append((k, r.value_after, None, False, None, (r.value_before, None, False)))
            else:
                plan.deletes.append((k, (r.value_before, None, False)))
        if changes_digest(plan) != record.changes_digest:
            broken.append(f"write {record.id}: its history no longer matches the digest in the audit log")
    return broken
