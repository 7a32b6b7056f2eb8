"""The rectification ledger (整改台账) as plain values: findings' kinds and severities, and the state
machine every rectification measure follows.

A measure moves open → in_progress → rectified → verified → closed. Verification may return a
rectified measure to in_progress; a re-check (回头看) may reopen a verified or closed measure (to
in_progress). Both need a reason. Moving a measure forward to rectified is the reporting unit's;
verifying, returning, closing and re-checking are the commission's. :func:`rule_for` says which
step a pair of states is, or refuses it with an error naming the measure, its current state, the
state asked for and the states accepted from there. Pure: the standard library and
``jiaowei.errors`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jiaowei.errors import Conflict, Problem, ValidationError


def N_(message: str) -> str:
    """Marks a message for translation (the pages translate it when they show it)."""
    return message


class State(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RECTIFIED = "rectified"
    VERIFIED = "verified"
    CLOSED = "closed"


class SourceKind(StrEnum):
    INSPECTION = "inspection"  # 巡视/巡察
    AUDIT = "audit"  # 审计
    REVIEW = "review"  # 检查


class Severity(StrEnum):
    HIGH = "high"  # 严重
    MEDIUM = "medium"  # 较重
    LOW = "low"  # 一般


class Step(StrEnum):
    """What a transition is, by the pair of states it joins."""

    START = "start"
    RECTIFY = "rectify"
    VERIFY = "verify"
    RETURN = "return"
    CLOSE = "close"
    RECHECK = "recheck"


STATE_LABELS: dict[str, str] = {
    State.OPEN: N_("Open"), State.IN_PROGRESS: N_("In progress"), State.RECTIFIED: N_("Rectified"),
    State.VERIFIED: N_("Verified"), State.CLOSED: N_("Closed out"),
}
SOURCE_KIND_LABELS: dict[str, str] = {
    SourceKind.INSPECTION: N_("Inspection (巡视/巡察)"), SourceKind.AUDIT: N_("Audit"),
    SourceKind.REVIEW: N_("Review"),
}
SEVERITY_LABELS: dict[str, str] = {
    Severity.HIGH: N_("Serious"), Severity.MEDIUM: N_("Significant"), Severity.LOW: N_("Minor"),
}
STEP_LABELS: dict[str, str] = {
    Step.START: N_("Start rectifying"), Step.RECTIFY: N_("Report rectified"), Step.VERIFY: N_("Verify"),
    Step.RETURN: N_("Return for more work"), Step.CLOSE: N_("Close"), Step.RECHECK: N_("Re-check: reopen"),
}

DONE = frozenset({State.RECTIFIED, State.VERIFIED, State.CLOSED})
"""States that count as rectified in the rectification rate (rectified or beyond)."""


@dataclass(frozen=True)
class Rule:
    """One allowed transition: its step, whether only the commission (plans.manage) may take it, and
    whether it needs a reason."""

    step: Step
    manage: bool
    reason: bool


RULES: dict[tuple[State, State], Rule] = {
    (State.OPEN, State.IN_PROGRESS): Rule(Step.START, manage=False, reason=False),
    (State.IN_PROGRESS, State.RECTIFIED): Rule(Step.RECTIFY, manage=False, reason=False),
    (State.RECTIFIED, State.VERIFIED): Rule(Step.VERIFY, manage=True, reason=False),
    (State.RECTIFIED, State.IN_PROGRESS): Rule(Step.RETURN, manage=True, reason=True),
    (State.VERIFIED, State.CLOSED): Rule(Step.CLOSE, manage=True, reason=False),
    (State.VERIFIED, State.IN_PROGRESS): Rule(Step.RECHECK, manage=True, reason=True),
    (State.CLOSED, State.IN_PROGRESS): Rule(Step.RECHECK, manage=True, reason=True),
}

REFUSED = N_("Measure {measure} cannot move from {current} to {asked}; from {current} it may move to "
             "{accepted}.")
REASON_NEEDED = N_("A measure going back to in progress needs a reason.")
UNKNOWN_STATE = N_("No such state.")


@dataclass
class TransitionRefused(Conflict):
    """A transition the state machine does not allow from the measure's current state.

    ``params`` holds the measure's uid and the states, so a page can say it in its own language.
    """

    template: str = REFUSED
    params: dict[str, str] | None = None


def accepted_from(current: State) -> tuple[State, ...]:
    """The states a measure in ``current`` may move to, in the order of the ledger."""
    return tuple(to for (start, to) in RULES if start is current)


def parse_state(value: str, *, field: str = "to_state") -> State:
    """``value`` as a state, or a ValidationError listing the states there are."""
    try:
        return State(value)
    except ValueError:
        raise ValidationError(UNKNOWN_STATE, [Problem(N_("no such state"), field=field, value=value,
                                                      expected=", ".join(State))]) from None


def rule_for(*, measure: str, current: State, asked: State) -> Rule:
    """The rule of the transition from ``current`` to ``asked``, or :class:`TransitionRefused`."""
    rule = RULES.get((current, asked))
    if rule is not None:
        return rule
    accepted = accepted_from(current)
    params = {"measure": measure, "current": current.value, "asked": asked.value,
              "accepted": ", ".join(accepted) or "-"}
    raise TransitionRefused(REFUSED.format(**params), [
        Problem("transition refused", field="to_state", value=asked.value,
                expected=f"from {current.value}: " + (", ".join(accepted) or "-"))], REFUSED, params)


def check_transition(*, measure: str, current: State, asked: State, comment: str) -> Rule:
    """The rule of the transition, once the state machine allows it and any reason it needs is given."""
    rule = rule_for(measure=measure, current=current, asked=asked)
    if rule.reason and not comment.strip():
        raise ValidationError(REASON_NEEDED, [
            Problem(N_("a reason is required"), field="comment", value=comment,
                    expected=N_("why the measure goes back to in progress"))])
    return rule


def rate(done: int, total: int) -> float | None:
    """The share of measures rectified or beyond, in percent with one decimal; None without measures."""
    return round(100 * done / total, 1) if total else None
