"""Appraisals: the use cases that write. Keyword-only arguments, permission checks here, every
change audited (``plans.appraisals.*``), nothing committed.

- :func:`create_template`: criteria with weights and scales, grade thresholds (plans.manage).
- :func:`create_round`: a template, a year, the subjects (units or named leaders of units within the
  manager's view scope), the reviewers (existing, active users) assigned to them, a deadline; the
  trimmed mean; the data element the totals feed (plans.manage).
- :func:`record_scores`: a reviewer scores the criteria of one subject assigned to them, with
  comments and evidence files, while the round is open and its deadline has not passed.
- :func:`change_deadline` (plans.manage) and :func:`close_round` (plans.manage): closing publishes
  the results and, when the round names a data element, writes each unit subject's weighted total
  as that element's value for the round's year at the unit, through the data values service (with
  its checks: the principal's capture scope, a data set collecting the element yearly from the unit,
  locks). When any value is refused the round stays open and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, update

from jiaowei.audit import service as audit
from jiaowei.auth import queries as users
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.db.engine import inserted_id
from jiaowei.errors import M_, Conflict, NotFound, PermissionDenied, Problem, ValidationError
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.model import ValueRow, ValueType, new_uid
from jiaowei.indicators.values import service as values
from jiaowei.plans.appraisals import model, queries
from jiaowei.plans.appraisals.store import (
    appraisal_assignments,
    appraisal_criteria,
    appraisal_rounds,
    appraisal_scores,
    appraisal_subjects,
    appraisal_templates,
)
from jiaowei.plans.evidence import service as evidence
from jiaowei.registry import queries as registry
from jiaowei.text import text_problem

OWNER_KIND = "appraisal_score"
MAX_NAME = 230
MAX_COMMENT = 4000
MAX_CRITERIA = 50
MAX_SUBJECTS = 500
FED_TYPES = (ValueType.NUMBER, ValueType.PERCENTAGE, ValueType.INTEGER)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _record(conn: Connection, principal: Principal, verb: str, entity: str, key: str, *, before: Any = None,
            after: Any = None) -> None:
    audit.record(conn, actor=principal.username, action=f"plans.appraisals.{verb}", entity=entity,
                 entity_key=key, before=before, after=after)


def _text(value: Any, field: str, problems: list[Problem], *, required: bool = False, row: int | None = None,
          limit: int = MAX_NAME, multiline: bool = False) -> str:
    """``value`` as stripped text, or a problem when it is missing, too long or holds a control character."""
    text = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        problems.append(Problem("not text", row=row, field=field, value=str(value)[:100], expected="text"))
    elif required and not text:
        problems.append(Problem("required", row=row, field=field, value=value or None,
                                expected=M_("1 to {limit} characters", limit=limit)))
    elif len(text) > limit:
        problems.append(Problem("too long", row=row, field=field, value=text[:100],
                                expected=M_("at most {limit} characters", limit=limit)))
    elif bad := text_problem(text, field=field, row=row, multiline=multiline):
        problems.append(bad)
    return text


def _number(value: Any, field: str, problems: list[Problem], *, row: int | None = None,
            expected: str = "a number") -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        problems.append(Problem("not a number", row=row, field=field, value=value, expected=expected))
        return None
    return number


# ---------------------------------------------------------------- templates


def _criterion(spec: Mapping[str, Any], row: int, problems: list[Problem]) -> dict[str, Any]:
    name_zh = _text(spec.get("name_zh"), "name_zh", problems, required=True, row=row)
    name_en = _text(spec.get("name_en", ""), "name_en", problems, row=row)
    weight = _number(spec.get("weight", 1), "weight", problems, row=row, expected="a weight above 0")
    low = _number(spec.get("min", 0), "min", problems, row=row)
    high = _number(spec.get("max", 100), "max", problems, row=row)
    if weight is not None and weight <= 0:
        problems.append(Problem("the weight must be above 0", row=row, field="weight", value=weight,
                                expected="a weight above 0"))
    if low is not None and high is not None and low >= high:
        problems.append(Problem("the scale's maximum must lie above its minimum", row=row, field="max",
                                value=high, expected=M_("a number above {low:g}", low=low)))
    return {"name_zh": name_zh, "name_en": name_en, "weight": weight, "min_score": low, "max_score": high}


def _thresholds(given: Mapping[str, Any] | None, problems: list[Problem]) -> model.Thresholds:
    default = model.Thresholds()
    given = given or {}
    found = {name: _number(given.get(name, getattr(default, name)), name, problems, expected="0 to 100")
             for name in ("excellent", "good", "fair")}
    if any(v is None for v in found.values()):
        return default
    thresholds = model.Thresholds(**{k: float(v or 0) for k, v in found.items()})
    if expected := thresholds.problem():
        problems.append(Problem("the grade thresholds are out of order", field="thresholds",
                                value=f"{thresholds.excellent:g}/{thresholds.good:g}/{thresholds.fair:g}",
                                expected=expected))
    return thresholds


def create_template(
    conn: Connection,
    *,
    principal: Principal,
    name_zh: str,
    name_en: str = "",
    description: str = "",
    criteria: Sequence[Mapping[str, Any]],
    thresholds: Mapping[str, Any] | None = None,
) -> str:
    """A new template; ``criteria`` are dicts ``{"name_zh", "name_en", "weight", "min", "max"}`` (weight
    default 1, scale default 0–100), ``thresholds`` ``{"excellent", "good", "fair"}`` (default 90, 80,
    60). Returns the template's uid."""
    require_action(principal, Action.PLANS_MANAGE)
    problems: list[Problem] = []
    names = (_text(name_zh, "name_zh", problems, required=True), _text(name_en, "name_en", problems))
    about = _text(description, "description", problems, limit=MAX_COMMENT, multiline=True)
    if not criteria or len(criteria) > MAX_CRITERIA:
        problems.append(Problem("a template needs criteria", field="criteria", value=len(criteria),
                                expected=M_("1 to {most} criteria", most=MAX_CRITERIA)))
    checked = [_criterion(c, n, problems) for n, c in enumerate(criteria[:MAX_CRITERIA], 1)]
    grades = _thresholds(thresholds, problems)
    if problems:
        raise ValidationError("The appraisal template cannot be saved.", problems)
    uid = new_uid()
    template_id = inserted_id(conn.execute(insert(appraisal_templates).values(
        uid=uid, name_zh=names[0], name_en=names[1], description=about, excellent=grades.excellent,
        good=grades.good, fair=grades.fair, created_by=principal.username, created_at=_now())))
    for position, c in enumerate(checked, 1):
        conn.execute(insert(appraisal_criteria).values(uid=new_uid(), template_id=template_id,
                                                       position=position, **c))
    after = {"name_zh": names[0], "name_en": names[1], "criteria": checked,
             "thresholds": [grades.excellent, grades.good, grades.fair]}
    _record(conn, principal, "template.create", "appraisal_templates", uid, after=after)
    return uid


