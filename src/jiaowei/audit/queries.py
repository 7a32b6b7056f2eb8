"""Reading the audit log: the newest entries first, filtered, paged; and the chain check.

Only roles with :attr:`Action.AUDIT_READ` may read it. The log is not limited by unit
scope: it is the commission's record of every write, read by the commission.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select
from sqlalchemy.sql.elements import ColumnElement

from jiaowei.audit import reconcile, service
from jiaowei.audit.model import AuditEntry
from jiaowei.audit.store import audit_log
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.paging import Page

MAX_PAGE = 500


def list_entries(
    conn: Connection,
    *,
    principal: Principal,
    entity: str | None = None,
    entity_key: str | None = None,
    actor: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[AuditEntry]:
    """Entries matching every filter given (exact matches), newest first."""
    require_action(principal, Action.AUDIT_READ)
    where = _filters(entity=entity, entity_key=entity_key, actor=actor)
    limit = max(1, min(limit, MAX_PAGE))
    total = conn.scalar(select(func.count()).select_from(audit_log).where(*where)) or 0
    rows = conn.execute(
        select(audit_log).where(*where).order_by(audit_log.c.seq.desc()).offset(offset).limit(limit)
    )
    return Page([service.entry_of(row) for row in rows], int(total), offset, limit)


def entities(conn: Connection, *, principal: Principal) -> list[str]:
    """The kinds of thing the log has entries about (unit, unit_group, user …)."""
    require_action(principal, Action.AUDIT_READ)
    return list(conn.scalars(select(audit_log.c.entity).distinct().order_by(audit_log.c.entity)))


def verify_chain(conn: Connection, *, principal: Principal) -> service.ChainReport:
    """Walk the whole hash chain (see :func:`jiaowei.audit.service.verify`)."""
    require_action(principal, Action.AUDIT_READ)
    return service.verify(conn)


def reconcile_tables(conn: Connection, *, principal: Principal) -> list[reconcile.Mismatch]:
    """Every live table the chain vouches for, recomputed and compared (see :mod:`reconcile`)."""
    require_action(principal, Action.AUDIT_READ)
    return reconcile.reconcile(conn)


def _filters(*, entity: str | None, entity_key: str | None, actor: str | None) -> list[ColumnElement[bool]]:
    wanted = ((audit_log.c.entity, entity), (audit_log.c.entity_key, entity_key), (audit_log.c.actor, actor))
    return [column == value for column, value in wanted if value]

