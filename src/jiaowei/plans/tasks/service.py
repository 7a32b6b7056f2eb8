"""Writes of key tasks: plans, their items, progress reports, reviews and status overrides.

Who may do what (see ``jiaowei.auth.model``):

- ``plans.manage`` (administrators, commission staff): create plans and items, review reports,
  override a status — on items the principal may see;
- ``plans.report`` (also district staff and unit reporters): report progress on a task whose **lead**
  unit is within their capture scope, with evidence files.

Everything is checked before anything is written (one :class:`ValidationError` naming each field and
value at fault), every change is written to the audit log (``plans.tasks.<verb>``), and nothing
commits: the request or command owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, require_unit
from jiaowei.domains import N_
from jiaowei.errors import M_, Conflict, PermissionDenied, Problem, ValidationError
from jiaowei.indicators.model import new_uid
from jiaowei.plans.evidence import service as evidence_files
from jiaowei.plans.tasks import checks, queries
from jiaowei.plans.tasks.model import PARENTS, Kind, Review, Stage, default_checkpoints
from jiaowei.plans.tasks.store import (
    plan_checkpoints,
    plan_item_units,
    plan_items,
    plan_links,
    plan_milestones,
    plan_reports,
    plans,
)
from jiaowei.registry import queries as registry

FIRST_YEAR, LAST_YEAR = 2000, 2100
DECISIONS = ("accept", "return")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _refuse(message: str, problems: list[Problem]) -> None:
    if problems:
        raise ValidationError(message, problems)


def _record(
    conn: Connection,
    principal: Principal,
    verb: str,
    entity: str,
    key: str,
    *,
    before: Any = None,
    after: Any = None,
    note: str = "",
) -> None:
    audit.record(
        conn,
        actor=principal.username,
        action=f"plans.tasks.{verb}",
        entity=entity,
        entity_key=key,
        before=before,
        after=after,
        note=note,
    )


# ---------------------------------------------------------------- plans


def create_plan(
    conn: Connection, *, principal: Principal, year: int, title_zh: str, title_en: str = ""
) -> str:
    """A new annual plan; its uid. One plan per year (409 otherwise)."""
    require_action(principal, Action.PLANS_MANAGE)
    problems: list[Problem] = []
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        problems.append(
            Problem("not a year", field="year", value=year, expected=M_("{first} to {last}",
                                                                        first=FIRST_YEAR, last=LAST_YEAR))
        )
    zh = checks.text(title_zh, "title_zh", problems, required=True, limit=230)
    en = checks.text(title_en, "title_en", problems, limit=230)
    _refuse("The plan cannot be created.", problems)
    if conn.execute(select(plans.c.id).where(plans.c.year == year)).first() is not None:
        raise Conflict(
            M_("There is a plan for {year} already.", year=year),
            [Problem("exists", field="year", value=year, expected="a year without a plan")],
        )
    uid = new_uid()
    after = {"year": year, "title_zh": zh, "title_en": en}
    conn.execute(insert(plans).values(uid=uid, created_by=principal.username, created_at=_now(), **after))
    _record(conn, principal, "plan.create", "plans", uid, after=after)
    return uid


# ---------------------------------------------------------------- items


def save_item(
    conn: Connection,
    *,
    principal: Principal,
    year: int,
    parent: str | None,
    kind: str,
    number: str,
    title_zh: str,
    title_en: str = "",
    description: str = "",
    lead_unit: str | None = None,
    supporting_units: Sequence[str] = (),
    owner: str = "",
    deadline: dt.date | None = None,
    outcome: str = "",
    milestones: Sequence[Mapping[str, Any]] = (),
    links: Sequence[Mapping[str, Any]] = (),
    checkpoints: Mapping[str, dt.date] | None = None,
    uid: str | None = None,
) -> str:
    """Create an item of the year's plan (a section, a task or a sub-task), or update the one with ``uid``
    (its milestones, links and supporting units are replaced; checkpoints keep their reports). Its uid."""
    require_action(principal, Action.PLANS_MANAGE)
    plan_id = _plan_id(conn, year)
    existing = queries.item_for(conn, principal, uid, None) if uid else None
    problems: list[Problem] = []
    values = _item_values(
        conn,
        problems,
        kind=kind,
        number=number,
        title_zh=title_zh,
        title_en=title_en,
        description=description,
        owner=owner,
        deadline=deadline,
        outcome=outcome,
    )
    values["parent_id"] = _parent(conn, plan_id, parent, values.get("kind"), existing, problems)
    if (
        existing is not None
        and values.get("kind") not in (None, existing.row.kind)
        and _has_children(conn, existing)
    ):
        problems.append(
            Problem(
                "an item with items under it keeps its kind",
                field="kind",
                value=kind,
                expected=existing.row.kind,
            )
        )
    lead = checks.unit(conn, lead_unit, "lead_unit", problems)
    if lead is None and values.get("kind") in (Kind.TASK, Kind.SUBTASK) and not problems:
        problems.append(
            Problem("required", field="lead_unit", value=lead_unit, expected="the code of the lead unit")
        )
    supporting = checks.units(conn, list(supporting_units), "supporting_units", lead, problems)
    spec_milestones = checks.milestones(list(milestones), problems)
    spec_links = checks.links(conn, list(links), year, problems)
    dues = checks.checkpoints(dict(checkpoints or {}), problems)
    _refuse("The item cannot be saved.", problems)
    if lead is not None:
        require_unit(conn, principal, Action.PLANS_MANAGE, lead, dt.date(year, 12, 31), str(lead_unit))
    values["lead_unit_id"] = lead
    if existing is None:
        item_id, uid = _insert_item(conn, principal, plan_id, values)
        before = None
    else:
        item_id, uid, before = existing.row.id, existing.row.uid, snapshot(conn, existing.row.id)
        conn.execute(
            update(plan_items)
            .where(plan_items.c.id == item_id)
            .values(**values, version=existing.row.version + 1, updated_at=_now())
        )
    _replace_children(conn, item_id, supporting, spec_milestones, spec_links)
    if values["kind"] != Kind.SECTION:
        _save_checkpoints(conn, item_id, default_checkpoints(year, dues))
    _record(
        conn,
        principal,
        "item.create" if before is None else "item.update",
        "plan_items",
        uid,
        before=before,
        after=snapshot(conn, item_id),
    )
    return uid


def _plan_id(conn: Connection, year: int) -> int:
    found = conn.execute(select(plans.c.id).where(plans.c.year == year)).scalar()
    if found is None:
        raise ValidationError(
            "No plan for this year.",
            [Problem("no plan for this year", field="year", value=year, expected="a year with a plan")],
        )
    return int(found)


def _item_values(conn: Connection, problems: list[Problem], **given: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        out["kind"] = Kind(given["kind"]).value
    except ValueError:
        problems.append(
            Problem("no such kind", field="kind", value=given["kind"], expected="section, task or subtask")
        )
    out["number"] = checks.text(given["number"], "number", problems, limit=checks.MAX_NUMBER)
    out["title_zh"] = checks.text(
        given["title_zh"], "title_zh", problems, required=True, limit=checks.MAX_TITLE
    )
    out["title_en"] = checks.text(given["title_en"], "title_en", problems, limit=checks.MAX_TITLE)
    out["description"] = checks.text(given["description"], "description", problems, multiline=True)
    out["outcome"] = checks.text(given["outcome"], "outcome", problems, multiline=True)
    out["owner"] = checks.text(given["owner"], "owner", problems, limit=checks.MAX_OWNER)
    out["deadline"] = checks.date(given["deadline"], "deadline", problems)
    return out


def _parent(
    conn: Connection,
    plan_id: int,
    parent: str | None,
    kind: str | None,
    existing: Any,
    problems: list[Problem],
) -> int | None:
    """The parent's id, once it is checked to be of the kind the item hangs under, in the same plan."""
    if kind is None:
        return None
    wanted = PARENTS[Kind(kind)]
    if parent is None or parent == "":
        if wanted is not None:
            problems.append(
                Problem("required", field="parent", value=parent, expected=M_("the uid of a {kind}",
                                                                              kind=wanted.value))
            )
        return None
    row = conn.execute(select(plan_items).where(plan_items.c.uid == parent)).first()
    if (
        wanted is None
        or row is None
        or row.plan_id != plan_id
        or row.kind != wanted
        or (existing is not None and row.id == existing.row.id)
    ):
        expected = (
            "no parent: a section is at the top"
            if wanted is None
            else f"the uid of a {wanted.value} of this plan"
        )
        problems.append(Problem("not a possible parent", field="parent", value=parent, expected=expected))
        return None
    return int(row.id)


