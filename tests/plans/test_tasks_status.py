"""The status engine (pure): each cause of each status, their order of precedence, and the override."""

from __future__ import annotations

import datetime as dt

import pytest

from jiaowei.plans.tasks.model import (
    BEHIND_MARGIN,
    CheckpointState,
    LinkState,
    Milestone,
    Review,
    Stage,
    Status,
    compute_status,
    default_checkpoints,
    effective_status,
    expected_percent,
    link_met,
)

START = dt.date(2020, 1, 1)
DEADLINE = dt.date(2020, 12, 31)
DEPLOY = dt.date(2020, 3, 31)


def status(
    today: dt.date = dt.date(2020, 2, 1),
    *,
    deadline: dt.date | None = DEADLINE,
    milestones: tuple[Milestone, ...] = (),
    links: tuple[LinkState, ...] = (),
    checkpoints: tuple[CheckpointState, ...] = (),
    percent: int | None = None,
) -> tuple[Status, list[str]]:
    found, causes = compute_status(
        today=today,
        deadline=deadline,
        milestones=milestones,
        links=links,
        checkpoints=checkpoints,
        latest_percent=percent,
        start=START,
    )
    return found, [c.code for c in causes]


def link(
    value: float | None,
    target: float | None = 53,
    *,
    higher: bool = True,
    period_end: dt.date | None = DEADLINE,
) -> LinkState:
    return LinkState("CHILDCARE", "2020", value, target, higher, period_end)


# ---------------------------------------------------------------- on track


def test_on_track_with_nothing_due_yet():
    assert status() == (Status.ON_TRACK, ["nothing_due"])


def test_on_track_when_progress_keeps_pace_with_the_time():
    found, causes = compute_status(
        today=dt.date(2020, 7, 1),
        deadline=DEADLINE,
        milestones=(),
        links=(),
        checkpoints=(),
        latest_percent=40,
        start=START,
    )
    assert found == Status.ON_TRACK
    assert [c.code for c in causes] == ["on_schedule"]
    assert causes[0].text() == "Progress is 40%, in step with the schedule."
    assert causes[0].params == {"percent": 40, "expected": 50}


# ---------------------------------------------------------------- done


def test_done_when_the_latest_report_says_100_and_every_milestone_is_done():
    milestones = (Milestone("方案", dt.date(2020, 3, 1), dt.date(2020, 2, 28)),)
    assert status(dt.date(2021, 3, 1), milestones=milestones, percent=100) == (
        Status.DONE,
        ["reported_complete", "milestones_done"],
    )


def test_done_when_every_linked_indicator_meets_its_target_even_without_a_report():
    assert status(links=(link(53), link(60, target=55))) == (Status.DONE, ["targets_met"])


def test_done_with_report_targets_and_milestones_names_all_three():
    milestones = (Milestone("方案", None, dt.date(2020, 2, 1)),)
    assert status(milestones=milestones, links=(link(53),), percent=100)[1] == [
        "reported_complete",
        "targets_met",
        "milestones_done",
    ]


def test_not_done_while_a_milestone_is_open_or_a_target_is_missed_even_at_100_percent():
    assert status(milestones=(Milestone("验收", dt.date(2020, 11, 30)),), percent=100)[0] == Status.ON_TRACK
    assert status(links=(link(50),), percent=100)[0] == Status.AT_RISK
    assert status(links=(link(None),), percent=100)[0] == Status.ON_TRACK  # no value yet: not done


def test_done_outranks_lateness():
    assert status(dt.date(2021, 6, 1), percent=100)[0] == Status.DONE


# ---------------------------------------------------------------- late


def test_late_once_the_deadline_has_passed():
    found, causes = compute_status(
        today=dt.date(2021, 1, 10),
        deadline=DEADLINE,
        milestones=(),
        links=(),
        checkpoints=(),
        latest_percent=90,
        start=START,
    )
    assert found == Status.LATE
    assert [c.code for c in causes] == ["deadline_passed"]
    assert causes[0].text() == "The deadline 2020-12-31 passed 10 days ago."


def test_late_when_a_milestone_is_overdue():
    milestones = (Milestone("方案", dt.date(2020, 3, 1)),)
    assert status(dt.date(2020, 3, 2), milestones=milestones, percent=20) == (
        Status.LATE,
        ["milestone_overdue"],
    )
    assert status(dt.date(2020, 3, 1), milestones=milestones, percent=20)[0] == Status.ON_TRACK  # due today


@pytest.mark.parametrize("review", [None, Review.RETURNED])
def test_late_when_a_checkpoint_passed_without_a_live_report(review):
    checkpoints = (CheckpointState(Stage.DEPLOY, DEPLOY, review, 10 if review else None),)
    found, causes = compute_status(
        today=dt.date(2020, 4, 1),
        deadline=DEADLINE,
        milestones=(),
        links=(),
        checkpoints=checkpoints,
        latest_percent=30,
        start=START,
    )
    assert found == Status.LATE
    assert [c.code for c in causes] == ["checkpoint_overdue"]
    assert causes[0].params == {"stage": "deploy", "due": DEPLOY}


