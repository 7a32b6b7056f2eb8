"""Campaigns, their schools, applicants and appeals as the audit chain says they are.

Each campaign's entries are replayed in the order of the chain: ``campaign.create`` (every setting),
``campaign.school_add`` (school, kind, capacity, program, districts), ``campaign.fallback`` (one
district's order) and the steps (status, pool digests, seed sources and seeds, and since issue 9
the proof bundle's path; since issue 12 the age window); a campaign's kept number of applicants
(``applicant_count``, what the campaign list shows) must be the number of its applicant rows.
Applicants: ``applicant.register``,
``applicant.choices`` and (since issue 12) ``applicant.priorities``, the priority tiers; an
applicant's status must follow from their choices and stored results. Appeals: who recorded them,
the decision, its note and who took it. Names, ID numbers, dates of birth and an appeal's reason
are kept out of the log on purpose, so they are not checked; nor are the timestamps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from jiaowei.admissions.store import (
    appeals,
    applicants,
    campaign_schools,
    campaigns,
    choices,
    priorities,
    results,
)
from jiaowei.audit.reconcile import N_, UNLOGGED, Chain, Mismatch, term
from jiaowei.registry import queries as registry

SETTINGS = ("year", "stage", "title_zh", "title_en", "organiser", "max_choices", "mechanism", "multiples",
            "synthetic", "born_from", "born_to", "age_on", "min_age_months", "max_age_months")
STEP_FIELDS = {  # what a step's entry sets on the campaign row, besides its status
    "campaign.freeze": {"pool_digest": "pool_digest"},
    "campaign.draw": {"seed_sources": "sources", "seed": "seed", "bundle": "bundle"},
    "campaign.freeze_placement": {"placement_digest": "pool_digest"},
    "campaign.place": {"placement_sources": "sources", "placement_seed": "seed",
                       "placement_bundle": "bundle"},
}
DRAWS = {"campaign.draw": "lottery", "campaign.place": "placement"}
STREAM = {"stream_results": True, "yield_per": 5000}
TERMS = (N_("campaigns"), N_("campaign_schools"), N_("applicants"), N_("admission_appeals"), N_("year"),
         N_("stage"), N_("title_zh"), N_("title_en"), N_("organiser"), N_("max_choices"), N_("mechanism"),
         N_("multiples"), N_("synthetic"), N_("status"), N_("fallback"), N_("pool_digest"),
         N_("seed_sources"), N_("seed"), N_("bundle"), N_("placement_digest"), N_("placement_sources"),
         N_("placement_seed"), N_("placement_bundle"), N_("unit"), N_("kind"), N_("capacity"),
         N_("program"), N_("districts"), N_("applicant_id"), N_("district"), N_("residence_tier"),
         N_("catchment"), N_("group_id"), N_("choices"), N_("applicant"), N_("recorded_by"),
         N_("decision"), N_("decision_note"), N_("decided_by"), N_("born_from"), N_("born_to"), N_("age_on"),
         N_("min_age_months"), N_("max_age_months"), N_("priorities"))


@dataclass
class LoggedCampaign:
    """A campaign replayed from the chain."""

    fields: dict[str, Any] = field(default_factory=dict)
    schools: dict[str, dict[str, Any]] = field(default_factory=dict)
    draws: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage -> the draw's ``after``
    placement_mechanism: str = ""


def logged_campaigns(chain: Chain) -> dict[str, LoggedCampaign]:
    found: dict[str, LoggedCampaign] = {}
    for entry in chain.entries(entity="campaign"):
        if entry.action == "campaign.create":
            found[entry.entity_key] = LoggedCampaign(fields=_created(entry.after))
        elif entry.entity_key in found:
            _replay(found[entry.entity_key], entry.action, entry.after, entry.note)
    return found


def _created(after: Any) -> dict[str, Any]:
    return {**{name: after.get(name) for name in SETTINGS}, "synthetic": bool(after.get("synthetic")),
            "status": "registration", "fallback": {}, "pool_digest": None, "seed_sources": None, "seed": None,
            "placement_digest": None, "placement_sources": None, "placement_seed": None}


def _replay(campaign: LoggedCampaign, action: str, after: Any, note: str) -> None:
    if action == "campaign.school_add":
        school_id = after["school_id"]
        campaign.schools[school_id] = {"unit": school_id.split("/")[0], "kind": after["kind"],
                                       "capacity": after["capacity"], "program": after["program"],
                                       "districts": sorted(after["districts"])}
    elif action == "campaign.fallback":
        campaign.fields["fallback"][note] = list(after)
    elif isinstance(after, dict) and "status" in after:
        campaign.fields["status"] = after["status"]
        for name, key in STEP_FIELDS.get(action, {}).items():
            if key in after:  # the bundle's path: only in entries written since issue 9
                campaign.fields[name] = after[key]
        if action in DRAWS:
            campaign.draws[DRAWS[action]] = after
        if action == "campaign.freeze_placement":
            campaign.placement_mechanism = str(after.get("mechanism", ""))


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON stores them (a tuple and a list, a date and its ISO text)."""
    return a == b or json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def differences(table: str, key: str, live: Mapping[str, Any],
                logged: Mapping[str, Any]) -> Iterator[Mismatch]:
    for name, value in logged.items():
        if not _same(live.get(name), value):
            yield Mismatch(table, key, N_("{field} is {live}, the audit log says {logged}"),
                           {"field": term(name), "live": _shown(live.get(name)), "logged": _shown(value)})


