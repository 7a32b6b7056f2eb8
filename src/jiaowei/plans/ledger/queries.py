"""Reading the rectification ledger: findings with their measures, one finding with the histories and
evidence of its measures, overdue measures, and rectification rates by unit and by source.

Only findings whose unit lies within the principal's view scope are read; one outside it is "not
found". Every date rule counts from ``today`` (the caller's injectable clock): a measure is overdue
when its deadline is before ``today`` and it is still open or in progress. The rectification rate
is the share of measures rectified or beyond (rectified, verified, closed) among all.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, select

from jiaowei import clock
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit, unit_filter
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, PermissionDenied, Problem, ValidationError
from jiaowei.plans.evidence import queries as evidence_queries
from jiaowei.plans.evidence.model import Attachment
from jiaowei.plans.ledger import model
from jiaowei.plans.ledger.model import DONE, SourceKind, State
from jiaowei.plans.ledger.store import findings as f
from jiaowei.plans.ledger.store import measures as m
from jiaowei.plans.ledger.store import transitions as t
from jiaowei.registry import queries as registry

OWNER_KIND = "measure"
OPEN_STATES = frozenset({State.OPEN, State.IN_PROGRESS})
BY = ("unit", "source")


def _stamp(value: Any) -> str:
    if isinstance(value, dt.datetime):
        at = value if value.tzinfo else value.replace(tzinfo=dt.UTC)  # SQLite gives back naive UTC
        return at.isoformat(timespec="seconds")
    return str(value)


def local_label(stamp: str) -> str:
    """An ISO timestamp as the commission's clock shows it: "2020-06-01 09:30"."""
    try:
        return clock.local(stamp)  # in the commission's time zone (JIAOWEI_TIME_ZONE)
    except ValueError:
        return stamp


@dataclass(frozen=True)
class Transition:
    """One change of a measure's state (``from_state`` None: the measure was recorded)."""

    from_state: str | None
    to_state: str
    step: str
    comment: str
    actor: str
    at: str
    on_day: dt.date

    @property
    def at_label(self) -> str:
        return local_label(self.at)

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.from_state, "to": self.to_state, "step": self.step, "comment": self.comment,
                "by": self.actor, "at": self.at, "day": self.on_day.isoformat()}


@dataclass(frozen=True)
class Measure:
    """A rectification measure, with whether it is overdue on the day it was read for."""

    id: int
    uid: str
    finding: str
    position: int
    text: str
    owner: str
    deadline: dt.date
    state: str
    updated_at: str
    overdue: bool
    days_overdue: int
    history: tuple[Transition, ...] = ()
    evidence: tuple[Attachment, ...] = ()

    @property
    def accepted(self) -> tuple[str, ...]:
        """The states this measure may move to from its current one."""
        return tuple(s.value for s in model.accepted_from(State(self.state)))

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.uid, "finding": self.finding, "position": self.position, "text": self.text,
                "owner": self.owner, "deadline": self.deadline.isoformat(), "state": self.state,
                "accepted": list(self.accepted), "overdue": self.overdue, "daysOverdue": self.days_overdue,
                "lastUpdated": self.updated_at, "history": [h.as_dict() for h in self.history],
                "evidence": [{"id": a.uid, "filename": a.filename, "mediaType": a.media_type, "size": a.size,
                              "uploadedBy": a.uploaded_by, "uploaded": a.uploaded_at_label, "href": a.api_url}
                             for a in self.evidence]}


@dataclass(frozen=True)
class Finding:
    """A finding of an inspection, audit or review about one unit, with its measures in order."""

    uid: str
    source_kind: str
    source: str
    found_on: dt.date
    unit: str
    unit_name_zh: str
    unit_name_en: str
    severity: str
    text: str
    created_by: str
    created_at: str
    measures: tuple[Measure, ...] = field(default_factory=tuple)

    @property
    def created_label(self) -> str:
        return local_label(self.created_at)

    @property
    def name_zh(self) -> str:  # the unit's names, for the pages' name() macro
        return self.unit_name_zh

    @property
    def name_en(self) -> str:
        return self.unit_name_en

    @property
    def done(self) -> int:
        return sum(1 for x in self.measures if x.state in DONE)

    @property
    def overdue(self) -> int:
        return sum(1 for x in self.measures if x.overdue)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.uid, "sourceKind": self.source_kind, "source": self.source,
                "foundOn": self.found_on.isoformat(), "orgUnit": self.unit, "orgUnitName": self.unit_name_zh,
                "orgUnitName_en": self.unit_name_en, "severity": self.severity, "text": self.text,
                "createdBy": self.created_by, "created": self.created_at,
                "rectified": self.done, "total": len(self.measures),
                "rate": model.rate(self.done, len(self.measures)),
                "measures": [x.as_dict() for x in self.measures]}


