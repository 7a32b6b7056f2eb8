"""Lottery benchmark: the admissions engine at city scale, and against the ``matching`` package.

1. 1,000,000 applicants, 2,000 schools, 5 choices each (synthetic, seeded, with a popularity
   skew: a few schools are chosen far more often than the rest; 10% of schools admit only from
   their own district; 2% of applicants have a sibling priority at their first choice).
   Times ``engine.draw`` (lottery numbers + deferred acceptance), and the whole proof: reading
   the case files, drawing, writing results.csv, cutoffs.csv, transcript.txt and manifest.json
   (``proof.run_draw``), then ``proof.verify``. Target: ≤ 5 s.
2. 10,000 applicants, 100 schools, 3 choices: jiaowei's deferred acceptance against
   ``matching.games.HospitalResident`` (resident-optimal) on the same instance, where each
   school's preference list is the applicants who chose it ordered by (tier, lottery rank).
   Checks that both give the same matching and prints both times. Target: ≥ 100× faster.

Run: ``.venv/bin/python benchmarks/lottery.py`` (``--size N`` for a smaller first part).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jiaowei.admissions import engine, proof
from jiaowei.admissions.model import Applicant, Case, Mechanism, Multiples, School

SEED = b"jiaowei-benchmark".ljust(32, b"\0")
DISTRICTS = 16


def timed(label: str, action: Callable[[], Any]) -> tuple[Any, float]:
    start, cpu = time.perf_counter(), time.process_time()
    result = action()
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"  {label:<48} {took:8.3f} s wall {cpu:8.3f} s cpu", flush=True)
    return result, took


def distinct_choices(
    rng: np.random.Generator, n: int, schools: int, k: int, weight: np.ndarray
) -> np.ndarray:
    """n rows of k distinct schools, drawn with the popularity weights."""
    p = weight / weight.sum()
    picks = rng.choice(schools, size=(n, k), p=p)
    while True:
        ordered = np.sort(picks, axis=1)
        clash = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        if not clash.any():
            return picks
        rows = np.flatnonzero(clash)
        redo = rng.choice(schools, size=(rows.size, k), p=p)
        keep_first = np.ones((rows.size, k), dtype=bool)
        for j in range(1, k):  # keep a clashing row's earlier distinct picks, redraw the rest
            keep_first[:, j] = keep_first[:, j - 1] & ~(picks[rows, j : j + 1] == picks[rows, :j]).any(axis=1)
        picks[rows] = np.where(keep_first, picks[rows], redo)


def synthetic_case(n: int, schools: int, k: int, *, seed: int, restricted: bool = True) -> Case:
    rng = np.random.default_rng(seed)
    weight = 1.0 / (np.arange(schools) + 20.0) ** 0.9
    weight = weight[rng.permutation(schools)]
    capacity = rng.integers(max(1, n // schools // 4), max(2, n * 6 // schools // 5), size=schools)
    school_district = rng.integers(0, DISTRICTS, size=schools)
    only_own = rng.random(schools) < (0.1 if restricted else 0.0)
    school_rows = tuple(
        School(
            school_id=f"S{s:04d}",
            capacity=int(capacity[s]),
            districts=frozenset({f"D{school_district[s]:02d}"}) if only_own[s] else frozenset(),
        )
        for s in range(schools)
    )
    picks = distinct_choices(rng, n, schools, k, weight)
    names = [f"S{s:04d}" for s in range(schools)]
    home = rng.integers(0, DISTRICTS, size=n)
    # Families mostly choose district-only schools of their own district: make 95% of those
    # who picked one live in the district of the first such pick.
    restricted_pick = only_own[picks]
    first = restricted_pick.argmax(axis=1)
    moves = restricted_pick.any(axis=1) & (rng.random(n) < 0.95)
    home = np.where(moves, school_district[picks[np.arange(n), first]], home).tolist()
    applicants = tuple(
        Applicant(applicant_id=f"A{i:07d}", choices=tuple(names[s] for s in row), district=f"D{home[i]:02d}")
        for i, row in enumerate(picks.tolist())
    )
    sibling = np.flatnonzero(rng.random(n) < 0.02).tolist()
    priorities = {(applicants[i].choices[0], applicants[i].applicant_id): 1 for i in sibling}
    return Case(
        "benchmark", Mechanism.DEFERRED_ACCEPTANCE, Multiples.SEPARATE, 9, school_rows, applicants, priorities
    )


def write_case_dir(case: Case, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": "jiaowei-lottery/1",
        "title": case.title,
        "mechanism": case.mechanism.value,
        "multiples": case.multiples.value,
        "default_tier": case.default_tier,
    }
    (directory / "case.json").write_text(json.dumps(doc) + "\n", encoding="utf-8")
    schools = ["school_id,capacity,districts"]
    schools += [f"{s.school_id},{s.capacity},{';'.join(sorted(s.districts))}" for s in case.schools]
    (directory / "schools.csv").write_text("\n".join(schools) + "\n", encoding="utf-8")
    rows = ["applicant_id,choices,group_id,district"]
    rows += [f"{a.applicant_id},{';'.join(a.choices)},,{a.district}" for a in case.applicants]
    (directory / "applicants.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    prio = ["school_id,applicant_id,tier"] + [f"{s},{a},{t}" for (s, a), t in case.priorities.items()]
    (directory / "priorities.csv").write_text("\n".join(prio) + "\n", encoding="utf-8")
    seed = {"sources": ["drand round 1234567: 0123abcd…", "on-site digits 4 8 15 16 23 42"]}
    (directory / "seed.json").write_text(json.dumps(seed) + "\n", encoding="utf-8")


def city_scale(n: int) -> None:
    schools = max(2, n // 500)
    print(f"\n1. {n:,} applicants, {schools:,} schools, 5 choices (target ≤ 5 s)")
    case, _ = timed(
        "generate the synthetic case (not timed)", lambda: synthetic_case(n, schools, 5, seed=2020)
    )
    ids = [a.applicant_id for a in case.applicants]
    timed("tickets alone (engine.tickets, a dict)", lambda: engine.tickets(SEED, ids))
    outcome, t_draw = timed("draw: tickets + deferred acceptance", lambda: engine.draw(case, SEED))
    placed = sum(c.admitted for c in outcome.cutoffs)
    rounds = sum(1 for line in outcome.transcript if line.startswith("round "))
    print(f"  placed {placed:,} of {n:,}; {rounds} DA rounds; {len(outcome.ineligible):,} ineligible choices")
    rows: list[tuple[str, float]] = [("draw (tickets + DA)", t_draw)]
    with tempfile.TemporaryDirectory() as tmp:
        case_dir, out_dir = Path(tmp) / "case", Path(tmp) / "out"
        timed("write the case files (not timed)", lambda: write_case_dir(case, case_dir))
        _, t_proof = timed(
            "proof: read + check + draw + write (run_draw)",
            lambda: proof.run_draw(case_dir, out_dir),
        )
        differences, t_verify = timed("verify", lambda: proof.verify(out_dir))
        print(f"  verify: {'OK' if not differences else differences[:3]}")
        rows += [("proof (proof.run_draw)", t_proof), ("verify (proof.verify)", t_verify)]
    print(f"\n  {'what':<28}{'seconds':>10}{'target':>10}  within")
    for label, took in rows:
        print(f"  {label:<28}{took:10.3f}{5.0:10.1f}  {'yes' if took <= 5.0 else 'NO'}")


def against_matching() -> None:
    from matching.games import HospitalResident

    n, schools, k = 10_000, 100, 3
    print(
        f"\n2. {n:,} applicants, {schools} schools, {k} choices: jiaowei against matching's HospitalResident"
    )
    case = synthetic_case(n, schools, k, seed=7, restricted=False)
    outcome, t_ours = timed("jiaowei engine.draw (tickets + DA)", lambda: engine.draw(case, SEED))
    key = {
        (s, a): (case.priorities.get((s, a), case.default_tier), outcome.tickets[a].rank)
        for a, choices in ((x.applicant_id, x.choices) for x in case.applicants)
        for s in choices
    }
    resident_prefs = {a.applicant_id: list(a.choices) for a in case.applicants}
    applied: dict[str, list[str]] = {s.school_id: [] for s in case.schools}
    for a in case.applicants:
        for s in a.choices:
            applied[s].append(a.applicant_id)
    hospital_prefs = {s: sorted(who, key=lambda a, s=s: key[(s, a)]) for s, who in applied.items()}
    capacities = {s.school_id: s.capacity for s in case.schools}
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))

    def theirs() -> dict[str, str]:
        game = HospitalResident.create_from_dictionaries(resident_prefs, hospital_prefs, capacities)
        solution = game.solve(optimal="resident")
        return {r.name: h.name for h, residents in solution.items() for r in residents}

    their_matching, t_theirs = timed("matching HospitalResident (resident-optimal)", theirs)
    ours = {a: p.school_id for a, p in outcome.placements.items() if p is not None}
    same = ours == their_matching
    print(
        f"  same matching: {'yes' if same else 'NO'} ({len(ours):,} placed by jiaowei, "
        f"{len(their_matching):,} by matching)"
    )
    ratio = t_theirs / t_ours
    print(f"\n  {'jiaowei':<12}{t_ours:10.4f} s\n  {'matching':<12}{t_theirs:10.4f} s")
    print(f"  ratio {ratio:,.0f}× (target ≥ 100×): {'yes' if ratio >= 100 else 'NO'}")
    if not same:
        raise SystemExit("the two matchings differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="applicants in the first part")
    parser.add_argument("--skip-city", action="store_true", help="run only the comparison with matching")
    args = parser.parse_args()
    if not args.skip_city:
        city_scale(args.size)
    against_matching()


if __name__ == "__main__":
    main()
