"""The audit log page: the newest entries as readable changes, filtered, paged and charted by day,
under the chain check (from where the last check stopped, or the whole chain when asked) and, when
asked, the reconciliation of the live tables (both in one snapshot, in the page's language)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from contextlib import suppress
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from jiaowei import clock
from jiaowei.audit import diff, queries, service
from jiaowei.audit.model import AuditEntry
from jiaowei.errors import M_, ServiceUnavailable
from jiaowei.i18n import translate
from jiaowei.web.deps import Conn, User, language
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MISMATCHES_SHOWN = 20
FILTERS = ("entity", "key", "actor", "unit", "since", "until")


def day(text: str) -> dt.date | None:
    """A day typed into a filter (YYYY-MM-DD); None when empty or not a day."""
    try:
        return dt.date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    conn: Conn,
    user: User,
    entity: Annotated[str, Query(max_length=32)] = "",
    key: Annotated[str, Query(max_length=128)] = "",
    actor: Annotated[str, Query(max_length=64)] = "",
    unit: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    check: Annotated[bool, Query(description="also reconcile every live table (a few seconds)")] = False,
    full: Annotated[bool, Query(description="verify the whole chain, not only the new entries")] = False,
) -> HTMLResponse:
    """Who changed what and when, newest first; the chain check at the top (the entries written since
    the last check, or with ``full`` the whole chain), and, when asked for (``check``: it reads every
    table the log vouches for), the live rows that differ from the log."""
    lang = language(request)
    report, mismatches, verified = _verify(request, user, full=full, check=check)
    shown = {"entity": entity, "key": key, "actor": actor, "unit": unit, "since": since, "until": until}
    filters = queries.Filters(entity=entity.strip() or None, entity_key=key.strip() or None,
                              actor=actor.strip() or None, unit=unit.strip() or None,
                              since=day(since), until=day(until))
    found = queries.list_entries(conn, principal=user, filters=filters, offset=offset, limit=PAGE_SIZE)
    chosen = {k: v.strip() for k, v in shown.items() if v.strip()}

    def page_url(at: int) -> str:
        return "/audit?" + urlencode({**chosen, "offset": at})

    return page(request, "audit.html", {
        "report": report, "checked": check and report.ok, "mismatches": len(mismatches),
        "differing": [{"table": m.table_in(lang), "name": m.table, "key": m.key_in(lang),
                       "reason": m.said_in(lang)} for m in mismatches[:MISMATCHES_SHOWN]],
        "check_url": "/audit?" + urlencode({**chosen, "check": "1"}),
        "full_url": "/audit?" + urlencode({**chosen, "full": "1"}),
        "verified": verified, "verified_at": clock.local(verified.label, seconds=True),
        "found": found, "rows": [_row(e) for e in found.items], "filters": shown, "page_url": page_url,
        "bad_days": [name for name in ("since", "until") if shown[name].strip() and day(shown[name]) is None],
        "entities": [(e, diff.entity_label(e)) for e in queries.entities(conn, principal=user)],
        "actors": queries.actors(conn, principal=user),
        "zone": translate(lang, clock.zone().key),  # the commission's zone, by name (北京时间 in Chinese)
        "terms": (diff.YES, diff.NO),
        "chart": _chart(queries.changes_by_day(conn, principal=user, filters=filters), lang),
    })


def _verify(
    request: Request, user: Any, *, full: bool, check: bool
) -> tuple[service.ChainReport, list[Any], service.Anchor]:
    """The chain check (and the tables' when ``check``) in one snapshot; where it stopped is kept
    (and returned: the last entry found intact, its ``label`` the time of that check)."""
    db = request.app.state.db
    with db.snapshot() as snapshot:
        verify = queries.verify_chain if full else queries.verify_new_entries
        report = verify(snapshot, principal=user)
        mismatches = queries.reconcile_tables(snapshot, principal=user) if check and report.ok else []
    if service.moves_mark(report):  # a database too busy to take it: the next check reads more
        with suppress(ServiceUnavailable), db.transaction(write=True) as conn:
            service.remember_verified(conn, report=report)
    with db.transaction() as conn:
        verified = service.last_verified(conn)
    return report, mismatches, verified


def _row(entry: AuditEntry) -> dict[str, Any]:
    """An entry as the page shows it: its time in the commission's zone and its changes field by field."""
    return {"entry": entry, "when": clock.local(entry.at, seconds=True),
            "kind": diff.entity_label(entry.entity), "changes": diff.changes(entry.before, entry.after)}


def _chart(days: dict[str, Counter[str]], lang: str) -> dict[str, Any] | None:
    """Entries per day, a stacked bar per kind of object (the ten most frequent; the rest together)."""
    if not days:
        return None
    totals: Counter[str] = Counter()
    for counts in days.values():
        totals.update(counts)
    kinds = [kind for kind, _n in totals.most_common(10)]
    rest = [kind for kind in totals if kind not in kinds]
    series = [{"name": translate(lang, diff.entity_label(k)), "stack": "all",
               "data": [days[d].get(k, 0) for d in days]} for k in kinds]
    if rest:
        series.append({"name": translate(lang, diff.OTHER), "stack": "all",
                       "data": [sum(days[d].get(k, 0) for k in rest) for d in days]})
    label = translate(lang, M_("Entries per day by kind of object, {first} to {last}: {n} in all.",
                               first=min(days), last=max(days), n=sum(totals.values())))
    return {"kind": "bar", "palette": True, "label": label, "categories": list(days), "series": series}
