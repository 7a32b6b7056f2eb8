"""JSON routes of the audit log under /api/audit (read only)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from jiaowei.audit import queries, reconcile
from jiaowei.audit.checkpoint import Text
from jiaowei.audit.service import ChainReport
from jiaowei.web.deps import Conn, User, language

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("")
def list_audit_entries(
    conn: Conn,
    user: User,
    entity: Annotated[str | None, Query(max_length=32, description="unit, unit_group, user …")] = None,
    key: Annotated[str | None, Query(max_length=128, description="e.g. a unit code")] = None,
    actor: Annotated[str | None, Query(max_length=64, description="username")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
) -> dict[str, Any]:
    """Audit entries, newest first, with ``before`` and ``after`` as JSON values."""
    page = queries.list_entries(conn, principal=user, entity=entity, entity_key=key, actor=actor,
                                offset=offset, limit=limit)
    return {"items": [asdict(entry) for entry in page.items], "total": page.total, "offset": page.offset,
            "limit": page.limit}


@router.get("/verify")
def verify_audit_chain(request: Request, user: User) -> dict[str, Any]:
    """Check the hash chain from the first entry to the head, then every live table it vouches for.

    ``ok`` is true when the chain holds and no live row differs from its history; otherwise
    ``first_bad_seq``/``reason`` name the first broken entry and ``mismatches`` the differing rows
    (``reason`` in English with ``reason_template`` and ``params``; ``message`` in the request's
    language). Both run in one snapshot of the database, on a connection of their own.
    """
    with request.app.state.db.snapshot() as conn:
        report = queries.verify_chain(conn, principal=user)
        mismatches = queries.reconcile_tables(conn, principal=user) if report.ok else []
    return _report(report, mismatches, language(request))


def _report(report: ChainReport, mismatches: list[reconcile.Mismatch], lang: str) -> dict[str, Any]:
    return {"ok": report.ok and not mismatches, "entries": report.entries,
            "first_bad_seq": report.first_bad_seq, "reason": report.reason,
            "message": Text(report.template, report.params).said_in(lang) if report.template else "",
            "mismatches": reconcile.as_json(mismatches, language=lang)}