# ---------------------------------------------------------------- rounds


def _template_id(conn: Connection, uid: str, problems: list[Problem]) -> int | None:
    found = conn.scalar(select(appraisal_templates.c.id).where(appraisal_templates.c.uid == uid))
    if found is None:
        problems.append(Problem("no such template", field="template", value=uid,
                                expected="the id of an appraisal template"))
    return found


def _element_problem(conn: Connection, code: str | None) -> Problem | None:
    if code is None:
        return None
    element = load_catalog(conn).element(code)
    if element is None or element.value_type not in FED_TYPES:
        return Problem("no such numeric data element", field="dataElement", value=code,
                       expected="the code of a data element of type NUMBER, PERCENTAGE or INTEGER")
    return None


def _reviewer_problem(conn: Connection, username: str, row: int) -> Problem | None:
    try:
        found = users.user_row(conn, username)
    except NotFound:
        found = None
    if found is None or not found.active:
        return Problem("no such user", row=row, field="reviewers", value=username,
                       expected="the username of an active user")
    return None


def _subjects(conn: Connection, principal: Principal, given: Sequence[Mapping[str, Any]],
              reviewers: Sequence[str], today: dt.date, problems: list[Problem]) -> list[dict[str, Any]]:
    """The subjects as they will be saved: unit id, leader and reviewers, each checked."""
    if not given or len(given) > MAX_SUBJECTS:
        problems.append(Problem("a round needs subjects", field="subjects", value=len(given),
                                expected=M_("1 to {most} units or leaders", most=MAX_SUBJECTS)))
    out, seen, users_checked = [], set(), {}
    for row, spec in enumerate(given[:MAX_SUBJECTS], 1):
        code = str(spec.get("unit") or "")
        unit_id = registry.id_of(conn, code)
        if unit_id is None or not queries.visible_units(conn, principal, {unit_id}, today):
            problems.append(Problem("no such unit", row=row, field="unit", value=code or None,
                                    expected="the code of a unit you may view"))
        leader = _text(spec.get("leader") or "", "leader", problems, row=row, limit=100)
        if (unit_id, leader) in seen:
            problems.append(Problem("the subject is named twice", row=row, field="unit", value=code,
                                    expected="each unit (or leader of a unit) once"))
        seen.add((unit_id, leader))
        given_names = [*reviewers, *(spec.get("reviewers") or ())]
        names = sorted({str(r).strip() for r in given_names if str(r).strip()})
        for name in names:
            if name not in users_checked:
                users_checked[name] = _reviewer_problem(conn, name, row)
            if users_checked[name] is not None:
                problems.append(Problem("no such user", row=row, field="reviewers", value=name,
                                        expected="the username of an active user"))
        if not names:
            problems.append(Problem("a subject needs reviewers", row=row, field="reviewers",
                                    value=code or None, expected="the usernames of one or more reviewers"))
        out.append({"unit_id": unit_id, "unit": code, "leader": leader, "reviewers": names})
    return out


