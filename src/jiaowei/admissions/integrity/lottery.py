"""The lottery's live rows against the digests of the published proof bundles.

A draw's (or placement's) audit entry keeps the SHA-256 of each output file as the bundle's
manifest lists it. From the live rows this check writes ``results.csv`` (``admission_results``
with the applicants' pseudonymous ids, by lottery rank) and ``cutoffs.csv`` (``admission_cutoffs``)
byte for byte as the draw did, and compares the digests; when they differ and the bundle is still
on disk with the logged digest, the first differing line names the applicant or school. A bundle
file that no longer has its logged digest is reported too. The frozen pools are written afresh from
the live applications and must still give the ``pool_digest`` logged at the freeze. Results of a
stage that the log never drew are reported. Not checked: ``turned_away`` (a count derived for the
pages) and bundles that are not on this machine.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, func, select

from jiaowei.admissions import case, drawing
from jiaowei.admissions.integrity.campaigns import STREAM, LoggedCampaign, logged_campaigns
from jiaowei.admissions.store import applicants, campaigns, cutoffs, results
from jiaowei.audit.checkpoint import Text
from jiaowei.audit.reconcile import N_, Chain, Mismatch

RESULTS_HEAD = "applicant_id,lottery_rank,lottery_value,school_id,choice_rank\n"
CUTOFFS_HEAD = "school_id,capacity,admitted,last_tier,last_lottery_rank\n"

TERMS = (N_("admission_results"), N_("admission_cutoffs"), N_("proof bundle"))


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


def results_csv(conn: Connection, campaign_id: int, stage: str) -> tuple[bytes, list[str]]:
    """``results.csv`` as the draw wrote it, from the live rows; and each line's applicant id."""
    query = (select(applicants.c.applicant_id, results.c.lottery_rank, results.c.lottery_value,
                    results.c.school_id, results.c.choice_rank)
             .join(applicants, applicants.c.id == results.c.applicant_pk)
             .where(applicants.c.campaign_id == campaign_id, results.c.stage == stage)
             .order_by(results.c.lottery_rank, applicants.c.applicant_id))
    lines, keys = [RESULTS_HEAD], ["header"]
    for r in conn.execute(query.execution_options(**STREAM)):
        seat = f"{r.school_id},{r.choice_rank}" if r.school_id is not None else ","
        lines.append(f"{r.applicant_id},{r.lottery_rank},{r.lottery_value},{seat}\n")
        keys.append(f"applicant {r.applicant_id}")
    return "".join(lines).encode("utf-8"), keys


def cutoffs_csv(conn: Connection, campaign_id: int, stage: str) -> tuple[bytes, list[str]]:
    """``cutoffs.csv`` as the draw wrote it (schools in the case's order), from the live rows."""
    query = (select(cutoffs).where(cutoffs.c.campaign_id == campaign_id, cutoffs.c.stage == stage)
             .order_by(cutoffs.c.school_id))
    lines, keys = [CUTOFFS_HEAD], ["header"]
    for c in conn.execute(query):
        lines.append(f"{c.school_id},{c.capacity},{c.admitted},{_opt(c.last_tier)},{_opt(c.last_lottery_rank)}\n")
        keys.append(f"school {c.school_id}")
    return "".join(lines).encode("utf-8"), keys


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _first_difference(rendered: bytes, keys: list[str], published: bytes) -> Text:
    mine, theirs = rendered.split(b"\n"), published.split(b"\n")
    for number, (a, b) in enumerate(zip(mine, theirs, strict=False)):
        if a != b:
            key = keys[number] if number < len(keys) else f"line {number + 1}"
            return Text(N_("; first difference at line {line} ({key}): {live}, the bundle has {published}"),
                        {"line": number + 1, "key": key, "live": repr(a.decode(errors="replace")),
                         "published": repr(b.decode(errors="replace"))})
    return Text(N_("; the live rows give {live} lines, the bundle {published}"),
                {"live": len(mine) - 1, "published": len(theirs) - 1})


