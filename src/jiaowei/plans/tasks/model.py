"""Key tasks on plain values: stages, statuses and the status engine (pure; no database, no web).

:func:`compute_status` decides a task's status from its milestones, its linked indicators' values
against their targets, its checkpoint reports and its deadline, on a given ``today``:

- **done**: every milestone is done, every linked indicator meets its target, and the latest report
  says 100% (or, with linked indicators, all of them meet their targets); a linked indicator with no
  target (none on the link, none in the Indicators module) is shown but does not count;
- **late**: the deadline, a milestone or a checkpoint has passed without being met, or a linked
  indicator missed its target once its period was over;
- **at risk**: progress is behind the time elapsed by more than :data:`BEHIND_MARGIN` points, a linked
  indicator falls short of its target while its period runs, or the commission returned the latest
  report of a checkpoint;
- **on track** otherwise.

Each status comes with its causes: a code, an English message template marked for translation and the
parameters to fill it with. An override (:func:`effective_status`) replaces the computed status only
with a reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from jiaowei.domains import N_


class Stage(StrEnum):
    DEPLOY = "deploy"
    ADVANCE = "advance"
    ASSESS = "assess"


class Status(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    LATE = "late"
    DONE = "done"


class Kind(StrEnum):
    SECTION = "section"
    TASK = "task"
    SUBTASK = "subtask"


class Review(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    RETURNED = "returned"


STATUS_LABELS: dict[Status, str] = {
    Status.ON_TRACK: N_("On track"),
    Status.AT_RISK: N_("At risk"),
    Status.LATE: N_("Late"),
    Status.DONE: N_("Done"),
}
STAGE_LABELS: dict[Stage, str] = {
    Stage.DEPLOY: N_("Deploy (start of year)"),
    Stage.ADVANCE: N_("Advance (mid-year)"),
    Stage.ASSESS: N_("Assess (year end)"),
}
KIND_LABELS: dict[Kind, str] = {
    Kind.SECTION: N_("Section"),
    Kind.TASK: N_("Task"),
    Kind.SUBTASK: N_("Sub-task"),
}
REVIEW_LABELS: dict[Review, str] = {
    Review.SUBMITTED: N_("Awaiting review"),
    Review.ACCEPTED: N_("Accepted"),
    Review.RETURNED: N_("Returned"),
}
# the default day of each checkpoint in the plan's year (month, day)
DEFAULT_CHECKPOINTS: dict[Stage, tuple[int, int]] = {
    Stage.DEPLOY: (3, 31),
    Stage.ADVANCE: (7, 15),
    Stage.ASSESS: (12, 15),
}
BEHIND_MARGIN = 25
"""Points of progress a task may lag the time elapsed before it is at risk."""
PARENTS: dict[Kind, Kind | None] = {Kind.SECTION: None, Kind.TASK: Kind.SECTION, Kind.SUBTASK: Kind.TASK}
"""The kind of item each kind hangs under (a section is at the top)."""


@dataclass(frozen=True)
class Cause:
    """Why a task has its status: a stable code, a message template (English, translated where shown)
    and the values it names."""

    code: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self, gettext: Callable[[str], str] = lambda m: m) -> str:
        """The message in the language ``gettext`` translates to, its parameters filled in (a stage by its
        label in that language)."""
        shown = {k: _shown(v) for k, v in self.params.items()}
        if shown.get("stage") in STAGE_LABELS:
            shown["stage"] = gettext(STAGE_LABELS[Stage(shown["stage"])])
        return gettext(self.message).format(**shown)

    def as_dict(self, gettext: Callable[[str], str] = lambda m: m) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.text(gettext),
            "template": self.message,
            "params": {k: _shown(v) for k, v in self.params.items()},
        }


def _shown(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass(frozen=True)
class Milestone:
    title: str
    due: dt.date | None
    done_on: dt.date | None = None


@dataclass(frozen=True)
class LinkState:
    """A linked indicator's value against the task's target for it, in its period."""

    indicator: str  # the indicator's code
    period: str
    value: float | None
    target: float | None
    higher_is_better: bool = True
    period_end: dt.date | None = None  # the last day of the period (the value is final after it)


@dataclass(frozen=True)
class CheckpointState:
    """A checkpoint, its due day and its latest report (None: none yet)."""

    stage: Stage
    due: dt.date
    review: Review | None = None
    percent: int | None = None


def link_met(link: LinkState) -> bool | None:
    """Whether the value reaches the target (mirrored when lower is better); None without both."""
    if link.value is None or link.target is None:
        return None
    if link.higher_is_better:
        return link.value >= link.target - 1e-9
    return link.value <= link.target + 1e-9


def expected_percent(*, today: dt.date, start: dt.date, deadline: dt.date | None) -> int | None:
    """How far along a task should be by ``today``: the share of days from start to deadline elapsed."""
    if deadline is None or deadline <= start:
        return None
    elapsed = (min(max(today, start), deadline) - start).days
    return round(100 * elapsed / (deadline - start).days)


def compute_status(
    *,
    today: dt.date,
    deadline: dt.date | None,
    milestones: Sequence[Milestone],
    links: Sequence[LinkState],
    checkpoints: Sequence[CheckpointState],
    latest_percent: int | None,
    start: dt.date,
) -> tuple[Status, tuple[Cause, ...]]:
    """The task's status on ``today`` and its causes (see the module's docstring for the rules)."""
    done = _done_causes(milestones, links, latest_percent)
    if done is not None:
        return Status.DONE, done
    late = _late_causes(today, deadline, milestones, links, checkpoints)
    if late:
        return Status.LATE, late
    risk = _risk_causes(today, start, deadline, links, checkpoints, latest_percent)
    if risk:
        return Status.AT_RISK, risk
    return Status.ON_TRACK, _on_track_causes(today, start, deadline, latest_percent)


def _done_causes(
    milestones: Sequence[Milestone], links: Sequence[LinkState], latest_percent: int | None
) -> tuple[Cause, ...] | None:
    links = [k for k in links if k.target is not None]  # a link without a target informs, it cannot be met
    if any(m.done_on is None for m in milestones) or any(link_met(k) is not True for k in links):
        return None
    if latest_percent != 100 and not links:
        return None
    causes = []
    if latest_percent == 100:
        causes.append(Cause("reported_complete", N_("The latest report says the task is complete (100%).")))
    if links:
        causes.append(
            Cause(
                "targets_met", N_("Every linked indicator meets its target ({count})."), {"count": len(links)}
            )
        )
    if milestones:
        causes.append(
            Cause("milestones_done", N_("Every milestone is done ({count})."), {"count": len(milestones)})
        )
    return tuple(causes)


def _late_causes(
    today: dt.date,
    deadline: dt.date | None,
    milestones: Sequence[Milestone],
    links: Sequence[LinkState],
    checkpoints: Sequence[CheckpointState],
) -> tuple[Cause, ...]:
    causes = []
    if deadline is not None and deadline < today:
        causes.append(
            Cause(
                "deadline_passed",
                N_("The deadline {deadline} passed {days} days ago."),
                {"deadline": deadline, "days": (today - deadline).days},
            )
        )
    for m in milestones:
        if m.done_on is None and m.due is not None and m.due < today:
            causes.append(
                Cause(
                    "milestone_overdue",
                    N_("Milestone “{title}” was due on {due} and is not done."),
                    {"title": m.title, "due": m.due},
                )
            )
    for c in checkpoints:
        if c.due < today and c.review in (None, Review.RETURNED):
            causes.append(
                Cause(
                    "checkpoint_overdue",
                    N_("No accepted or pending report for the {stage} checkpoint due on {due}."),
                    {"stage": c.stage.value, "due": c.due},
                )
            )
    for k in links:
        if link_met(k) is False and k.period_end is not None and k.period_end < today:
            causes.append(
                Cause(
                    "target_missed",
                    N_("Indicator {indicator} missed its target for {period}: {value} against {target}."),
                    {"indicator": k.indicator, "period": k.period, "value": k.value, "target": k.target},
                )
            )
    return tuple(causes)


def _risk_causes(
    today: dt.date,
    start: dt.date,
    deadline: dt.date | None,
    links: Sequence[LinkState],
    checkpoints: Sequence[CheckpointState],
    latest_percent: int | None,
) -> tuple[Cause, ...]:
    causes = []
    expected = expected_percent(today=today, start=start, deadline=deadline)
    if expected is not None and (latest_percent or 0) < expected - BEHIND_MARGIN:
        causes.append(
            Cause(
                "behind_schedule",
                N_("Progress is {percent}% while {expected}% of the time to the deadline has passed."),
                {"percent": latest_percent or 0, "expected": expected},
            )
        )
    for k in links:
        if link_met(k) is False:
            causes.append(
                Cause(
                    "target_short",
                    N_(
                        "Indicator {indicator} is short of its target for {period}: {value} against {target}."
                    ),
                    {"indicator": k.indicator, "period": k.period, "value": k.value, "target": k.target},
                )
            )
    for c in checkpoints:
        if c.review is Review.RETURNED:
            causes.append(
                Cause(
                    "report_returned",
                    N_("The commission returned the {stage} report."),
                    {"stage": c.stage.value},
                )
            )
    return tuple(causes)


def _on_track_causes(
    today: dt.date, start: dt.date, deadline: dt.date | None, latest_percent: int | None
) -> tuple[Cause, ...]:
    expected = expected_percent(today=today, start=start, deadline=deadline)
    if latest_percent is None:
        return (Cause("nothing_due", N_("No report yet, and nothing is overdue.")),)
    return (
        Cause(
            "on_schedule",
            N_("Progress is {percent}%, in step with the schedule."),
            {"percent": latest_percent, "expected": expected if expected is not None else latest_percent},
        ),
    )


def effective_status(
    computed: Status, causes: Sequence[Cause], *, override: str | None, reason: str = "", by: str = ""
) -> tuple[Status, tuple[Cause, ...]]:
    """The status shown: the override (its reason the first cause) if one is set, else the computed one."""
    if not override:
        return computed, tuple(causes)
    first = Cause(
        "override",
        N_("Status set by {by}: {reason}"),
        {"by": by, "reason": reason, "computed": computed.value},
    )
    return Status(override), (first, *causes)


def default_checkpoints(year: int, given: Mapping[str, dt.date] | None = None) -> dict[Stage, dt.date]:
    """Each stage's due day: the given ones, else the year's defaults (03-31, 07-15, 12-15)."""
    given = given or {}
    return {stage: given.get(stage.value) or dt.date(year, *DEFAULT_CHECKPOINTS[stage]) for stage in Stage}


def rolled_up_percent(percents: Sequence[int | None]) -> int | None:
    """A section's progress: the mean of its tasks' latest percents (tasks without a report count 0)."""
    if not percents:
        return None
    return round(sum(p or 0 for p in percents) / len(percents))
