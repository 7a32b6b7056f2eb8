"""Plans: the forms that create a plan (``/plans/new``) and create or edit its items (``/plans/tasks/new``,
``/plans/tasks/{uid}/edit``) for commission staff (``plans.manage``).

Units are chosen with pickers (:mod:`jiaowei.plans.pickers`), indicators from a list. The repeating parts
(supporting units, milestones, linked indicators) are posted as indexed fields, ``milestones[2].due``;
blank rows are left out, and the service's problems are renamed back to the rows they came from, so each
shows next to its own input. Nothing is written unless everything is accepted.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.errors import Conflict, JiaoweiError, Problem, ValidationError
from jiaowei.i18n import translate
from jiaowei.indicators.targets import compute
from jiaowei.plans import clock, pickers
from jiaowei.plans.tasks import checks, queries, service
from jiaowei.plans.tasks.model import STAGE_LABELS, Kind, Stage, default_checkpoints
from jiaowei.plans.tasks.store import plan_items, plans
from jiaowei.registry import queries as registry
from jiaowei.web.deps import Conn, User, language
from jiaowei.web.forms import N_, Form, in_language, problems_by_field, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

UNIT_SLOTS, MILESTONE_SLOTS, LINK_SLOTS = 3, 3, 2  # blank rows offered below the item's own
MAX_ROWS = 60  # indexed rows read from a posted form, at most
KINDS = {"section": N_("Section"), "task": N_("Task"), "subtask": N_("Sub-task")}
FIELDS = {
    "year": N_("Year"),
    "title_zh": N_("Title (Chinese)"),
    "title_en": N_("Title (English)"),
    "kind": N_("Kind"),
    "parent": N_("Under"),
    "number": N_("Item number"),
    "description": N_("Description"),
    "lead_unit": N_("Lead unit"),
    "supporting_units": N_("Supporting units"),
    "owner": N_("Owner"),
    "deadline": N_("Deadline"),
    "outcome": N_("Outcome"),
    "milestones": N_("Milestones"),
    "links": N_("Linked indicators"),
    "checkpoints": N_("Checkpoints"),
}
ROW_FIELDS = {
    "title": N_("Milestone"),
    "due": N_("Due"),
    "done_on": N_("Done on"),
    "indicator": N_("Indicator"),
    "unit": N_("Unit"),
    "period": N_("Period"),
    "target": N_("Target"),
}
PLAN_EXISTS = N_("There is a plan for this year already.")
NOT_SAVED = N_("The item cannot be saved.")
Year = Annotated[int | None, Query(ge=1900, le=2200)]
Uid = Annotated[str, Query(max_length=11)]


# ---------------------------------------------------------------- shared


def _labels(lang: str, error: JiaoweiError | None) -> dict[str, str]:
    """Each field's label, the indexed fields of the rows included, for the problem summary."""
    labels = {k: translate(lang, v) for k, v in FIELDS.items()}
    labels |= {f"checkpoints.{s.value}": translate(lang, STAGE_LABELS[s]) for s in Stage}
    for p in error.problems if error else []:
        found = re.fullmatch(r"(supporting_units|milestones|links)\[(\d+)\](?:\.(\w+))?", p.field or "")
        if found:
            part, index, key = found.groups()
            label = f"{translate(lang, FIELDS[part])} {int(index) + 1}"
            labels[p.field or ""] = (
                f"{label} · {translate(lang, ROW_FIELDS[key])}" if key in ROW_FIELDS else label
            )
    return labels


def _render(
    request: Request, template: str, context: dict[str, Any], error: JiaoweiError | None = None
) -> HTMLResponse:
    lang = language(request)
    shown = in_language(error, lang) if error else None
    if isinstance(error, Conflict) and shown is not None:
        shown.detail = translate(lang, PLAN_EXISTS)
    return page(
        request,
        template,
        {
            "active": "plans",
            "kinds": KINDS,
            "stage_labels": STAGE_LABELS,
            "stages": list(Stage),
            "error": shown,
            "errors": problems_by_field(shown),
            "fields": _labels(lang, shown),
            **context,
        },
        error.status if error else 200,
    )