def compare(table: str, live: Mapping[str, Mapping[str, Any]],
            logged: Mapping[str, Mapping[str, Any]]) -> Iterator[Mismatch]:
    """Rows by key: each live row against the logged one, and rows on one side only."""
    for key in sorted(set(live) | set(logged)):
        if key not in logged:
            yield Mismatch(table, key, UNLOGGED)
        elif key not in live:
            yield Mismatch(table, key, N_("the audit log wrote this row, but it is missing"))
        else:
            yield from differences(table, key, live[key], logged[key])


def check_campaigns(conn: Connection, chain: Chain) -> Iterator[Mismatch]:
    """``campaigns`` and ``campaign_schools`` against the replayed chain; each campaign's kept number of
    applicants against its rows."""
    logged = logged_campaigns(chain)
    rows = conn.execute(select(campaigns)).all()
    schools = conn.execute(select(campaign_schools, campaigns.c.code.label("campaign"))
                           .join(campaigns, campaigns.c.id == campaign_schools.c.campaign_id)).all()
    codes = registry.codes_of(conn, {r.organiser_id for r in rows} | {s.unit_id for s in schools})
    live = {r.code: {**r._mapping, "organiser": codes.get(r.organiser_id, f"#{r.organiser_id}"),
                     "synthetic": bool(r.synthetic), "fallback": dict(r.fallback or {})} for r in rows}
    yield from compare("campaigns", live, {code: c.fields for code, c in logged.items()})
    yield from _applicant_counts(conn, rows)
    live_schools = {f"{s.campaign}/{s.school_id}": {
        "unit": codes.get(s.unit_id, f"#{s.unit_id}"), "kind": s.kind, "capacity": s.capacity,
        "program": s.program, "districts": sorted(s.districts or [])} for s in schools}
    yield from compare("campaign_schools", live_schools, {
        f"{code}/{school_id}": school
        for code, c in logged.items() for school_id, school in c.schools.items()})


def _applicant_counts(conn: Connection, rows: Sequence[Any]) -> Iterator[Mismatch]:
    """Each campaign's kept ``applicant_count`` against its applicant rows, counted in one statement."""
    counted: dict[int, int] = dict(conn.execute(select(applicants.c.campaign_id, func.count())
                                                .group_by(applicants.c.campaign_id)).all())
    for r in sorted(rows, key=lambda r: r.code):
        if r.applicant_count != counted.get(r.id, 0):
            yield Mismatch("campaigns", r.code,
                           N_("applicant_count is {live}, but it has {counted} applicants"),
                           {"live": r.applicant_count, "counted": counted.get(r.id, 0)})


def _logged_applicants(chain: Chain) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for entry in chain.entries(entity="applicant", actions=("applicant.register", "applicant.choices",
                                                            "applicant.priorities")):
        if entry.action == "applicant.register":
            after = entry.after
            found[entry.entity_key] = {name: after.get(name) for name in (
                "applicant_id", "district", "residence_tier", "catchment", "group_id", "choices")}
            found[entry.entity_key]["priorities"] = dict(after.get("priorities") or {})  # since issue 12
        elif entry.entity_key in found and entry.action == "applicant.priorities":
            found[entry.entity_key]["priorities"] = dict(entry.after)
        elif entry.entity_key in found:
            found[entry.entity_key]["choices"] = list(entry.after)
    return found