@dataclass(frozen=True)
class Overdue:
    """An overdue measure with its finding (the finding's own ``measures`` left empty)."""

    measure: Measure
    finding: Finding

    def as_dict(self) -> dict[str, Any]:
        left_out = ("measures", "rectified", "total", "rate")
        head = {k: v for k, v in self.finding.as_dict().items() if k not in left_out}
        return {**self.measure.as_dict(), "finding": head}


@dataclass(frozen=True)
class Rate:
    """How many measures of a unit's (or a source's) findings are rectified or beyond, of all."""

    key: str
    name_zh: str
    name_en: str
    source_kind: str | None
    done: int
    total: int
    overdue: int

    @property
    def rate(self) -> float | None:
        return model.rate(self.done, self.total)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name_zh, "name_en": self.name_en,
                "sourceKind": self.source_kind, "rectified": self.done, "total": self.total,
                "overdue": self.overdue, "rate": self.rate}


# ---------------------------------------------------------------- reading


def _visible(conn: Connection, principal: Principal, unit_id: int, day: dt.date) -> bool:
    try:
        require_unit(conn, principal, Action.VIEW, unit_id, day, "")
    except (NotFound, PermissionDenied):
        return False
    return True


def _measure(row: Any, today: dt.date, history: Sequence[Transition] = (),
             evidence: Sequence[Attachment] = ()) -> Measure:
    late = row.deadline < today and row.state in OPEN_STATES
    return Measure(id=row.id, uid=row.uid, finding=row.finding_uid, position=row.position, text=row.text,
                   owner=row.owner, deadline=row.deadline, state=row.state, updated_at=_stamp(row.updated_at),
                   overdue=late, days_overdue=(today - row.deadline).days if late else 0,
                   history=tuple(history), evidence=tuple(evidence))


def _finding(row: Any, codes: dict[int, str], names: dict[int, Any], found: Sequence[Measure]) -> Finding:
    unit = names.get(row.unit_id)
    return Finding(uid=row.uid, source_kind=row.source_kind, source=row.source, found_on=row.found_on,
                   unit=codes.get(row.unit_id, ""), unit_name_zh=unit.name_zh if unit else "",
                   unit_name_en=unit.name_en if unit else "", severity=row.severity, text=row.text,
                   created_by=row.created_by, created_at=_stamp(row.created_at), measures=tuple(found))


def _load(conn: Connection, rows: Sequence[Any], today: dt.date, *, details: bool = False) -> list[Finding]:
    """The findings of ``rows`` with their measures (and, with ``details``, histories and evidence)."""
    ids = [r.id for r in rows]
    by_finding: dict[int, list[Any]] = defaultdict(list)
    if ids:
        query = (select(m, f.c.uid.label("finding_uid")).join(f, f.c.id == m.c.finding_id)
                 .where(m.c.finding_id.in_(ids)).order_by(m.c.finding_id, m.c.position, m.c.id))
        for row in conn.execute(query):
            by_finding[row.finding_id].append(row)
    measure_ids = [r.id for rows_ in by_finding.values() for r in rows_]
    histories = _histories(conn, measure_ids) if details else {}
    files = (evidence_queries.attachments(conn, owner_kind=OWNER_KIND, owner_ids=measure_ids)
             if details else {})
    unit_ids = {r.unit_id for r in rows}
    codes = registry.codes_of(conn, unit_ids)
    names = registry.last_known(conn, unit_ids)
    return [_finding(r, codes, names, [_measure(x, today, histories.get(x.id, ()), files.get(x.id, ()))
                                       for x in by_finding[r.id]]) for r in rows]


def _histories(conn: Connection, measure_ids: Iterable[int]) -> dict[int, list[Transition]]:
    out: dict[int, list[Transition]] = defaultdict(list)
    wanted = list(measure_ids)
    if not wanted:
        return out
    for row in conn.execute(select(t).where(t.c.measure_id.in_(wanted)).order_by(t.c.measure_id, t.c.id)):
        out[row.measure_id].append(Transition(row.from_state, row.to_state, row.step, row.comment, row.actor,
                                              _stamp(row.at), row.on_day))
    return out


def _filter_problems(source_kind: str | None, state: str | None) -> list[Problem]:
    problems = []
    if source_kind and source_kind not in {k.value for k in SourceKind}:
        problems.append(Problem("unknown value", field="source_kind", value=source_kind,
                                expected=", ".join(SourceKind)))
    if state and state not in {s.value for s in State}:
        problems.append(Problem("no such state", field="state", value=state, expected=", ".join(State)))
    return problems