# ---------------------------------------------------------------- a new plan


def _plan_form(
    request: Request, conn: Connection, values: dict[str, str], error: JiaoweiError | None = None
) -> HTMLResponse:
    return _render(request, "plans_edit_plan.html", {"values": values, "years": queries.years(conn)}, error)


@router.get("/plans/new", response_class=HTMLResponse)
def new_plan_page(request: Request, conn: Conn, user: User, year: Year = None) -> HTMLResponse:
    """The form for a new annual plan: its year and its titles."""
    require_action(user, Action.PLANS_MANAGE)
    found = queries.years(conn)
    suggested = year or (found[0] + 1 if found else clock.today().year)
    return _plan_form(request, conn, {"year": str(suggested)})


@router.post("/plans/new")
def create_plan(request: Request, conn: Conn, user: User, form: Form) -> Response:
    """Create the plan; then its (empty) board."""
    require_action(user, Action.PLANS_MANAGE)
    raw = form.get("year", "").strip()
    year: Any = int(raw) if raw.isdigit() and len(raw) <= 4 else raw
    try:
        with conn.begin_nested():
            service.create_plan(
                conn,
                principal=user,
                year=year,
                title_zh=form.get("title_zh", ""),
                title_en=form.get("title_en", ""),
            )
    except (ValidationError, Conflict) as error:
        return _plan_form(request, conn, form, error)
    return see_other(f"/plans?{urlencode({'year': year})}")


# ---------------------------------------------------------------- an item: what the form shows


def _parents(conn: Connection, user: Principal, year: int, own: str | None) -> list[dict[str, str]]:
    """The sections and tasks of the year's plan the user sees (an item may hang under them)."""
    visible = queries.visible_units(conn, user, dt.date(year, 12, 31))
    items = [i for i in queries.load(conn, plans.c.year == year) if queries.is_visible(i, visible)]
    return [
        {"uid": i.row.uid, "kind": i.row.kind, "label": f"{i.row.number} {i.row.title_zh}".strip()}
        for i in items
        if i.row.kind != Kind.SUBTASK and i.row.uid != own
    ]


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(value)


def _stored(conn: Connection, item: queries.Loaded) -> dict[str, str]:
    """The form's fields as the item stands (units and indicators by code)."""
    row = item.row
    codes = registry.codes_of(conn, [row.lead_unit_id, *item.supporting, *(k.unit_id for k in item.links)])
    indicators = {d.id: d.code for d in compute.all_indicators(conn)}
    parent = queries.load(conn, plan_items.c.id == row.parent_id) if row.parent_id else []
    values = {
        "year": str(item.year),
        "kind": row.kind,
        "parent": parent[0].row.uid if parent else "",
        "number": row.number,
        "title_zh": row.title_zh,
        "title_en": row.title_en,
        "description": row.description,
        "lead_unit": codes.get(row.lead_unit_id, "") if row.lead_unit_id else "",
        "owner": row.owner,
        "deadline": row.deadline.isoformat() if row.deadline else "",
        "outcome": row.outcome,
    }
    values |= {f"checkpoints.{c.stage}": c.due.isoformat() for c in item.checkpoints}
    for i, code in enumerate(sorted(codes.get(u, "") for u in item.supporting)):
        values[f"supporting_units[{i}]"] = code
    for i, m in enumerate(item.milestones):
        values |= {
            f"milestones[{i}].title": m.title,
            f"milestones[{i}].due": m.due.isoformat() if m.due else "",
            f"milestones[{i}].done_on": m.done_on.isoformat() if m.done_on else "",
        }
    for i, k in enumerate(item.links):
        values |= {
            f"links[{i}].indicator": indicators.get(k.indicator_id, ""),
            f"links[{i}].unit": codes.get(k.unit_id, "") if k.unit_id else "",
            f"links[{i}].period": k.period,
            f"links[{i}].target": _number(k.target),
        }
    return values


