"""From the database to a proof bundle and back.

A campaign's case files (``case.json``, ``schools.csv``, ``applicants.csv``,
``priorities.csv``, then ``seed.json``) are written from the database in a stable order, so
the same applications always give the same ``pool_digest``. The draw runs through
:func:`jiaowei.admissions.proof.run_draw` into ``JIAOWEI_HOME/lottery/<campaign>/``, and
its results and cutoffs are stored back. Never commits.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from jiaowei.admissions import case, proof
from jiaowei.admissions.model import FORMAT
from jiaowei.admissions.store import (
    applicants,
    campaign_schools,
    choices,
    cutoffs,
    priorities,
    results,
)
from jiaowei.errors import M_, IntegrityError
from jiaowei.registry import queries as registry

DEFAULT_TIER = 9
WHAT = {"draw": M_("draw"), "placement": M_("placement")}


@dataclass
class CaseFiles:
    title: str
    mechanism: str
    multiples: str
    schools: list[tuple[str, int, list[str], str]]  # school_id, capacity, districts, program
    people: list[tuple[str, list[str], str, str]]  # applicant_id, choices, group_id, district
    priorities: list[tuple[str, str, int]] = field(default_factory=list)  # school_id, applicant_id, tier


def campaign_dir(home: Path, code: str) -> Path:
    return home / "lottery" / code


def replace_dir(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def freeze_case(case_dir: Path, files: CaseFiles) -> str:
    """Write a case afresh into ``case_dir`` and return its ``pool_digest``."""
    replace_dir(case_dir)
    write_case(case_dir, files)
    return case.pool_digest(case_dir)


def _district_codes(conn: Connection, ids: Iterable[int]) -> dict[int, str]:
    return registry.codes_of(conn, ids)


def lottery_case(conn: Connection, campaign: Any) -> CaseFiles:
    """The private schools and every applicant with at least one choice, in a stable order."""
    schools = conn.execute(select(campaign_schools).where(campaign_schools.c.campaign_id == campaign.id,
                                                          campaign_schools.c.kind == "private")
                           .order_by(campaign_schools.c.school_id)).all()
    ranked: dict[int, list[str]] = {}
    for pk, school in conn.execute(select(choices.c.applicant_pk, choices.c.school_id)
                                   .join(applicants, applicants.c.id == choices.c.applicant_pk)
                                   .where(applicants.c.campaign_id == campaign.id)
                                   .order_by(choices.c.applicant_pk, choices.c.rank)):
        ranked.setdefault(pk, []).append(school)
    people = conn.execute(select(applicants.c.id, applicants.c.applicant_id, applicants.c.group_id,
                                 applicants.c.district_id).where(applicants.c.campaign_id == campaign.id)
                          .order_by(applicants.c.applicant_id)).all()
    codes = _district_codes(conn, [p.district_id for p in people])
    return CaseFiles(
        title=f"{campaign.title_zh} / {campaign.title_en}", mechanism=campaign.mechanism,
        multiples=campaign.multiples,
        schools=[(s.school_id, s.capacity, list(s.districts or []), s.program) for s in schools],
        people=[(p.applicant_id, ranked[p.id], p.group_id, codes[p.district_id]) for p in people
                if p.id in ranked],
        priorities=[(school, applicant_id, tier) for school, applicant_id, tier in conn.execute(
            select(priorities.c.school_id, applicants.c.applicant_id, priorities.c.tier)
            .join(applicants, applicants.c.id == priorities.c.applicant_pk)
            .where(applicants.c.campaign_id == campaign.id)
            .order_by(priorities.c.school_id, applicants.c.applicant_id))],
    )


def placement_case(conn: Connection, campaign: Any, mechanism: str) -> CaseFiles:
    """Everyone not admitted: catchment school, then the district's fallback order, by residence tier."""
    schools = conn.execute(select(campaign_schools).where(campaign_schools.c.campaign_id == campaign.id,
                                                          campaign_schools.c.kind == "public")
                           .order_by(campaign_schools.c.school_id)).all()
    public = {s.school_id for s in schools}
    people = conn.execute(select(applicants).where(applicants.c.campaign_id == campaign.id,
                                                   applicants.c.status != "admitted")
                          .order_by(applicants.c.applicant_id)).all()
    codes = _district_codes(conn, [p.district_id for p in people])
    fallback = dict(campaign.fallback or {})
    listed, tiers = [], []
    for p in people:
        order = [p.catchment, *fallback.get(codes[p.district_id], [])]
        chosen = [s for s in dict.fromkeys(order) if s in public]
        listed.append((p.applicant_id, chosen, p.group_id, codes[p.district_id]))
        tiers += [(s, p.applicant_id, p.residence_tier) for s in chosen]
    return CaseFiles(title=f"{campaign.title_zh} 统筹 / {campaign.title_en}: placement", mechanism=mechanism,
                     multiples=campaign.multiples,
                     schools=[(s.school_id, s.capacity, list(s.districts or []), s.program) for s in schools],
                     people=listed, priorities=sorted(tiers))


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def write_case(case_dir: Path, files: CaseFiles) -> None:
    """case.json, schools.csv, applicants.csv, priorities.csv in the published format (seed.json later)."""
    head = {"format": FORMAT, "title": files.title, "mechanism": files.mechanism,
            "multiples": files.multiples, "default_tier": DEFAULT_TIER}
    (case_dir / "case.json").write_bytes(json.dumps(head, ensure_ascii=False, indent=2).encode() + b"\n")
    (case_dir / "schools.csv").write_bytes(_csv(
        ["school_id", "capacity", "districts", "program"],
        [(s, c, ";".join(d), p) for s, c, d, p in files.schools]))
    (case_dir / "applicants.csv").write_bytes(_csv(
        ["applicant_id", "choices", "group_id", "district"],
        [(a, ";".join(ch), g, d) for a, ch, g, d in files.people]))
    if files.priorities:
        (case_dir / "priorities.csv").write_bytes(
            _csv(["school_id", "applicant_id", "tier"], files.priorities))


