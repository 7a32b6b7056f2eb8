"""Data values: the entry point of their use cases. Import (every format ends here), save or
delete one cell, open a form for entry, and the reads and exports re-exported from ``queries``.

An import is checked whole before anything is written: every row's element, option combo,
period, unit, scope, data set assignment, lock and value (``checking``). With conflicts nothing
is written unless the caller asks for the valid rows only (DHIS2's ``atomicMode=NONE``). A value
equal to the stored one is *ignored*, so importing the same file twice changes nothing. Each
write records every changed value in ``data_value_history`` and one entry in the hash-chained
audit log carrying the SHA-256 of those changes (``writing``, decision 0006).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, cast

from sqlalchemy import Connection, insert, update

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit
from jiaowei.db.engine import inserted_id
from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.metadata.catalog import Catalog, DataSet, load_catalog
from jiaowei.indicators.model import ImportConflict, ImportStrategy, ImportSummary, ValueRow
from jiaowei.indicators.quality import queries as quality
from jiaowei.indicators.values.checking import (
    Checked,
    Context,
    Key,
    Progress,
    check_rows,
    ensure_periods,
    in_scope,
    load_locks,
    load_periods,
    load_units,
    lock_reason,
    today,
)
from jiaowei.indicators.values.queries import (
    any_synthetic,
    export_values,
    form_problems,
    form_values,
    history,
    read_cell,
    unit_choices,
    unit_name,
)
from jiaowei.indicators.values.seen import SeenKeys
from jiaowei.indicators.values.writing import (
    DIGEST_VERSION,
    Plan,
    change_lines,
    changes_digest,
    copy_created_history,
    feed_digest,
    fix_period_ids,
    history_digest,
    plan_changes,
    stored_values,
    verify_imports,
    write_plan,
)
from jiaowei.registry import queries as registry

__all__ = [
    "EntryForm",
    "FormState",
    "delete_value",
    "digest_of",
    "ensure_periods",
    "export_values",
    "form_lock",
    "form_state",
    "history",
    "import_values",
    "open_form",
    "read_cell",
    "save_value",
    "unit_choices",
    "unit_name",
    "verify_imports",
    "violations_after_save",
]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


BATCH = 50_000
"""Rows checked and written at a time: an import holds one batch (and the next) in memory, whatever
the size of its file."""


def import_values(
    conn: Connection,
    *,
    principal: Principal,
    rows: Iterable[ValueRow],
    source: str,
    strategy: ImportStrategy = ImportStrategy.CREATE_AND_UPDATE,
    dry_run: bool = False,
    valid_only: bool = False,
    file_digest: str | None = None,
    synthetic: bool = False,
    check_expiry: bool = True,
    progress: Progress | None = None,
    conflicts: Sequence[ImportConflict] = (),
    form_conflicts: Sequence[ImportConflict] = (),
    batch_size: int = BATCH,
) -> ImportSummary:
    """Check every row, then (unless a dry run, or conflicts without ``valid_only``) write them.

    ``conflicts``: rows the caller already refused (an identifier its id scheme does not know),
    counted as ignored and reported with the others, in row order. ``form_conflicts``: forms the
    file says are complete that could not be registered: reported and stopping the import like
    the others, but not counted as values.

    ``rows`` may be an iterator (a file read as it goes, ``exchange.import_path``): then they are
    checked and written ``batch_size`` at a time, inside a
    savepoint that is rolled back at the end when the import must write nothing (a dry run writes
    nothing at all). A value whose key an earlier batch held is refused as in one batch."""
    require_action(principal, Action.DATA_CAPTURE)
    ctx = Context(conn, principal, load_catalog(conn), check_expiry)
    batches = _batches(rows, batch_size)
    first = next(batches, [])
    following = next(batches, None)
    if following is None:
        return _import_one(ctx, first, source=source, strategy=strategy, dry_run=dry_run,
                           valid_only=valid_only, file_digest=file_digest, synthetic=synthetic,
                           progress=progress, conflicts=conflicts, form_conflicts=form_conflicts)
    writing = not dry_run and (valid_only or not (conflicts or form_conflicts))
    run = _Run(ctx, source=source, strategy=strategy, synthetic=synthetic, progress=progress,
               writing=writing, valid_only=valid_only)
    savepoint = conn.begin_nested()
    queue = deque([first, following])  # popped as they are checked: no batch is held longer
    del first, following
    try:
        with SeenKeys() as seen:
            while queue or (queue := deque(islice(batches, 1))):
                run.add(queue.popleft(), seen)
    except BaseException:  # a problem further on in the file: undo the batches written
        savepoint.rollback()
        raise
    everything = sorted([*form_conflicts, *conflicts, *run.conflicts], key=_row_of)
    summary = ImportSummary(conflicts=everything, dry_run=dry_run, valid_only=valid_only)
    if everything and not valid_only:
        savepoint.rollback()
        summary.ignored = run.rows + len(conflicts)
        return summary
    summary.imported, summary.updated, summary.deleted = run.imported, run.updated, run.deleted
    summary.ignored = run.ignored + len(run.conflicts) + len(conflicts)
    if run.import_id is not None:
        run.finish(summary, file_digest)
    savepoint.commit()
    return summary


UNITS_KEPT = 5_000
"""An import in batches forgets what it resolved per unit when it holds more units than this."""


def _batches(rows: Iterable[ValueRow], size: int) -> Iterator[Sequence[ValueRow]]:
    """A sequence (in memory already) is one batch; anything else is read ``size`` rows at a time."""
    if isinstance(rows, Sequence):
        yield rows
        return
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _import_one(
    ctx: Context,
    rows: Sequence[ValueRow],
    *,
    source: str,
    strategy: ImportStrategy,
    dry_run: bool,
    valid_only: bool,
    file_digest: str | None,
    synthetic: bool,
    progress: Progress | None,
    conflicts: Sequence[ImportConflict],
    form_conflicts: Sequence[ImportConflict],
) -> ImportSummary:
    """An import of one batch: checked whole, then written (or not) at once."""
    conn = ctx.conn
    load_units(ctx, rows)
    load_periods(ctx, {r.period for r in rows})
    load_locks(ctx)
    checked = check_rows(ctx, rows, strategy, progress)
    if conflicts or form_conflicts:
        checked.conflicts = sorted([*form_conflicts, *conflicts, *checked.conflicts], key=_row_of)
    summary = ImportSummary(conflicts=checked.conflicts, dry_run=dry_run, valid_only=valid_only)
    plan = plan_changes(checked, stored_values(conn, [*checked.writes, *checked.deletes]), strategy)
    if checked.conflicts and not valid_only:
        summary.ignored = len(rows) + len(conflicts)
        return summary
    summary.imported, summary.updated = len(plan.creates), len(plan.updates)
    summary.deleted = len(plan.deletes)
    summary.ignored = plan.ignored + len(checked.conflicts) - len(form_conflicts)
    if not dry_run and (plan.creates or plan.updates or plan.deletes):
        _record(
            conn,
            principal=ctx.principal,
            plan=plan,
            ctx=ctx,
            summary=summary,
            source=source,
            file_digest=file_digest,
            synthetic=synthetic,
        )
    return summary


class _Run:
    """An import in batches: what it has counted, refused and written so far."""

    def __init__(self, ctx: Context, *, source: str, strategy: ImportStrategy, synthetic: bool,
                 progress: Progress | None, writing: bool, valid_only: bool) -> None:
        self.ctx, self.source, self.strategy, self.synthetic = ctx, source, strategy, synthetic
        self.progress, self.writing, self.valid_only = progress, writing, valid_only
        self.rows = self.imported = self.updated = self.deleted = self.ignored = 0
        self.conflicts: list[ImportConflict] = []
        self.import_id: int | None = None
        self.digest, self.last, self.in_order = hashlib.sha256(), cast(Key | None, None), True

    def add(self, batch: Sequence[ValueRow], seen: SeenKeys) -> None:
        """Check one batch, count it and, while the import may still write, write it."""
        ctx = self.ctx
        if len(ctx.unit_ids) > UNITS_KEPT:
            ctx.forget_units()
        load_units(ctx, batch)
        known = set(ctx.period_ids.values())
        load_periods(ctx, {r.period for r in batch} - ctx.period_ids.keys())
        load_locks(ctx, set(ctx.period_ids.values()) - known)
        checked = check_rows(ctx, batch, self.strategy, self.progress, self.rows)
        _refuse_repeats(checked, seen.add(checked.rows.items()), batch)
        self.rows += len(batch)
        self.conflicts += checked.conflicts
        if self.conflicts and not self.valid_only:
            self.writing = False
            return  # nothing will be written: counting the rest is not needed
        stored = stored_values(ctx.conn, [*checked.writes, *checked.deletes])
        plan = plan_changes(checked, stored, self.strategy)
        self.imported, self.updated = self.imported + len(plan.creates), self.updated + len(plan.updates)
        self.deleted, self.ignored = self.deleted + len(plan.deletes), self.ignored + plan.ignored
        if self.writing and (plan.creates or plan.updates or plan.deletes):
            self._write(plan)

    def _write(self, plan: Plan) -> None:
        conn = self.ctx.conn
        if self.import_id is None:
            self.import_id = inserted_id(conn.execute(insert(store.data_imports).values(
                at=_now(), actor=self.ctx.principal.username, source=self.source, file_digest=None,
                changes_digest="", summary={})))
        fix_period_ids(conn, plan, self.ctx)
        write_plan(conn, plan=plan, import_id=self.import_id, synthetic=self.synthetic,
                   history_of_creates=False)
        if self.in_order:  # each batch's changes after the last one's: the digest is built as it goes
            lines = change_lines(plan)
            if lines and self.last is not None and lines[0][0] <= self.last:
                self.in_order = False  # finish reads the digest back from the history
            elif lines:
                feed_digest(self.digest, lines, first=self.last is None)
                self.last = lines[-1][0]

    def finish(self, summary: ImportSummary, file_digest: str | None) -> None:
        """The history of the values created, the digest of every change, and the audit entry."""
        conn, import_id = self.ctx.conn, self.import_id
        assert import_id is not None
        copy_created_history(conn, import_id, check=self.updated > 0)
        digest = self.digest.hexdigest() if self.in_order else history_digest(conn, import_id)
        counts = summary.as_dict(max_conflicts=20)
        conn.execute(update(store.data_imports).where(store.data_imports.c.id == import_id).values(
            file_digest=file_digest, changes_digest=digest, summary=counts))
        _audit(conn, self.ctx.principal, import_id, self.source, file_digest, digest, counts)


def _refuse_repeats(checked: Checked, repeated: dict[Key, int], batch: Sequence[ValueRow]) -> None:
    """Refuse the values of ``checked`` whose key an earlier batch held (``repeated``: its row)."""
    if not repeated:
        return
    by_row = {row.row: row for row in batch}
    moved = {checked.rows[key]: first for key, first in repeated.items()}  # a repeat in this batch names it
    checked.conflicts = [_first_of(c, moved) for c in checked.conflicts]
    for key, first in repeated.items():
        row = by_row[checked.rows.pop(key)]
        checked.writes.pop(key, None)
        checked.deletes.pop(key, None)
        checked.conflicts.append(ImportConflict(
            row.row, "dataValue", row.data_element,
            M_("the same value appears again (first in row {first})", first=first)))
    checked.conflicts.sort(key=_row_of)


def _first_of(conflict: ImportConflict, moved: dict[int, int]) -> ImportConflict:
    """A repeat of a row that itself repeats an earlier batch's row names that row, as in one batch."""
    first = getattr(conflict.reason, "values", {}).get("first")
    if conflict.field != "dataValue" or first not in moved:
        return conflict
    return dataclasses.replace(conflict, reason=M_("the same value appears again (first in row {first})",
                                                   first=moved[first]))