def create_round(
    conn: Connection,
    *,
    principal: Principal,
    template: str,
    year: int,
    title_zh: str,
    title_en: str = "",
    deadline: dt.date,
    subjects: Sequence[Mapping[str, Any]],
    reviewers: Sequence[str] = (),
    trimmed: bool = False,
    element: str | None = None,
    today: dt.date,
) -> str:
    """A new open round. ``subjects`` are dicts ``{"unit": code, "leader": name or "", "reviewers":
    [username, …]}``; ``reviewers`` are assigned to every subject besides. ``element``: the code of a
    numeric data element the totals of unit subjects are written to when the round closes. ``today``
    is the day unit scopes are read on. Returns the round's uid."""
    require_action(principal, Action.PLANS_MANAGE)
    problems: list[Problem] = []
    template_id = _template_id(conn, template, problems)
    titles = (_text(title_zh, "title_zh", problems, required=True), _text(title_en, "title_en", problems))
    if not isinstance(year, int) or not 1900 <= year <= 2200:
        problems.append(Problem("not a year", field="year", value=year, expected="a year, e.g. 2020"))
    if (bad := _element_problem(conn, element)) is not None:
        problems.append(bad)
    checked = _subjects(conn, principal, subjects, reviewers, today, problems)
    if problems:
        raise ValidationError("The appraisal round cannot be created.", problems)
    uid = new_uid()
    round_id = inserted_id(conn.execute(insert(appraisal_rounds).values(
        uid=uid, template_id=template_id, year=year, title_zh=titles[0], title_en=titles[1],
        deadline=deadline, trimmed=bool(trimmed), element=element, created_by=principal.username,
        created_at=_now())))
    for position, subject in enumerate(checked, 1):
        subject_id = inserted_id(conn.execute(insert(appraisal_subjects).values(
            uid=new_uid(), round_id=round_id, position=position, unit_id=subject["unit_id"],
            leader=subject["leader"])))
        for name in subject["reviewers"]:
            conn.execute(insert(appraisal_assignments).values(subject_id=subject_id, reviewer=name))
    after = {"template": template, "year": year, "title_zh": titles[0], "title_en": titles[1],
             "deadline": deadline.isoformat(), "trimmed": bool(trimmed), "dataElement": element,
             "subjects": [{k: s[k] for k in ("unit", "leader", "reviewers")} for s in checked]}
    _record(conn, principal, "round.create", "appraisal_rounds", uid, after=after)
    return uid


