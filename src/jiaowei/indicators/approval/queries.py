"""Reads of approvals and period locks: where a unit's data stands, its children, locks, exceptions.

A request names a data set, a period and a unit; ``resolve`` turns the names into a ``Target``
and checks the principal may see the unit. Approval states and lock states are read here; the
writes that change them (approve, unapprove, grant and revoke exceptions) are in ``service``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, select

from jiaowei import clock
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import in_scope, require_action, require_unit, scope_paths
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.approval.model import (
    ApprovalEvent,
    ApprovalStatus,
    ChildApproval,
    LockException,
    LockState,
)
from jiaowei.indicators.metadata.catalog import DataSet, load_catalog
from jiaowei.indicators.values import service as values
from jiaowei.indicators.values.checking import stored_periods
from jiaowei.registry import queries as registry
from jiaowei.registry.model import path_ids


def _today() -> dt.date:
    return clock.today()


# ---------------------------------------------------------------- what a request names


@dataclass(frozen=True)
class Target:
    """A data set, period and unit named by a request, resolved; ``where`` None: not open then."""

    ds: DataSet
    period: pe.Period
    unit_id: int
    code: str
    where: registry.Unit | None

    @property
    def day(self) -> dt.date:
        """The day scopes are read on: today, kept inside the period (as imports do)."""
        return min(self.period.end, max(_today(), self.period.start))

    @property
    def key(self) -> str:
        return f"{self.ds.code}/{self.period.id}/{self.code}"

    @property
    def assigned(self) -> bool:
        """Whether the unit reports the data set (its type, or named in the data set)."""
        w = self.where
        return w is not None and (w.type in self.ds.unit_types or w.id in self.ds.unit_ids)


def data_set_of(conn: Connection, code: str) -> DataSet:
    ds = load_catalog(conn).data_set(code)
    if ds is None:
        raise NotFound(
            M_("No data set with code {code!r}.", code=code),
            [Problem(N_("unknown data set"), field="dataSet", value=code,
                     expected=N_("the code of a data set"))],
        )
    return ds


def period_of(ds: DataSet, text: str) -> pe.Period:
    """The period ``text`` names, which must be of the data set's period type."""
    if not pe.is_valid(text):
        raise ValidationError(
            M_("{text!r} is not a period.", text=text),
            [Problem("not a period identifier", field="period", value=text,
                     expected=N_("e.g. 2020 or 202011"))],
        )
    period = pe.parse(text)
    if period.type.value != ds.period_type:
        raise ValidationError(
            M_("Data set {data_set} is reported per {period_type} period, not per {asked}.",
               data_set=ds.code, period_type=ds.period_type, asked=period.type.value),
            [Problem(N_("wrong period type"), field="period", value=text,
                     expected=M_("a {period_type} period",
                                                                                  period_type=ds.period_type))],
        )
    return period


def resolve(
    conn: Connection, *, principal: Principal, action: Action, data_set: str, period: str, unit: str
) -> Target:
    """Resolve the names; the unit must be visible (else NotFound) and in scope for ``action``."""
    ds = data_set_of(conn, data_set)
    p = period_of(ds, period)
    unit_id = registry.id_of(conn, unit)
    if unit_id is None:
        raise NotFound(M_("No unit with code {code!r}.", code=unit))
    target = Target(ds, p, unit_id, unit, None)
    require_unit(conn, principal, action, unit_id, target.day, unit)
    return Target(ds, p, unit_id, unit, registry.unit_in_period(conn, unit_id, p.start, p.end))


def require_open(target: Target) -> registry.Unit:
    if target.where is None:
        raise ValidationError(
            M_("Unit {unit} was not open during {period}.", unit=target.code, period=target.period.id),
            [
                Problem(
                    N_("the unit was not open during the period"),
                    field="orgUnit",
                    value=target.code,
                    expected=N_("a unit open during the period"),
                )
            ],
        )
    return target.where


def period_id(conn: Connection, code: str) -> int | None:
    """The period's id (None: no value names it yet), read once per transaction with the data entry
    form's own read (:func:`jiaowei.indicators.values.checking.stored_periods`): a page asks for the
    same period for each data set (a district's home page), each a round trip on PostgreSQL (issue 17)."""
    found = stored_periods(conn, [code])
    return found[0][0] if found else None


def current_lock(conn: Connection, principal: Principal, target: Target) -> str | None:
    """Why values of the target cannot change now (approval or expiry), exactly as imports decide."""
    where = require_open(target)
    return values.form_lock(conn, principal=principal, data_set=target.ds, period=target.period, where=where)


# ---------------------------------------------------------------- approvals


def _approval(conn: Connection, ds_id: int, pid: int | None, unit_ids: list[int] | Any) -> list[Any]:
    """Approvals of the units: a few ids, or a select of ids (:func:`_subtree_ids`)."""
    if pid is None or unit_ids is None or (isinstance(unit_ids, list) and not unit_ids):
        return []
    a, units = store.approvals, registry.unit_codes()
    return list(
        conn.execute(
            select(a, units.c.code)
            .join(units, units.c.id == a.c.unit_id)
            .where(a.c.data_set_id == ds_id, a.c.period_id == pid, a.c.unit_id.in_(unit_ids))
        )
    )