def check_frozen(conn: Connection, campaign: Any, case_dir: Path) -> CaseFiles:
    """The case files on disk and the database must both still give the published pool_digest."""
    return _check(campaign, case_dir, campaign.pool_digest, lambda: lottery_case(conn, campaign), "draw")


def check_frozen_placement(conn: Connection, campaign: Any, case_dir: Path) -> CaseFiles:
    """As :func:`check_frozen`, for the placement pool (its mechanism is the one frozen in case.json)."""
    def files() -> CaseFiles:
        mechanism = json.loads((case_dir / "case.json").read_bytes()).get("mechanism", "")
        return placement_case(conn, campaign, str(mechanism))
    return _check(campaign, case_dir, campaign.placement_digest, files, "placement")


def _check(campaign: Any, case_dir: Path, digest: str, make: Callable[[], CaseFiles], what: str) -> CaseFiles:
    if not case_dir.is_dir() or case.pool_digest(case_dir) != digest:
        raise IntegrityError(M_("The case files of {code} under {folder} no longer match the published "
                                "pool_digest {digest}; the {what} is refused.", code=campaign.code,
                                folder=str(case_dir), digest=digest, what=WHAT[what]))
    files = make()
    with tempfile.TemporaryDirectory() as scratch:
        write_case(Path(scratch), files)
        if case.pool_digest(Path(scratch)) != digest:
            raise IntegrityError(M_("The applications of {code} changed after the freeze; the {what} is "
                                    "refused.", code=campaign.code, what=WHAT[what]))
    return files


@dataclass
class DrawOutcome:
    bundle: Path
    seed: str
    results: list[dict[str, str]]
    cutoffs: list[dict[str, str]]
    output_digests: dict[str, Any]


def run(case_dir: Path, out_dir: Path, digest: str, sources: list[str]) -> DrawOutcome:
    (case_dir / "seed.json").write_bytes(json.dumps({"sources": sources}, ensure_ascii=False, indent=2)
                                         .encode() + b"\n")
    if out_dir.exists():  # left by a draw whose transaction did not commit: kept aside, never reused
        out_dir.rename(out_dir.with_name(f"{out_dir.name}.abandoned-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}"))
    manifest = proof.run_draw(case_dir, out_dir)
    if manifest.get("pool_digest", digest) != digest:
        raise IntegrityError(M_("The draw ran on a pool other than the frozen one."))
    seed = case.derive_seed(digest, sources).hex()
    return DrawOutcome(out_dir, seed, _read_csv(out_dir / "results.csv"), _read_csv(out_dir / "cutoffs.csv"),
                       {k: v for k, v in manifest.items() if "output" in k})


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def store_results(conn: Connection, campaign: Any, stage: str, outcome: DrawOutcome,
                  files: CaseFiles) -> None:
    """The draw's results, the applicants' new status and the schools' cutoffs.

    An empty pool (nobody to draw, or no school) stores nothing rather than run a statement without
    rows: an executemany with no parameters is an UPDATE that asks for its bind values (a 500).
    """
    pks = dict(conn.execute(select(applicants.c.applicant_id, applicants.c.id).where(
        applicants.c.campaign_id == campaign.id)).all())
    rows = [{"applicant_pk": pks[r["applicant_id"]], "stage": stage, "lottery_rank": int(r["lottery_rank"]),
             "lottery_value": r["lottery_value"], "school_id": r["school_id"] or None,
             "choice_rank": int(r["choice_rank"]) if r["choice_rank"] else None} for r in outcome.results]
    won, lost = ("admitted", "not_admitted") if stage == "lottery" else ("placed", "unplaced")
    if rows:
        conn.execute(insert(results), rows)
        conn.execute(update(applicants).where(applicants.c.id == bindparam("pk"))
                     .values(status=bindparam("st")),
                     [{"pk": r["applicant_pk"], "st": won if r["school_id"] else lost} for r in rows])
    away = _turned_away(files, rows, pks)
    found = [{"campaign_id": campaign.id, "stage": stage, "school_id": c["school_id"],
              "capacity": int(c["capacity"]), "admitted": int(c["admitted"]),
              "last_tier": int(c["last_tier"]) if c["last_tier"] else None,
              "last_lottery_rank": int(c["last_lottery_rank"]) if c["last_lottery_rank"] else None,
              "turned_away": away[c["school_id"]]} for c in outcome.cutoffs]
    if found:
        conn.execute(insert(cutoffs), found)


def _turned_away(files: CaseFiles, rows: list[dict[str, Any]], pk_of: dict[str, int]) -> Counter[str]:
    """Per school, the applicants who listed it and got neither it nor a school they ranked higher."""
    away: Counter[str] = Counter()
    rank = {r["applicant_pk"]: r["choice_rank"] for r in rows}
    for applicant_id, schools, _group, _district in files.people:
        got = rank.get(pk_of[applicant_id])
        for school in schools[: (got - 1) if got else len(schools)]:
            away[school] += 1
    return away
