"""What the key tasks' queries answer: plans, tasks on the board, a task's page, reminders.

Plain frozen values (no database, no web). ``as_dict(gettext)`` gives each one's JSON shape, with
cause messages translated by ``gettext``; the pages read the attributes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jiaowei.plans.evidence.model import Attachment
from jiaowei.plans.tasks.model import Cause, LinkState, Stage, Status

Gettext = Callable[[str], str]


def _plain(message: str) -> str:
    return message


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class UnitRef:
    code: str
    name_zh: str
    name_en: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name_zh": self.name_zh, "name_en": self.name_en}


@dataclass(frozen=True)
class PlanRef:
    uid: str
    year: int
    title_zh: str
    title_en: str

    def as_dict(self) -> dict[str, Any]:
        return {"uid": self.uid, "year": self.year, "title_zh": self.title_zh, "title_en": self.title_en}


@dataclass(frozen=True)
class Override:
    status: Status
    reason: str
    by: str
    at: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "reason": self.reason,
            "by": self.by,
            "at": self.at.isoformat() if self.at else None,
        }


@dataclass(frozen=True)
class DueItem:
    """The next thing due on a task: a checkpoint or a milestone."""

    kind: str  # checkpoint | milestone | deadline
    due: dt.date
    stage: Stage | None = None
    title: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "due": self.due.isoformat(),
            "stage": self.stage.value if self.stage else None,
            "title": self.title,
        }


@dataclass(frozen=True)
class TaskSummary:
    """An item of the plan as the board shows it; sections have no status, only their tasks' progress."""

    uid: str
    kind: str
    number: str
    title_zh: str
    title_en: str
    lead_unit: UnitRef | None
    supporting_units: tuple[UnitRef, ...]
    owner: str
    deadline: dt.date | None
    status: Status | None
    computed_status: Status | None
    causes: tuple[Cause, ...]
    percent: int | None
    override: Override | None
    next_due: DueItem | None
    children: tuple[TaskSummary, ...] = ()

    def as_dict(self, gettext: Gettext = _plain) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "kind": self.kind,
            "number": self.number,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "lead_unit": self.lead_unit.as_dict() if self.lead_unit else None,
            "supporting_units": [u.as_dict() for u in self.supporting_units],
            "owner": self.owner,
            "deadline": _day(self.deadline),
            "status": self.status.value if self.status else None,
            "computed_status": self.computed_status.value if self.computed_status else None,
            "causes": [c.as_dict(gettext) for c in self.causes],
            "percent": self.percent,
            "override": self.override.as_dict() if self.override else None,
            "next_due": self.next_due.as_dict() if self.next_due else None,
            "children": [c.as_dict(gettext) for c in self.children],
        }


@dataclass(frozen=True)
class Tally:
    """How many tasks of a group have each status, and their mean progress (for the board's charts)."""

    key: str
    label_zh: str
    label_en: str
    counts: dict[str, int]
    percent: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label_zh": self.label_zh,
            "label_en": self.label_en,
            "counts": dict(self.counts),
            "percent": self.percent,
        }


@dataclass(frozen=True)
class Board:
    plan: PlanRef
    sections: tuple[TaskSummary, ...]
    by_status: dict[str, int]
    by_section: tuple[Tally, ...]
    by_unit: tuple[Tally, ...]
    today: dt.date

    @property
    def tasks(self) -> list[TaskSummary]:
        """Every task and sub-task, depth first."""
        out: list[TaskSummary] = []

        def walk(items: tuple[TaskSummary, ...]) -> None:
            for item in items:
                if item.kind != "section":
                    out.append(item)
                walk(item.children)

        walk(self.sections)
        return out

    def as_dict(self, gettext: Gettext = _plain) -> dict[str, Any]:
        return {
            "plan": self.plan.as_dict(),
            "as_of": self.today.isoformat(),
            "sections": [s.as_dict(gettext) for s in self.sections],
            "by_status": dict(self.by_status),
            "by_section": [t.as_dict() for t in self.by_section],
            "by_unit": [t.as_dict() for t in self.by_unit],
        }


@dataclass(frozen=True)
class MilestoneView:
    title: str
    due: dt.date | None
    done_on: dt.date | None
    overdue: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "due": _day(self.due),
            "done_on": _day(self.done_on),
            "overdue": self.overdue,
        }


@dataclass(frozen=True)
class SeriesPoint:
    period: str
    value: float | None
    formatted: str
    target: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "value": self.value,
            "formatted": self.formatted,
            "target": self.target,
        }