def _slots(values: dict[str, str], part: str, blank: int) -> list[int]:
    """The row indices the form shows for ``part``: those filled in, then ``blank`` empty ones."""
    pattern = re.compile(rf"{part}\[(\d{{1,3}})\](?:\.\w+)?")
    filled = sorted({int(m.group(1)) for k, v in values.items() if v.strip() and (m := pattern.fullmatch(k))})
    last = max(filled, default=-1)
    return [*filled, *range(last + 1, last + 1 + blank)]


def _periods(year: int, chosen: Sequence[str]) -> list[str]:
    years = [str(y) for y in range(year - 5, year + 2)]
    return [*years, *sorted({p for p in chosen if p and p not in years})]


def _item_form(
    request: Request,
    conn: Connection,
    user: Principal,
    values: dict[str, str],
    uid: str | None,
    error: JiaoweiError | None = None,
) -> HTMLResponse:
    lang = language(request)
    year = int(values["year"])
    plan = queries.plan_of_year(conn, year)
    chosen_periods = [v for k, v in values.items() if k.endswith(".period")]
    dues = default_checkpoints(year)
    return _render(
        request,
        "plans_edit_item.html",
        {
            "plan": plan,
            "uid": uid,
            "values": values,
            "parents": _parents(conn, user, year, uid),
            "units": pickers.unit_choices(conn, user, language=lang, action=Action.PLANS_MANAGE),
            "indicators": pickers.indicator_choices(conn, language=lang),
            "periods": _periods(year, chosen_periods),
            "default_dues": {s.value: d.isoformat() for s, d in dues.items()},
            "unit_slots": _slots(values, "supporting_units", UNIT_SLOTS),
            "milestone_slots": _slots(values, "milestones", MILESTONE_SLOTS),
            "link_slots": _slots(values, "links", LINK_SLOTS),
        },
        error,
    )


@router.get("/plans/tasks/new", response_class=HTMLResponse)
def new_item_page(
    request: Request,
    conn: Conn,
    user: User,
    year: Year = None,
    parent: Uid = "",
    kind: Annotated[str, Query(max_length=16)] = "task",
) -> HTMLResponse:
    """The form for a new section, task or sub-task of a year's plan (under ``parent``)."""
    require_action(user, Action.PLANS_MANAGE)
    found = queries.years(conn)
    chosen = year or (found[0] if found else clock.today().year)
    kind = kind if kind in KINDS else Kind.TASK.value
    values = {"year": str(chosen), "kind": kind, "parent": parent}
    values |= {f"checkpoints.{s.value}": d.isoformat() for s, d in default_checkpoints(chosen).items()}
    return _item_form(request, conn, user, values, None)


@router.get("/plans/tasks/{uid}/edit", response_class=HTMLResponse)
def edit_item_page(request: Request, conn: Conn, user: User, uid: str) -> HTMLResponse:
    """The form for an item of a plan, filled with what it holds now."""
    require_action(user, Action.PLANS_MANAGE)
    item = queries.item_for(conn, user, uid, None)
    return _item_form(request, conn, user, _stored(conn, item), item.row.uid)


# ---------------------------------------------------------------- an item: what the form posts


def _indices(form: dict[str, str], part: str) -> list[int]:
    pattern = re.compile(rf"{part}\[(\d{{1,3}})\](?:\.\w+)?")
    found = {int(m.group(1)) for k in form if (m := pattern.fullmatch(k))}
    return sorted(i for i in found if i < MAX_ROWS)