@pytest.mark.parametrize("review", [Review.SUBMITTED, Review.ACCEPTED])
def test_a_pending_or_accepted_report_meets_its_checkpoint(review):
    checkpoints = (CheckpointState(Stage.DEPLOY, DEPLOY, review, 30),)
    assert status(dt.date(2020, 4, 1), checkpoints=checkpoints, percent=30)[0] == Status.ON_TRACK


def test_late_when_a_linked_indicator_missed_its_target_after_its_period():
    found, causes = compute_status(
        today=dt.date(2021, 1, 5),
        deadline=dt.date(2021, 6, 30),
        milestones=(),
        links=(link(40),),
        checkpoints=(),
        latest_percent=80,
        start=START,
    )
    assert found == Status.LATE
    assert [c.code for c in causes] == ["target_missed"]
    assert causes[0].text() == "Indicator CHILDCARE missed its target for 2020: 40 against 53."


def test_late_lists_every_cause_at_once():
    milestones = (Milestone("方案", dt.date(2020, 3, 1)),)
    checkpoints = (CheckpointState(Stage.DEPLOY, DEPLOY),)
    assert status(dt.date(2021, 2, 1), milestones=milestones, links=(link(40),), checkpoints=checkpoints)[
        1
    ] == ["deadline_passed", "milestone_overdue", "checkpoint_overdue", "target_missed"]


# ---------------------------------------------------------------- at risk


def test_at_risk_when_progress_lags_the_time_elapsed_by_more_than_the_margin():
    today = dt.date(2020, 7, 1)  # 50% of the year to the deadline
    expected = expected_percent(today=today, start=START, deadline=DEADLINE)
    assert expected == 50
    assert status(today, percent=expected - BEHIND_MARGIN)[0] == Status.ON_TRACK
    found, causes = compute_status(
        today=today,
        deadline=DEADLINE,
        milestones=(),
        links=(),
        checkpoints=(),
        latest_percent=expected - BEHIND_MARGIN - 1,
        start=START,
    )
    assert (found, [c.code for c in causes]) == (Status.AT_RISK, ["behind_schedule"])
    assert causes[0].text() == "Progress is 24% while 50% of the time to the deadline has passed."


def test_no_report_by_mid_year_is_behind_schedule():
    assert status(dt.date(2020, 6, 1)) == (Status.AT_RISK, ["behind_schedule"])


def test_at_risk_when_a_linked_indicator_is_short_of_its_target_while_its_period_runs():
    assert status(links=(link(50),), percent=10) == (Status.AT_RISK, ["target_short"])
    lower = link(12, target=10, higher=False)
    assert status(links=(lower,), percent=10) == (Status.AT_RISK, ["target_short"])
    assert link_met(link(9, target=10, higher=False)) is True


def test_at_risk_when_the_commission_returned_the_latest_report_of_a_checkpoint_not_yet_due():
    checkpoints = (CheckpointState(Stage.ADVANCE, dt.date(2020, 7, 15), Review.RETURNED, 40),)
    found, causes = compute_status(
        today=dt.date(2020, 5, 1),
        deadline=DEADLINE,
        milestones=(),
        links=(),
        checkpoints=checkpoints,
        latest_percent=30,
        start=START,
    )
    assert (found, [c.code for c in causes]) == (Status.AT_RISK, ["report_returned"])
    assert (
        causes[0].text(lambda m: m.replace("The commission returned", "退回"))
        == "退回 the Advance (mid-year) report."
    )


def test_lateness_outranks_risk():
    milestones = (Milestone("方案", dt.date(2020, 3, 1)),)
    assert status(dt.date(2020, 7, 1), milestones=milestones, links=(link(50),))[0] == Status.LATE


# ---------------------------------------------------------------- override and defaults


def test_an_override_replaces_the_status_and_puts_its_reason_first():
    computed, causes = compute_status(
        today=dt.date(2020, 7, 1),
        deadline=DEADLINE,
        milestones=(),
        links=(),
        checkpoints=(),
        latest_percent=50,
        start=START,
    )
    shown, why = effective_status(computed, causes, override="at_risk", reason="经费未到位", by="planner")
    assert shown == Status.AT_RISK
    assert [c.code for c in why] == ["override", "on_schedule"]
    assert why[0].text() == "Status set by planner: 经费未到位"
    assert why[0].params["computed"] == "on_track"
    assert effective_status(computed, causes, override=None) == (computed, causes)


def test_checkpoints_default_to_the_years_three_days():
    assert default_checkpoints(2020) == {
        Stage.DEPLOY: dt.date(2020, 3, 31),
        Stage.ADVANCE: dt.date(2020, 7, 15),
        Stage.ASSESS: dt.date(2020, 12, 15),
    }
    assert default_checkpoints(2020, {"advance": dt.date(2020, 6, 30)})[Stage.ADVANCE] == dt.date(2020, 6, 30)


def test_a_link_without_a_target_neither_completes_nor_blocks_a_task():
    assert status(links=(link(40, target=None),), percent=100) == (Status.DONE, ["reported_complete"])
    assert status(links=(link(40, target=None),))[0] == Status.ON_TRACK  # no report, nothing to meet
    assert status(links=(link(53), link(40, target=None)))[1] == ["targets_met"]
