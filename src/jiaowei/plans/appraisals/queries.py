"""Appraisals: reading templates, rounds, progress and results, each limited to what the principal
may see.

- Templates: those who manage plans (``plans.manage``).
- A round is listed for those who manage plans, for its reviewers, and, once closed, for anyone
  whose view scope covers one of its subject units.
- While a round is open, a reviewer sees only the subjects they are assigned to and only their own
  scores; managers see who has scored how much (progress), not the scores. Results (criterion
  scores, totals, grades, ranks, the distribution) are published when the round closes, to those
  whose view scope covers the subject's unit. Subjects outside the view scope are never shown to a
  manager either. A round nobody may see answers "not found".
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.exc import NoResultFound

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, scope_paths
from jiaowei.db import memo
from jiaowei.db.among import one_of
from jiaowei.db.kept import kept_rows
from jiaowei.errors import M_, NotFound, Problem
from jiaowei.plans.appraisals import model
from jiaowei.plans.appraisals.store import (
    appraisal_assignments as assignments,
)
from jiaowei.plans.appraisals.store import (
    appraisal_criteria as criteria,
)
from jiaowei.plans.appraisals.store import (
    appraisal_rounds as rounds,
)
from jiaowei.plans.appraisals.store import (
    appraisal_scores as scores,
)
from jiaowei.plans.appraisals.store import (
    appraisal_subjects as subjects,
)
from jiaowei.plans.appraisals.store import (
    appraisal_templates as templates,
)
from jiaowei.plans.evidence import queries as evidence_queries
from jiaowei.plans.evidence.model import Attachment
from jiaowei.plans.reads import paths_near
from jiaowei.registry import queries as registry

OWNER_KIND = "appraisal_score"

# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class CriterionShown:
    id: int
    uid: str
    position: int
    name_zh: str
    name_en: str
    weight: float
    min_score: float
    max_score: float

    def name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name_zh

    @property
    def scale(self) -> str:
        return self.as_model().scale_label()

    def as_model(self) -> model.Criterion:
        return model.Criterion(self.uid, self.weight, self.min_score, self.max_score)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.uid, "position": self.position, "name_zh": self.name_zh, "name_en": self.name_en,
                "weight": self.weight, "min": self.min_score, "max": self.max_score}


@dataclass(frozen=True)
class Template:
    id: int
    uid: str
    name_zh: str
    name_en: str
    description: str
    thresholds: model.Thresholds
    criteria: list[CriterionShown]
    created_by: str
    created_at: str

    def name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name_zh

    def as_dict(self) -> dict[str, Any]:
        t = self.thresholds
        return {"id": self.uid, "name_zh": self.name_zh, "name_en": self.name_en,
                "description": self.description,
                "thresholds": {"excellent": t.excellent, "good": t.good, "fair": t.fair},
                "criteria": [c.as_dict() for c in self.criteria], "createdBy": self.created_by,
                "created": self.created_at}


@dataclass(frozen=True)
class RoundSummary:
    id: int
    uid: str
    year: int
    title_zh: str
    title_en: str
    template: str  # the template's uid
    template_name: str
    deadline: dt.date
    trimmed: bool
    element: str | None
    closed: bool
    closed_at: str | None
    mine: int  # subjects assigned to the principal
    mine_done: int  # of which they have scored every criterion

    def title(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_zh

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.uid, "year": self.year, "title_zh": self.title_zh, "title_en": self.title_en,
                "template": self.template, "deadline": self.deadline.isoformat(), "trimmed": self.trimmed,
                "dataElement": self.element, "status": "closed" if self.closed else "open",
                "closed": self.closed_at, "myAssignments": self.mine, "myAssignmentsDone": self.mine_done}


@dataclass(frozen=True)
class OwnScore:
    """One of the principal's own scores (``id`` for evidence; ``uid`` in the API)."""

    id: int
    uid: str
    criterion: str
    score: float
    comment: str
    scored_at: str
    evidence: list[Attachment] = field(default_factory=list)


def attachment_dict(a: Attachment) -> dict[str, Any]:
    return {"id": a.uid, "filename": a.filename, "mediaType": a.media_type, "size": a.size,
            "uploadedBy": a.uploaded_by, "href": a.api_url}


@dataclass(frozen=True)
class ReviewerProgress:
    reviewer: str
    scored: int  # criteria scored
    of: int  # criteria of the template

    @property
    def done(self) -> bool:
        return self.scored >= self.of