def _rows(form: dict[str, str], part: str, keys: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """The filled-in rows of ``part``, each with its index on the form."""
    out = []
    for i in _indices(form, part):
        row = {k: form.get(f"{part}[{i}].{k}", "").strip() for k in keys}
        if any(row.values()):
            out.append((i, row))
    return out


def _renamed(problems: Sequence[Problem], part: str, indices: Sequence[int]) -> list[Problem]:
    """The service's problems, ``part[k]`` renamed to the form row it came from."""
    out = []
    for p in problems:
        found = re.fullmatch(rf"{part}\[(\d+)\](.*)", p.field or "")
        if found and int(found.group(1)) < len(indices):
            field = f"{part}[{indices[int(found.group(1))]}]{found.group(2)}"
            p = Problem(p.message, row=p.row, field=field, value=p.value, expected=p.expected)
        out.append(p)
    return out


def _posted(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, list[int]], list[Problem]]:
    """The service's arguments from the form, the form rows behind each list, and the dates' problems."""
    problems: list[Problem] = []
    units = [(i, form.get(f"supporting_units[{i}]", "").strip()) for i in _indices(form, "supporting_units")]
    units = [(i, code) for i, code in units if code]
    milestones = _rows(form, "milestones", ("title", "due", "done_on"))
    links = _rows(form, "links", ("indicator", "unit", "period", "target"))
    dues = {}
    for s in Stage:
        found = checks.date(form.get(f"checkpoints.{s.value}"), f"checkpoints.{s.value}", problems)
        if found is not None:
            dues[s.value] = found
    arguments = {
        "parent": form.get("parent") or None,
        "kind": form.get("kind", ""),
        "number": form.get("number", ""),
        "title_zh": form.get("title_zh", ""),
        "title_en": form.get("title_en", ""),
        "description": form.get("description", ""),
        "lead_unit": form.get("lead_unit", "").strip() or None,
        "supporting_units": [code for _, code in units],
        "owner": form.get("owner", ""),
        "deadline": checks.date(form.get("deadline"), "deadline", problems),
        "outcome": form.get("outcome", ""),
        "milestones": [row for _, row in milestones],
        "links": [{k: v or None for k, v in row.items()} for _, row in links],
        "checkpoints": dues,
    }
    indices = {
        "supporting_units": [i for i, _ in units],
        "milestones": [i for i, _ in milestones],
        "links": [i for i, _ in links],
    }
    return arguments, indices, problems


def _saved_url(kind: str, year: int, uid: str, created: bool) -> str:
    """A task's page; for a new section, the form for its first task; for a section, the board."""
    if kind == Kind.SECTION and created:
        return f"/plans/tasks/new?{urlencode({'year': year, 'parent': uid, 'kind': Kind.TASK.value})}"
    if kind == Kind.SECTION:
        return f"/plans?{urlencode({'year': year})}"
    return f"/plans/tasks/{uid}"


def _save(
    request: Request, conn: Connection, user: Principal, form: dict[str, str], uid: str | None
) -> Response:
    require_action(user, Action.PLANS_MANAGE)
    year = int(form["year"])
    arguments, indices, problems = _posted(form)
    try:
        with conn.begin_nested():
            try:
                saved = service.save_item(conn, principal=user, year=year, uid=uid, **arguments)
            except ValidationError as error:
                error.problems = [*problems, *error.problems]
                raise
            if problems:
                raise ValidationError(NOT_SAVED, problems)
    except ValidationError as error:
        for part, rows in indices.items():
            error.problems = _renamed(error.problems, part, rows)
        return _item_form(request, conn, user, {**form, "year": str(year)}, uid, error)
    return see_other(_saved_url(arguments["kind"], year, saved, uid is None))


@router.post("/plans/tasks/new")
def create_item(request: Request, conn: Conn, user: User, form: Form) -> Response:
    """Create the section, task or sub-task; then its page (a section: the board)."""
    require_action(user, Action.PLANS_MANAGE)
    raw = form.get("year", "")
    if not raw.isdigit() or len(raw) != 4:
        raise ValidationError(
            NOT_SAVED, [Problem("not a year", field="year", value=raw, expected="2000 to 2100")]
        )
    queries.plan_of_year(conn, int(raw))
    return _save(request, conn, user, form, None)


@router.post("/plans/tasks/{uid}/edit")
def update_item(request: Request, conn: Conn, user: User, uid: str, form: Form) -> Response:
    """Save the changes to the item (its milestones, links and supporting units as the form has them)."""
    require_action(user, Action.PLANS_MANAGE)
    item = queries.item_for(conn, user, uid, None)
    return _save(request, conn, user, {**form, "year": str(item.year)}, item.row.uid)
