"""Writes to the risk register: register, change, close and reopen a risk, and record its reviews.

Registering and changing risks needs ``plans.manage`` on the risk's unit (its capture scope);
recording a review needs ``plans.report`` on it, so a unit's own reporters review their risks. A
risk outside the principal's view scope is "not found". Every change is audited; nothing commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit
from jiaowei.db.engine import inserted_id
from jiaowei.domains import N_
from jiaowei.errors import M_, Conflict, Problem, ValidationError
from jiaowei.indicators.model import new_uid
from jiaowei.indicators.targets import compute
from jiaowei.plans.evidence import service as files
from jiaowei.plans.risks import model
from jiaowei.plans.risks.queries import indicator_ids, risk_row
from jiaowei.plans.risks.store import risk_indicators, risk_reviews, risks
from jiaowei.registry import queries as registry
from jiaowei.text import text_problem

MAX_TITLE = 230
MAX_OWNER = 100
MAX_TEXT = 5000
MAX_INDICATORS = 20
EDITABLE = (
    "category",
    "title",
    "description",
    "unit",
    "likelihood",
    "impact",
    "owner",
    "mitigation",
    "cadence",
    "indicators",
)
_AUDITED = (*EDITABLE, "state", "closed_on", "close_note")


# ---------------------------------------------------------------- checking what comes in


def _text(
    problems: list[Problem],
    value: Any,
    name: str,
    limit: int,
    *,
    required: bool = False,
    multiline: bool = False,
) -> str:
    if not isinstance(value, str):
        problems.append(Problem("not text", field=name, value=str(value)[:50], expected="text"))
        return ""
    value = value.strip()
    if required and not value:
        problems.append(Problem("required", field=name, value=value, expected=N_("some text")))
    elif len(value) > limit:
        problems.append(
            Problem("too long", field=name, value=value[:50], expected=M_("at most {limit} characters",
                                                                          limit=limit))
        )
    elif (found := text_problem(value, field=name, multiline=multiline)) is not None:
        problems.append(found)
    return value


def _choice(problems: list[Problem], value: Any, name: str, allowed: type[StrEnum]) -> str:
    values = [str(v.value) for v in allowed]
    if value not in values:
        problems.append(Problem("unknown value", field=name, value=value, expected=" | ".join(values)))
        return values[0]
    return str(value)


def _rating(problems: list[Problem], value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in model.SCALE:
        problems.append(
            Problem(N_("not on the scale"), field=name, value=value, expected=N_("a whole number 1 to 5"))
        )
        return 1
    return value


def _indicators(conn: Connection, problems: list[Problem], codes: Sequence[str]) -> list[int]:
    known = {d.code: d.id for d in compute.all_indicators(conn)}
    wanted = list(dict.fromkeys(c.strip() for c in codes if isinstance(c, str) and c.strip()))
    if len(wanted) > MAX_INDICATORS:
        problems.append(
            Problem(
                N_("too many indicators"),
                field="indicators",
                value=len(wanted),
                expected=M_("at most {most}", most=MAX_INDICATORS),
            )
        )
    for code in wanted:
        if code not in known:
            problems.append(
                Problem(
                    N_("unknown indicator"), field="indicators", value=code,
                    expected="the code of an indicator"
                )
            )
    return [known[c] for c in wanted if c in known]


def _unit_id(conn: Connection, problems: list[Problem], code: Any) -> int | None:
    if not isinstance(code, str) or not code.strip():
        problems.append(Problem("required", field="unit", value=code, expected=N_("a unit code")))
        return None
    found = registry.id_of(conn, code.strip())
    if found is None:
        problems.append(Problem("unknown unit", field="unit", value=code, expected="the code of a unit"))
    return found


def _fields(conn: Connection, problems: list[Problem], given: dict[str, Any]) -> dict[str, Any]:
    """The table's values of the fields given (``unit`` and ``indicators`` become ids)."""
    checks = {
        "category": lambda v: _choice(problems, v, "category", model.Category),
        "title": lambda v: _text(problems, v, "title", MAX_TITLE, required=True),
        "description": lambda v: _text(problems, v, "description", MAX_TEXT, multiline=True),
        "likelihood": lambda v: _rating(problems, v, "likelihood"),
        "impact": lambda v: _rating(problems, v, "impact"),
        "owner": lambda v: _text(problems, v, "owner", MAX_OWNER),
        "mitigation": lambda v: _text(problems, v, "mitigation", MAX_TEXT, multiline=True),
        "cadence": lambda v: _choice(problems, v, "cadence", model.Cadence),
        "unit": lambda v: _unit_id(conn, problems, v),
        "indicators": lambda v: _indicators(conn, problems, v),
    }
    return {name: checks[name](value) for name, value in given.items()}