def _has_children(conn: Connection, item: queries.Loaded) -> bool:
    found = conn.execute(
        select(plan_items.c.id).where(plan_items.c.parent_id == item.row.id).limit(1)
    ).first()
    return found is not None


def _insert_item(
    conn: Connection, principal: Principal, plan_id: int, values: dict[str, Any]
) -> tuple[int, str]:
    siblings = select(func.max(plan_items.c.position)).where(
        plan_items.c.plan_id == plan_id,
        plan_items.c.parent_id.is_(values["parent_id"])
        if values["parent_id"] is None
        else plan_items.c.parent_id == values["parent_id"],
    )
    position = int(conn.execute(siblings).scalar() or 0) + 1
    uid, now = new_uid(), _now()
    inserted = conn.execute(
        insert(plan_items).values(
            uid=uid,
            plan_id=plan_id,
            position=position,
            version=1,
            created_by=principal.username,
            created_at=now,
            updated_at=now,
            **values,
        )
    ).inserted_primary_key
    assert inserted is not None
    return int(inserted[0]), uid


def _replace_children(
    conn: Connection,
    item_id: int,
    supporting: list[int],
    milestones: list[checks.MilestoneSpec],
    links: list[checks.LinkSpec],
) -> None:
    for table in (plan_item_units, plan_milestones, plan_links):
        conn.execute(delete(table).where(table.c.item_id == item_id))
    if supporting:
        conn.execute(insert(plan_item_units), [{"item_id": item_id, "unit_id": u} for u in supporting])
    if milestones:
        conn.execute(
            insert(plan_milestones),
            [
                {"item_id": item_id, "position": i, "title": m.title, "due": m.due, "done_on": m.done_on}
                for i, m in enumerate(milestones, 1)
            ],
        )
    if links:
        conn.execute(
            insert(plan_links),
            [
                {
                    "item_id": item_id,
                    "position": i,
                    "indicator_id": k.indicator_id,
                    "unit_id": k.unit_id,
                    "period": k.period,
                    "target": k.target,
                }
                for i, k in enumerate(links, 1)
            ],
        )