def _open_round(conn: Connection, uid: str) -> Any:
    row = queries.round_row(conn, uid)
    if row.closed_at is not None:
        raise Conflict("The appraisal round is closed.", [
            Problem("the round is closed", field="round", value=uid, expected="an open round")])
    return row


def change_deadline(conn: Connection, *, principal: Principal, round: str, deadline: dt.date) -> None:
    """Move an open round's deadline (to give reviewers more time, or less)."""
    require_action(principal, Action.PLANS_MANAGE)
    row = _open_round(conn, round)
    conn.execute(update(appraisal_rounds).where(appraisal_rounds.c.id == row.id).values(deadline=deadline))
    _record(conn, principal, "round.deadline", "appraisal_rounds", row.uid,
            before={"deadline": row.deadline.isoformat()}, after={"deadline": deadline.isoformat()})


# ---------------------------------------------------------------- scores


def _assignment(conn: Connection, principal: Principal, round_row: Any, subject: str) -> tuple[Any, Any]:
    """The subject and the principal's assignment to it; NotFound unless they are its reviewer."""
    s, a = appraisal_subjects, appraisal_assignments
    found = conn.execute(select(s, a.c.id.label("assignment_id")).join(a, a.c.subject_id == s.c.id).where(
        s.c.round_id == round_row.id, s.c.uid == subject, a.c.reviewer == principal.username)).first()
    if found is None:
        raise NotFound("No subject of this round is assigned to you under this id.", [
            Problem("no such assignment", field="subject", value=subject,
                    expected="the id of a subject of the round assigned to you")])
    return found, found.assignment_id


def _writable(conn: Connection, row: Any, today: dt.date) -> None:
    """Refuse scores in a closed round or after its deadline."""
    _open_round(conn, row.uid)
    if today > row.deadline:
        raise Conflict("The deadline of this round has passed.", [
            Problem("the deadline has passed", field="round", value=row.deadline.isoformat(),
                    expected="ask the commission to extend the deadline")])


def _subject_label(conn: Connection, subject: Any) -> str:
    unit = registry.last_known(conn, [subject.unit_id])[subject.unit_id]
    return f"{unit.name_zh} · {subject.leader}" if subject.leader else unit.name_zh


def _checked_scores(conn: Connection, round_row: Any, subject: Any,
                    given: Sequence[Mapping[str, Any]]) -> list[tuple[Any, float, str]]:
    """(criterion row, score, comment) of each given score, or a ValidationError naming the subject,
    the criterion, the value and the scale of each score refused."""
    c = appraisal_criteria
    by_uid = {r.uid: r for r in conn.execute(select(c).where(c.c.template_id == round_row.template_id))}
    problems: list[Problem] = []
    out = []
    label = _subject_label(conn, subject)
    for row, spec in enumerate(given, 1):
        criterion = by_uid.get(str(spec.get("criterion")))
        if criterion is None:
            problems.append(Problem("no such criterion", row=row, field="criterion",
                                    value=spec.get("criterion"),
                                    expected="the id of a criterion of the round's template"))
            continue
        scale = model.Criterion(criterion.uid, criterion.weight, criterion.min_score, criterion.max_score)
        where = f"{label} · {criterion.name_zh}: {scale.scale_label()}"
        score = _number(spec.get("score"), "score", problems, row=row, expected=where)
        comment = _text(spec.get("comment") or "", "comment", problems, row=row, limit=MAX_COMMENT,
                        multiline=True)
        if score is not None and not scale.accepts(score):
            problems.append(Problem("score outside the criterion's scale", row=row, field="score",
                                    value=score, expected=where))
        elif score is not None:
            out.append((criterion, score, comment))
    if problems:
        raise ValidationError("The scores were not saved.", problems)
    return out