def _bundle(logged: dict[str, Any], live: Any, stage: str) -> Path | None:
    path = logged.get("bundle") or (live.bundle if stage == "lottery" else live.placement_bundle)
    return Path(path) if path else None


def check_draw(conn: Connection, live: Any, stage: str, logged: dict[str, Any]) -> Iterator[Mismatch]:
    """One draw's stored results and cutoffs against the digests of its audit entry."""
    outputs = logged.get("outputs") or {}
    digests: dict[str, str] = outputs.get("outputs", outputs)
    bundle = _bundle(logged, live, stage)
    for name, table, render in (("results.csv", "admission_results", results_csv),
                                ("cutoffs.csv", "admission_cutoffs", cutoffs_csv)):
        if name not in digests:
            continue
        published = bundle / name if bundle else None
        on_disk = published.read_bytes() if published and published.is_file() else None
        if on_disk is not None and _sha(on_disk) != digests[name]:
            yield Mismatch("proof bundle", f"{live.code}/{stage}",
                           N_("{file} has sha256 {live}, the audit log says {logged}"),
                           {"file": str(published), "live": _sha(on_disk), "logged": digests[name]})
            on_disk = None
        rendered, keys = render(conn, live.id, stage)
        if _sha(rendered) != digests[name]:
            where = _first_difference(rendered, keys, on_disk) if on_disk is not None else ""
            yield Mismatch(table, f"{live.code}/{stage}",
                           N_("the live rows give {file} with sha256 {live}, the audit log says "
                              "{logged}{where}"),
                           {"file": name, "live": _sha(rendered), "logged": digests[name], "where": where})


def _pool_digest(files: drawing.CaseFiles) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        drawing.write_case(Path(scratch), files)
        return case.pool_digest(scratch)


def check_pools(conn: Connection, live: Any, logged: LoggedCampaign) -> Iterator[Mismatch]:
    """The frozen pools written afresh from the live applications, against the logged digests."""
    settings = logged.fields
    row = SimpleNamespace(id=live.id, code=live.code, title_zh=settings["title_zh"],
                          title_en=settings["title_en"], mechanism=settings["mechanism"],
                          multiples=settings["multiples"], fallback=settings["fallback"])
    pools = (("lottery", settings["pool_digest"], lambda: drawing.lottery_case(conn, row)),
             ("placement", settings["placement_digest"],
              lambda: drawing.placement_case(conn, row, logged.placement_mechanism)))
    for stage, digest, make in pools:
        if digest and (found := _pool_digest(make())) != digest:
            key = Text(N_("{campaign}/{stage} pool"), {"campaign": live.code, "stage": stage})
            yield Mismatch("applicants", str(key),
                           N_("the frozen pool written from the live applications has pool_digest {live}, "
                              "the audit log says {logged}"), {"live": found, "logged": digest}, key_text=key)


def check_lottery(conn: Connection, chain: Chain) -> Iterator[Mismatch]:
    """Every campaign's frozen pools, results and cutoffs against the chain and the bundles."""
    logged = logged_campaigns(chain)
    stored = {(code, stage): n for code, stage, n in conn.execute(
        select(campaigns.c.code, results.c.stage, func.count())
        .select_from(results.join(applicants, applicants.c.id == results.c.applicant_pk)
                     .join(campaigns, campaigns.c.id == applicants.c.campaign_id))
        .group_by(campaigns.c.code, results.c.stage))}
    for live in conn.execute(select(campaigns).order_by(campaigns.c.code)).all():
        campaign = logged.get(live.code)
        if campaign is None:
            continue  # reported by check_campaigns
        for stage in ("lottery", "placement"):
            if stage in campaign.draws:
                yield from check_draw(conn, live, stage, campaign.draws[stage])
            elif stored.get((live.code, stage)):
                yield Mismatch("admission_results", f"{live.code}/{stage}",
                               N_("{n} results, but the audit log records no draw"),
                               {"n": stored[(live.code, stage)]})
        yield from check_pools(conn, live, campaign)