def _invalid(problems: list[Problem]) -> ValidationError:
    return ValidationError(N_("The risk is not valid."), problems)


# ---------------------------------------------------------------- writing


def _require_unit(
    conn: Connection, principal: Principal, action: Action, unit_id: int, today: dt.date
) -> None:
    code = registry.codes_of(conn, [unit_id])[unit_id]
    require_unit(conn, principal, action, unit_id, today, code)


def _state(conn: Connection, row: Any) -> dict[str, Any]:
    """What the audit log keeps of a risk."""
    codes = {d.id: d.code for d in compute.all_indicators(conn)}
    return {
        "category": row.category,
        "title": row.title,
        "description": row.description,
        "unit": registry.codes_of(conn, [row.unit_id])[row.unit_id],
        "likelihood": row.likelihood,
        "impact": row.impact,
        "owner": row.owner,
        "mitigation": row.mitigation,
        "cadence": row.cadence,
        "indicators": [codes[i] for i in indicator_ids(conn, row.id) if i in codes],
        "state": row.state,
        "closed_on": row.closed_on,
        "close_note": row.close_note,
    }


def _link(conn: Connection, risk_id: int, ids: Sequence[int]) -> None:
    conn.execute(delete(risk_indicators).where(risk_indicators.c.risk_id == risk_id))
    if ids:
        conn.execute(
            insert(risk_indicators),
            [{"risk_id": risk_id, "indicator_id": i, "position": n} for n, i in enumerate(ids, 1)],
        )


def create_risk(
    conn: Connection,
    *,
    principal: Principal,
    category: str,
    title: str,
    unit: str,
    likelihood: int,
    impact: int,
    cadence: str,
    today: dt.date,
    description: str = "",
    owner: str = "",
    mitigation: str = "",
    indicators: Sequence[str] = (),
) -> str:
    """Register a risk of ``unit`` (its first review falls one cadence after ``today``); its uid."""
    require_action(principal, Action.PLANS_MANAGE)
    problems: list[Problem] = []
    values = _fields(
        conn,
        problems,
        {
            "category": category,
            "title": title,
            "description": description,
            "unit": unit,
            "likelihood": likelihood,
            "impact": impact,
            "owner": owner,
            "mitigation": mitigation,
            "cadence": cadence,
            "indicators": indicators,
        },
    )
    if problems:
        raise _invalid(problems)
    unit_id, linked = values.pop("unit"), values.pop("indicators")
    _require_unit(conn, principal, Action.PLANS_MANAGE, unit_id, today)
    now, uid = dt.datetime.now(dt.UTC), new_uid()
    risk_id = inserted_id(
        conn.execute(
            insert(risks).values(
                uid=uid,
                unit_id=unit_id,
                state=model.State.OPEN.value,
                opened_on=today,
                close_note="",
                created_by=principal.username,
                created_at=now,
                updated_at=now,
                **values,
            )
        )
    )
    _link(conn, risk_id, linked)
    row = conn.execute(select(risks).where(risks.c.id == risk_id)).one()
    audit.record(
        conn,
        actor=principal.username,
        action="plans.risks.create",
        entity="risks",
        entity_key=uid,
        after=_state(conn, row),
    )
    return uid


def update_risk(
    conn: Connection, *, principal: Principal, uid: str, today: dt.date, changes: dict[str, Any]
) -> None:
    """Change the given fields of the risk (any of category, title, description, unit, likelihood,
    impact, owner, mitigation, cadence, indicators); moving it needs ``plans.manage`` on both units."""
    require_action(principal, Action.PLANS_MANAGE)
    row = risk_row(conn, principal=principal, uid=uid, today=today)
    _require_unit(conn, principal, Action.PLANS_MANAGE, row.unit_id, today)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise _invalid([Problem(N_("not a field of a risk"), field=name) for name in unknown])
    problems: list[Problem] = []
    values = _fields(conn, problems, changes)
    if problems:
        raise _invalid(problems)
    before = _state(conn, row)
    if "unit" in values:
        values["unit_id"] = values.pop("unit")
        _require_unit(conn, principal, Action.PLANS_MANAGE, values["unit_id"], today)
    if "indicators" in values:
        _link(conn, row.id, values.pop("indicators"))
    conn.execute(
        update(risks).where(risks.c.id == row.id).values(updated_at=dt.datetime.now(dt.UTC), **values)
    )
    _audit_change(conn, principal, "plans.risks.update", row.id, uid, before)


