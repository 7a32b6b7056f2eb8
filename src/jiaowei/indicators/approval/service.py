"""Approval of reported data, period locks and the exceptions to them.

Who approves what: the level above a unit approves its data. A principal may approve a unit
when their capture scope covers a *strict* ancestor of it (a district approves its schools,
not its own data; the commission approves districts); an administrator may approve anything.
A unit is approved only after every unit below it that reported (registered the data set
complete) is approved, itself or through an approved unit between it and the one being
approved. An approval locks the data of the unit and of every unit below it; it is undone
(with a reason) only while no higher approval stands.

Period locks: a data set with ``expiry_days`` > 0 closes that many days after a period's end;
after that, values of the period are refused unless an administrator granted an exception for
the data set, period and unit that runs until today or later. ``values.lock_reason`` applies
both locks to every write; this module records them and says where they stand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import in_scope, require_action, require_unit, scope_paths
from jiaowei.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
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
from jiaowei.registry import queries as registry
from jiaowei.registry.model import path_ids

MAX_REASON = 2000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _today() -> dt.date:
    return dt.date.today()


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
            f"No data set with code {code!r}.",
            [Problem("unknown data set", field="dataSet", value=code, expected="the code of a data set")],
        )
    return ds


def period_of(ds: DataSet, text: str) -> pe.Period:
    """The period ``text`` names, which must be of the data set's period type."""
    if not pe.is_valid(text):
        raise ValidationError(
            f"{text!r} is not a period.",
            [Problem("not a period identifier", field="period", value=text, expected="e.g. 2020 or 202011")],
        )
    period = pe.parse(text)
    if period.type.value != ds.period_type:
        raise ValidationError(
            f"Data set {ds.code} is reported per {ds.period_type} period, not per {period.type.value}.",
            [Problem("wrong period type", field="period", value=text, expected=f"a {ds.period_type} period")],
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
        raise NotFound(f"No unit with code {unit!r}.")
    target = Target(ds, p, unit_id, unit, None)
    require_unit(conn, principal, action, unit_id, target.day, unit)
    return Target(ds, p, unit_id, unit, registry.unit_in_period(conn, unit_id, p.start, p.end))


def require_open(target: Target) -> registry.Unit:
    if target.where is None:
        raise ValidationError(
            f"Unit {target.code} was not open during {target.period.id}.",
            [
                Problem(
                    "the unit was not open during the period",
                    field="orgUnit",
                    value=target.code,
                    expected="a unit open during the period",
                )
            ],
        )
    return target.where


def period_id(conn: Connection, code: str) -> int | None:
    return conn.scalar(select(store.periods.c.id).where(store.periods.c.code == code))


def current_lock(conn: Connection, principal: Principal, target: Target) -> str | None:
    """Why values of the target cannot change now (approval or expiry), exactly as imports decide."""
    where = require_open(target)
    return values.form_lock(conn, principal=principal, data_set=target.ds, period=target.period, where=where)


# ---------------------------------------------------------------- approvals


def _approval(conn: Connection, ds_id: int, pid: int | None, unit_ids: list[int]) -> list[Any]:
    if pid is None or not unit_ids:
        return []
    a, units = store.approvals, registry.unit_codes()
    return list(
        conn.execute(
            select(a, units.c.code)
            .join(units, units.c.id == a.c.unit_id)
            .where(a.c.data_set_id == ds_id, a.c.period_id == pid, a.c.unit_id.in_(unit_ids))
        )
    )


def _here_and_above(conn: Connection, target: Target, pid: int | None) -> tuple[Any, Any]:
    """The approval of the unit itself, and the highest approval of an ancestor (or None)."""
    if target.where is None:
        here = _approval(conn, target.ds.id, pid, [target.unit_id])
        return (here[0] if here else None), None
    chain = path_ids(target.where.path)
    found = {r.unit_id: r for r in _approval(conn, target.ds.id, pid, chain)}
    above = next((found[u] for u in chain[:-1] if u in found), None)
    return found.get(target.unit_id), above


def _may_approve_here(conn: Connection, principal: Principal, target: Target) -> bool:
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


def _require_approver(conn: Connection, principal: Principal, target: Target) -> None:
    require_open(target)
    if not _may_approve_here(conn, principal, target):
        raise PermissionDenied(
            f"You may not approve or unapprove the data of {target.code}: the level above a unit approves "
            "it (a district approves its schools, the commission approves districts)."
        )


def _subtree(conn: Connection, target: Target) -> list[Any]:
    """Units in the unit's subtree on the period's last day: id, code, path, type."""
    if target.where is None:
        return []
    day = target.period.end
    query = registry.units_on_select(day).where(registry.in_paths([target.where.path]))
    return list(conn.execute(query))


def _reported(conn: Connection, ds_id: int, pid: int | None, unit_ids: list[int]) -> set[int]:
    if pid is None or not unit_ids:
        return set()
    c = store.completions
    found: set[int] = set()
    for start in range(0, len(unit_ids), 500):
        found.update(
            conn.scalars(
                select(c.c.unit_id).where(
                    c.c.data_set_id == ds_id,
                    c.c.period_id == pid,
                    c.c.unit_id.in_(unit_ids[start : start + 500]),
                )
            )
        )
    return found


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
    ids = [u.id for u in tree]
    approved = {
        r.unit_id: r
        for start in range(0, len(ids), 500)
        for r in _approval(conn, target.ds.id, pid, ids[start : start + 500])
    }
    return Below(tree, _reported(conn, target.ds.id, pid, ids), approved)


def _top(below: Below, target: Target) -> Any:
    return next((u for u in below.tree if u.id == target.unit_id), None)


def waiting_below(conn: Connection, target: Target, pid: int | None) -> list[str]:
    """Codes of units below the target that reported but are not approved, by themselves or between."""
    below = _below(conn, target, pid)
    top = _top(below, target)
    return below.waiting(top) if top is not None else []


def _covers(conn: Connection, target: Target) -> bool:
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
    here, above = _here_and_above(conn, target, pid)
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


def _event(
    conn: Connection, principal: Principal, target: Target, pid: int, action: str, reason: str
) -> None:
    conn.execute(
        insert(store.approval_events).values(
            data_set_id=target.ds.id,
            period_id=pid,
            unit_id=target.unit_id,
            action=action,
            reason=reason,
            actor=principal.username,
            at=_now(),
        )
    )
    audit.record(
        conn,
        actor=principal.username,
        action=f"data.{action}",
        entity="approval",
        entity_key=target.key,
        after={
            "dataSet": target.ds.code,
            "period": target.period.id,
            "orgUnit": target.code,
            "reason": reason,
        },
    )


def approve(
    conn: Connection, *, principal: Principal, data_set: str, period: str, unit: str
) -> ApprovalStatus:
    """Approve the unit's data (and so lock it and everything below it); returns the new status."""
    require_action(principal, Action.DATA_APPROVE)
    target = resolve(
        conn, principal=principal, action=Action.VIEW, data_set=data_set, period=period, unit=unit
    )
    _require_approver(conn, principal, target)
    pid = values.ensure_periods(conn, [target.period.id])[target.period.id]
    here, above = _here_and_above(conn, target, pid)
    if here is not None:
        raise Conflict(f"The data of {target.key} is already approved.")
    if above is not None:
        raise Conflict(f"The data of {target.key} is already approved above, at {above.code}.")
    if not _covers(conn, target):
        raise ValidationError(
            f"Neither {target.code} nor any unit below it reports data set {target.ds.code}.",
            [
                Problem(
                    "nothing to approve here",
                    field="orgUnit",
                    value=target.code,
                    expected="a unit that reports the data set, or one above such units",
                )
            ],
        )
    if waiting := waiting_below(conn, target, pid):
        raise Conflict(
            f"Approve the units below {target.code} that reported first: {', '.join(waiting[:20])}.",
            [Problem("reported but not approved", field="orgUnit", value=code) for code in waiting[:100]],
        )
    conn.execute(
        insert(store.approvals).values(
            data_set_id=target.ds.id,
            period_id=pid,
            unit_id=target.unit_id,
            approved_by=principal.username,
            approved_at=_now(),
        )
    )
    _event(conn, principal, target, pid, "approve", "")
    return approval_status(conn, principal=principal, data_set=data_set, period=period, unit=unit)


def _reason(reason: Any) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > MAX_REASON:
        raise ValidationError(
            "Say why the data is unapproved.",
            [
                Problem(
                    "a reason is needed",
                    field="reason",
                    value=reason,
                    expected=f"text of 1 to {MAX_REASON} characters",
                )
            ],
        )
    return text


def unapprove(
    conn: Connection, *, principal: Principal, data_set: str, period: str, unit: str, reason: str
) -> ApprovalStatus:
    """Undo an approval, with a reason; refused while a higher approval stands."""
    require_action(principal, Action.DATA_APPROVE)
    text = _reason(reason)
    target = resolve(
        conn, principal=principal, action=Action.VIEW, data_set=data_set, period=period, unit=unit
    )
    _require_approver(conn, principal, target)
    pid = period_id(conn, target.period.id)
    here, above = _here_and_above(conn, target, pid)
    if here is None or pid is None:
        raise Conflict(f"The data of {target.key} is not approved.")
    if above is not None:
        raise Conflict(
            f"The data of {target.key} is also approved above, at {above.code}: "
            "unapprove the higher level first."
        )
    a = store.approvals
    conn.execute(
        delete(a).where(a.c.data_set_id == target.ds.id, a.c.period_id == pid, a.c.unit_id == target.unit_id)
    )
    _event(conn, principal, target, pid, "unapprove", text)
    return approval_status(conn, principal=principal, data_set=data_set, period=period, unit=unit)


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
    here, above = _here_and_above(conn, target, pid)
    approval = here or above
    state = "approved" if here is not None else "approved_above" if above is not None else "unapproved"
    waiting = waiting_below(conn, target, pid) if state == "unapproved" else []
    may = _may_approve_here(conn, principal, target)
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
        may_approve=may and state == "unapproved" and not waiting and _covers(conn, target),
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
        raise NotFound(f"No unit with code {unit!r}.")
    if ds.expiry_days <= 0:
        return LockState("open", ds.expiry_days)
    closes = pe.days_after_end(p, ds.expiry_days)
    shut = LockState("closes", ds.expiry_days, closes=closes.isoformat())
    if day <= closes:
        return shut
    granted = _exception(conn, ds.id, period_id(conn, p.id), unit_id)
    if granted is not None and granted.until >= day:
        return replace(shut, state="exception", until=granted.until.isoformat(), reason=granted.reason)
    return replace(shut, state="locked", locked_since=(closes + dt.timedelta(days=1)).isoformat())


def _exception(conn: Connection, ds_id: int, pid: int | None, unit_id: int) -> Any:
    if pid is None:
        return None
    x = store.lock_exceptions
    return conn.execute(
        select(x).where(x.c.data_set_id == ds_id, x.c.period_id == pid, x.c.unit_id == unit_id)
    ).first()


def _require_administrator(principal: Principal) -> None:
    if not principal.unlimited:
        raise PermissionDenied("Only an administrator may grant or revoke an exception to a period lock.")


def grant_exception(
    conn: Connection,
    *,
    principal: Principal,
    data_set: str,
    period: str,
    unit: str,
    until: dt.date,
    reason: str,
    today: dt.date | None = None,
) -> LockException:
    """Let the unit write values of a closed period until ``until`` (inclusive); administrators only."""
    _require_administrator(principal)
    problems = []
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        problems.append(
            Problem(
                "a reason is needed",
                field="reason",
                value=reason,
                expected=f"text of 1 to {MAX_REASON} characters",
            )
        )
    if not isinstance(until, dt.date) or until < (today or _today()):
        problems.append(
            Problem(
                "the exception would already have ended",
                field="until",
                value=str(until),
                expected=f"{(today or _today()).isoformat()} or later",
            )
        )
    if problems:
        raise ValidationError("The exception cannot be granted.", problems)
    target = resolve(
        conn, principal=principal, action=Action.VIEW, data_set=data_set, period=period, unit=unit
    )
    require_open(target)
    if not target.assigned:
        raise ValidationError(
            f"Unit {target.code} does not report data set {target.ds.code}.",
            [
                Problem(
                    "the unit does not report the data set",
                    field="orgUnit",
                    value=target.code,
                    expected="a unit that reports the data set",
                )
            ],
        )
    pid = values.ensure_periods(conn, [target.period.id])[target.period.id]
    before = _exception(conn, target.ds.id, pid, target.unit_id)
    x = store.lock_exceptions
    conn.execute(
        delete(x).where(x.c.data_set_id == target.ds.id, x.c.period_id == pid, x.c.unit_id == target.unit_id)
    )
    row = {"until": until, "reason": reason.strip(), "granted_by": principal.username, "granted_at": _now()}
    conn.execute(insert(x).values(data_set_id=target.ds.id, period_id=pid, unit_id=target.unit_id, **row))
    shown = _shown(target, row)
    audit.record(
        conn,
        actor=principal.username,
        action="lock.exception.grant",
        entity="lock_exception",
        entity_key=target.key,
        before=asdict(_shown(target, before._mapping)) if before else None,
        after=asdict(shown),
    )
    return shown


def _shown(target: Target, row: Any) -> LockException:
    return LockException(
        data_set=target.ds.code,
        period=target.period.id,
        unit=target.code,
        until=row["until"].isoformat(),
        reason=row["reason"],
        granted_by=row["granted_by"],
        granted_at=row["granted_at"].isoformat(),
    )


def revoke_exception(
    conn: Connection, *, principal: Principal, data_set: str, period: str, unit: str
) -> None:
    """Withdraw an exception: the period is closed for the unit again."""
    _require_administrator(principal)
    target = resolve(
        conn, principal=principal, action=Action.VIEW, data_set=data_set, period=period, unit=unit
    )
    pid = period_id(conn, target.period.id)
    before = _exception(conn, target.ds.id, pid, target.unit_id)
    if before is None:
        raise NotFound(f"No lock exception for {target.key}.")
    x = store.lock_exceptions
    conn.execute(
        delete(x).where(x.c.data_set_id == target.ds.id, x.c.period_id == pid, x.c.unit_id == target.unit_id)
    )
    audit.record(
        conn,
        actor=principal.username,
        action="lock.exception.revoke",
        entity="lock_exception",
        entity_key=target.key,
        before=asdict(_shown(target, before._mapping)),
    )


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