def _save_checkpoints(conn: Connection, item_id: int, dues: Mapping[Stage, dt.date]) -> None:
    have = {
        r.stage: r.id
        for r in conn.execute(select(plan_checkpoints).where(plan_checkpoints.c.item_id == item_id))
    }
    for stage, due in dues.items():
        if stage.value in have:
            conn.execute(
                update(plan_checkpoints).where(plan_checkpoints.c.id == have[stage.value]).values(due=due)
            )
        else:
            conn.execute(insert(plan_checkpoints).values(item_id=item_id, stage=stage.value, due=due))


def snapshot(conn: Connection, item_id: int) -> dict[str, Any]:
    """The item as the audit log keeps it: its fields, units by code, milestones, links and checkpoints."""
    row = conn.execute(select(plan_items).where(plan_items.c.id == item_id)).one()
    units = [
        r.unit_id for r in conn.execute(select(plan_item_units).where(plan_item_units.c.item_id == item_id))
    ]
    links = conn.execute(
        select(plan_links).where(plan_links.c.item_id == item_id).order_by(plan_links.c.position)
    ).all()
    codes = registry.codes_of(conn, [row.lead_unit_id, *units, *(k.unit_id for k in links)])
    return {
        "kind": row.kind,
        "number": row.number,
        "title_zh": row.title_zh,
        "title_en": row.title_en,
        "description": row.description,
        "owner": row.owner,
        "outcome": row.outcome,
        "deadline": row.deadline.isoformat() if row.deadline else None,
        "lead_unit": codes.get(row.lead_unit_id) if row.lead_unit_id else None,
        "supporting_units": sorted(codes[u] for u in units if u in codes),
        "milestones": [
            {
                "title": m.title,
                "due": m.due.isoformat() if m.due else None,
                "done_on": m.done_on.isoformat() if m.done_on else None,
            }
            for m in conn.execute(
                select(plan_milestones)
                .where(plan_milestones.c.item_id == item_id)
                .order_by(plan_milestones.c.position)
            )
        ],
        "links": [
            {
                "indicator_id": k.indicator_id,
                "unit": codes.get(k.unit_id) if k.unit_id else None,
                "period": k.period,
                "target": k.target,
            }
            for k in links
        ],
        "checkpoints": {
            r.stage: r.due.isoformat()
            for r in conn.execute(select(plan_checkpoints).where(plan_checkpoints.c.item_id == item_id))
        },
        "status_override": row.status_override,
        "override_reason": row.override_reason,
        "version": row.version,
    }


# ---------------------------------------------------------------- progress reports


