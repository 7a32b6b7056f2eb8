"""Registry pages: the unit tree on a date, one unit with its history, forms, CSV/XLSX import."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, BackgroundTasks, Depends, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.errors import Problem, ValidationError
from jiaowei.jobs.model import Outcome
from jiaowei.jobs.pages import start_job
from jiaowei.jobs.runner import JobContext, Work
from jiaowei.registry import queries, service, transfer
from jiaowei.registry.labels import OWNERSHIPS, SECTORS, TYPES
from jiaowei.registry.model import EventKind, Ownership, Sector, TreeNode, UnitDetail, UnitType
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import AsOf, Conn, User, parse_date
from jiaowei.web.forms import N_, Form, problems_by_field, see_other
from jiaowei.web.render import page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_OPEN = 50

EVENTS = {
    EventKind.OPEN: N_("Opened"), EventKind.CLOSE: N_("Closed"), EventKind.RENAME: N_("Renamed"),
    EventKind.MOVE: N_("Moved"), EventKind.MERGE: N_("Merged"), EventKind.UPDATE: N_("Updated"),
}
FIELDS = {
    "code": N_("Unit code"), "name_zh": N_("Chinese name"), "name_en": N_("English name"), "type": N_("Type"),
    "ownership": N_("Ownership"), "sector": N_("Sector"), "parent": N_("Parent unit"),
    "opened": N_("Opened on"), "effective": N_("Effective date"), "attributes": N_("Attributes"),
    "note": N_("Note"), "merged_into": N_("Merge into"), "into": N_("Merge into"), "file": N_("File"),
}
CHANGEABLE = ("name_zh", "name_en", "type", "ownership", "sector", "parent", "attributes")


def _labels() -> dict[str, Any]:
    return {"types": TYPES, "ownerships": OWNERSHIPS, "sectors": SECTORS, "events": EVENTS, "fields": FIELDS}


def _render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    error = context.get("error")
    return page(request, template, {**_labels(), "errors": problems_by_field(error), **context}, status)


def _unit_url(code: str, day: dt.date | str | None = None) -> str:
    return f"/units/{quote(code)}" + (f"?as_of={day}" if day else "")


# ---------------------------------------------------------------- the tree


def _expanded(conn: Connection, user: Principal, nodes: list[TreeNode], open_codes: set[str],
              day: dt.date) -> dict[str, list[TreeNode]]:
    """Children of every open node reachable from ``nodes``, keyed by the node's code."""
    below: dict[str, list[TreeNode]] = {}
    queue = list(nodes)
    while queue:
        node = queue.pop(0)
        if node.code in open_codes and node.children and node.code not in below:
            below[node.code] = queries.children(conn, principal=user, code=node.code, as_of=day)
            queue += below[node.code]
    return below


def _toggler(day: dt.date, open_codes: list[str]) -> Any:
    def toggle_url(code: str) -> str:
        codes = [c for c in open_codes if c != code] if code in open_codes else [*open_codes, code]
        return "/units?" + urlencode({"as_of": day.isoformat(), "open": ",".join(codes)})

    return toggle_url