@dataclass
class SubjectShown:
    """A subject as the principal may see it: progress for managers, their own scores for a
    reviewer, the result once the round is closed."""

    id: int
    uid: str
    position: int
    unit: str
    unit_id: int
    unit_name_zh: str
    unit_name_en: str
    leader: str
    assigned: bool = False  # to the principal
    progress: list[ReviewerProgress] = field(default_factory=list)
    own: list[OwnScore] = field(default_factory=list)
    result: model.SubjectResult | None = None
    evidence: list[Attachment] = field(default_factory=list)  # managers, once closed: every score's files

    def name(self, language: str) -> str:
        unit = self.unit_name_en if language == "en" and self.unit_name_en else self.unit_name_zh
        return f"{unit} · {self.leader}" if self.leader else unit

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.uid, "orgUnit": self.unit, "orgUnitName": self.unit_name_zh,
                               "orgUnitName_en": self.unit_name_en, "leader": self.leader or None,
                               "assignedToMe": self.assigned}
        if self.progress:
            out["progress"] = [{"reviewer": p.reviewer, "scored": p.scored, "of": p.of, "done": p.done}
                               for p in self.progress]
        if self.assigned:
            out["myScores"] = [{"id": s.uid, "criterion": s.criterion, "score": s.score, "comment": s.comment,
                                "scored": s.scored_at, "evidence": [attachment_dict(a) for a in s.evidence]}
                               for s in self.own]
        if self.evidence:
            out["evidence"] = [attachment_dict(a) for a in self.evidence]
        if self.result is not None:
            r = self.result
            out["result"] = {"criteria": r.criteria, "total": r.total, "grade": r.grade, "rank": r.rank,
                             "reviewers": r.reviewers}
        return out


@dataclass
class RoundDetail:
    summary: RoundSummary
    template: Template
    subjects: list[SubjectShown]
    manager: bool
    reviewer: bool
    distribution: dict[model.Grade, int] | None = None  # closed rounds: over the subjects shown

    @property
    def results(self) -> list[SubjectShown]:
        """The subjects with a result, best first (incomplete ones last)."""
        shown = [s for s in self.subjects if s.result is not None]
        return sorted(shown, key=lambda s: (s.result.rank is None, s.result.rank or 0, s.position)
                      if s.result else (True, 0, s.position))

    def as_dict(self) -> dict[str, Any]:
        out = {**self.summary.as_dict(), "template": self.template.as_dict(),
               "subjects": [s.as_dict() for s in self.subjects]}
        if self.distribution is not None:
            out["distribution"] = {g.value: n for g, n in self.distribution.items()}
        return out


# ---------------------------------------------------------------- templates


