"""What the approval pages show beyond the services' answers: the unit lists of the approval and
completeness pages (only units that report the data set, filtered by status and a search, one page
of 50 at a time with its counts) and the status labels and chart of the work list ("My forms").

Plain values in, plain values out: the pages pass what the queries answered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from jiaowei.domains import N_
from jiaowei.i18n import translate
from jiaowei.indicators.approval.model import CompletenessRow, WorkList
from jiaowei.paging import Page

PAGE_SIZE = 50
Item = TypeVar("Item")

# the approval page's filter: one of a child's approval states, or whether it reported
APPROVAL_FILTERS = {
    "waiting": N_("Reported, not approved"),
    "not_reported": N_("Not reported"),
    "unapproved": N_("Not approved"),
    "approved": N_("Approved"),
    "approved_above": N_("Approved above"),
}
# the completeness report's filter
COMPLETENESS_FILTERS = {
    "missing": N_("Reports missing"),
    "late": N_("Reports not on time"),
    "complete": N_("All reports received"),
}
WORK_STATUSES = {
    "late": N_("Late"),
    "returned": N_("Sent back"),
    "due": N_("To report"),
    "approve": N_("To approve"),
    "waiting": N_("Waiting for approval"),
    "approved": N_("Approved"),
}


@dataclass(frozen=True)
class Filters:
    """The choices of a unit list: a status (empty: all), a search text and a page (from 1)."""

    status: str = ""
    q: str = ""
    page: int = 1


def page_of(items: Sequence[Item], number: int, size: int = PAGE_SIZE) -> Page[Item]:
    """Page ``number`` (from 1; past the end: the last page) of the items."""
    last = max(1, -(-len(items) // size))
    offset = (min(max(number, 1), last) - 1) * size
    return Page(items=list(items[offset : offset + size]), total=len(items), offset=offset, limit=size)


def _matches(row: Mapping[str, Any], q: str) -> bool:
    """Whether the search text is in the unit's code or either of its names (any case)."""
    text = q.strip().casefold()
    return not text or any(text in str(row.get(k) or "").casefold() for k in ("unit", "name_zh", "name_en"))


def approval_children(children: Sequence[Mapping[str, Any]], filters: Filters) -> list[Mapping[str, Any]]:
    """The children that report the data set (some unit at or below them is expected to report it,
    as completeness counts), with the status asked for and matching the search."""
    reporting = [c for c in children if c.get("expected")]
    return [c for c in reporting if _approval_status(c, filters.status) and _matches(c, filters.q)]


def _approval_status(child: Mapping[str, Any], status: str) -> bool:
    if status == "waiting":
        return child["state"] == "unapproved" and bool(child.get("reported") or child.get("waiting"))
    if status == "not_reported":
        return not child.get("received")
    return not status or child["state"] == status


def completeness_rows(
    rows: Sequence[CompletenessRow], filters: Filters
) -> tuple[list[CompletenessRow], list[CompletenessRow]]:
    """The report's rows of the unit itself (always shown) and those of the children that report the
    data set, with the status asked for and matching the search."""
    own = [r for r in rows if r.parent]
    below = [r for r in rows if not r.parent and r.expected]
    return own, [r for r in below if _complete_status(r, filters.status) and _matches(vars(r), filters.q)]


def _complete_status(row: CompletenessRow, status: str) -> bool:
    if status == "missing":
        return row.received < row.expected
    if status == "late":
        return row.on_time < row.expected
    if status == "complete":
        return row.received == row.expected
    return True


def work_chart(found: WorkList, *, language: str) -> dict[str, Any] | None:
    """Bars of the work list's lines by status (for ``web/static/charts.js``); None when it is empty."""
    counts = [(s, n) for s, n in found.counts.items() if n]
    if not counts:
        return None
    _ = partial(translate, language)
    names = [_(WORK_STATUSES[s]) for s, _n in counts]
    values = [n for _s, n in counts]
    summary = "; ".join(f"{name}: {value}" for name, value in zip(names, values, strict=True))
    return {
        "kind": "bar",
        "label": _("My forms by status") + f": {summary}.",
        "categories": names,
        "whole": True,  # counts: the axis steps by whole numbers
        "series": [{"name": _("Forms"), "kind": "bar", "data": values, "labels": [str(v) for v in values]}],
    }