def findings(
    conn: Connection,
    *,
    principal: Principal,
    today: dt.date,
    unit: str | None = None,
    source: str | None = None,
    source_kind: str | None = None,
    state: str | None = None,
    details: bool = False,
) -> list[Finding]:
    """The findings the principal may see, newest first, with their measures: those of ``unit`` and
    the units below it, of one ``source`` or ``source_kind``, having a measure in ``state``.
    ``details`` adds each measure's history and evidence (the export and the finding page)."""
    require_action(principal, Action.VIEW)
    if problems := _filter_problems(source_kind, state):
        raise ValidationError("The filter is not valid.", problems)
    query = select(f).order_by(f.c.found_on.desc(), f.c.id.desc())
    if not principal.unlimited:
        visible = registry.unit_ids_on_select(today).where(unit_filter(conn, principal, Action.VIEW, today))
        query = query.where(f.c.unit_id.in_(visible))
    if unit:
        unit_id = registry.visible_id(conn, principal, unit, today)
        query = query.where(f.c.unit_id.in_(registry.subtree_ids(conn, unit_id, today) or [unit_id]))
    if source:
        query = query.where(f.c.source == source)
    if source_kind:
        query = query.where(f.c.source_kind == source_kind)
    if state:
        query = query.where(f.c.id.in_(select(m.c.finding_id).where(m.c.state == state)))
    return _load(conn, conn.execute(query).all(), today, details=details)


def finding(conn: Connection, *, principal: Principal, uid: str, today: dt.date) -> Finding:
    """One finding with its measures, their histories and evidence; "not found" outside the view scope."""
    require_action(principal, Action.VIEW)
    row = conn.execute(select(f).where(f.c.uid == uid)).first()
    if row is None or not _visible(conn, principal, row.unit_id, today):
        raise NotFound(M_("No finding {uid!r}.",
                          uid=uid), [Problem("no such finding", field="finding", value=uid,
                                                        expected=N_("the id of a finding you may see"))])
    return _load(conn, [row], today, details=True)[0]


def measure(conn: Connection, *, principal: Principal, uid: str, today: dt.date) -> Measure:
    """One measure with its history and evidence; "not found" outside the view scope."""
    require_action(principal, Action.VIEW)
    row = conn.execute(select(m.c.finding_id, f.c.uid).join(f, f.c.id == m.c.finding_id)
                       .where(m.c.uid == uid)).first()
    found = None
    if row is not None:
        try:
            found = finding(conn, principal=principal, uid=row.uid, today=today)
        except NotFound:
            found = None
    for x in found.measures if found else ():
        if x.uid == uid:
            return x
    raise NotFound(M_("No measure {uid!r}.", uid=uid), [Problem("no such measure", field="measure", value=uid,
                                                    expected=N_("the id of a measure you may see"))])


def overdue(conn: Connection, *, principal: Principal, today: dt.date,
            unit: str | None = None, items: Sequence[Finding] | None = None) -> list[Overdue]:
    """Measures whose deadline is before ``today`` and that are still open or in progress, the most
    overdue first. ``items``: the findings of ``unit`` already read (the ledger reads them once)."""
    if items is None:
        items = findings(conn, principal=principal, today=today, unit=unit)
    found = [Overdue(x, replace(item, measures=())) for item in items for x in item.measures if x.overdue]
    return sorted(found, key=lambda o: (o.measure.deadline, o.finding.unit, o.measure.position))


def rates(conn: Connection, *, principal: Principal, today: dt.date, by: str = "unit",
          unit: str | None = None, items: Sequence[Finding] | None = None) -> list[Rate]:
    """The rectification rate of each unit with findings (``by="unit"``, in code order) or of each
    source (``by="source"``, e.g. 2020年市委巡视, newest first). ``items``: the findings of ``unit``
    already read (the ledger reads them once)."""
    if by not in BY:
        raise ValidationError("The grouping is not valid.", [Problem("unknown value", field="by", value=by,
                                                                     expected=", ".join(BY))])
    if items is None:
        items = findings(conn, principal=principal, today=today, unit=unit)
    groups: dict[str, list[Finding]] = defaultdict(list)
    for item in items:
        groups[item.unit if by == "unit" else item.source].append(item)
    out = []
    for key, items in groups.items():
        all_measures = [x for item in items for x in item.measures]
        first = items[0]
        out.append(Rate(key=key, name_zh=first.unit_name_zh if by == "unit" else key,
                        name_en=first.unit_name_en if by == "unit" else key,
                        source_kind=None if by == "unit" else first.source_kind,
                        done=sum(1 for x in all_measures if x.state in DONE), total=len(all_measures),
                        overdue=sum(1 for x in all_measures if x.overdue)))
    return sorted(out, key=lambda r: r.key) if by == "unit" else out


def totals(rows: Sequence[Rate]) -> Rate:
    """All the rows together (the ledger's overall rate)."""
    return Rate(key="", name_zh="", name_en="", source_kind=None, done=sum(r.done for r in rows),
                total=sum(r.total for r in rows), overdue=sum(r.overdue for r in rows))