def record_scores(
    conn: Connection,
    *,
    principal: Principal,
    round: str,
    subject: str,
    scores: Sequence[Mapping[str, Any]],
    today: dt.date,
    evidence: Mapping[str, Sequence[tuple[str, bytes]]] | None = None,
) -> list[str]:
    """The principal's scores of one subject assigned to them: ``scores`` are dicts ``{"criterion":
    uid, "score": number, "comment": text}`` (a criterion scored again is replaced); ``evidence`` maps
    a criterion's uid to files ``(filename, content)`` attached to that score. Refused once the round
    is closed or after its deadline. Returns the uids of the scores saved."""
    require_action(principal, Action.VIEW)
    row = queries.round_row(conn, round)
    subject_row, assignment_id = _assignment(conn, principal, row, subject)
    _writable(conn, row, today)
    checked = _checked_scores(conn, row, subject_row, scores)
    saved, before, after = {}, {}, {}
    for criterion, score, comment in checked:
        old, uid = _save_score(conn, assignment_id, criterion.id, score, comment)
        saved[criterion.uid] = (uid, _score_id(conn, uid))
        if old is not None:
            before[criterion.uid] = old
        after[criterion.uid] = {"score": score, "comment": comment}
    files = _attach(conn, principal, subject_row, saved, evidence or {})
    _record(conn, principal, "scores.record", "appraisal_subjects", subject_row.uid, before=before or None,
            after={"round": row.uid, "reviewer": principal.username, "scores": after, "evidence": files})
    return [uid for uid, _ in saved.values()]


def _save_score(conn: Connection, assignment_id: int, criterion_id: int, score: float,
                comment: str) -> tuple[dict[str, Any] | None, str]:
    s = appraisal_scores
    old = conn.execute(select(s).where(s.c.assignment_id == assignment_id,
                                       s.c.criterion_id == criterion_id)).first()
    if old is None:
        uid = new_uid()
        conn.execute(insert(s).values(uid=uid, assignment_id=assignment_id, criterion_id=criterion_id,
                                      score=score, comment=comment, scored_at=_now()))
        return None, uid
    conn.execute(update(s).where(s.c.id == old.id).values(score=score, comment=comment, scored_at=_now()))
    return {"score": old.score, "comment": old.comment}, old.uid


def _score_id(conn: Connection, uid: str) -> int:
    return int(conn.scalar(select(appraisal_scores.c.id).where(appraisal_scores.c.uid == uid)) or 0)


def _attach(conn: Connection, principal: Principal, subject: Any, saved: Mapping[str, tuple[str, int]],
            files: Mapping[str, Sequence[tuple[str, bytes]]]) -> list[str]:
    """Attach each criterion's files to its score (scored now); returns the attachments' uids."""
    attached = []
    for criterion, given in files.items():
        if not given:
            continue
        if criterion not in saved:
            raise ValidationError("Evidence needs a score.", [
                Problem("evidence for a criterion not scored", field="evidence", value=criterion,
                        expected="score the criterion in the same step")])
        for filename, content in given:
            made = evidence.attach(conn, principal=principal, owner_kind=OWNER_KIND,
                                   owner_id=saved[criterion][1], unit_id=subject.unit_id,
                                   filename=filename, content=content)
            attached.append(made.uid)
    return attached