def _row_of(conflict: ImportConflict) -> int:
    return conflict.row


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
    fix_period_ids(conn, plan, ctx)
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
    _audit(conn, principal, import_id, source, file_digest, digest, counts)


def _audit(conn: Connection, principal: Principal, import_id: int, source: str, file_digest: str | None,
           digest: str, counts: dict[str, Any]) -> None:
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
            "digest_version": DIGEST_VERSION,  # what audit_checks recomputes from the history
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
        raise ValidationError(M_("The value was not saved: {reason}.",
                                 reason=conflict.reason), [conflict.as_problem()])
    return summary


def _keep_value(conn: Connection, row: ValueRow) -> ValueRow:
    """A comment or flag without a value keeps the stored value (there must be one)."""
    stored = read_cell(conn, row=row)
    if stored is None:
        raise ValidationError(
            N_("A comment or follow-up flag needs a value first."),
            [
                Problem(
                    N_("no value to comment on"), field="value", value=row.value,
                    expected=N_("enter the value first")
                )
            ],
        )
    return dataclasses.replace(row, value=stored.value)


def delete_value(
    conn: Connection,
    *,
    principal: Principal,
    data_element: str,
    period: str,
    org_unit: str,
    category_option_combo: str | None = None,
) -> ImportSummary:
    """Delete one cell; raises with the reason if refused."""
    row = ValueRow(
        data_element=data_element,
        period=period,
        org_unit=org_unit,
        category_option_combo=category_option_combo,
        row=1,
    )
    summary = import_values(
        conn, principal=principal, source="form", strategy=ImportStrategy.DELETE, rows=[row]
    )
    if summary.conflicts:
        conflict = summary.conflicts[0]
        raise ValidationError(M_("The value was not deleted: {reason}.", reason=conflict.reason),
                              [conflict.as_problem()])
    return summary


