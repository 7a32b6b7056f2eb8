"""Complete data set registrations, and the completeness and timeliness report built on them.

A unit registers a data set *complete* for a period when its form is filled in (DHIS2's
complete data set registration). The report counts, for each period and for a unit and each
of its direct children (every row over its whole subtree, on the registry as it stood on the
period's last day): the reports *expected* (units that report the data set and were open
then), those *received* and those received *on time* (on or before the period's end plus the
data set's due days, DHIS2's timely days; 0 due days: on the period's last day), with the
percentages (DHIS2's reporting rate and reporting rate on time).

A report is *received* when the unit registered it complete, or when the unit has values of
the data set's elements for the period (forms sent as files or cell by cell are seldom
registered: a daily form never is). It arrived when it was registered, else when the earliest
import that wrote one of its values was made (``data_values.import_id`` → ``data_imports.at``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from jiaowei import clock
from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit
from jiaowei.db.memo import per_transaction
from jiaowei.domains import N_
from jiaowei.errors import M_, Conflict, JiaoweiError, NotFound, PermissionDenied, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.approval.model import CompletenessRow
from jiaowei.indicators.approval.queries import (
    Target,
    current_lock,
    data_set_of,
    period_id,
    period_of,
    require_open,
    resolve,
)
from jiaowei.indicators.metadata.catalog import DataSet
from jiaowei.indicators.values import service as values
from jiaowei.registry import queries as registry
from jiaowei.registry.model import path_ids

MAX_PERIODS = 120
MAX_ROWS = 10_000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _local_day(at: dt.datetime) -> dt.date:
    """The day a registration was made on, in the commission's time zone (the one ``clock.today`` uses);
    a naive time (SQLite gives them back so) is UTC."""
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(clock.zone()).date()


# ---------------------------------------------------------------- registrations


def _writable(conn: Connection, principal: Principal, data_set: str, period: str, unit: str) -> Target:
    """The target of a registration: in capture scope, reporting the data set, and not locked."""
    require_action(principal, Action.DATA_CAPTURE)
    target = resolve(
        conn, principal=principal, action=Action.DATA_CAPTURE, data_set=data_set, period=period, unit=unit
    )
    where = require_open(target)
    if not target.assigned:
        raise ValidationError(
            M_("Unit {unit} (type {type}) does not report data set {data_set}.",
               unit=unit, type=where.type, data_set=target.ds.code),
            [
                Problem(
                    N_("the data set is not assigned to the unit"),
                    field="orgUnit",
                    value=unit,
                    expected=N_("a unit that reports the data set"),
                )
            ],
        )
    if reason := current_lock(conn, principal, target):
        raise Conflict(
            M_("The registration cannot change: {reason}.",
               reason=reason), [Problem(reason, field="period", value=period)]
        )
    return target


def _row(conn: Connection, target: Target, pid: int | None) -> Any:
    if pid is None:
        return None
    c = store.completions
    return conn.execute(
        select(c).where(c.c.data_set_id == target.ds.id, c.c.period_id == pid, c.c.unit_id == target.unit_id)
    ).first()


def _shown(target: Target, row: Any) -> dict[str, Any]:
    """A registration in DHIS2's shape (completeDataSetRegistrations), passed through as is: a dict."""
    due = pe.days_after_end(target.period, target.ds.due_days)
    return {
        "dataSet": target.ds.code,
        "period": target.period.id,
        "organisationUnit": target.code,
        "attributeOptionCombo": "default",
        "completed": row is not None,
        "date": row.completed_at.isoformat() if row is not None else None,
        "storedBy": row.completed_by if row is not None else None,
        "due": due.isoformat(),
        "onTime": row is not None and _local_day(row.completed_at) <= due,
    }


