"""Rectification ledger use cases that write: record a finding, add a measure, move a measure.

The commission (``plans.manage``) records findings and their measures, verifies, returns, closes and
re-checks measures; a unit (``plans.report``, its capture scope covering the finding's unit) starts
a measure and reports it rectified, with evidence files. A finding outside the principal's view
scope is "not found". The state machine is :mod:`jiaowei.plans.ledger.model`. Every change is
written to the audit log; nothing commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, PermissionDenied, Problem, ValidationError
from jiaowei.indicators.model import new_uid
from jiaowei.plans.evidence import service as evidence_service
from jiaowei.plans.ledger import model
from jiaowei.plans.ledger.model import Severity, SourceKind, State
from jiaowei.plans.ledger.store import findings, measures, transitions
from jiaowei.registry import queries as registry
from jiaowei.text import text_problem

MAX_SOURCE = 200
MAX_OWNER = 200
MAX_TEXT = 4000
MAX_MEASURES = 50
OWNER_KIND = "measure"
SEVERITY_ALIASES = {"严重": Severity.HIGH, "较重": Severity.MEDIUM, "一般": Severity.LOW}
SOURCE_KIND_ALIASES = {"巡视": SourceKind.INSPECTION, "巡察": SourceKind.INSPECTION,
                       "巡视巡察": SourceKind.INSPECTION, "巡视/巡察": SourceKind.INSPECTION,
                       "审计": SourceKind.AUDIT, "检查": SourceKind.REVIEW}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------- checking input


def _date(value: Any, field: str, problems: list[Problem], row: int | None = None) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        shown = None if value is None else str(value)
        problems.append(Problem("not a date", row=row, field=field, value=shown,
                                expected="YYYY-MM-DD, e.g. 2020-09-30"))
        return None


def _text(value: Any, field: str, limit: int, problems: list[Problem], *, multiline: bool = False,
          row: int | None = None) -> str:
    text = str(value or "").strip()
    if not text or len(text) > limit:
        problems.append(Problem("text is required" if not text else "text too long", row=row, field=field,
                                value=text[:100] or None, expected=M_("1 to {limit} characters",
                                                                      limit=limit)))
    elif bad := text_problem(text, field=field, multiline=multiline, row=row):
        problems.append(bad)
    return text


def _choice(value: Any, field: str, kind: type[SourceKind] | type[Severity], aliases: Mapping[str, Any],
            problems: list[Problem]) -> str:
    text = str(value or "").strip()
    if text in aliases:
        return str(aliases[text].value)
    if text in {k.value for k in kind}:
        return text
    problems.append(Problem("unknown value", field=field, value=text,
                            expected=", ".join(k.value for k in kind) + " (or " + ", ".join(aliases) + ")"))
    return text


def _measure_values(spec: Mapping[str, Any], problems: list[Problem], row: int | None = None,
                    prefix: str = "") -> dict[str, Any]:
    return {"text": _text(spec.get("text"), f"{prefix}text", MAX_TEXT, problems, multiline=True, row=row),
            "owner": _text(spec.get("owner"), f"{prefix}owner", MAX_OWNER, problems, row=row),
            "deadline": _date(spec.get("deadline"), f"{prefix}deadline", problems, row)}


def _unit_id(conn: Connection, principal: Principal, unit: str, day: dt.date | None,
             problems: list[Problem]) -> int | None:
    """The unit's id once the principal may manage plans there on ``day`` (the finding's date)."""
    unit_id = registry.id_of(conn, unit or "")
    if unit_id is None:
        problems.append(Problem("no such unit", field="unit", value=unit, expected="the code of a unit"))
        return None
    if day is not None:
        require_unit(conn, principal, Action.PLANS_MANAGE, unit_id, day, unit)
    return unit_id


# ---------------------------------------------------------------- writing


def _record(conn: Connection, principal: Principal, verb: str, entity: str, key: str, *,
            before: Any = None, after: Any = None) -> None:
    audit.record(conn, actor=principal.username, action=f"plans.rectification.{verb}", entity=entity,
                 entity_key=key, before=audit.jsonable(before), after=audit.jsonable(after))


def record_finding(
    conn: Connection,
    *,
    principal: Principal,
    source_kind: str,
    source: str,
    found_on: dt.date | str,
    unit: str,
    severity: str,
    text: str,
    measures: Sequence[Mapping[str, Any]] = (),
) -> str:
    """Record a finding of an inspection, audit or review about ``unit`` (a code), with its measures
    (``{"text", "owner", "deadline"}`` each); returns the finding's uid. ``severity`` is high, medium
    or low (严重, 较重, 一般 too); ``source_kind`` inspection, audit or review (巡视, 巡察, 审计, 检查)."""
    require_action(principal, Action.PLANS_MANAGE)
    problems: list[Problem] = []
    values: dict[str, Any] = {
        "source_kind": _choice(source_kind, "source_kind", SourceKind, SOURCE_KIND_ALIASES, problems),
        "source": _text(source, "source", MAX_SOURCE, problems),
        "found_on": _date(found_on, "found_on", problems),
        "severity": _choice(severity, "severity", Severity, SEVERITY_ALIASES, problems),
        "text": _text(text, "text", MAX_TEXT, problems, multiline=True)}
    if len(measures) > MAX_MEASURES:
        problems.append(Problem("too many measures", field="measures", value=len(measures),
                                expected=M_("at most {most}", most=MAX_MEASURES)))
    specs = [_measure_values(m, problems, i, "measures.") for i, m in enumerate(measures[:MAX_MEASURES], 1)]
    unit_id = _unit_id(conn, principal, unit, values["found_on"], problems)
    if problems:
        raise ValidationError("The finding cannot be recorded.", problems)
    uid = new_uid()
    now = _now()
    finding_id = _insert(conn, insert(findings).values(
        uid=uid, unit_id=unit_id, created_by=principal.username, created_at=now, **values))
    _record(conn, principal, "finding.record", "rectification_findings", uid, after={**values, "unit": unit})
    for position, spec in enumerate(specs, 1):
        _insert_measure(conn, principal, finding_id, uid, position, spec, now, values["found_on"])
    return uid


def _insert_measure(conn: Connection, principal: Principal, finding_id: int, finding_uid: str, position: int,
                    spec: dict[str, Any], now: dt.datetime, day: dt.date) -> str:
    uid = new_uid()
    measure_id = _insert(conn, insert(measures).values(
        uid=uid, finding_id=finding_id, position=position, state=State.OPEN.value,
        created_by=principal.username, created_at=now, updated_at=now, **spec))
    conn.execute(insert(transitions).values(
        measure_id=measure_id, from_state=None, to_state=State.OPEN.value, step="created", comment="",
        actor=principal.username, at=now, on_day=day))
    _record(conn, principal, "measure.add", "rectification_measures", uid,
            after={**spec, "finding": finding_uid, "state": State.OPEN.value})
    return uid


def _insert(conn: Connection, statement: Any) -> int:
    """Run an insert; the new row's id."""
    key = conn.execute(statement).inserted_primary_key
    assert key is not None
    return int(key[0])