def violations_after_save(
    conn: Connection, *, principal: Principal, data_element: str, period: str, org_unit: str
) -> list[quality.Violation]:
    """Rules run on save: the problems of every form (data set) a saved cell belongs to."""
    catalog = load_catalog(conn)
    element = catalog.element(data_element)
    the_period = pe.parse(period)
    unit_id = registry.id_of(conn, org_unit) or 0
    types = {v.type for v in registry.versions_of(conn, [unit_id])[unit_id]}
    found: list[quality.Violation] = []
    for ds in catalog.data_sets_with(element.id) if element else []:
        if ds.period_type == the_period.type.value and (ds.unit_types & types or unit_id in ds.unit_ids):
            found += quality.check_form(conn, principal=principal, data_set=ds.code, period=period,
                                        unit=org_unit)
    return found


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _period_context(conn: Connection, principal: Principal, period: pe.Period) -> Context:
    """A context for one period, with its stored id and the approvals and exceptions in it."""
    ctx = Context(conn, principal, load_catalog(conn), check_expiry=True)
    ctx.periods[period.id] = period
    load_periods(ctx, [period.id])
    load_locks(ctx)
    return ctx


def form_lock(
    conn: Connection, *, principal: Principal, data_set: DataSet, period: pe.Period, where: registry.Unit
) -> str | None:
    """Why values of a form cannot change now (approval or expiry), exactly as imports decide."""
    return lock_reason(_period_context(conn, principal, period), data_set, period, where)


