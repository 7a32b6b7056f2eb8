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
both locks to every write; this module records them, and ``queries`` says where they stand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, delete, insert

from jiaowei import clock
from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.domains import N_
from jiaowei.errors import M_, Conflict, NotFound, PermissionDenied, Problem, ValidationError
from jiaowei.indicators import store
from jiaowei.indicators.approval.model import ApprovalStatus, LockException
from jiaowei.indicators.approval.queries import (
    Target,
    approval_status,
    covers,
    exception_of,
    here_and_above,
    may_approve_here,
    period_id,
    require_open,
    resolve,
    waiting_below,
)
from jiaowei.indicators.values import service as values

MAX_REASON = 2000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _today() -> dt.date:
    return clock.today()


def _require_approver(conn: Connection, principal: Principal, target: Target) -> None:
    require_open(target)
    if not may_approve_here(conn, principal, target):
        raise PermissionDenied(
            M_("You may not approve or unapprove the data of {unit}: the level above a unit approves it (a "
               "district approves its schools, the commission approves districts).", unit=target.code)
        )


def _event(
    conn: Connection, principal: Principal, target: Target, pid: int, action: str, reason: str,
    approved_at: dt.datetime | None = None,
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
            **({"approvedAt": approved_at.isoformat()} if approved_at else {}),  # reconciled with the row
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
    here, above = here_and_above(conn, target, pid)
    if here is not None:
        raise Conflict(M_("The data of {form} is already approved.", form=target.key))
    if above is not None:
        raise Conflict(M_("The data of {form} is already approved above, at {unit}.",
                          form=target.key, unit=above.code))
    if not covers(conn, target):
        raise ValidationError(
            M_("Neither {unit} nor any unit below it reports data set {data_set}.",
               unit=target.code, data_set=target.ds.code),
            [
                Problem(
                    N_("nothing to approve here"),
                    field="orgUnit",
                    value=target.code,
                    expected=N_("a unit that reports the data set, or one above such units"),
                )
            ],
        )
    if waiting := waiting_below(conn, target, pid):
        raise Conflict(
            M_("Approve the units below {unit} that reported first: {units}.",
               unit=target.code, units=', '.join(waiting[:20])),
            [Problem(N_("reported but not approved"), field="orgUnit", value=code) for code in waiting[:100]],
        )
    when = _now()
    conn.execute(
        insert(store.approvals).values(
            data_set_id=target.ds.id,
            period_id=pid,
            unit_id=target.unit_id,
            approved_by=principal.username,
            approved_at=when,
        )
    )
    _event(conn, principal, target, pid, "approve", "", when)
    return approval_status(conn, principal=principal, data_set=data_set, period=period, unit=unit)


def _reason(reason: Any) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > MAX_REASON:
        raise ValidationError(
            N_("Say why the data is unapproved."),
            [
                Problem(
                    N_("a reason is needed"),
                    field="reason",
                    value=reason,
                    expected=M_("text of 1 to {most} characters", most=MAX_REASON),
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
    here, above = here_and_above(conn, target, pid)
    if here is None or pid is None:
        raise Conflict(M_("The data of {form} is not approved.", form=target.key))
    if above is not None:
        raise Conflict(
            M_("The data of {form} is also approved above, at {above}: unapprove the higher level first.",
               form=target.key, above=above.code)
        )
    a = store.approvals
    conn.execute(
        delete(a).where(a.c.data_set_id == target.ds.id, a.c.period_id == pid, a.c.unit_id == target.unit_id)
    )
    _event(conn, principal, target, pid, "unapprove", text)
    return approval_status(conn, principal=principal, data_set=data_set, period=period, unit=unit)


def _require_administrator(principal: Principal) -> None:
    if not principal.unlimited:
        raise PermissionDenied(N_("Only an administrator may grant or revoke an exception to a period lock."))


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
                N_("a reason is needed"),
                field="reason",
                value=reason,
                expected=M_("text of 1 to {most} characters", most=MAX_REASON),
            )
        )
    if not isinstance(until, dt.date) or until < (today or _today()):
        problems.append(
            Problem(
                N_("the exception would already have ended"),
                field="until",
                value=str(until),
                expected=M_("{day} or later", day=(today or _today()).isoformat()),
            )
        )
    if problems:
        raise ValidationError(N_("The exception cannot be granted."), problems)
    target = resolve(
        conn, principal=principal, action=Action.VIEW, data_set=data_set, period=period, unit=unit
    )
    require_open(target)
    if not target.assigned:
        raise ValidationError(
            M_("Unit {unit} does not report data set {data_set}.", unit=target.code, data_set=target.ds.code),
            [
                Problem(
                    N_("the unit does not report the data set"),
                    field="orgUnit",
                    value=target.code,
                    expected=N_("a unit that reports the data set"),
                )
            ],
        )
    pid = values.ensure_periods(conn, [target.period.id])[target.period.id]
    before = exception_of(conn, target.ds.id, pid, target.unit_id)
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
    before = exception_of(conn, target.ds.id, pid, target.unit_id)
    if before is None:
        raise NotFound(M_("No lock exception for {form}.", form=target.key))
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