def _audit_change(
    conn: Connection, principal: Principal, action: str, risk_id: int, uid: str, before: dict[str, Any]
) -> None:
    after = _state(conn, conn.execute(select(risks).where(risks.c.id == risk_id)).one())
    changed = [k for k in _AUDITED if before[k] != after[k]]
    if changed:
        audit.record(
            conn,
            actor=principal.username,
            action=action,
            entity="risks",
            entity_key=uid,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )


def close_risk(conn: Connection, *, principal: Principal, uid: str, today: dt.date, note: str = "") -> None:
    """Close an open risk (it leaves the matrix and the reviews due), with a note why."""
    row = _managed(conn, principal, uid, today)
    if row.state == model.State.CLOSED:
        raise Conflict(M_("The risk {uid} is closed already.", uid=uid))
    problems: list[Problem] = []
    text = _text(problems, note, "note", MAX_TEXT, multiline=True)
    if problems:
        raise _invalid(problems)
    before = _state(conn, row)
    conn.execute(
        update(risks)
        .where(risks.c.id == row.id)
        .values(
            state=model.State.CLOSED.value,
            closed_on=today,
            close_note=text,
            updated_at=dt.datetime.now(dt.UTC),
        )
    )
    _audit_change(conn, principal, "plans.risks.close", row.id, uid, before)


def reopen_risk(conn: Connection, *, principal: Principal, uid: str, today: dt.date) -> None:
    """Open a closed risk again; its next review is counted from its last review again."""
    row = _managed(conn, principal, uid, today)
    if row.state == model.State.OPEN:
        raise Conflict(M_("The risk {uid} is open already.", uid=uid))
    before = _state(conn, row)
    conn.execute(
        update(risks)
        .where(risks.c.id == row.id)
        .values(state=model.State.OPEN.value, closed_on=None, updated_at=dt.datetime.now(dt.UTC))
    )
    _audit_change(conn, principal, "plans.risks.reopen", row.id, uid, before)


def _managed(conn: Connection, principal: Principal, uid: str, today: dt.date) -> Any:
    require_action(principal, Action.PLANS_MANAGE)
    row = risk_row(conn, principal=principal, uid=uid, today=today)
    _require_unit(conn, principal, Action.PLANS_MANAGE, row.unit_id, today)
    return row


def record_review(
    conn: Connection,
    *,
    principal: Principal,
    uid: str,
    likelihood: int,
    impact: int,
    note: str,
    today: dt.date,
    evidence: Sequence[tuple[str, bytes]] = (),
) -> str:
    """Record a review of an open risk on ``today``: its new rating, a note and evidence files."""
    require_action(principal, Action.PLANS_REPORT)
    row = risk_row(conn, principal=principal, uid=uid, today=today)
    _require_unit(conn, principal, Action.PLANS_REPORT, row.unit_id, today)
    if row.state != model.State.OPEN:
        raise Conflict(M_("The risk {uid} is closed; reopen it before reviewing it.", uid=uid))
    problems: list[Problem] = []
    rating = (_rating(problems, likelihood, "likelihood"), _rating(problems, impact, "impact"))
    text = _text(problems, note, "note", MAX_TEXT, required=True, multiline=True)
    if problems:
        raise ValidationError(N_("The review is not valid."), problems)
    review_uid = new_uid()
    review_id = inserted_id(
        conn.execute(
            insert(risk_reviews).values(
                uid=review_uid,
                risk_id=row.id,
                reviewed_on=today,
                likelihood=rating[0],
                impact=rating[1],
                previous_likelihood=row.likelihood,
                previous_impact=row.impact,
                note=text,
                reviewed_by=principal.username,
                recorded_at=dt.datetime.now(dt.UTC),
            )
        )
    )
    conn.execute(
        update(risks)
        .where(risks.c.id == row.id)
        .values(likelihood=rating[0], impact=rating[1], reviewed_on=today, updated_at=dt.datetime.now(dt.UTC))
    )
    _attach(conn, principal, review_id, row.unit_id, evidence)
    audit.record(
        conn,
        actor=principal.username,
        action="plans.risks.review",
        entity="risk_reviews",
        entity_key=review_uid,
        before={"risk": uid, "likelihood": row.likelihood, "impact": row.impact},
        after={
            "risk": uid,
            "likelihood": rating[0],
            "impact": rating[1],
            "note": text,
            "reviewed_on": today,
            "evidence": [name for name, _ in evidence],
        },
    )
    return review_uid


def _attach(
    conn: Connection,
    principal: Principal,
    review_id: int,
    unit_id: int,
    evidence: Sequence[tuple[str, bytes]],
) -> None:
    for filename, content in evidence:
        files.attach(
            conn,
            principal=principal,
            owner_kind="risk_review",
            owner_id=review_id,
            unit_id=unit_id,
            filename=filename,
            content=content,
        )