def _status(choices_: list[str], stages: Mapping[str, bool]) -> str:
    """An applicant's status as their choices and their stored results make it."""
    if "placement" in stages:
        return "placed" if stages["placement"] else "unplaced"
    if "lottery" in stages:
        return "admitted" if stages["lottery"] else "not_admitted"
    return "applied" if choices_ else "registered"


def check_applicants(conn: Connection, chain: Chain) -> Iterator[Mismatch]:
    """``applicants`` (what the log holds of them) and ``applicant_choices`` against the chain."""
    logged = _logged_applicants(chain)
    ranked: dict[int, list[str]] = {}
    query = (select(choices.c.applicant_pk, choices.c.school_id)
             .order_by(choices.c.applicant_pk, choices.c.rank))
    for pk, school in conn.execute(query.execution_options(**STREAM)):
        ranked.setdefault(pk, []).append(school)
    tiers: dict[int, dict[str, int]] = {}
    for pk, school, tier in conn.execute(select(priorities.c.applicant_pk, priorities.c.school_id,
                                                priorities.c.tier).execution_options(**STREAM)):
        tiers.setdefault(pk, {})[school] = tier
    placed: dict[int, dict[str, bool]] = {}
    for pk, stage, school in conn.execute(select(results.c.applicant_pk, results.c.stage, results.c.school_id)
                                          .execution_options(**STREAM)):
        placed.setdefault(pk, {})[stage] = school is not None
    codes = registry.codes_of(conn, conn.scalars(select(applicants.c.district_id).distinct()))
    people = conn.execute(select(applicants, campaigns.c.code.label("campaign"))
                          .join(campaigns, campaigns.c.id == applicants.c.campaign_id)
                          .execution_options(**STREAM))
    live: dict[str, dict[str, Any]] = {}
    for p in people:
        chosen = ranked.get(p.id, [])
        if p.status != _status(chosen, placed.get(p.id, {})):
            yield Mismatch("applicants", f"{p.campaign}/{p.number}",
                           N_("status is {live}, its choices and results make it {wanted}"),
                           {"live": p.status, "wanted": _status(chosen, placed.get(p.id, {}))})
        live[f"{p.campaign}/{p.number}"] = {
            "applicant_id": p.applicant_id, "district": codes.get(p.district_id, f"#{p.district_id}"),
            "residence_tier": p.residence_tier, "catchment": p.catchment, "group_id": p.group_id,
            "choices": chosen, "priorities": tiers.get(p.id, {})}
    yield from compare("applicants", live, logged)
    yield from check_appeals(conn, chain)


def check_appeals(conn: Connection, chain: Chain) -> Iterator[Mismatch]:
    """``admission_appeals``: whose appeal, who recorded it, the decision, its note and who took it."""
    logged: dict[str, dict[str, Any]] = {}
    for entry in chain.entries(entity="appeal"):
        if entry.action == "appeal.record":
            logged[entry.entity_key] = {"applicant": f"{entry.after['campaign']}/{entry.after['number']}",
                                        "recorded_by": entry.actor, "decision": None, "decision_note": "",
                                        "decided_by": None}
        elif entry.action == "appeal.decide" and entry.entity_key in logged:
            logged[entry.entity_key].update(decision=entry.after["decision"],
                                            decision_note=entry.after["note"], decided_by=entry.actor)
    rows = conn.execute(select(appeals, applicants.c.number, campaigns.c.code.label("campaign"))
                        .join(applicants, applicants.c.id == appeals.c.applicant_pk)
                        .join(campaigns, campaigns.c.id == applicants.c.campaign_id)).all()
    live = {str(r.id): {"applicant": f"{r.campaign}/{r.number}", "recorded_by": r.recorded_by,
                        "decision": r.decision, "decision_note": r.decision_note, "decided_by": r.decided_by}
            for r in rows}
    yield from compare("admission_appeals", live, logged)