@dataclass(frozen=True)
class LinkView:
    """A linked indicator at its unit for its period, against the task's target (computed by the
    analytics engine); ``hidden`` when the unit lies outside the reader's scope (no value shown)."""

    indicator: str
    name_zh: str
    name_en: str
    unit: UnitRef
    period: str
    value: float | None
    formatted: str
    target: float | None
    target_formatted: str
    target_source: str  # task | indicators | none
    met: bool | None
    higher_is_better: bool
    hidden: bool
    series: tuple[SeriesPoint, ...] = ()
    # the value and target the status is computed from (kept also when the figures are hidden; never shown)
    state: LinkState | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "unit": self.unit.as_dict(),
            "period": self.period,
            "value": self.value,
            "formatted": self.formatted,
            "target": self.target,
            "target_formatted": self.target_formatted,
            "target_source": self.target_source,
            "met": self.met,
            "higher_is_better": self.higher_is_better,
            "hidden": self.hidden,
            "series": [p.as_dict() for p in self.series],
        }


@dataclass(frozen=True)
class ReportView:
    uid: str
    stage: Stage
    percent: int
    narrative: str
    reported_by: str
    reported_at: dt.datetime
    reported_on: dt.date
    review: str
    review_comment: str
    reviewed_by: str | None
    reviewed_at: dt.datetime | None
    evidence: tuple[Attachment, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "stage": self.stage.value,
            "percent": self.percent,
            "narrative": self.narrative,
            "reported_by": self.reported_by,
            "reported_at": self.reported_at.isoformat(),
            "reported_on": self.reported_on.isoformat(),
            "review": self.review,
            "review_comment": self.review_comment,
            "reviewed_by": self.reviewed_by,
            "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
            "evidence": [_attachment(a) for a in self.evidence],
        }


def _attachment(a: Attachment) -> dict[str, Any]:
    return {
        "uid": a.uid,
        "filename": a.filename,
        "media_type": a.media_type,
        "size": a.size,
        "sha256": a.sha256,
        "uploaded_by": a.uploaded_by,
        "url": a.api_url,
    }


@dataclass(frozen=True)
class CheckpointView:
    stage: Stage
    due: dt.date
    overdue: bool
    reports: tuple[ReportView, ...]  # oldest first

    @property
    def latest(self) -> ReportView | None:
        return self.reports[-1] if self.reports else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage.value,
            "due": self.due.isoformat(),
            "overdue": self.overdue,
            "reports": [r.as_dict() for r in self.reports],
        }


@dataclass(frozen=True)
class TaskDetail:
    """Everything a task's page shows."""

    plan: PlanRef
    summary: TaskSummary
    description: str
    outcome: str
    parent: TaskSummary | None
    milestones: tuple[MilestoneView, ...]
    links: tuple[LinkView, ...]
    checkpoints: tuple[CheckpointView, ...]
    version: int
    may_report: bool
    may_manage: bool
    today: dt.date
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def uid(self) -> str:
        return self.summary.uid

    @property
    def evidence(self) -> list[Attachment]:
        return [a for c in self.checkpoints for r in c.reports for a in r.evidence]

    def as_dict(self, gettext: Gettext = _plain) -> dict[str, Any]:
        return {
            **self.summary.as_dict(gettext),
            "plan": self.plan.as_dict(),
            "as_of": self.today.isoformat(),
            "description": self.description,
            "outcome": self.outcome,
            "parent": (
                {
                    "uid": self.parent.uid,
                    "number": self.parent.number,
                    "title_zh": self.parent.title_zh,
                    "title_en": self.parent.title_en,
                }
                if self.parent
                else None
            ),
            "milestones": [m.as_dict() for m in self.milestones],
            "links": [k.as_dict() for k in self.links],
            "checkpoints": [c.as_dict() for c in self.checkpoints],
            "version": self.version,
            "may_report": self.may_report,
            "may_manage": self.may_manage,
        }


@dataclass(frozen=True)
class Reminder:
    """Something due soon or overdue on a task, for the lead unit."""

    kind: str  # checkpoint | milestone | deadline
    task: str  # uid
    number: str
    title_zh: str
    title_en: str
    unit: UnitRef | None  # the lead unit
    due: dt.date
    days: int  # days until due; negative: overdue by that many
    stage: Stage | None = None
    title: str = ""  # the milestone's title

    @property
    def overdue(self) -> bool:
        return self.days < 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "task": self.task,
            "number": self.number,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "unit": self.unit.as_dict() if self.unit else None,
            "due": self.due.isoformat(),
            "days": self.days,
            "overdue": self.overdue,
            "stage": self.stage.value if self.stage else None,
            "milestone": self.title or None,
        }
