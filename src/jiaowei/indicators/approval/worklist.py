"""A user's work list, "My forms" (我的报表): what is due, late, sent back or waiting for approval.

For each data set, the period that holds the day (``today``, or an ``as_of`` day) and the one
before it are looked at:

- **forms to report**: each of the user's own units (capture scope) that reports the data set and
  was open at the period's end. A form is ``approved`` (here or above), else ``returned`` when its
  last approval event withdrew an approval (sent back, with the reason), else ``waiting`` for
  approval once its report arrived (as completeness decides: registered complete or values sent),
  else ``late`` past its due date (the period's end plus the data set's due days) or ``due``;
- **approvals**: for users who approve, each of their units (an administrator: the top of the
  tree) below which reports arrived that nobody has approved yet (as the approval page counts
  them), with how many wait.

Each line carries the link that opens its form (data entry) or its approval page. A validation
problem gets a link too (:func:`problem_links`): its form, with the cell it names focused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, select

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.errors import Problem, ValidationError
from jiaowei.indicators import expressions as ex
from jiaowei.indicators import periods as pe
from jiaowei.indicators import store
from jiaowei.indicators.approval import completeness
from jiaowei.indicators.approval.model import WorkItem, WorkList
from jiaowei.indicators.approval.queries import Target, here_and_above, period_id, waiting_below
from jiaowei.indicators.metadata.catalog import Catalog, DataSet, Element, load_catalog
from jiaowei.indicators.quality.queries import Violation, load_rules
from jiaowei.registry import queries as registry

# The statuses in the order a work list shows them: what needs doing first.
STATUSES = ("late", "returned", "due", "approve", "waiting", "approved")


def entry_href(data_set: str, period: str, unit: str, cell: str | None = None) -> str:
    """The data entry form of the data set, period and unit; ``cell`` (``ELEMENT.COMBO``) focused."""
    href = "/data/entry?" + urlencode({"ds": data_set, "pe": period, "ou": unit})
    return href + ("#cell-" + cell if cell else "")


def approval_href(data_set: str, period: str, unit: str) -> str:
    return "/data/approval?" + urlencode({"ds": data_set, "pe": period, "ou": unit})


def work_list(
    conn: Connection, *, principal: Principal, today: dt.date, status: str | None = None
) -> WorkList:
    """The principal's work list on ``today``; with ``status``, only the lines of that status
    (the counts stay those of the whole list)."""
    require_action(principal, Action.VIEW)
    if status and status not in STATUSES:
        raise ValidationError(
            "Unknown status.",
            [Problem("unknown status", field="status", value=status, expected=", ".join(STATUSES))],
        )
    catalog = load_catalog(conn)
    items: list[WorkItem] = []
    for ds in sorted({d.id: d for d in catalog.data_sets.values()}.values(), key=lambda d: d.code):
        for period in _periods(ds, today):
            items += _forms(conn, principal, ds, period, today)
            if principal.may(Action.DATA_APPROVE):
                items += _approvals(conn, principal, ds, period)
    counts = {s: n for s in STATUSES if (n := sum(1 for i in items if i.status == s))}
    items.sort(key=lambda i: (STATUSES.index(i.status), i.due, i.data_set, i.unit))
    shown = [i for i in items if not status or i.status == status]
    return WorkList(as_of=today.isoformat(), items=shown, counts=counts)


def _periods(ds: DataSet, today: dt.date) -> list[pe.Period]:
    """The period that holds ``today`` and the one before it, earliest first."""
    current = pe.containing(pe.PeriodType(ds.period_type), today)
    return [pe.previous_period(current), current]


def _reports(ds: DataSet, unit: Any) -> bool:
    return unit.type in ds.unit_types or unit.id in ds.unit_ids


def _forms(
    conn: Connection, principal: Principal, ds: DataSet, period: pe.Period, today: dt.date
) -> list[WorkItem]:
    """The forms of the principal's own units that report the data set, one per unit."""
    if not principal.capture:
        return []
    units = [
        u for u in registry.units_on(conn, period.end, ids=principal.capture, attributes=False)
        if _reports(ds, u)
    ]
    if not units:
        return []
    pid = period_id(conn, period.id)
    arrived = completeness.arrivals(conn, ds, period.id, [u.id for u in units])
    sent_back = _sent_back(conn, ds, pid, [u.id for u in units])
    due = pe.days_after_end(period, ds.due_days)
    out = []
    for u in units:
        here, above = here_and_above(conn, Target(ds, period, u.id, u.code, u), pid)
        if here is not None or above is not None:
            status = "approved"
        elif u.id in sent_back:
            status = "returned"
        elif u.id in arrived:
            status = "waiting"
        else:
            status = "late" if today > due else "due"
        out.append(_item(ds, period, u, "report", status, due, entry_href(ds.code, period.id, u.code),
                         reason=sent_back.get(u.id) if status == "returned" else None))
    return out


