"""Reading the audit log: the newest entries first, filtered, paged, counted by day; and the chain check.

Only roles with :attr:`Action.AUDIT_READ` may read it. The log is not limited by unit
scope: it is the commission's record of every write, read by the commission.

Dates in filters are days in the commission's time zone (:mod:`jiaowei.clock`): "from 1 March"
starts at midnight in Shanghai, which is 16:00 UTC the day before.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Connection, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from jiaowei import clock
from jiaowei.audit import reconcile, service
from jiaowei.audit.model import AuditEntry
from jiaowei.audit.store import audit_log
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.db.kept import kept, kept_rows
from jiaowei.paging import Page

MAX_PAGE = 500


@dataclass(frozen=True)
class Filters:
    """What to show: every filter given must match (``None`` or empty: any).

    ``unit`` matches the entries about the unit (its code is the entry's key, or a part of a key such
    as ``DATA_SET/period/UNIT``) and those whose values name it (an approval's ``orgUnit``, a new
    unit's ``parent`` …). ``since``/``until`` are days in the commission's time zone, both included.
    """

    entity: str | None = None
    entity_key: str | None = None
    actor: str | None = None
    unit: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None


def list_entries(
    conn: Connection,
    *,
    principal: Principal,
    filters: Filters = Filters(),
    offset: int = 0,
    limit: int = 50,
) -> Page[AuditEntry]:
    """Entries matching every filter given, newest first.

    The whole log's count, and in a read-only request its newest entries, are kept per process under
    the ``audit`` stamp (migration 0021), which every write to the log changes: the log's first page,
    the one read most, is then read without a statement. A filtered count is counted with its page, in
    one statement."""
    require_action(principal, Action.AUDIT_READ)
    where = _where(filters)
    limit = max(1, min(limit, MAX_PAGE))
    counted = select(func.count()).select_from(audit_log).where(*where)
    if not where:
        whole = kept(conn, "audit", "audit.total", lambda: int(conn.scalar(counted) or 0))
        newest = select(audit_log).order_by(audit_log.c.seq.desc()).offset(offset).limit(limit)
        first = kept_rows(conn, "audit", f"audit.first:{limit}", newest) if offset == 0 else None
        return Page([service.entry_of(row) for row in first or conn.execute(newest)], whole, offset, limit)
    rows = conn.execute(  # the total with the page: one statement (a round trip each on PostgreSQL)
        select(audit_log, counted.scalar_subquery().label("total")).where(*where)
        .order_by(audit_log.c.seq.desc()).offset(offset).limit(limit)
    ).all()
    total = rows[0].total if rows else conn.scalar(counted)  # past the last page: counted alone
    return Page([service.entry_of(row) for row in rows], int(total or 0), offset, limit)


def entities(conn: Connection, *, principal: Principal) -> list[str]:
    """The kinds of thing the log has entries about (unit, unit_group, user …)."""
    require_action(principal, Action.AUDIT_READ)
    return list(conn.scalars(select(audit_log.c.entity).distinct().order_by(audit_log.c.entity)))


def actors(conn: Connection, *, principal: Principal) -> list[str]:
    """Everyone who has written to the log, by name."""
    require_action(principal, Action.AUDIT_READ)
    return list(conn.scalars(select(audit_log.c.actor).distinct().order_by(audit_log.c.actor)))


def changes_by_day(
    conn: Connection, *, principal: Principal, filters: Filters = Filters()
) -> dict[str, Counter[str]]:
    """How many entries match on each day (in the commission's zone), by kind of object, oldest day first.

    Counted by the hour in SQL (the ``at`` text's first 13 characters, UTC), then put into local days.
    """
    require_action(principal, Action.AUDIT_READ)
    hour = func.substr(audit_log.c.at, 1, 13)
    rows = conn.execute(select(hour.label("hour"), audit_log.c.entity, func.count().label("n"))
                        .where(*_where(filters)).group_by(hour, audit_log.c.entity))
    days: dict[str, Counter[str]] = {}
    for row in rows:
        day = clock.local(dt.datetime.fromisoformat(row.hour + ":00:00+00:00"))[:10]
        days.setdefault(day, Counter())[row.entity] += row.n
    return dict(sorted(days.items()))


def verify_chain(conn: Connection, *, principal: Principal) -> service.ChainReport:
    """Walk the whole hash chain (see :func:`jiaowei.audit.service.verify`)."""
    require_action(principal, Action.AUDIT_READ)
    return service.verify(conn)


def verify_new_entries(conn: Connection, *, principal: Principal) -> service.ChainReport:
    """Check only the entries after where the last verification stopped (see
    :func:`jiaowei.audit.service.verify_since_last`)."""
    require_action(principal, Action.AUDIT_READ)
    return service.verify_since_last(conn)


def reconcile_tables(conn: Connection, *, principal: Principal) -> list[reconcile.Mismatch]:
    """Every live table the chain vouches for, recomputed and compared (see :mod:`reconcile`)."""
    require_action(principal, Action.AUDIT_READ)
    return reconcile.reconcile(conn)


def _where(filters: Filters) -> list[ColumnElement[bool]]:
    wanted = ((audit_log.c.entity, filters.entity), (audit_log.c.entity_key, filters.entity_key),
              (audit_log.c.actor, filters.actor))
    where = [column == value for column, value in wanted if value]
    if filters.unit:
        where.append(_about_unit(filters.unit))
    if filters.since is not None:
        where.append(audit_log.c.at >= _utc_text(filters.since))
    if filters.until is not None and filters.until < dt.date.max:
        where.append(audit_log.c.at < _utc_text(filters.until + dt.timedelta(days=1)))
    return where


def _about_unit(code: str) -> ColumnElement[bool]:
    """The entry's key is the code or has it as one of its ``/``-separated parts, or its values hold it
    as a JSON string (``"CODE"``)."""
    plain = code.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    key = audit_log.c.entity_key
    about = [key == code, key.like(plain + "/%", escape="\\"), key.like("%/" + plain, escape="\\"),
             key.like("%/" + plain + "/%", escape="\\")]
    if '"' not in code and "\\" not in code:  # JSON writes those escaped: such a code is matched by key only
        quoted = '%"' + plain + '"%'
        about += [audit_log.c.after.like(quoted, escape="\\"), audit_log.c.before.like(quoted, escape="\\")]
    return or_(*about)


def _utc_text(day: dt.date) -> str:
    """Midnight at the start of ``day`` in the commission's zone, as the log writes times (UTC text)."""
    try:
        start = dt.datetime.combine(day, dt.time(), tzinfo=clock.zone()).astimezone(dt.UTC)
    except OverflowError:  # the first days of year 1: before every entry
        return ""
    return start.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"  # years < 1000 padded too