def here_and_above(conn: Connection, target: Target, pid: int | None) -> tuple[Any, Any]:
    """The approval of the unit itself, and the highest approval of an ancestor (or None)."""
    if target.where is None:
        here = _approval(conn, target.ds.id, pid, [target.unit_id])
        return (here[0] if here else None), None
    chain = path_ids(target.where.path)
    found = {r.unit_id: r for r in _approval(conn, target.ds.id, pid, chain)}
    above = next((found[u] for u in chain[:-1] if u in found), None)
    return found.get(target.unit_id), above


def may_approve_here(conn: Connection, principal: Principal, target: Target) -> bool:
    """Whether a strict ancestor of the unit is in the principal's approval scope."""
    if not principal.may(Action.DATA_APPROVE) or target.where is None:
        return False
    if principal.unlimited:
        return True
    path = target.where.path
    return any(
        path.startswith(p) and path != p
        for p in scope_paths(conn, principal, Action.DATA_APPROVE, target.day)
    )


def _subtree(conn: Connection, target: Target) -> list[Any]:
    """Units in the unit's subtree on the period's last day (from the registry the process keeps, in a
    read-only request: decision 0022)."""
    if target.where is None:
        return []
    return list(registry.units_under(conn, target.period.end, [target.where.path]))


def _subtree_ids(target: Target) -> Any:
    """A select of the ids of the units in the unit's subtree on the period's last day (as :func:`_subtree`):
    approvals and completions are read with it as a subquery, not with thousands of ids as parameters."""
    if target.where is None:
        return None
    day = target.period.end
    return registry.unit_ids_on_select(day).where(registry.in_paths([target.where.path]))


def _reported(conn: Connection, ds_id: int, pid: int | None, subtree: Any) -> set[int]:
    if pid is None or subtree is None:
        return set()
    c = store.completions
    return set(conn.scalars(
        select(c.c.unit_id).where(c.c.data_set_id == ds_id, c.c.period_id == pid, c.c.unit_id.in_(subtree))
    ))


@dataclass
class Below:
    """The unit's subtree on the period's last day, with who reported and who is approved in it."""

    tree: list[Any]
    reported: set[int]
    approved: dict[int, Any]

    def waiting(self, top: Any) -> list[str]:
        """Units below ``top`` that reported and are approved neither themselves nor between."""
        found = []
        for u in self.tree:
            if u.id == top.id or u.id not in self.reported or not u.path.startswith(top.path):
                continue
            chain = path_ids(u.path)
            between = chain[chain.index(top.id) + 1 :]
            if not self.approved.keys() & set(between):
                found.append(u.code)
        return sorted(found)

    def covers(self, top: Any, ds: DataSet) -> bool:
        """Whether ``top`` or a unit below it reports the data set."""
        return any(
            u.path.startswith(top.path) and (u.type in ds.unit_types or u.id in ds.unit_ids)
            for u in self.tree
        )


def _below(conn: Connection, target: Target, pid: int | None) -> Below:
    tree = _subtree(conn, target)
    if not tree:
        return Below(tree, set(), {})
    subtree = _subtree_ids(target)
    approved = {r.unit_id: r for r in _approval(conn, target.ds.id, pid, subtree)}
    return Below(tree, _reported(conn, target.ds.id, pid, subtree), approved)


def _top(below: Below, target: Target) -> Any:
    return next((u for u in below.tree if u.id == target.unit_id), None)


def waiting_below(conn: Connection, target: Target, pid: int | None) -> list[str]:
    """Codes of units below the target that reported but are not approved, by themselves or between."""
    below = _below(conn, target, pid)
    top = _top(below, target)
    return below.waiting(top) if top is not None else []


def covers(conn: Connection, target: Target) -> bool:
    """Whether the unit or a unit below it reports the data set."""
    below = _below(conn, target, None)
    top = _top(below, target)
    return top is not None and below.covers(top, target.ds)


def children_status(
    conn: Connection, *, principal: Principal, data_set: str, period: str, unit: str
) -> list[ChildApproval]:
    """The approval state of each direct child of the unit, and what the principal may do there."""
    target = resolve(
        conn, principal=principal, action=Action.VIEW, data_set=data_set, period=period, unit=unit
    )
    pid = period_id(conn, target.period.id)
    below = _below(conn, target, pid)
    here, above = here_and_above(conn, target, pid)
    held_above = here is not None or above is not None
    may = principal.may(Action.DATA_APPROVE)
    paths = [] if principal.unlimited else scope_paths(conn, principal, Action.DATA_APPROVE, target.day)
    out = []
    for child in (u for u in below.tree if u.parent_id == target.unit_id):
        mine = may and (
            principal.unlimited or any(child.path.startswith(p) and child.path != p for p in paths)
        )
        approved = below.approved.get(child.id)
        state = "approved" if approved is not None else "approved_above" if held_above else "unapproved"
        waiting = below.waiting(child) if state == "unapproved" else []
        out.append(
            ChildApproval(
                unit=child.code,
                name_zh=child.name_zh,
                name_en=child.name_en,
                state=state,
                reported=child.id in below.reported,
                approved_by=approved.approved_by if approved is not None else None,
                approved_at=approved.approved_at.isoformat() if approved is not None else None,
                waiting=waiting,
                may_approve=mine and state == "unapproved" and not waiting and below.covers(child, target.ds),
                may_unapprove=mine and state == "approved" and not held_above,
            )
        )
    return sorted(out, key=lambda c: c.unit)


