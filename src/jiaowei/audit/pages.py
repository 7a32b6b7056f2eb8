"""The audit log page: the newest entries, filtered and paged, under the chain check and the
reconciliation of the live tables (both in one snapshot, in the page's language)."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from jiaowei.audit import queries
from jiaowei.web.deps import Conn, User, language
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MISMATCHES_SHOWN = 20


def pretty(value: Any) -> str:
    """JSON for people: indented, Chinese left as it is; empty for no value."""
    return "" if value is None else json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    conn: Conn,
    user: User,
    entity: Annotated[str, Query(max_length=32)] = "",
    key: Annotated[str, Query(max_length=128)] = "",
    actor: Annotated[str, Query(max_length=64)] = "",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    check: Annotated[bool, Query(description="also reconcile every live table (a few seconds)")] = False,
) -> HTMLResponse:
    """Who changed what and when, newest first; the chain check at the top, and, when asked for
    (``check``: it reads every table the log vouches for), the live rows that differ from the log."""
    with request.app.state.db.snapshot() as snapshot:
        report = queries.verify_chain(snapshot, principal=user)
        checked = check and report.ok
        mismatches = queries.reconcile_tables(snapshot, principal=user) if checked else []
    lang = language(request)
    differing = [{"table": m.table_in(lang), "name": m.table, "key": m.key_in(lang),
                  "reason": m.said_in(lang)} for m in mismatches[:MISMATCHES_SHOWN]]
    found = queries.list_entries(conn, principal=user, entity=entity.strip() or None,
                                 entity_key=key.strip() or None, actor=actor.strip() or None,
                                 offset=offset, limit=PAGE_SIZE)
    filters = {"entity": entity, "key": key, "actor": actor}

    def page_url(at: int) -> str:
        return "/audit?" + urlencode({**{k: v for k, v in filters.items() if v}, "offset": at})

    return page(request, "audit.html", {
        "report": report, "checked": checked, "mismatches": len(mismatches), "differing": differing,
        "check_url": "/audit?" + urlencode({**{k: v for k, v in filters.items() if v}, "check": "1"}),
        "found": found, "filters": filters, "page_url": page_url,
        "entities": queries.entities(conn, principal=user), "pretty": pretty,
    })
