"""Reads of the risk register: the register with its 5×5 matrix and due reviews, and one risk.

A principal sees the risks whose unit lies within their view scope on the day asked about; a risk
outside it is "not found", as if it did not exist. Linked indicators are shown with their latest
value at the risk's unit, computed by the analytics engine through the Indicators module.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit, scope_paths
from jiaowei.db.kept import kept_rows
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, Problem, ValidationError
from jiaowei.indicators.metadata.catalog import load_catalog
from jiaowei.indicators.targets import compute
from jiaowei.plans.evidence import queries as evidence
from jiaowei.plans.reads import paths_near
from jiaowei.plans.risks import model
from jiaowei.plans.risks.store import risk_indicators, risk_reviews, risks
from jiaowei.registry import queries as registry

# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class RiskSummary:
    """One risk as the register lists it, with its score, level and where its next review stands."""

    id: int
    uid: str
    category: str
    title: str
    unit_id: int
    unit: str
    unit_name_zh: str
    unit_name_en: str
    likelihood: int
    impact: int
    score: int
    level: str
    owner: str
    cadence: str
    state: str
    opened_on: dt.date
    reviewed_on: dt.date | None
    next_review: dt.date | None  # None once closed
    due: str | None  # model.Due, None once closed

    @property
    def name_zh(self) -> str:  # the unit's names, for the templates' name() macro
        return self.unit_name_zh

    @property
    def name_en(self) -> str:
        return self.unit_name_en

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.uid,
            "category": self.category,
            "title": self.title,
            "orgUnit": self.unit,
            "orgUnitName_zh": self.unit_name_zh,
            "orgUnitName_en": self.unit_name_en,
            "likelihood": self.likelihood,
            "impact": self.impact,
            "score": self.score,
            "level": self.level,
            "owner": self.owner,
            "cadence": self.cadence,
            "state": self.state,
            "openedOn": self.opened_on.isoformat(),
            "lastReview": _iso(self.reviewed_on),
            "nextReview": _iso(self.next_review),
            "due": self.due,
        }


@dataclass(frozen=True)
class Review:
    """One review: the rating it found, the one before it, and its note."""

    id: int
    uid: str
    reviewed_on: dt.date
    likelihood: int
    impact: int
    score: int
    level: str
    previous_likelihood: int
    previous_impact: int
    previous_score: int
    note: str
    reviewed_by: str
    attachments: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.uid,
            "reviewedOn": self.reviewed_on.isoformat(),
            "likelihood": self.likelihood,
            "impact": self.impact,
            "score": self.score,
            "level": self.level,
            "previousLikelihood": self.previous_likelihood,
            "previousImpact": self.previous_impact,
            "previousScore": self.previous_score,
            "note": self.note,
            "reviewedBy": self.reviewed_by,
            "evidence": [{"id": a.uid, "filename": a.filename, "url": a.api_url} for a in self.attachments],
        }


@dataclass(frozen=True)
class LinkedIndicator:
    """An indicator that watches the risk, with its latest value at the risk's unit."""

    code: str
    name_zh: str
    name_en: str
    period: str | None
    value: float | None
    formatted: str
    status: str | None  # against its target, when one is set: met, at_risk, missed

    def as_dict(self) -> dict[str, Any]:
        return {
            "indicator": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "period": self.period,
            "value": self.value,
            "formatted": self.formatted,
            "status": self.status,
        }


@dataclass(frozen=True)
class RiskDetail:
    """Everything the risk's page shows."""

    summary: RiskSummary
    description: str
    mitigation: str
    closed_on: dt.date | None
    close_note: str
    indicators: list[LinkedIndicator]
    reviews: list[Review]  # newest first
    may_manage: bool
    may_review: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary.as_dict(),
            "description": self.description,
            "mitigation": self.mitigation,
            "closedOn": _iso(self.closed_on),
            "closeNote": self.close_note,
            "indicators": [i.as_dict() for i in self.indicators],
            "reviews": [r.as_dict() for r in self.reviews],
        }


@dataclass(frozen=True)
class Register:
    """The register after its filters, the 5×5 matrix of those risks, and the reviews due."""

    risks: list[RiskSummary]
    matrix: list[
        list[int]
    ]  # [likelihood - 1][impact - 1]: how many of the listed risks (before the cell filter)
    due: list[RiskSummary]  # open risks within the scope whose review is overdue, due today or due soon
    by_level: dict[str, int]
    by_category: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "risks": [r.as_dict() for r in self.risks],
            "matrix": self.matrix,
            "due": [r.as_dict() for r in self.due],
            "byLevel": self.by_level,
            "byCategory": self.by_category,
        }


@dataclass(frozen=True)
class Filters:
    """What the register is narrowed to; None: no narrowing."""

    category: str | None = None
    unit: str | None = None  # a unit code: its risks and those of the units below it
    level: str | None = None
    state: str | None = model.State.OPEN.value  # None: open and closed
    likelihood: int | None = None
    impact: int | None = None
    due_only: bool = False


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


