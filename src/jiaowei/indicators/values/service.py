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
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, insert

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit
from jiaowei.db.engine import inserted_id
from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.metadata.catalog import Catalog, DataSet, load_catalog
from jiaowei.indicators.model import ImportStrategy, ImportSummary, ValueRow
from jiaowei.indicators.quality import queries as quality
from jiaowei.indicators.values.checking import (
    Context,
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
from jiaowei.indicators.values.writing import (
    DIGEST_VERSION,
    Plan,
    changes_digest,
    fix_period_ids,
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
    load_units(ctx, rows)
    load_periods(ctx, {r.period for r in rows})
    load_locks(ctx)
    checked = check_rows(ctx, rows, strategy, progress)
    summary = ImportSummary(conflicts=checked.conflicts, dry_run=dry_run, valid_only=valid_only)
    plan = plan_changes(checked, stored_values(conn, [*checked.writes, *checked.deletes]))
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