def complete(
    conn: Connection,
    *,
    principal: Principal,
    data_set: str,
    period: str,
    unit: str,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Register the data set complete for the period at the unit (again: nothing changes);
    the registration in DHIS2's shape, so a dict.

    ``at`` back-dates the registration (loading past registrations); administrators only.
    """
    if at is not None and not principal.unlimited:
        raise PermissionDenied(N_("Only an administrator may give a registration another date than now."))
    target = _writable(conn, principal, data_set, period, unit)
    pid = values.ensure_periods(conn, [target.period.id])[target.period.id]
    found = _row(conn, target, pid)
    if found is not None:
        return _shown(target, found)
    when = at or _now()
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    conn.execute(
        insert(store.completions).values(
            data_set_id=target.ds.id,
            period_id=pid,
            unit_id=target.unit_id,
            completed_by=principal.username,
            completed_at=when,
        )
    )
    shown = _shown(target, _row(conn, target, pid))
    audit.record(
        conn,
        actor=principal.username,
        action="data.complete",
        entity="completion",
        entity_key=target.key,
        after=shown,
    )
    return shown


def uncomplete(conn: Connection, *, principal: Principal, data_set: str, period: str, unit: str) -> bool:
    """Withdraw the registration; False if there was none."""
    target = _writable(conn, principal, data_set, period, unit)
    pid = period_id(conn, target.period.id)
    found = _row(conn, target, pid)
    if found is None:
        return False
    c = store.completions
    conn.execute(
        delete(c).where(c.c.data_set_id == target.ds.id, c.c.period_id == pid, c.c.unit_id == target.unit_id)
    )
    audit.record(
        conn,
        actor=principal.username,
        action="data.uncomplete",
        entity="completion",
        entity_key=target.key,
        before=_shown(target, found),
    )
    return True


def completion_of(
    conn: Connection, *, principal: Principal, data_set: str, period: str, unit: str
) -> dict[str, Any]:
    """The registration of the data set for the period at the unit (``completed`` False if none),
    in DHIS2's shape, so a dict."""
    target = resolve(
        conn, principal=principal, action=Action.VIEW, data_set=data_set, period=period, unit=unit
    )
    return _shown(target, _row(conn, target, period_id(conn, target.period.id)))


def register_all(
    conn: Connection, *, principal: Principal, items: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Complete (or with ``completed`` false, uncomplete) each item; DHIS2's import summary (a dict).

    Each item is applied on its own: one refused item is a conflict, the others still count.
    """
    counts = {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0}
    conflicts = []
    for i, item in enumerate(items):
        names = {
            k: str(item.get(f) or "")
            for k, f in (("data_set", "dataSet"), ("period", "period"), ("unit", "organisationUnit"))
        }
        try:
            with conn.begin_nested():
                counts[_register_one(conn, principal, names, item.get("completed", True) is not False)] += 1
        except JiaoweiError as error:
            counts["ignored"] += 1
            conflicts.append(
                {
                    "object": names["unit"],
                    "value": str(error.detail or error.title),
                    "indexes": [i],
                    "property": (error.problems[0].field if error.problems else None) or "",
                    "errorCode": error.code,
                }
            )
    status = "SUCCESS" if not conflicts else "WARNING" if counts["imported"] + counts["deleted"] else "ERROR"
    return {"responseType": "ImportSummary", "status": status, "importCount": counts, "conflicts": conflicts}


def _register_one(conn: Connection, principal: Principal, names: dict[str, str], completed: bool) -> str:
    if completed:
        ds, period, unit = names["data_set"], names["period"], names["unit"]
        before = completion_of(conn, principal=principal, data_set=ds, period=period, unit=unit)
        complete(conn, principal=principal, data_set=ds, period=period, unit=unit)
        return "ignored" if before["completed"] else "imported"
    return "deleted" if uncomplete(conn, principal=principal, **names) else "ignored"


def registrations(
    conn: Connection,
    *,
    principal: Principal,
    data_set: str,
    periods: Sequence[str],
    unit: str,
    children: bool = False,
) -> list[dict[str, Any]]:
    """Registrations of the data set for the periods at the unit (and, with ``children``, below it),
    in DHIS2's shape, so dicts."""
    ds = data_set_of(conn, data_set)
    out = []
    for p in _periods(ds, periods):
        root = _root(conn, principal, ds, p, unit)
        units = _tree(conn, p, root.path) if children else [root]
        done = _completed(conn, ds, period_id(conn, p.id), [u.id for u in units])
        for u in sorted(units, key=lambda u: u.code):
            if u.id in done:
                target = Target(ds, p, u.id, u.code, None)
                out.append(_shown(target, done[u.id]))
    return out


# ---------------------------------------------------------------- the report


def _periods(ds: DataSet, periods: Sequence[str]) -> list[pe.Period]:
    if not periods or len(periods) > MAX_PERIODS:
        raise ValidationError(
            N_("Name the periods of the report."),
            [
                Problem(
                    N_("name 1 to 120 periods"),
                    field="period",
                    value=len(periods),
                    expected=M_("1 to {most} period identifiers", most=MAX_PERIODS),
                )
            ],
        )
    return sorted({period_of(ds, p) for p in periods})


def _root(conn: Connection, principal: Principal, ds: DataSet, p: pe.Period, unit: str) -> registry.Unit:
    """The unit as it stood on the period's last day; it must be visible to the principal."""
    unit_id = registry.id_of(conn, unit)
    if unit_id is None:
        raise NotFound(M_("No unit with code {code!r}.", code=unit))
    require_unit(conn, principal, Action.VIEW, unit_id, p.end, unit)
    found = registry.unit_on(conn, unit_id, p.end)
    if found is None:
        raise ValidationError(
            M_("Unit {unit} was not open on {day}, the last day of {period}.",
               unit=unit, day=p.end.isoformat(), period=p.id),
            [
                Problem(
                    N_("the unit was not open at the end of the period"),
                    field="orgUnit",
                    value=unit,
                    expected=N_("a unit open on the period's last day"),
                )
            ],
        )
    return found


def _tree(conn: Connection, p: pe.Period, path: str, reporting: DataSet | None = None) -> list[Any]:
    """The subtree on the period's last day (with ``reporting``, only the units that report it), read
    once per transaction: a district's home page asks for the same subtree for each data set, each a
    round trip on PostgreSQL (issue 17); a read-only request finds it in the registry the process keeps
    (decision 0022)."""
    whole = per_transaction(conn, f"approval.tree:{path}@{p.end.isoformat()}",
                            lambda: tuple(registry.units_under(conn, p.end, [path])))
    if reporting is None:
        return list(whole)
    return [u for u in whole if u.type in reporting.unit_types or u.id in reporting.unit_ids]


def _completed(conn: Connection, ds: DataSet, pid: int | None, unit_ids: list[int]) -> dict[int, Any]:
    if pid is None:
        return {}
    c = store.completions
    found: dict[int, Any] = {}
    for start in range(0, len(unit_ids), 500):
        chunk = unit_ids[start : start + 500]
        for r in conn.execute(
            select(c).where(c.c.data_set_id == ds.id, c.c.period_id == pid, c.c.unit_id.in_(chunk))
        ):
            found[r.unit_id] = r
    return found


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def completeness(
    conn: Connection,
    *,
    principal: Principal,
    data_set: str,
    periods: list[str],
    unit: str,
    children: bool = True,
) -> list[CompletenessRow]:
    """Expected, received and on-time reports per period for the unit and each direct child."""
    ds = data_set_of(conn, data_set)
    rows: list[CompletenessRow] = []
    for p in _periods(ds, periods):
        rows += _period_rows(conn, principal, ds, p, unit, children)
    return rows


@dataclass(frozen=True)
class Reports:
    """The reports of a data set for a period over a unit's subtree, on the registry as it stood
    on the period's last day: the units expected to report, and when each report arrived."""

    period: pe.Period
    root: Any
    tree: list[Any]
    expected: list[Any]
    arrived: dict[int, dt.datetime]
    due: dt.date

    def on_time(self, unit_id: int) -> bool:
        at = self.arrived.get(unit_id)
        return at is not None and _local_day(at) <= self.due


def reports(
    conn: Connection, *, principal: Principal, data_set: str, period: str, unit: str, tree: bool = True
) -> Reports:
    """The expected and received reports of the data set for the period below the unit (in view);
    without ``tree``, only the expected units are read (``Reports.tree`` is empty)."""
    ds = data_set_of(conn, data_set)
    return _reports(conn, principal, ds, period_of(ds, period), unit, tree)


def _reports(
    conn: Connection, principal: Principal, ds: DataSet, p: pe.Period, unit: str, whole: bool = True
) -> Reports:
    root = _root(conn, principal, ds, p, unit)
    tree = _tree(conn, p, root.path) if whole else []
    if whole:
        expected = [u for u in tree if u.type in ds.unit_types or u.id in ds.unit_ids]
    else:
        expected = _tree(conn, p, root.path, ds)
    arrived = _arrived(conn, ds, period_id(conn, p.id), [u.id for u in expected])
    return Reports(p, root, tree, expected, arrived, pe.days_after_end(p, ds.due_days))


def arrivals(conn: Connection, ds: DataSet, period: str, unit_ids: list[int]) -> dict[int, dt.datetime]:
    """When the report of each of these units arrived (units without a report are left out)."""
    return _arrived(conn, ds, period_id(conn, period), unit_ids)


def _arrived(conn: Connection, ds: DataSet, pid: int | None, unit_ids: list[int]) -> dict[int, dt.datetime]:
    """When each unit's report arrived: its registration, else the first import of its values."""
    registered = {u: r.completed_at for u, r in _completed(conn, ds, pid, unit_ids).items()}
    by_values = _first_values(conn, ds, pid, [u for u in unit_ids if u not in registered])
    return {**by_values, **registered}


def _first_values(
    conn: Connection, ds: DataSet, pid: int | None, unit_ids: list[int]
) -> dict[int, dt.datetime]:
    """Units with values of the data set's elements in the period, and the earliest import among them."""
    if pid is None or not ds.element_ids:
        return {}
    dv, di = store.data_values, store.data_imports
    found: dict[int, dt.datetime] = {}
    for start in range(0, len(unit_ids), 500):
        query = (
            select(dv.c.unit_id, func.min(di.c.at))
            .join(di, di.c.id == dv.c.import_id)
            .where(
                dv.c.period_id == pid,
                dv.c.unit_id.in_(unit_ids[start : start + 500]),
                dv.c.data_element_id.in_(list(ds.element_ids)),
            )
            .group_by(dv.c.unit_id)
        )
        found.update({unit_id: at for unit_id, at in conn.execute(query)})
    return found


def _period_rows(
    conn: Connection, principal: Principal, ds: DataSet, p: pe.Period, unit: str, children: bool
) -> list[CompletenessRow]:
    found = _reports(conn, principal, ds, p, unit)
    root = found.root
    shown = [root] + (
        sorted((u for u in found.tree if u.parent_id == root.id), key=lambda u: u.code) if children else []
    )
    counts = {u.id: [0, 0, 0] for u in shown}
    depth = len(path_ids(root.path))
    for u in found.expected:
        chain = path_ids(u.path)
        groups = [root.id] + ([chain[depth]] if len(chain) > depth and chain[depth] in counts else [])
        for group in groups:
            tally = counts[group]
            tally[0] += 1
            if u.id in found.arrived:
                tally[1] += 1
                tally[2] += found.on_time(u.id)
    return [_report_row(p, u, counts[u.id], found.due, u.id == root.id) for u in shown]


def _report_row(p: pe.Period, u: Any, tally: list[int], due: dt.date, is_root: bool) -> CompletenessRow:
    expected, received, on_time = tally
    return CompletenessRow(
        period=p.id,
        unit=u.code,
        name_zh=u.name_zh,
        name_en=u.name_en,
        parent=is_root,
        due=due.isoformat(),
        expected=expected,
        received=received,
        on_time=on_time,
        received_percent=_percent(received, expected),
        on_time_percent=_percent(on_time, expected),
    )