@router.get("/units", response_class=HTMLResponse)
def tree(request: Request, conn: Conn, user: User, as_of: AsOf,
         q: Annotated[str, Query(max_length=100)] = "", open: str | None = None,
         offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    """The principal's top units, open nodes expanded; or search results when ``q`` is given."""
    day = as_of or queries.today()
    roots = queries.children(conn, principal=user, code=None, as_of=day)
    if open is None:
        open_codes = [roots[0].code] if len(roots) == 1 else []
    else:
        open_codes = [c for c in open.split(",") if c][:MAX_OPEN]
    found = queries.list_units(conn, principal=user, as_of=day, q=q.strip(), offset=offset,
                               limit=PAGE_SIZE) if q.strip() else None
    return _render(request, "units.html", {
        "as_of": day.isoformat(), "q": q, "roots": roots, "open_codes": open_codes,
        "below": _expanded(conn, user, roots, set(open_codes), day), "found": found,
        "toggle_url": _toggler(day, open_codes), "may_write": user.may(Action.REGISTRY_WRITE),
    })


@router.get("/units/{code}/children", response_class=HTMLResponse)
def children_fragment(request: Request, conn: Conn, user: User, code: str, as_of: AsOf,
                      open: str = "") -> HTMLResponse:
    """The ``<ul>`` of a node's children, fetched by the tree's script when a node opens."""
    day = as_of or queries.today()
    open_codes = [c for c in open.split(",") if c][:MAX_OPEN]
    return _render(request, "_children.html", {
        "as_of": day.isoformat(), "nodes": queries.children(conn, principal=user, code=code, as_of=day),
        "below": {}, "open_codes": open_codes, "toggle_url": _toggler(day, open_codes)})


# ---------------------------------------------------------------- create


def _attributes(text: str | None) -> dict[str, Any]:
    if not (text or "").strip():
        return {}
    try:
        value = json.loads(text or "")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ValidationError(N_("The attributes are not valid."), [
            Problem(N_("attributes must be a JSON object"), field="attributes", value=text,
                    expected=N_('a JSON object such as {"双一流": true}'))])
    return value


def _spec(form: dict[str, str]) -> service.UnitSpec:
    return service.UnitSpec(
        code=form.get("code", "").strip(), name_zh=form.get("name_zh", ""), name_en=form.get("name_en", ""),
        type=form.get("type", ""), ownership=form.get("ownership", Ownership.PUBLIC),
        sector=form.get("sector", Sector.EDUCATION), parent=form.get("parent", "").strip() or None,
        opened=parse_date(form.get("opened"), "opened") or queries.today(),
        attributes=_attributes(form.get("attributes")), synthetic=form.get("synthetic") == "on",
    )


@router.get("/units/new", response_class=HTMLResponse)
def new_form(request: Request, user: User, parent: str = "") -> HTMLResponse:
    require_action(user, Action.REGISTRY_WRITE)  # 403 in the user's language for those who may not write
    values = {"parent": parent, "opened": queries.today().isoformat(), "type": UnitType.PRIMARY_SCHOOL,
              "ownership": Ownership.PUBLIC, "sector": Sector.EDUCATION}
    return _render(request, "unit_new.html", {"values": values})


@router.post("/units/new")
def create(request: Request, conn: Conn, user: User, form: Form) -> Response:
    try:
        with conn.begin_nested():
            spec = _spec(form)
            service.create_unit(conn, principal=user, spec=spec, note=form.get("note", ""))
    except ValidationError as error:
        return _render(request, "unit_new.html", {"values": form, "error": error}, status=error.status)
    return see_other(_unit_url(spec.code, spec.opened))


# ---------------------------------------------------------------- import


@router.get("/units/import", response_class=HTMLResponse)
def import_form(request: Request, user: User) -> HTMLResponse:
    require_action(user, Action.REGISTRY_WRITE)
    return _render(request, "import.html", {"dry_run": True, "columns": transfer.COLUMNS})


@dataclass(frozen=True)
class UnitsFile:
    """A posted units file (empty when none was chosen); the import job reads its rows."""

    data: bytes
    filename: str


def units_file(file: Annotated[UploadFile | None, File()] = None) -> UnitsFile:
    """The form's ``file``, received whole in FastAPI's threadpool before the request's transaction."""
    data = file.file.read() if file is not None else b""
    filename = (file.filename or "") if file is not None else ""
    return UnitsFile(data, filename)


@router.post("/units/import", dependencies=[TAKES_FILES])
def import_file(request: Request, user: User, upload: Annotated[UnitsFile, Depends(units_file)], conn: Conn,
                form: Form, background: BackgroundTasks) -> Response:
    """Start importing a CSV or XLSX file as a job (its page shows the progress, then the result)."""
    dry_run = form.get("dry_run") == "on"
    context: dict[str, Any] = {"dry_run": dry_run, "filename": upload.filename, "columns": transfer.COLUMNS}
    require_action(user, Action.REGISTRY_WRITE)  # as import_units: the permission, then the file
    if not upload.data:
        error = ValidationError(N_("Choose a file to import."), [
            Problem("no file chosen", field="file", expected=N_("a .csv or .xlsx file"))])
        return _render(request, "import.html", {**context, "error": error}, status=error.status)
    return start_job(request, conn, background, principal=user, kind="units.import", title=N_("Import units"),
                     back="/units/import", filename=upload.filename, dry_run=dry_run,
                     work=_import_units(user, upload, dry_run))


def _import_units(user: Principal, upload: UnitsFile, dry_run: bool) -> Work:
    """The units import as a job: read the rows, then import them all or none in the job's transaction."""

    def work(job: JobContext) -> Outcome:
        parsed = transfer.parse(upload.data, upload.filename)
        job.report("reading the file", len(parsed[0]), len(parsed[0]))
        with job.transaction() as conn:
            summary = transfer.import_units(conn, principal=user, data=upload.data, filename=upload.filename,
                                            dry_run=dry_run, parsed=parsed, progress=job.report)
        return Outcome(((N_("Created"), summary.created), (N_("Changed"), summary.changed),
                        (N_("Unchanged"), summary.unchanged), (N_("Closed"), summary.closed)),
                       tuple(summary.problems))

    return work


# ---------------------------------------------------------------- one unit


@router.get("/units/{code}", response_class=HTMLResponse)
def unit_page(request: Request, conn: Conn, user: User, code: str, as_of: AsOf) -> HTMLResponse:
    day = as_of or queries.today()
    unit = queries.get_unit(conn, principal=user, code=code, as_of=day)
    kids = queries.children(conn, principal=user, code=code, as_of=day)
    return _render(request, "unit.html", {"unit": unit, "day": day, "as_of": day.isoformat(), "kids": kids,
                                          "may_write": user.may(Action.REGISTRY_WRITE),
                                          "may_audit": user.may(Action.AUDIT_READ)})


def _edit_page(request: Request, conn: Connection, user: Principal, code: str, day: dt.date,
               extra: dict[str, Any], status: int = 200) -> HTMLResponse:
    unit = queries.get_unit(conn, principal=user, code=code, as_of=day)
    values = {name: getattr(unit, name) or "" for name in CHANGEABLE if name != "attributes"}
    values["attributes"] = json.dumps(dict(unit.attributes), ensure_ascii=False) if unit.attributes else ""
    values["effective"] = day.isoformat()
    return _render(request, "unit_edit.html", {"unit": unit, "values": values, "close_values":
                                               {"effective": day.isoformat()}, **extra}, status)


@router.get("/units/{code}/edit", response_class=HTMLResponse)
def edit_form(request: Request, conn: Conn, user: User, code: str, as_of: AsOf) -> HTMLResponse:
    return _edit_page(request, conn, user, code, as_of or queries.today(), {})


def _changes(current: UnitDetail, form: dict[str, str]) -> dict[str, Any]:
    """The fields of the form that differ from the unit's state on the effective date."""
    wanted: dict[str, Any] = {name: form[name].strip() for name in CHANGEABLE[:-1] if name in form}
    if "parent" in wanted:
        wanted["parent"] = wanted["parent"] or None
    if "attributes" in form:
        wanted["attributes"] = _attributes(form["attributes"])
    return {name: value for name, value in wanted.items() if getattr(current, name) != value}


@router.post("/units/{code}/edit")
def edit(request: Request, conn: Conn, user: User, code: str, form: Form) -> Response:
    """Rename, move or update a unit from the effective date on."""
    try:
        with conn.begin_nested():
            effective = parse_date(form.get("effective"), "effective") or queries.today()
            current = queries.get_unit(conn, principal=user, code=code, as_of=effective)
            service.change_unit(conn, principal=user, code=code, effective=effective,
                                changes=_changes(current, form), note=form.get("note", ""))
    except ValidationError as error:
        return _edit_page(request, conn, user, code, _date_or_today(form.get("effective")),
                          {"error": error, "values": form}, status=error.status)
    return see_other(_unit_url(code, effective))


def _date_or_today(value: str | None) -> dt.date:
    try:
        return parse_date(value) or queries.today()
    except ValidationError:
        return queries.today()


@router.post("/units/{code}/close")
def close(request: Request, conn: Conn, user: User, code: str, form: Form) -> Response:
    """Close a unit from the effective date on, or merge it into another unit."""
    into = form.get("merged_into", "").strip()
    try:
        with conn.begin_nested():
            effective = parse_date(form.get("effective"), "effective") or queries.today()
            if into:
                service.merge_unit(conn, principal=user, code=code, into=into, effective=effective,
                                   note=form.get("note", ""))
            else:
                service.close_unit(conn, principal=user, code=code, effective=effective,
                                   note=form.get("note", ""))
    except ValidationError as error:
        return _edit_page(request, conn, user, code, queries.today(),
                          {"close_error": error, "close_errors": problems_by_field(error),
                           "close_values": form}, status=error.status)
    return see_other(_unit_url(code, effective))
