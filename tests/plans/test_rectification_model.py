"""The rectification state machine, pair by pair: every allowed transition and every refused one."""

from __future__ import annotations

import itertools

import pytest

from jiaowei.errors import Conflict, ValidationError
from jiaowei.plans.ledger import model
from jiaowei.plans.ledger.model import State, Step

S = State
ALLOWED = {
    (S.OPEN, S.IN_PROGRESS): (Step.START, False, False),
    (S.IN_PROGRESS, S.RECTIFIED): (Step.RECTIFY, False, False),
    (S.RECTIFIED, S.VERIFIED): (Step.VERIFY, True, False),
    (S.RECTIFIED, S.IN_PROGRESS): (Step.RETURN, True, True),
    (S.VERIFIED, S.CLOSED): (Step.CLOSE, True, False),
    (S.VERIFIED, S.IN_PROGRESS): (Step.RECHECK, True, True),
    (S.CLOSED, S.IN_PROGRESS): (Step.RECHECK, True, True),
}
ACCEPTED = {
    S.OPEN: "in_progress",
    S.IN_PROGRESS: "rectified",
    S.RECTIFIED: "verified, in_progress",
    S.VERIFIED: "closed, in_progress",
    S.CLOSED: "in_progress",
}
PAIRS = list(itertools.product(State, State))
REFUSED = [pair for pair in PAIRS if pair not in ALLOWED]


def test_the_pairs_cover_every_state_twice_over():
    assert len(PAIRS) == 25 and len(ALLOWED) == 7 and len(REFUSED) == 18


@pytest.mark.parametrize(("current", "asked"), list(ALLOWED))
def test_an_allowed_transition_has_its_step_permission_and_reason(current, asked):
    rule = model.rule_for(measure="M1", current=current, asked=asked)
    assert (rule.step, rule.manage, rule.reason) == ALLOWED[(current, asked)]
    comment = "回头看发现问题反弹" if rule.reason else ""
    assert model.check_transition(measure="M1", current=current, asked=asked, comment=comment) == rule


@pytest.mark.parametrize(("current", "asked"), REFUSED)
def test_a_refused_transition_names_the_measure_the_states_and_what_is_accepted(current, asked):
    with pytest.raises(model.TransitionRefused) as refused:
        model.rule_for(measure="Mabc1234567", current=current, asked=asked)
    error = refused.value
    assert isinstance(error, Conflict) and error.status == 409
    assert error.detail == (f"Measure Mabc1234567 cannot move from {current.value} to {asked.value}; "
                            f"from {current.value} it may move to {ACCEPTED[current]}.")
    assert error.params == {"measure": "Mabc1234567", "current": current.value, "asked": asked.value,
                            "accepted": ACCEPTED[current]}
    [problem] = error.problems
    assert (problem.field, problem.value) == ("to_state", asked.value)
    assert problem.expected == f"from {current.value}: {ACCEPTED[current]}"


@pytest.mark.parametrize(("current", "asked"), [p for p, (_, _, reason) in ALLOWED.items() if reason])
@pytest.mark.parametrize("comment", ["", "   "])
def test_going_back_to_in_progress_needs_a_reason(current, asked, comment):
    with pytest.raises(ValidationError) as refused:
        model.check_transition(measure="M1", current=current, asked=asked, comment=comment)
    assert refused.value.problems[0].field == "comment"
    assert refused.value.detail == "A measure going back to in progress needs a reason."


def test_an_unknown_state_lists_the_states_there_are():
    with pytest.raises(ValidationError) as refused:
        model.parse_state("done")
    assert refused.value.problems[0].expected == "open, in_progress, rectified, verified, closed"
    assert model.parse_state("verified") is S.VERIFIED


def test_the_rate_counts_rectified_and_beyond():
    assert {S.RECTIFIED, S.VERIFIED, S.CLOSED} == model.DONE
    assert model.rate(2, 3) == 66.7 and model.rate(0, 4) == 0.0 and model.rate(0, 0) is None