def _finding_row(conn: Connection, principal: Principal, uid: str, day: dt.date | None) -> Any:
    """The finding, when the principal may view its unit on ``day`` (default: the finding's date)."""
    row = conn.execute(select(findings).where(findings.c.uid == uid)).first()
    if row is None or not _may_view(conn, principal, row.unit_id, day or row.found_on):
        raise NotFound(M_("No finding {uid!r}.",
                          uid=uid), [Problem("no such finding", field="finding", value=uid,
                                                        expected=N_("the id of a finding you may see"))])
    return row


def _may_view(conn: Connection, principal: Principal, unit_id: int, day: dt.date) -> bool:
    try:
        require_unit(conn, principal, Action.VIEW, unit_id, day, "")
    except (NotFound, PermissionDenied):
        return False
    return True


def add_measure(conn: Connection, *, principal: Principal, finding: str, text: str, owner: str,
                deadline: dt.date | str, today: dt.date | None = None) -> str:
    """Add a measure (open) to a finding; returns the measure's uid. ``today``: the day for the scope
    check (default: the finding's date)."""
    require_action(principal, Action.PLANS_MANAGE)
    row = _finding_row(conn, principal, finding, today)
    code = registry.codes_of(conn, [row.unit_id]).get(row.unit_id, "")
    require_unit(conn, principal, Action.PLANS_MANAGE, row.unit_id, today or row.found_on, code)
    problems: list[Problem] = []
    spec = _measure_values({"text": text, "owner": owner, "deadline": deadline}, problems)
    count, last = conn.execute(select(func.count(), func.max(measures.c.position))
                               .where(measures.c.finding_id == row.id)).one()
    if count >= MAX_MEASURES:
        problems.append(Problem("too many measures", field="measures", value=count,
                                expected=M_("at most {most}", most=MAX_MEASURES)))
    if problems:
        raise ValidationError("The measure cannot be added.", problems)
    position = (last or 0) + 1
    return _insert_measure(conn, principal, row.id, row.uid, position, spec, _now(), today or row.found_on)