def report_progress(
    conn: Connection,
    *,
    principal: Principal,
    task: str,
    stage: str,
    percent: int,
    narrative: str,
    evidence: Sequence[tuple[str, bytes]] = (),
    today: dt.date,
) -> str:
    """A progress report at one of the task's checkpoints, with its evidence files; its uid. Only for a task
    whose lead unit is within the principal's capture scope."""
    require_action(principal, Action.PLANS_REPORT)
    item = queries.item_for(conn, principal, task, today)
    problems: list[Problem] = []
    if item.row.kind == Kind.SECTION:
        problems.append(
            Problem(
                N_("a section has no progress of its own"),
                field="task",
                value=task,
                expected=N_("the uid of a task or sub-task"),
            )
        )
    if stage not in {s.value for s in Stage}:
        problems.append(
            Problem(N_("no such checkpoint"), field="stage", value=stage,
                    expected=N_("deploy, advance or assess"))
        )
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        problems.append(
            Problem(N_("not a percent"), field="percent", value=percent,
                    expected=N_("a whole number 0 to 100"))
        )
    text = checks.text(narrative, "narrative", problems, required=True, multiline=True)
    _refuse("The progress report cannot be saved.", problems)
    if not queries.may_report(conn, principal, item, today):
        raise PermissionDenied(N_("Only the lead unit of a task reports its progress."))
    for name, content in evidence:  # every file is checked before anything is written
        evidence_files.check(name, content)
    checkpoint = next(c for c in item.checkpoints if c.stage == stage)
    uid = new_uid()
    after = {
        "task": task,
        "stage": stage,
        "percent": percent,
        "narrative": text,
        "reported_on": today.isoformat(),
    }
    inserted = conn.execute(
        insert(plan_reports).values(
            uid=uid,
            checkpoint_id=checkpoint.id,
            percent=percent,
            narrative=text,
            reported_by=principal.username,
            reported_at=_now(),
            reported_on=today,
            review=Review.SUBMITTED.value,
            review_comment="",
        )
    ).inserted_primary_key
    assert inserted is not None
    files = [
        evidence_files.attach(
            conn,
            principal=principal,
            owner_kind=queries.OWNER_KIND,
            owner_id=int(inserted[0]),
            unit_id=item.row.lead_unit_id,
            filename=name,
            content=content,
        )
        for name, content in evidence
    ]
    after["evidence"] = [f.uid for f in files]
    _record(conn, principal, "report", "plan_reports", uid, after=after)
    return uid


def review_report(
    conn: Connection,
    *,
    principal: Principal,
    report: str,
    decision: str,
    comment: str = "",
    status: str | None = None,
    reason: str = "",
    today: dt.date | None = None,
) -> None:
    """The commission accepts or returns a submitted report (a comment says why it is returned); with a
    ``status`` and its ``reason`` it overrides the task's status in the same step."""
    require_action(principal, Action.PLANS_MANAGE)
    row = queries.report_row(conn, report)
    item = queries.item_for(conn, principal, row.task_uid, today)
    problems: list[Problem] = []
    if decision not in DECISIONS:
        problems.append(
            Problem(N_("no such decision"), field="decision", value=decision, expected=N_("accept or return"))
        )
    text = checks.text(comment, "comment", problems, required=decision == "return", multiline=True)
    wanted = checks.status(status, problems)
    why = checks.text(reason, "reason", problems, required=wanted is not None, multiline=True)
    _refuse(N_("The review cannot be saved."), problems)
    if row.review != Review.SUBMITTED:
        raise Conflict(
            N_("This report has been reviewed already."),
            [Problem(N_("reviewed already"), field="report", value=report,
                     expected=N_("a report awaiting review"))],
        )
    review = Review.ACCEPTED if decision == "accept" else Review.RETURNED
    conn.execute(
        update(plan_reports)
        .where(plan_reports.c.id == row.id)
        .values(review=review.value, review_comment=text, reviewed_by=principal.username, reviewed_at=_now())
    )
    _record(
        conn,
        principal,
        "review",
        "plan_reports",
        report,
        before={"review": row.review},
        after={"review": review.value, "comment": text},
    )
    if wanted is not None:
        _override(conn, principal, item, wanted.value, why)


def override_status(
    conn: Connection,
    *,
    principal: Principal,
    task: str,
    status: str | None,
    reason: str,
    today: dt.date | None = None,
) -> None:
    """Set the task's status by hand, with a reason (required); ``status=None`` clears the override."""
    require_action(principal, Action.PLANS_MANAGE)
    item = queries.item_for(conn, principal, task, today)
    problems: list[Problem] = []
    wanted = checks.status(status, problems)
    why = checks.text(reason, "reason", problems, required=wanted is not None, multiline=True)
    if item.row.kind == Kind.SECTION:
        problems.append(
            Problem(
                N_("a section has no status of its own"),
                field="task",
                value=task,
                expected=N_("the uid of a task or sub-task"),
            )
        )
    _refuse(N_("The status cannot be set."), problems)
    _override(conn, principal, item, wanted.value if wanted else None, why)


def _override(
    conn: Connection, principal: Principal, item: queries.Loaded, status: str | None, reason: str
) -> None:
    r = item.row
    before = {"status_override": r.status_override, "override_reason": r.override_reason}
    after = {"status_override": status, "override_reason": reason if status else None}
    if before == after:  # clearing what is not set, or setting what is: nothing changes
        return
    conn.execute(
        update(plan_items)
        .where(plan_items.c.id == r.id)
        .values(
            status_override=status,
            override_reason=reason if status else None,
            override_by=principal.username if status else None,
            override_at=_now() if status else None,
            version=r.version + 1,
            updated_at=_now(),
        )
    )
    _record(
        conn,
        principal,
        "override" if status else "override.clear",
        "plan_items",
        r.uid,
        before=before,
        after=after,
    )