def attach_evidence(conn: Connection, *, principal: Principal, round: str, subject: str, criterion: str,
                    files: Sequence[tuple[str, bytes]], today: dt.date) -> list[str]:
    """Attach files ``(filename, content)`` to the principal's score of one criterion of a subject
    assigned to them, while the round is open and before its deadline. Returns the attachments' uids."""
    require_action(principal, Action.VIEW)
    row = queries.round_row(conn, round)
    subject_row, assignment_id = _assignment(conn, principal, row, subject)
    _writable(conn, row, today)
    s, c = appraisal_scores, appraisal_criteria
    score = conn.execute(select(s.c.id, s.c.uid).join(c, c.c.id == s.c.criterion_id).where(
        s.c.assignment_id == assignment_id, c.c.uid == criterion)).first()
    if score is None:
        raise ValidationError("Evidence needs a score.", [
            Problem("evidence for a criterion not scored", field="criterion", value=criterion,
                    expected="a criterion you have scored")])
    if not files:
        raise ValidationError("Choose a file.", [Problem("no file chosen", field="evidence",
                                                         expected="one or more evidence files")])
    made = _attach(conn, principal, subject_row, {criterion: (score.uid, score.id)}, {criterion: files})
    _record(conn, principal, "scores.evidence", "appraisal_subjects", subject_row.uid,
            after={"round": row.uid, "criterion": criterion, "evidence": made})
    return made


# ---------------------------------------------------------------- closing


def close_round(conn: Connection, *, principal: Principal, round: str, today: dt.date) -> int:
    """Close an open round: its results are published, and when it names a data element, each unit
    subject's weighted total is written as the element's value for the round's year at the unit.
    Returns how many values were written (0 without an element); ``today`` is the day recorded with
    the close in the audit log."""
    require_action(principal, Action.PLANS_MANAGE)
    row = _open_round(conn, round)
    results = queries.all_results(conn, row.id)
    written = _feed(conn, principal, row, results) if row.element else 0
    conn.execute(update(appraisal_rounds).where(appraisal_rounds.c.id == row.id).values(
        closed_at=_now(), closed_by=principal.username))
    shown = {s.uid: {"total": r.total, "grade": r.grade, "rank": r.rank} for s, r in results}
    _record(conn, principal, "round.close", "appraisal_rounds", row.uid,
            after={"day": today.isoformat(), "results": shown, "dataElement": row.element, "values": written})
    return written


def _feed(conn: Connection, principal: Principal, row: Any,
          results: Sequence[tuple[Any, model.SubjectResult]]) -> int:
    """Write the totals of the unit subjects (not leaders) as the round's element's values."""
    if not principal.may(Action.DATA_CAPTURE):
        raise PermissionDenied("Closing this round writes data values, which your role may not capture.")
    element = load_catalog(conn).element(row.element)
    if element is None:
        raise Conflict("The round's data element no longer exists.", [
            Problem("no such data element", field="dataElement", value=row.element,
                    expected="the code of a numeric data element")])
    codes = registry.codes_of(conn, [s.unit_id for s, _ in results])
    fed = [(s, r) for s, r in results if not s.leader and r.total is not None]
    rows = [ValueRow(data_element=element.code, period=str(row.year), org_unit=codes[s.unit_id],
                     value=_value(r.total, element.value_type), row=n, comment=f"appraisal {row.uid}")
            for n, (s, r) in enumerate(fed, 1)]
    if not rows:
        return 0
    summary = values.import_values(conn, principal=principal, rows=rows, source=f"appraisal:{row.uid}",
                                   check_expiry=False)
    if summary.conflicts:
        raise ValidationError("The round was not closed: its totals cannot be written to the data element.",
                              [c.as_problem() for c in summary.conflicts])
    return len(rows)


def _value(total: float | None, value_type: ValueType) -> str:
    number = total or 0.0
    return str(round(number)) if value_type is ValueType.INTEGER else f"{number:.2f}"