def _stamp(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def _with_criteria() -> Select[Any]:
    """Templates joined to their criteria (a template without any: one row of NULL criteria)."""
    c = criteria
    return (select(templates, *(column.label(f"criterion_{column.name}") for column in c.c))
            .outerjoin(c, c.c.template_id == templates.c.id))


def _templates(rows: Sequence[Any]) -> list[Template]:
    """The templates of :func:`_with_criteria`'s rows (ordered by template, then criterion), in order."""
    out: list[Template] = []
    for _template_id, group in itertools.groupby(rows, key=lambda r: r.id):
        mine = list(group)
        found = [CriterionShown(r.criterion_id, r.criterion_uid, r.criterion_position, r.criterion_name_zh,
                                r.criterion_name_en, r.criterion_weight, r.criterion_min_score,
                                r.criterion_max_score) for r in mine if r.criterion_id is not None]
        out.append(_template(mine[0], found))
    return out


def _template(row: Any, found: list[CriterionShown]) -> Template:
    return Template(id=row.id, uid=row.uid, name_zh=row.name_zh, name_en=row.name_en,
                    description=row.description,
                    thresholds=model.Thresholds(row.excellent, row.good, row.fair),
                    criteria=found, created_by=row.created_by, created_at=_stamp(row.created_at))


def list_templates(conn: Connection, *, principal: Principal) -> list[Template]:
    """Every template, newest first (for those who manage plans): one statement with their criteria."""
    require_action(principal, Action.PLANS_MANAGE)
    c = criteria
    ordered = _with_criteria().order_by(templates.c.id.desc(), c.c.position, c.c.id)
    return _templates(conn.execute(ordered).all())


def template_by_id(conn: Connection, template_id: int) -> Template:
    """The template with its criteria, read in one statement (a round's page reads it)."""
    c = criteria
    query = _with_criteria().where(templates.c.id == template_id).order_by(c.c.position, c.c.id)
    found = _templates(_rows(conn, f"template:{template_id}", query))
    if not found:
        raise NoResultFound(f"No appraisal template with id {template_id}.")
    return found[0]


def get_template(conn: Connection, *, principal: Principal, uid: str) -> Template:
    """One template (for those who manage plans)."""
    require_action(principal, Action.PLANS_MANAGE)
    row = conn.execute(select(templates.c.id).where(templates.c.uid == uid)).first()
    if row is None:
        raise NotFound(M_("No appraisal template {uid!r}.", uid=uid), [
            Problem("no such template", field="template", value=uid,
                    expected="the id of an appraisal template")])
    return template_by_id(conn, row.id)


# ---------------------------------------------------------------- rounds


def _summary(row: Any, template_name: str, mine: int = 0, mine_done: int = 0) -> RoundSummary:
    return RoundSummary(id=row.id, uid=row.uid, year=row.year, title_zh=row.title_zh, title_en=row.title_en,
                        template=row.template_uid, template_name=template_name, deadline=row.deadline,
                        trimmed=bool(row.trimmed), element=row.element, closed=row.closed_at is not None,
                        closed_at=_stamp(row.closed_at) if row.closed_at else None, mine=mine,
                        mine_done=mine_done)


def _round_select() -> Any:
    return (select(rounds, templates.c.uid.label("template_uid"), templates.c.name_zh.label("template_zh"))
            .join(templates, templates.c.id == rounds.c.template_id))


def round_row(conn: Connection, uid: str) -> Any:
    """The round ``uid`` names, with its template's uid; NotFound if there is none (found among every
    round: :func:`_all_rounds`)."""
    row = next((r for r in _all_rounds(conn) if r.uid == uid), None)
    if row is None:
        raise not_found(uid)
    return row


def not_found(uid: str) -> NotFound:
    return NotFound(M_("No appraisal round {uid!r}.", uid=uid), [
        Problem("no such round", field="round", value=uid,
                expected="the id of an appraisal round you may see")])


def visible_units(conn: Connection, principal: Principal, unit_ids: set[int], day: dt.date) -> set[int]:
    """Those of the units that lie within the principal's view scope on ``day`` (a unit by its path
    then, else its last one, else its first): the scope's paths and the units' paths read once."""
    if principal.unlimited:
        return set(unit_ids)
    if not unit_ids:
        return set()
    scope = scope_paths(conn, principal, Action.VIEW, day)
    return {unit_id for unit_id, path in paths_near(conn, unit_ids, day).items()
            if path is not None and any(path.startswith(p) for p in scope)}


def _my_progress(conn: Connection, principal: Principal) -> dict[int, tuple[int, int]]:
    """Round id → (subjects assigned to the principal, of which every criterion is scored): one
    statement, the criteria and the scores counted in it."""
    a, s, c = assignments, subjects, criteria
    of = select(func.count()).select_from(c).where(c.c.template_id == rounds.c.template_id)
    scored = select(func.count()).select_from(scores).where(scores.c.assignment_id == a.c.id)
    rows = _rows(conn, f"progress:{principal.username}", (
        select(s.c.round_id, of.scalar_subquery().label("of"), scored.scalar_subquery().label("scored"))
        .select_from(a).join(s, s.c.id == a.c.subject_id).join(rounds, rounds.c.id == s.c.round_id)
        .where(a.c.reviewer == principal.username)))
    out: dict[int, tuple[int, int]] = {}
    for r in rows:
        mine, done = out.get(r.round_id, (0, 0))
        out[r.round_id] = (mine + 1, done + (r.scored >= r.of))
    return out


def _all_rounds(conn: Connection) -> tuple[Any, ...]:
    """Every round with its template's uid and name, newest year first: read once per transaction (the
    rounds page lists them and names their years; each statement is a round trip on PostgreSQL)."""
    query = _round_select().order_by(rounds.c.year.desc(), rounds.c.id.desc())
    return memo.per_transaction(conn, "plans.appraisals.rounds", lambda: _rows(conn, "rounds", query))


def list_rounds(conn: Connection, *, principal: Principal, today: dt.date,
                year: int | None = None) -> list[RoundSummary]:
    """The rounds the principal may see (see the module), newest year first."""
    require_action(principal, Action.VIEW)
    rows = [r for r in _all_rounds(conn) if year is None or r.year == year]
    mine = _my_progress(conn, principal)
    manager = principal.may(Action.PLANS_MANAGE)
    closed = [] if manager else [r.id for r in rows if r.id not in mine and r.closed_at is not None]
    seen = _rounds_in_view(conn, principal, closed, today)
    return [_summary(row, row.template_zh, *mine.get(row.id, (0, 0))) for row in rows
            if manager or row.id in mine or row.id in seen]


def _rounds_in_view(conn: Connection, principal: Principal, round_ids: Sequence[int],
                    day: dt.date) -> set[int]:
    """Those of the rounds with a subject unit in the principal's view scope: one read of their subjects
    and one scope check for all their units."""
    if not round_ids:
        return set()
    pairs = conn.execute(select(subjects.c.round_id, subjects.c.unit_id)
                         .where(one_of(conn, subjects.c.round_id, round_ids))).all()
    in_view = visible_units(conn, principal, {unit_id for _, unit_id in pairs}, day)
    return {round_id for round_id, unit_id in pairs if unit_id in in_view}


def years(conn: Connection) -> list[int]:
    """The years that have a round, newest first."""
    return list(dict.fromkeys(int(r.year) for r in _all_rounds(conn)))


def _rows(conn: Connection, name: str, query: Select[Any]) -> tuple[Any, ...]:
    """``query``'s rows, which read the appraisal tables and nothing else. A read-only request (a GET)
    keeps them per process under the ``appraisals`` stamp (migration 0021), which every write to these
    tables changes (:func:`jiaowei.db.kept.kept_rows`): a round, read far more often than it is scored,
    is then read without a statement until the next score (issue 17, decision 0023). ``name`` says what
    ``query`` reads, its values included. A unit that may write reads the tables."""
    return kept_rows(conn, "appraisals", "plans.appraisals." + name, query)


def _subject_rows(conn: Connection, round_id: int) -> tuple[Any, ...]:
    return _rows(conn, f"subjects:{round_id}", select(subjects).where(subjects.c.round_id == round_id)
                 .order_by(subjects.c.position, subjects.c.id))


def _assignment_rows(conn: Connection, round_id: int, subject_ids: Sequence[int]) -> tuple[Any, ...]:
    """The assignments of ``subject_ids``, the subjects of round ``round_id``."""
    return _rows(conn, f"assignments:{round_id}",
                 select(assignments).where(one_of(conn, assignments.c.subject_id, subject_ids))
                 .order_by(assignments.c.subject_id, assignments.c.reviewer))


def _score_rows(conn: Connection, round_id: int, assignment_ids: Sequence[int]) -> tuple[Any, ...]:
    """The scores of ``assignment_ids``, the assignments of round ``round_id``."""
    return _rows(conn, f"scores:{round_id}",
                 select(scores, criteria.c.uid.label("criterion_uid"))
                 .join(criteria, criteria.c.id == scores.c.criterion_id)
                 .where(one_of(conn, scores.c.assignment_id, assignment_ids)))


def round_detail(conn: Connection, *, principal: Principal, uid: str, today: dt.date) -> RoundDetail:
    """A round as the principal may see it (see the module); NotFound when they may see none of it."""
    require_action(principal, Action.VIEW)
    row = round_row(conn, uid)
    template = template_by_id(conn, row.template_id)
    closed, manager = row.closed_at is not None, principal.may(Action.PLANS_MANAGE)
    subject_rows = _subject_rows(conn, row.id)
    assignment_rows = _assignment_rows(conn, row.id, [s.id for s in subject_rows])
    mine = {a.subject_id: a.id for a in assignment_rows if a.reviewer == principal.username}
    in_view = visible_units(conn, principal, {s.unit_id for s in subject_rows}, today) \
        if (manager or closed) else set()
    shown_rows = [s for s in subject_rows if s.id in mine or s.unit_id in in_view]
    if not shown_rows and not manager:
        raise not_found(uid)
    score_rows = _score_rows(conn, row.id, [a.id for a in assignment_rows])
    shown = _subjects(conn, shown_rows, mine)
    files = evidence_queries.attachments(conn, owner_kind=OWNER_KIND, owner_ids=[s.id for s in score_rows])
    _add_own(shown, score_rows, mine, files)
    if manager:
        _add_progress(shown, assignment_rows, score_rows, len(template.criteria))
    distribution = None
    if closed:
        results = _results(template, row.trimmed, subject_rows, assignment_rows, score_rows)
        for subject in shown:
            if subject.unit_id in in_view:
                subject.result = results[subject.id]
        if manager:
            _add_evidence(shown, assignment_rows, score_rows, files)
        distribution = model.distribution([s.result for s in shown if s.result is not None])
    done = sum(1 for s in shown if s.assigned and len(s.own) >= len(template.criteria))
    summary = _summary(row, template.name_zh, len(mine), done)
    return RoundDetail(summary=summary, template=template, subjects=shown, manager=manager,
                       reviewer=bool(mine), distribution=distribution)


def _subjects(conn: Connection, rows: Sequence[Any], mine: dict[int, int]) -> list[SubjectShown]:
    units = registry.last_known(conn, {r.unit_id for r in rows})
    return [SubjectShown(id=r.id, uid=r.uid, position=r.position, unit=units[r.unit_id].code,
                         unit_id=r.unit_id,
                         unit_name_zh=units[r.unit_id].name_zh, unit_name_en=units[r.unit_id].name_en,
                         leader=r.leader, assigned=r.id in mine) for r in rows]


def _add_own(shown: Sequence[SubjectShown], score_rows: Sequence[Any], mine: dict[int, int],
             files: dict[int, list[Attachment]]) -> None:
    by_assignment: dict[int, list[OwnScore]] = defaultdict(list)
    for s in score_rows:
        by_assignment[s.assignment_id].append(OwnScore(s.id, s.uid, s.criterion_uid, s.score, s.comment,
                                                       _stamp(s.scored_at), files.get(s.id, [])))
    for subject in shown:
        if subject.id in mine:
            subject.own = by_assignment.get(mine[subject.id], [])


def _add_progress(shown: Sequence[SubjectShown], assignment_rows: Sequence[Any], score_rows: Sequence[Any],
                  of: int) -> None:
    counts: dict[int, int] = defaultdict(int)
    for s in score_rows:
        counts[s.assignment_id] += 1
    by_subject: dict[int, list[ReviewerProgress]] = defaultdict(list)
    for a in assignment_rows:
        by_subject[a.subject_id].append(ReviewerProgress(a.reviewer, counts[a.id], of))
    for subject in shown:
        subject.progress = by_subject.get(subject.id, [])


def _add_evidence(shown: Sequence[SubjectShown], assignment_rows: Sequence[Any], score_rows: Sequence[Any],
                  files: dict[int, list[Attachment]]) -> None:
    subject_of = {a.id: a.subject_id for a in assignment_rows}
    by_subject: dict[int, list[Attachment]] = defaultdict(list)
    for s in score_rows:
        by_subject[subject_of[s.assignment_id]] += files.get(s.id, [])
    for subject in shown:
        subject.evidence = by_subject.get(subject.id, [])


def _results(template: Template, trimmed: bool, subject_rows: Sequence[Any], assignment_rows: Sequence[Any],
             score_rows: Sequence[Any]) -> dict[int, model.SubjectResult]:
    """Every subject's result (ranks are over the whole round), by subject id."""
    reviewer_of = {a.id: (a.subject_id, a.reviewer) for a in assignment_rows}
    table: dict[str, dict[str, dict[str, float]]] = {str(s.id): {} for s in subject_rows}
    for a in assignment_rows:
        table[str(a.subject_id)].setdefault(a.reviewer, {})
    for s in score_rows:
        subject_id, reviewer = reviewer_of[s.assignment_id]
        table[str(subject_id)][reviewer][s.criterion_uid] = s.score
    found = model.aggregate([c.as_model() for c in template.criteria], table, trimmed=bool(trimmed),
                            thresholds=template.thresholds)
    return {int(r.key): r for r in found}


def all_results(conn: Connection, round_id: int) -> list[tuple[Any, model.SubjectResult]]:
    """(subject row, result) of every subject of a round, unscoped: for closing it."""
    row = conn.execute(select(rounds).where(rounds.c.id == round_id)).one()
    template = template_by_id(conn, row.template_id)
    subject_rows = _subject_rows(conn, round_id)
    assignment_rows = _assignment_rows(conn, round_id, [s.id for s in subject_rows])
    results = _results(template, row.trimmed, subject_rows, assignment_rows,
                       _score_rows(conn, round_id, [a.id for a in assignment_rows]))
    return [(s, results[s.id]) for s in subject_rows]