def _measure_row(conn: Connection, principal: Principal, uid: str, day: dt.date) -> Any:
    m, f = measures, findings
    row = conn.execute(select(m, f.c.unit_id, f.c.uid.label("finding_uid"))
                       .join(f, f.c.id == m.c.finding_id).where(m.c.uid == uid)).first()
    if row is None or not _may_view(conn, principal, row.unit_id, day):
        raise NotFound(M_("No measure {uid!r}.",
                          uid=uid), [Problem("no such measure", field="measure", value=uid,
                                                        expected=N_("the id of a measure you may see"))])
    return row


def _require_writer(conn: Connection, principal: Principal, row: Any, action: Action, day: dt.date) -> None:
    code = registry.codes_of(conn, [row.unit_id]).get(row.unit_id, "")
    require_unit(conn, principal, action, row.unit_id, day, code)


def transition(
    conn: Connection,
    *,
    principal: Principal,
    measure: str,
    to_state: str,
    comment: str = "",
    today: dt.date,
    evidence: Sequence[tuple[str, bytes]] = (),
) -> str:
    """Move a measure to ``to_state``, with a comment and evidence files (``(filename, content)``);
    returns the new state. Refused transitions raise :class:`model.TransitionRefused` (409)."""
    if not (principal.may(Action.PLANS_REPORT) or principal.may(Action.PLANS_MANAGE)):
        require_action(principal, Action.PLANS_REPORT)
    row = _measure_row(conn, principal, measure, today)
    current = State(row.state)
    asked = model.parse_state(to_state)
    rule = model.rule_for(measure=row.uid, current=current, asked=asked)
    _require_writer(conn, principal, row, Action.PLANS_MANAGE if rule.manage else Action.PLANS_REPORT, today)
    comment = (comment or "").strip()
    if bad := text_problem(comment, field="comment", multiline=True):
        raise ValidationError("The comment cannot be saved.", [bad])
    if len(comment) > MAX_TEXT:
        raise ValidationError("The comment cannot be saved.", [
            Problem("text too long", field="comment", value=comment[:100],
                    expected=M_("at most {most} characters", most=MAX_TEXT))])
    model.check_transition(measure=row.uid, current=current, asked=asked, comment=comment)
    now = _now()
    conn.execute(update(measures).where(measures.c.id == row.id).values(state=asked.value, updated_at=now))
    conn.execute(insert(transitions).values(
        measure_id=row.id, from_state=current.value, to_state=asked.value, step=rule.step.value,
        comment=comment, actor=principal.username, at=now, on_day=today))
    files = _attach(conn, principal, row, evidence)
    _record(conn, principal, f"measure.{rule.step.value}", "rectification_measures", row.uid,
            before={"state": current.value},
            after={"state": asked.value, "comment": comment, "day": today, "evidence": files})
    return asked.value


def attach_evidence(conn: Connection, *, principal: Principal, measure: str, today: dt.date,
                    evidence: Sequence[tuple[str, bytes]]) -> list[str]:
    """Attach evidence files to a measure without moving it (whoever may move it forward or manage
    the ledger); returns the files' uids."""
    require_action(principal, Action.PLANS_REPORT)
    row = _measure_row(conn, principal, measure, today)
    _require_writer(conn, principal, row, Action.PLANS_REPORT, today)
    if not evidence:
        raise ValidationError("No file was sent.", [Problem("no file", field="evidence",
                                                            expected="one or more files")])
    files = _attach(conn, principal, row, evidence)
    _record(conn, principal, "measure.evidence", "rectification_measures", row.uid, after={"evidence": files})
    return files


def _attach(conn: Connection, principal: Principal, row: Any,
            evidence: Sequence[tuple[str, bytes]]) -> list[str]:
    return [evidence_service.attach(conn, principal=principal, owner_kind=OWNER_KIND, owner_id=row.id,
                                    unit_id=row.unit_id, filename=name, content=content).uid
            for name, content in evidence]