# ---------------------------------------------------------------- scope


def unit_path(conn: Connection, unit_id: int, day: dt.date) -> str | None:
    """The unit's path on ``day`` (or last before it, or its first path when it opened later)."""
    found = registry.last_path(conn, unit_id, day)
    if found:
        return found
    segments = registry.segments_of(conn, [unit_id]).get(unit_id) or []
    return segments[0].path if segments else None


def _visible_filter(conn: Connection, principal: Principal, day: dt.date) -> list[str] | None:
    """The view scope's paths on ``day``; None when the principal is not limited by scope."""
    require_action(principal, Action.VIEW)
    return None if principal.unlimited else scope_paths(conn, principal, Action.VIEW, day)


def _within(path: str | None, paths: Sequence[str] | None) -> bool:
    return paths is None or (path is not None and any(path.startswith(p) for p in paths))


def risk_row(conn: Connection, *, principal: Principal, uid: str, today: dt.date) -> Any:
    """The stored row of the risk ``uid`` if the principal may see it; else NotFound."""
    paths = _visible_filter(conn, principal, today)
    row = conn.execute(select(risks).where(risks.c.uid == uid)).first()
    if row is None or not _within(unit_path(conn, row.unit_id, today), paths):
        raise NotFound(M_("No risk with id {uid!r}.", uid=uid))
    return row


# ---------------------------------------------------------------- the register


def _summaries(conn: Connection, rows: Sequence[Any], today: dt.date) -> list[RiskSummary]:
    units = registry.last_known(conn, {r.unit_id for r in rows})
    return [_summary(r, units[r.unit_id], today) for r in rows]


def _summary(row: Any, unit: Any, today: dt.date) -> RiskSummary:
    value = model.score(row.likelihood, row.impact)
    is_open = row.state == model.State.OPEN
    next_on = (
        model.next_review(row.reviewed_on or row.opened_on, model.Cadence(row.cadence)) if is_open else None
    )
    return RiskSummary(
        row.id,
        row.uid,
        row.category,
        row.title,
        row.unit_id,
        unit.code,
        unit.name_zh,
        unit.name_en,
        row.likelihood,
        row.impact,
        value,
        model.level(value).value,
        row.owner,
        row.cadence,
        row.state,
        row.opened_on,
        row.reviewed_on,
        next_on,
        model.due(next_on, today).value if next_on else None,
    )


def _check_filters(filters: Filters) -> None:
    problems = []
    checks = (
        ("category", filters.category, [c.value for c in model.Category]),
        ("level", filters.level, [v.value for v in model.Level]),
        ("state", filters.state, [s.value for s in model.State]),
    )
    for name, value, allowed in checks:
        if value is not None and value not in allowed:
            problems.append(Problem("unknown value", field=name, value=value, expected=" | ".join(allowed)))
    for name, number in (("likelihood", filters.likelihood), ("impact", filters.impact)):
        if number is not None and number not in model.SCALE:
            problems.append(Problem(N_("not on the scale"), field=name, value=number, expected="1 to 5"))
    if problems:
        raise ValidationError(N_("The register cannot be filtered so."), problems)


def _under_unit(conn: Connection, principal: Principal, code: str, day: dt.date) -> str:
    """The path of the filter's unit, if the principal may see it."""
    unit_id = registry.id_of(conn, code)
    if unit_id is None:
        raise NotFound(M_("No unit with code {code!r}.", code=code))
    require_unit(conn, principal, Action.VIEW, unit_id, day, code)
    path = unit_path(conn, unit_id, day)
    if path is None:
        raise NotFound(M_("No unit with code {code!r}.", code=code))
    return path


def visible_risks(conn: Connection, *, principal: Principal, today: dt.date) -> list[RiskSummary]:
    """Every risk (open and closed) the principal may see, newest first."""
    return _visible_risks(conn, principal, today)[0]


def _visible_risks(
    conn: Connection, principal: Principal, today: dt.date
) -> tuple[list[RiskSummary], dict[int, str | None]]:
    """:func:`visible_risks`, and the path of every risk's unit on ``today`` (:func:`unit_path`)."""
    paths = _visible_filter(conn, principal, today)
    rows = kept_rows(conn, "plans", "plans.risks",  # a GET's: kept under the plans' stamp (decision 0023)
                     select(risks).order_by(risks.c.opened_on.desc(), risks.c.id.desc()))
    paths_of = paths_near(conn, {r.unit_id for r in rows}, today)  # unit_path of each, one statement
    return _summaries(conn, [r for r in rows if _within(paths_of[r.unit_id], paths)], today), paths_of


