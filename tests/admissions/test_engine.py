"""The admissions engine: lottery numbers, both mechanisms, tiers, eligibility, programs, multiples.

Worked examples use tiers to fix who beats whom, so the expected results can be computed by
hand; where only the lottery decides, the expected ranks come from ``tickets`` (itself checked
against a direct SHA-256 computation). Properties are checked with Hypothesis on small cases,
against plain-Python reference implementations of both mechanisms.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiaowei.admissions.engine import draw, ranked_rows, tickets
from jiaowei.admissions.model import (
    Applicant,
    Case,
    Cutoff,
    Mechanism,
    Multiples,
    Outcome,
    Placement,
    School,
)

SEED = bytes(range(32))
DA, ROUNDS = Mechanism.DEFERRED_ACCEPTANCE, Mechanism.CHOICE_ROUNDS
SEPARATE, TOGETHER = Multiples.SEPARATE, Multiples.TOGETHER


def case_of(
    schools: list[School],
    applicants: list[Applicant],
    *,
    mechanism: Mechanism = DA,
    multiples: Multiples = SEPARATE,
    priorities: Mapping[tuple[str, str], int] | None = None,
    default_tier: int = 9,
) -> Case:
    return Case(
        "test", mechanism, multiples, default_tier, tuple(schools), tuple(applicants), priorities or {}
    )


def seats(outcome: Outcome) -> dict[str, tuple[str, int] | None]:
    return {a: (p.school_id, p.choice_rank) if p else None for a, p in outcome.placements.items()}


# ------------------------------------------------------------------------------- lottery numbers


def test_tickets_follow_the_published_algorithm() -> None:
    ids = ["A1", "B2", "学生3", "C4"]
    values = {a: int.from_bytes(hashlib.sha256(SEED + a.encode("utf-8")).digest(), "big") for a in ids}
    expected_order = sorted(ids, key=values.__getitem__)
    result = tickets(SEED, reversed(ids))
    assert [a for a, _ in sorted(result.items(), key=lambda kv: kv[1].rank)] == expected_order
    assert {t.rank for t in result.values()} == {1, 2, 3, 4}
    assert all(result[a].value == f"{values[a]:064x}" for a in ids)


def test_a_duplicate_applicant_id_is_refused() -> None:
    with pytest.raises(ValueError, match="'A1' appears more than once"):
        tickets(SEED, ["A1", "B", "A1"])


def test_tickets_and_draw_agree() -> None:
    case = case_of([School("X", 1)], [Applicant(f"A{i}", ("X",)) for i in range(20)])
    assert dict(draw(case, SEED).tickets) == tickets(SEED, (a.applicant_id for a in case.applicants))


# ------------------------------------------------------------------------------- worked examples


def example_where_mechanisms_differ(mechanism: Mechanism) -> Case:
    """X and Y have one seat each. b has priority at X, a at Y; c has no priority anywhere.

    a: X then Y; b: X then Y; c: Y then X.
    """
    applicants = [Applicant("a", ("X", "Y")), Applicant("b", ("X", "Y")), Applicant("c", ("Y", "X"))]
    priorities = {("X", "b"): 1, ("Y", "a"): 1, ("Y", "c"): 2}
    return case_of([School("X", 1), School("Y", 1)], applicants, mechanism=mechanism, priorities=priorities)


def test_deferred_acceptance_worked_example() -> None:
    # Round 1: X holds b (tier 1) over a; Y holds c. Round 2: a proposes to Y, which holds a
    # (tier 1) over c (tier 2). Round 3: c proposes to X, which keeps b. c is not placed.
    outcome = draw(example_where_mechanisms_differ(DA), SEED)
    assert seats(outcome) == {"a": ("Y", 2), "b": ("X", 1), "c": None}
    rank = {a: t.rank for a, t in outcome.tickets.items()}
    assert outcome.cutoffs == (Cutoff("X", 1, 1, 1, rank["b"]), Cutoff("Y", 1, 1, 1, rank["a"]))
    assert [line for line in outcome.transcript if line.startswith("round")] == [
        "round 1: 3 proposals, 2 held, 1 rejected",
        "round 2: 1 proposals, 2 held, 1 rejected",
        "round 3: 1 proposals, 2 held, 1 rejected",
    ]


def test_choice_rounds_worked_example() -> None:
    # Round 1: X admits b (tier 1), Y admits c: placements are final. Round 2: a applies to Y,
    # which is full, although a has the better tier there. c keeps the seat.
    outcome = draw(example_where_mechanisms_differ(ROUNDS), SEED)
    assert seats(outcome) == {"a": None, "b": ("X", 1), "c": ("Y", 1)}
    rank = {a: t.rank for a, t in outcome.tickets.items()}
    assert outcome.cutoffs == (Cutoff("X", 1, 1, 1, rank["b"]), Cutoff("Y", 1, 1, 2, rank["c"]))


def twins_case(multiples: Multiples) -> Case:
    """X and Y have two seats each; s has priority at X; twins t1, t2 choose X then Y."""
    applicants = [
        Applicant("t1", ("X", "Y"), group_id="g"),
        Applicant("s", ("X",)),
        Applicant("t2", ("X", "Y"), group_id="g"),
    ]
    schools = [School("X", 2), School("Y", 2)]
    return case_of(schools, applicants, mechanism=ROUNDS, multiples=multiples, priorities={("X", "s"): 1})


def test_twins_separate_are_placed_each_alone() -> None:
    # Round 1: X admits s (tier 1), then the twin with the better lottery rank; the other
    # twin goes to Y in round 2.
    outcome = draw(twins_case(SEPARATE), SEED)
    first, second = sorted(["t1", "t2"], key=lambda a: outcome.tickets[a].rank)
    assert seats(outcome) == {"s": ("X", 1), first: ("X", 1), second: ("Y", 2)}


def test_twins_together_are_placed_as_one() -> None:
    # Round 1: s takes one of X's two seats; one seat is left and the twins need two, so they
    # are passed over. Round 2: they apply to Y together and both get a seat.
    outcome = draw(twins_case(TOGETHER), SEED)
    assert seats(outcome) == {"s": ("X", 1), "t1": ("Y", 2), "t2": ("Y", 2)}
    assert "round 1: 3 applicants applied, 1 admitted, 1 groups passed over for lack of seats" in (
        outcome.transcript
    )


def test_a_group_ranks_with_its_best_member_and_a_passed_over_group_leaves_the_seats() -> None:
    # Z: two seats. t1 has priority, so the group outranks u1 and u2 and takes both seats.
    # W: one seat. The twins do not fit; u3 behind them takes the seat.
    applicants = [
        Applicant("t1", ("Z",), group_id="g"),
        Applicant("t2", ("Z",), group_id="g"),
        Applicant("u1", ("Z",)),
        Applicant("u2", ("Z",)),
        Applicant("v1", ("W",), group_id="h"),
        Applicant("v2", ("W",), group_id="h"),
        Applicant("u3", ("W",)),
    ]
    priorities = {("Z", "t1"): 1, ("W", "v1"): 1, ("W", "v2"): 1}
    case = case_of(
        [School("Z", 2), School("W", 1)],
        applicants,
        mechanism=ROUNDS,
        multiples=TOGETHER,
        priorities=priorities,
    )
    outcome = draw(case, SEED)
    assert seats(outcome) == {
        "t1": ("Z", 1),
        "t2": ("Z", 1),
        "u1": None,
        "u2": None,
        "v1": None,
        "v2": None,
        "u3": ("W", 1),
    }
    ranks = {a: t.rank for a, t in outcome.tickets.items()}
    # t2 has no priority, but is counted with the group's (tier, rank): t1's.
    assert outcome.cutoffs[0] == Cutoff("Z", 2, 2, 1, ranks["t1"])


def test_eligibility_is_reported_and_the_choice_skipped() -> None:
    schools = [School("X", 5, districts=frozenset({"D1"})), School("Y", 5)]
    applicants = [
        Applicant("a", ("X", "Y"), district="D2"),
        Applicant("b", ("X",), district="D1"),
        Applicant("c", ("X",)),
    ]
    for mechanism in (DA, ROUNDS):
        outcome = draw(case_of(schools, applicants, mechanism=mechanism), SEED)
        assert seats(outcome) == {"a": ("Y", 2), "b": ("X", 1), "c": None}
        assert sorted(outcome.ineligible) == [("a", "X"), ("c", "X")]
        assert [a for a, _ in outcome.ineligible] == sorted("ac", key=lambda a: outcome.tickets[a].rank)
        assert "2 ineligible choices skipped" in outcome.transcript


def test_an_ineligible_twin_keeps_the_group_out_of_that_school() -> None:
    schools = [School("X", 5, districts=frozenset({"D1"})), School("Y", 5)]
    applicants = [Applicant("t1", ("X", "Y"), "g", "D1"), Applicant("t2", ("X", "Y"), "g", "D2")]
    outcome = draw(case_of(schools, applicants, mechanism=ROUNDS, multiples=TOGETHER), SEED)
    assert seats(outcome) == {"t1": ("Y", 2), "t2": ("Y", 2)}
    assert outcome.ineligible == (("t2", "X"),)


def test_programs_of_one_school_have_their_own_capacity() -> None:
    schools = [School("S1-boarding", 1, program="boarding"), School("S1-day", 2, program="day")]
    applicants = [Applicant(f"a{i}", ("S1-boarding", "S1-day")) for i in range(4)]
    outcome = draw(case_of(schools, applicants), SEED)
    order = sorted(outcome.tickets, key=lambda a: outcome.tickets[a].rank)
    assert seats(outcome) == {
        order[0]: ("S1-boarding", 1),
        order[1]: ("S1-day", 2),
        order[2]: ("S1-day", 2),
        order[3]: None,
    }
    assert [(c.school_id, c.admitted, c.last_lottery_rank) for c in outcome.cutoffs] == [
        ("S1-boarding", 1, 1),
        ("S1-day", 2, 3),
    ]


def test_a_school_nobody_got_into_has_no_cutoff() -> None:
    outcome = draw(case_of([School("X", 0), School("Y", 3)], [Applicant("a", ("X",))]), SEED)
    assert outcome.cutoffs == (Cutoff("X", 0, 0, None, None), Cutoff("Y", 3, 0, None, None))
    assert seats(outcome) == {"a": None}


def test_an_empty_case_draws_nothing() -> None:
    outcome = draw(case_of([School("X", 1)], []), SEED)
    assert dict(outcome.placements) == {} and dict(outcome.tickets) == {}


# ---------------------------------------------------------------------------- what is refused


def test_together_with_deferred_acceptance_is_refused() -> None:
    case = case_of(
        [School("X", 2)], [Applicant("t1", ("X",), "g"), Applicant("t2", ("X",), "g")], multiples=TOGETHER
    )
    with pytest.raises(ValueError, match="refused.*choice-rounds"):
        draw(case, SEED)


@pytest.mark.parametrize(
    ("schools", "applicants", "message"),
    [
        ([School("X", 1)], [Applicant("a", ("X", "Q"))], "applicant 'a' chose unknown school 'Q'"),
        ([School("X", -1)], [], "school 'X' has a negative capacity"),
        ([School("X", 1), School("X", 2)], [], "school id 'X' appears more than once"),
        ([School("X", 1)], [Applicant("a", ("X", "X"))], "applicant 'a' lists a school more than once"),
        (
            [School("X", 1), School("Y", 1)],
            [Applicant("t1", ("X", "Y"), "g"), Applicant("t2", ("Y", "X"), "g")],
            "group 'g': members of a group placed together must have the same choices",
        ),
    ],
)
def test_bad_cases_are_refused_with_a_clear_message(
    schools: list[School], applicants: list[Applicant], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        draw(case_of(schools, applicants, mechanism=ROUNDS, multiples=TOGETHER), SEED)


def test_a_priority_for_an_unknown_applicant_is_refused() -> None:
    case = case_of([School("X", 1)], [Applicant("a", ("X",))], priorities={("X", "zz"): 1})
    with pytest.raises(ValueError, match="unknown applicant 'zz'"):
        draw(case, SEED)


# ------------------------------------------------------------------- reference implementations


def eligible(case: Case, applicant: Applicant, school_id: str) -> bool:
    school = next(s for s in case.schools if s.school_id == school_id)
    return not school.districts or applicant.district in school.districts


def key(case: Case, outcome: Outcome, school_id: str, applicant_id: str) -> tuple[int, int]:
    tier = case.priorities.get((school_id, applicant_id), case.default_tier)
    return tier, outcome.tickets[applicant_id].rank


def reference_da(case: Case, outcome: Outcome) -> dict[str, tuple[str, int] | None]:
    """Textbook student-proposing deferred acceptance, one proposal at a time."""
    capacity = {s.school_id: s.capacity for s in case.schools}
    lists = {
        a.applicant_id: [(j + 1, s) for j, s in enumerate(a.choices) if eligible(case, a, s)]
        for a in case.applicants
    }
    held: dict[str, list[str]] = {s: [] for s in capacity}
    at: dict[str, tuple[str, int] | None] = dict.fromkeys(lists)
    free = sorted(lists)
    while free:
        a = free.pop()
        if not lists[a]:
            continue
        rank, s = lists[a].pop(0)
        held[s].append(a)
        at[a] = (s, rank)
        held[s].sort(key=lambda b, s=s: key(case, outcome, s, b))
        while len(held[s]) > capacity[s]:
            loser = held[s].pop()
            at[loser] = None
            free.append(loser)
    return at


def reference_rounds(case: Case, outcome: Outcome) -> dict[str, tuple[str, int] | None]:
    """The 志愿 rounds as documented, one unit at a time (groups only with ``together``)."""
    units: dict[str, list[Applicant]] = {}
    for a in case.applicants:
        unit = a.group_id if (case.multiples is TOGETHER and a.group_id) else "\0" + a.applicant_id
        units.setdefault(unit, []).append(a)
    remaining = {s.school_id: s.capacity for s in case.schools}
    at: dict[str, tuple[str, int] | None] = {a.applicant_id: None for a in case.applicants}
    for k in range(max((len(a.choices) for a in case.applicants), default=0)):
        applying = [
            (min(key(case, outcome, m[0].choices[k], x.applicant_id) for x in m), m)
            for m in units.values()
            if at[m[0].applicant_id] is None
            and len(m[0].choices) > k
            and all(eligible(case, x, m[0].choices[k]) for x in m)
        ]
        for _, members in sorted(applying, key=lambda u: u[0]):
            s = members[0].choices[k]
            if len(members) <= remaining[s]:
                remaining[s] -= len(members)
                at.update({x.applicant_id: (s, k + 1) for x in members})
    return at


# ---------------------------------------------------------------------------------- properties


@st.composite
def cases(draw_: st.DrawFn, mechanism: Mechanism | None = None, multiples: Multiples | None = None) -> Case:
    n_schools = draw_(st.integers(1, 5))
    school_ids = [f"S{i}" for i in range(n_schools)]
    districts = st.sampled_from([frozenset(), frozenset(), frozenset({"D0"}), frozenset({"D0", "D1"})])
    schools = [School(s, draw_(st.integers(0, 3)), draw_(districts)) for s in school_ids]
    mechanism = mechanism or draw_(st.sampled_from(list(Mechanism)))
    if multiples is None:
        multiples = SEPARATE if mechanism is DA else draw_(st.sampled_from(list(Multiples)))
    applicants: list[Applicant] = []
    groups: dict[str, tuple[str, ...]] = {}
    for i in range(draw_(st.integers(0, 12))):
        group = draw_(st.sampled_from(["", "", "", "g0", "g1"]))
        if group in groups:  # members of a group share their choices
            choices = groups[group]
        else:
            choices = tuple(draw_(st.permutations(school_ids))[: draw_(st.integers(0, n_schools))])
            if group:
                groups[group] = choices
        applicants.append(Applicant(f"A{i}", choices, group, draw_(st.sampled_from(["D0", "D1", ""]))))
    pairs = [(s, a.applicant_id) for a in applicants for s in school_ids]
    chosen = draw_(st.lists(st.sampled_from(pairs), unique=True, max_size=10)) if pairs else []
    priorities = {p: draw_(st.integers(0, 3)) for p in chosen}
    return Case(
        "prop", mechanism, multiples, draw_(st.integers(0, 4)), tuple(schools), tuple(applicants), priorities
    )


seeds = st.binary(min_size=32, max_size=32)
PROPERTY = settings(max_examples=150, deadline=None)


def placed_at(outcome: Outcome) -> dict[str, list[str]]:
    by_school: dict[str, list[str]] = {}
    for a, p in outcome.placements.items():
        if p is not None:
            by_school.setdefault(p.school_id, []).append(a)
    return by_school


@PROPERTY
@given(cases(), seeds)
def test_capacity_is_never_exceeded_and_every_seat_is_a_real_choice(case: Case, seed: bytes) -> None:
    outcome = draw(case, seed)
    by_school = placed_at(outcome)
    assert sorted(outcome.placements) == sorted(a.applicant_id for a in case.applicants)
    for school, cutoff in zip(case.schools, outcome.cutoffs, strict=True):
        who = by_school.get(school.school_id, [])
        assert cutoff.school_id == school.school_id and cutoff.admitted == len(who) <= school.capacity
        worst = max((key(case, outcome, school.school_id, a) for a in who), default=(None, None))
        if case.multiples is SEPARATE:
            assert (cutoff.last_tier, cutoff.last_lottery_rank) == worst
    for a in case.applicants:
        p = outcome.placements[a.applicant_id]
        if p is not None:
            assert a.choices[p.choice_rank - 1] == p.school_id and eligible(case, a, p.school_id)


@PROPERTY
@given(cases(), seeds)
def test_nobody_is_placed_twice(case: Case, seed: bytes) -> None:
    outcome = draw(case, seed)
    seated = [a for who in placed_at(outcome).values() for a in who]
    assert len(seated) == len(set(seated))
    assert sum(c.admitted for c in outcome.cutoffs) == len(seated)


@PROPERTY
@given(cases(), seeds)
def test_the_same_inputs_give_the_same_outcome(case: Case, seed: bytes) -> None:
    assert draw(case, seed) == draw(case, seed)


@PROPERTY
@given(cases(), seeds, st.randoms(use_true_random=False))
def test_the_order_of_input_rows_changes_nothing(case: Case, seed: bytes, rnd: random.Random) -> None:
    def shuffled(items: list) -> list:  # type: ignore[type-arg]
        return rnd.sample(items, len(items))

    schools = shuffled(list(case.schools))
    priorities = dict(shuffled(list(case.priorities.items())))
    other = Case(
        case.title,
        case.mechanism,
        case.multiples,
        case.default_tier,
        tuple(schools),
        tuple(shuffled(list(case.applicants))),
        priorities,
    )
    a, b = draw(case, seed), draw(other, seed)
    assert dict(a.placements) == dict(b.placements) and dict(a.tickets) == dict(b.tickets)
    assert sorted(a.cutoffs, key=str) == sorted(b.cutoffs, key=str)
    assert a.ineligible == b.ineligible and a.transcript == b.transcript


@PROPERTY
@given(cases(mechanism=DA), seeds)
def test_deferred_acceptance_is_the_reference_and_stable(case: Case, seed: bytes) -> None:
    outcome = draw(case, seed)
    assert seats(outcome) == reference_da(case, outcome)
    capacity = {s.school_id: s.capacity for s in case.schools}
    by_school = placed_at(outcome)
    for a in case.applicants:
        p = outcome.placements[a.applicant_id]
        better = a.choices[: p.choice_rank - 1] if p else a.choices
        for s in (s for s in better if eligible(case, a, s)):
            holders = by_school.get(s, [])
            mine = key(case, outcome, s, a.applicant_id)
            assert len(holders) == capacity[s], f"{a.applicant_id} wanted {s}, which has a free seat"
            assert all(key(case, outcome, s, h) < mine for h in holders), (
                f"blocking pair {a.applicant_id}, {s}"
            )


@PROPERTY
@given(cases(mechanism=DA), seeds)
def test_under_deferred_acceptance_a_worse_tier_never_holds_a_seat_a_better_tier_wanted(
    case: Case, seed: bytes
) -> None:
    outcome = draw(case, seed)
    for s, holders in placed_at(outcome).items():
        for a in case.applicants:
            p = outcome.placements[a.applicant_id]
            wanted = (
                s in a.choices
                and eligible(case, a, s)
                and (p is None or a.choices.index(s) < p.choice_rank - 1)
            )
            if wanted:
                tier = key(case, outcome, s, a.applicant_id)[0]
                assert all(key(case, outcome, s, h)[0] <= tier for h in holders)


@PROPERTY
@given(cases(mechanism=ROUNDS), seeds)
def test_choice_rounds_are_the_reference(case: Case, seed: bytes) -> None:
    outcome = draw(case, seed)
    assert seats(outcome) == reference_rounds(case, outcome)


@PROPERTY
@given(cases(mechanism=ROUNDS, multiples=SEPARATE), seeds)
def test_within_a_round_nobody_admitted_ranks_below_someone_turned_away(case: Case, seed: bytes) -> None:
    outcome = draw(case, seed)
    for k in range(1, 6):
        for school in case.schools:
            s = school.school_id
            applied = [
                a
                for a in case.applicants
                if len(a.choices) >= k
                and a.choices[k - 1] == s
                and eligible(case, a, s)
                and (
                    outcome.placements[a.applicant_id] is None
                    or outcome.placements[a.applicant_id].choice_rank >= k
                )
            ]
            got = [a.applicant_id for a in applied if outcome.placements[a.applicant_id] == Placement(s, k)]
            lost = [a.applicant_id for a in applied if outcome.placements[a.applicant_id] != Placement(s, k)]
            if got and lost:
                assert max(key(case, outcome, s, a) for a in got) < min(
                    key(case, outcome, s, a) for a in lost
                )
                assert max(key(case, outcome, s, a)[0] for a in got) <= min(
                    key(case, outcome, s, a)[0] for a in lost
                )


@PROPERTY
@given(cases(mechanism=ROUNDS, multiples=TOGETHER), seeds)
def test_a_group_placed_together_is_placed_all_or_none_at_one_school(case: Case, seed: bytes) -> None:
    outcome = draw(case, seed)
    groups: dict[str, set[Placement | None]] = {}
    for a in case.applicants:
        if a.group_id:
            groups.setdefault(a.group_id, set()).add(outcome.placements[a.applicant_id])
    assert all(len(placements) == 1 for placements in groups.values())


@PROPERTY
@given(cases(), seeds)
def test_ranked_rows_are_the_tickets_and_placements_in_lottery_order(case: Case, seed: bytes) -> None:
    outcome = draw(case, seed)
    expected = [
        (
            a,
            t.rank,
            t.value,
            *((p.school_id, str(p.choice_rank)) if (p := outcome.placements[a]) else ("", "")),
        )
        for a, t in sorted(outcome.tickets.items(), key=lambda kv: kv[1].rank)
    ]
    assert list(ranked_rows(outcome)) == expected
    plain = Outcome(dict(outcome.tickets), dict(outcome.placements), outcome.cutoffs, (), ())
    assert list(ranked_rows(plain)) == expected