def _sent_back(conn: Connection, ds: DataSet, pid: int | None, unit_ids: list[int]) -> dict[int, str]:
    """Units whose last approval event withdrew the approval, with the reason given."""
    if pid is None:
        return {}
    e = store.approval_events
    last: dict[int, Any] = {}
    for start in range(0, len(unit_ids), 500):
        chunk = unit_ids[start : start + 500]
        rows = conn.execute(
            select(e.c.unit_id, e.c.action, e.c.reason)
            .where(e.c.data_set_id == ds.id, e.c.period_id == pid, e.c.unit_id.in_(chunk))
            .order_by(e.c.id)
        )
        last.update({r.unit_id: r for r in rows})
    return {u: r.reason for u, r in last.items() if r.action == "unapprove"}


def _approvals(conn: Connection, principal: Principal, ds: DataSet, period: pe.Period) -> list[WorkItem]:
    """The principal's units below which reports of the period wait for approval."""
    pid = period_id(conn, period.id)
    if pid is None:
        return []
    due = pe.days_after_end(period, ds.due_days)
    out = []
    for root in _approval_roots(conn, principal, period.end):
        waiting = waiting_below(conn, Target(ds, period, root.id, root.code, root), pid)
        if waiting:
            out.append(_item(ds, period, root, "approve", "approve", due,
                             approval_href(ds.code, period.id, root.code), waiting=len(waiting)))
    return out


def _approval_roots(conn: Connection, principal: Principal, day: dt.date) -> Iterable[Any]:
    if principal.unlimited:
        return registry.units_on(conn, day, top_level=True, attributes=False)
    return registry.units_on(conn, day, ids=principal.capture, attributes=False)


def _item(
    ds: DataSet, period: pe.Period, unit: Any, kind: str, status: str, due: dt.date, href: str,
    *, reason: str | None = None, waiting: int = 0,
) -> WorkItem:
    return WorkItem(
        kind=kind, status=status, data_set=ds.code, data_set_name_zh=ds.name_zh, data_set_name_en=ds.name_en,
        period=period.id, unit=unit.code, unit_name_zh=unit.name_zh, unit_name_en=unit.name_en,
        due=due.isoformat(), href=href, reason=reason, waiting=waiting,
    )


# ---------------------------------------------------------------- from a validation problem to its cell


def rule_cells(conn: Connection, catalog: Catalog, data_set: DataSet | None = None) -> dict[str, str]:
    """The cell (``ELEMENT.COMBO``) each validation rule points at: its first reference on the left
    side (else the right), by element code; a total over combos points at the element's first combo."""
    out = {}
    for rule in load_rules(conn, catalog, data_set=data_set):
        refs = sorted(ex.references(rule.left), key=_order) or sorted(ex.references(rule.right), key=_order)
        cells = [c for ref in refs if (c := _cell(catalog, ref))]
        if cells:
            out[rule.code] = cells[0]
    return out


def _order(ref: ex.Ref) -> tuple[str, str]:
    return ref.element, ref.combo or ""


def _cell(catalog: Catalog, ref: ex.Ref) -> str | None:
    element = catalog.element(ref.element)
    if element is None:
        return None
    combo = catalog.option_combo(element, ref.combo) if ref.combo else None
    first = combo or next(iter(catalog.cocs_of(element.combo_id)), None)
    return f"{element.code}.{first.code}" if first is not None else None


def problem_links(conn: Connection, violations: list[Violation], data_set: str | None = None) -> list[str]:
    """For each violation, the form it was found in with its cell focused (data set: ``data_set``,
    else the first, by code, that holds the cell's element and is reported per the period's type)."""
    catalog = load_catalog(conn)
    cells = rule_cells(conn, catalog)
    chosen = catalog.data_set(data_set) if data_set else None
    links = []
    for v in violations:
        named = v.data_element and v.option_combo  # a value outside its bounds names its cell
        cell = f"{v.data_element}.{v.option_combo}" if named else cells.get(v.rule)
        ds = chosen or _holding(catalog, cell, v.period)
        links.append(entry_href(ds.code, v.period, v.unit, cell) if ds is not None else "")
    return links


def value_links(conn: Connection, found: list[dict[str, Any]], data_set: str | None = None) -> list[str]:
    """For each outlier (``de``, ``coc``, ``pe``, ``ou``), its form with its cell focused."""
    catalog = load_catalog(conn)
    chosen = catalog.data_set(data_set) if data_set else None
    links = []
    for o in found:
        cell = f"{o['de']}.{o['coc']}"
        ds = chosen or _holding(catalog, cell, o["pe"])
        links.append(entry_href(ds.code, o["pe"], o["ou"], cell) if ds is not None else "")
    return links


def _holding(catalog: Catalog, cell: str | None, period: str) -> DataSet | None:
    element = _element_of(catalog, cell) if cell else None
    if element is None or not pe.is_valid(period):
        return None
    kind = pe.period_type_of(period).value
    found = [d for d in catalog.data_sets.values() if element.id in d.element_ids and d.period_type == kind]
    return min(found, key=lambda d: d.code, default=None)


def _element_of(catalog: Catalog, cell: str) -> Element | None:
    """The element of a cell ``ELEMENT.COMBO`` whose codes may hold dots (``A.B.X``): the split whose
    left part is an element's code and right part one of its option combos' codes."""
    for i, char in enumerate(cell):
        element = catalog.element(cell[:i]) if char == "." else None
        if element is not None and catalog.option_combo(element, cell[i + 1:]) is not None:
            return element
    return None