def register(
    conn: Connection, *, principal: Principal, today: dt.date, filters: Filters = Filters()
) -> Register:
    """The risks the principal may see that pass the filters, highest score first, with the matrix."""
    _check_filters(filters)
    under = _under_unit(conn, principal, filters.unit, today) if filters.unit else None
    everything, paths_of = _visible_risks(conn, principal, today)
    if under is not None:
        placed = {u: paths_of[u] or "" for u in {r.unit_id for r in everything}}
        everything = [r for r in everything if placed[r.unit_id].startswith(under)]
    chosen = [r for r in everything if _passes(r, filters)]
    cells = model.matrix([(r.likelihood, r.impact) for r in chosen])
    if filters.likelihood is not None:
        chosen = [r for r in chosen if r.likelihood == filters.likelihood]
    if filters.impact is not None:
        chosen = [r for r in chosen if r.impact == filters.impact]
    chosen.sort(key=lambda r: (-r.score, -r.impact, r.title))
    due = sorted((r for r in everything if r.due in _DUE_NOW), key=lambda r: (r.next_review, r.title))
    return Register(
        chosen, cells, due, dict(Counter(r.level for r in chosen)), dict(Counter(r.category for r in chosen))
    )


_DUE_NOW = (model.Due.OVERDUE, model.Due.TODAY, model.Due.SOON)


def _passes(risk: RiskSummary, filters: Filters) -> bool:
    return (
        (filters.category is None or risk.category == filters.category)
        and (filters.level is None or risk.level == filters.level)
        and (filters.state is None or risk.state == filters.state)
        and (not filters.due_only or risk.due in _DUE_NOW)
    )


# ---------------------------------------------------------------- one risk


def risk_detail(conn: Connection, *, principal: Principal, uid: str, today: dt.date) -> RiskDetail:
    """The risk with its linked indicators' latest values and its reviews, newest first."""
    row = risk_row(conn, principal=principal, uid=uid, today=today)
    summary = _summaries(conn, [row], today)[0]
    return RiskDetail(
        summary,
        row.description,
        row.mitigation,
        row.closed_on,
        row.close_note,
        linked_indicators(conn, principal=principal, risk_id=row.id, unit_id=row.unit_id, today=today),
        reviews(conn, risk_id=row.id),
        _may(conn, principal, Action.PLANS_MANAGE, row.unit_id, today),
        _may(conn, principal, Action.PLANS_REPORT, row.unit_id, today),
    )


def _may(conn: Connection, principal: Principal, action: Action, unit_id: int, day: dt.date) -> bool:
    if not principal.may(action):
        return False
    if principal.unlimited:
        return True
    return _within(unit_path(conn, unit_id, day), scope_paths(conn, principal, action, day))


def reviews(conn: Connection, *, risk_id: int) -> list[Review]:
    """The risk's reviews, newest first, each with its evidence files."""
    t = risk_reviews
    rows = conn.execute(
        select(t).where(t.c.risk_id == risk_id).order_by(t.c.reviewed_on.desc(), t.c.id.desc())
    ).all()
    files = _attachments(conn, [r.id for r in rows])
    out = []
    for r in rows:
        value, before = (
            model.score(r.likelihood, r.impact),
            model.score(r.previous_likelihood, r.previous_impact),
        )
        out.append(
            Review(
                r.id,
                r.uid,
                r.reviewed_on,
                r.likelihood,
                r.impact,
                value,
                model.level(value).value,
                r.previous_likelihood,
                r.previous_impact,
                before,
                r.note,
                r.reviewed_by,
                files.get(r.id, []),
            )
        )
    return out


def _attachments(conn: Connection, ids: list[int]) -> dict[int, list[Any]]:
    """Evidence files of the reviews, by review id."""
    found: dict[int, list[Any]] = evidence.attachments(conn, owner_kind="risk_review", owner_ids=ids)
    return found


def indicator_ids(conn: Connection, risk_id: int) -> list[int]:
    t = risk_indicators
    return list(conn.scalars(select(t.c.indicator_id).where(t.c.risk_id == risk_id).order_by(t.c.position)))


def linked_indicators(
    conn: Connection, *, principal: Principal, risk_id: int, unit_id: int, today: dt.date
) -> list[LinkedIndicator]:
    """Each linked indicator's latest value at the risk's unit (in the six years to the latest with data)."""
    ids = indicator_ids(conn, risk_id)
    if not ids:
        return []
    known = {d.id: d for d in compute.all_indicators(conn)}
    definitions = [known[i] for i in ids if i in known]
    unit = registry.unit_on(conn, unit_id, today) or registry.last_known(conn, [unit_id])[unit_id]
    years = compute.years_around(compute.default_period(conn, today))
    periods = [compute.parse_period(y) for y in years]
    values = compute.compute_values(
        conn, definitions, [unit], periods, load_catalog(conn), scope=compute.view_scope(principal)
    )
    out = []
    for d in definitions:
        found = [values[(d.id, unit.id, p.id)] for p in reversed(periods)]
        latest = next((v for v in found if v.value is not None), None)
        out.append(
            LinkedIndicator(
                d.code,
                d.name_zh,
                d.name_en,
                latest.period if latest else None,
                latest.value if latest else None,
                latest.formatted if latest else "–",
                latest.target.status if latest and latest.target else None,
            )
        )
    return out
