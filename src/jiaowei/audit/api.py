"""JSON routes of the audit log under /api/audit (read only)."""

from __future__ import annotations

import datetime as dt
from contextlib import suppress
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from jiaowei.audit import queries, reconcile, service
from jiaowei.audit.checkpoint import Text
from jiaowei.errors import ServiceUnavailable
from jiaowei.web.deps import Conn, User, language

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("")
def list_audit_entries(
    conn: Conn,
    user: User,
    entity: Annotated[str | None, Query(max_length=32, description="unit, unit_group, user …")] = None,
    key: Annotated[str | None, Query(max_length=128, description="e.g. a unit code")] = None,
    actor: Annotated[str | None, Query(max_length=64, description="username")] = None,
    unit: Annotated[str | None, Query(max_length=64, description="a unit code: entries about the unit or "
                                      "naming it")] = None,
    since: Annotated[dt.date | None, Query(description="first day, in the commission's time zone")] = None,
    until: Annotated[dt.date | None, Query(description="last day, in the commission's time zone")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
) -> dict[str, Any]:
    """Audit entries, newest first, with ``before`` and ``after`` as JSON values."""
    filters = queries.Filters(entity=entity, entity_key=key, actor=actor, unit=unit, since=since, until=until)
    page = queries.list_entries(conn, principal=user, filters=filters, offset=offset, limit=limit)
    return {"items": [asdict(entry) for entry in page.items], "total": page.total, "offset": page.offset,
            "limit": page.limit}


@router.get("/verify")
def verify_audit_chain(
    request: Request,
    user: User,
    new_only: Annotated[bool, Query(description="check only the entries after where the last "
                                    "verification stopped (without it: the whole chain)")] = False,
) -> dict[str, Any]:
    """Check the hash chain from the first entry (or, with ``new_only``, from where the last
    verification stopped) to the head, then every live table it vouches for.

    ``ok`` is true when the chain holds and no live row differs from its history; otherwise
    ``first_bad_seq``/``reason`` name the first broken entry and ``mismatches`` the differing rows
    (``reason`` in English with ``reason_template`` and ``params``; ``message`` in the request's
    language). ``since`` is the entry the check started after (0: the whole chain) and ``read`` how
    many entries it read after it. Both run in one snapshot of the database, on a connection of their
    own; where the check stopped is remembered for the next one.
    """
    db = request.app.state.db
    with db.snapshot() as conn:
        check = queries.verify_new_entries if new_only else queries.verify_chain
        report = check(conn, principal=user)
        mismatches = queries.reconcile_tables(conn, principal=user) if report.ok else []
    if service.moves_mark(report):  # a database too busy to take it: the next check reads more
        with suppress(ServiceUnavailable), db.transaction(write=True) as conn:
            service.remember_verified(conn, report=report)
    return _report(report, mismatches, language(request))


def _report(report: service.ChainReport, mismatches: list[reconcile.Mismatch], lang: str) -> dict[str, Any]:
    return {"ok": report.ok and not mismatches, "entries": report.entries,
            "first_bad_seq": report.first_bad_seq, "reason": report.reason, "since": report.since,
            "read": report.read,
            "message": Text(report.template, report.params).said_in(lang) if report.template else "",
            "mismatches": reconcile.as_json(mismatches, language=lang)}