def _history(conn: Connection, target: Target, pid: int | None) -> list[ApprovalEvent]:
    if pid is None:
        return []
    e = store.approval_events
    rows = conn.execute(
        select(e)
        .where(e.c.data_set_id == target.ds.id, e.c.period_id == pid, e.c.unit_id == target.unit_id)
        .order_by(e.c.id.desc())
    )
    return [ApprovalEvent(r.action, r.reason, r.actor, r.at.isoformat()) for r in rows]


def approval_status(
    conn: Connection, *, principal: Principal, data_set: str, period: str, unit: str
) -> ApprovalStatus:
    """Where the unit's data stands: state, who approved it and when, what the principal may do."""
    target = resolve(
        conn, principal=principal, action=Action.VIEW, data_set=data_set, period=period, unit=unit
    )
    pid = period_id(conn, target.period.id)
    here, above = here_and_above(conn, target, pid)
    approval = here or above
    state = "approved" if here is not None else "approved_above" if above is not None else "unapproved"
    waiting = waiting_below(conn, target, pid) if state == "unapproved" else []
    may = may_approve_here(conn, principal, target)
    return ApprovalStatus(
        data_set=target.ds.code,
        period=target.period.id,
        unit=target.code,
        state=state,
        approved_unit=approval.code if approval is not None else None,
        approved_by=approval.approved_by if approval is not None else None,
        approved_at=approval.approved_at.isoformat() if approval is not None else None,
        approved_above=above.code if above is not None else None,
        waiting=waiting,
        may_approve=may and state == "unapproved" and not waiting and covers(conn, target),
        may_unapprove=may and state == "approved" and above is None,
        lock=lock_state(conn, data_set=data_set, period=period, unit=unit),
        history=_history(conn, target, pid),
    )


# ---------------------------------------------------------------- period locks and exceptions


def lock_state(
    conn: Connection, *, data_set: str, period: str, unit: str, today: dt.date | None = None
) -> LockState:
    """The period lock of the data set at the unit on ``today``: ``open`` (never closes), ``closes``
    (on ``closes``), ``locked`` (since ``locked_since``) or ``exception`` (open until ``until``)."""
    day = today or _today()
    ds = data_set_of(conn, data_set)
    p = period_of(ds, period)
    unit_id = registry.id_of(conn, unit)
    if unit_id is None:
        raise NotFound(M_("No unit with code {code!r}.", code=unit))
    if ds.expiry_days <= 0:
        return LockState("open", ds.expiry_days)
    closes = pe.days_after_end(p, ds.expiry_days)
    shut = LockState("closes", ds.expiry_days, closes=closes.isoformat())
    if day <= closes:
        return shut
    granted = exception_of(conn, ds.id, period_id(conn, p.id), unit_id)
    if granted is not None and granted.until >= day:
        return replace(shut, state="exception", until=granted.until.isoformat(), reason=granted.reason)
    return replace(shut, state="locked", locked_since=(closes + dt.timedelta(days=1)).isoformat())


def exception_of(conn: Connection, ds_id: int, pid: int | None, unit_id: int) -> Any:
    if pid is None:
        return None
    x = store.lock_exceptions
    return conn.execute(
        select(x).where(x.c.data_set_id == ds_id, x.c.period_id == pid, x.c.unit_id == unit_id)
    ).first()


def list_exceptions(
    conn: Connection, *, principal: Principal, data_set: str | None = None, period: str | None = None
) -> list[LockException]:
    """Lock exceptions for units the principal may see, optionally of one data set and period."""
    require_action(principal, Action.VIEW)
    x, p, u, d = store.lock_exceptions, store.periods, registry.unit_codes(), store.data_sets
    query = (
        select(x, p.c.code.label("period"), p.c.end_date, u.c.code.label("unit"), d.c.code.label("data_set"))
        .join(p, p.c.id == x.c.period_id)
        .join(u, u.c.id == x.c.unit_id)
        .join(d, d.c.id == x.c.data_set_id)
        .order_by(d.c.code, p.c.start_date, u.c.code)
    )
    if data_set:
        query = query.where(d.c.code == data_set)
    if period:
        query = query.where(p.c.code == period)
    out = []
    for r in conn.execute(query):
        path = registry.last_path(conn, r.unit_id, r.end_date)
        if principal.unlimited or (path and in_scope(conn, principal, Action.VIEW, path, r.end_date)):
            out.append(
                LockException(
                    data_set=r.data_set,
                    period=r.period,
                    unit=r.unit,
                    until=r.until.isoformat(),
                    reason=r.reason,
                    granted_by=r.granted_by,
                    granted_at=r.granted_at.isoformat(),
                )
            )
    return out