@dataclass(frozen=True)
class FormState:
    """Whether a form may be entered now, and if not, why."""

    editable: bool
    reason: str | None


def form_state(
    conn: Connection, *, principal: Principal, data_set: DataSet, period: pe.Period, unit_id: int
) -> FormState:
    """Whether the principal may enter this form now, and if not, why (scope, assignment, lock)."""
    ctx = _period_context(conn, principal, period)
    where = registry.unit_in_period(conn, unit_id, period.start, period.end)
    if where is None:
        return FormState(False, M_("the unit was not open during {period}", period=period.id))
    if not principal.may(Action.DATA_CAPTURE):
        return FormState(False, M_("your role may not enter data"))
    if not in_scope(ctx, where.path, min(period.end, max(today(), period.start))):
        return FormState(False, M_("the unit is outside your capture scope"))
    if not (where.type in data_set.unit_types or unit_id in data_set.unit_ids):
        return FormState(False, M_("data set {data_set} is not collected from this unit",
                                   data_set=data_set.code))
    reason = lock_reason(ctx, data_set, period, where)
    return FormState(reason is None, reason)


@dataclass(frozen=True)
class EntryForm:
    """One unit's form for a data set and period, opened for the entry page."""

    catalog: Catalog
    data_set: DataSet
    period: pe.Period
    unit: str
    unit_id: int
    values: dict[tuple[str, str | None], ValueRow]
    state: FormState
    due: dt.date
    synthetic: bool


def open_form(conn: Connection, *, principal: Principal, data_set: str, period: str, unit: str) -> EntryForm:
    """The form's stored values and whether the principal may enter it; the unit must be visible."""
    catalog = load_catalog(conn)
    ds = catalog.data_set(data_set)
    problems = form_problems(ds, data_set, period, ds_field="ds", period_field="pe")
    unit_id = registry.id_of(conn, unit)
    if unit_id is None:
        problems.append(Problem("unknown unit", field="ou", value=unit, expected=N_("a unit code")))
    if problems or ds is None or unit_id is None:
        raise ValidationError(N_("The form cannot be opened."), problems)
    the_period = pe.parse(period)
    require_unit(conn, principal, Action.VIEW, unit_id, the_period.end, unit)
    return EntryForm(
        catalog=catalog,
        data_set=ds,
        period=the_period,
        unit=unit,
        unit_id=unit_id,
        values=form_values(conn, principal=principal, data_set=ds.code, period=period, unit=unit),
        state=form_state(conn, principal=principal, data_set=ds, period=the_period, unit_id=unit_id),
        due=pe.days_after_end(the_period, ds.due_days),
        synthetic=any_synthetic(conn, the_period.id, unit_id),
    )
