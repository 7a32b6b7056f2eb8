"""JSON routes of the registry under /api/units."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from jiaowei.auth.model import Action
from jiaowei.auth.scope import require_action
from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.registry import queries, service, transfer
from jiaowei.registry.model import TreeNode, UnitDetail, UnitSummary, VersionShown
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import AsOf, Conn, User, language, parse_date

MAX_UPLOAD = 64 * 1024 * 1024

router = APIRouter(prefix="/api/units", tags=["registry"])


class UnitOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    type: str
    ownership: str
    sector: str
    parent: str | None
    level: int
    attributes: dict[str, Any]
    synthetic: bool


class UnitPage(BaseModel):
    items: list[UnitOut]
    total: int
    offset: int
    limit: int
    as_of: str


class UnitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=64)
    name_zh: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    type: str
    ownership: str = "public"
    sector: str = "education"
    parent: str | None = None
    opened: str | None = Field(default=None, description="YYYY-MM-DD; default today")
    attributes: dict[str, Any] = Field(default_factory=dict)
    synthetic: bool = False
    note: str = ""


class UnitChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effective: str = Field(description="YYYY-MM-DD: the change holds from this date on")
    name_zh: str | None = Field(default=None, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    type: str | None = None
    ownership: str | None = None
    sector: str | None = None
    parent: str | None = Field(default=None, description="new parent code")
    attributes: dict[str, Any] | None = None
    note: str = ""


class UnitClose(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effective: str
    merged_into: str | None = Field(default=None, description="merge into this unit instead of a plain close")
    note: str = ""


def unit_json(u: UnitSummary) -> dict[str, Any]:
    """A unit of a list as the API shows it (:class:`UnitOut`)."""
    return {"code": u.code, "name_zh": u.name_zh, "name_en": u.name_en, "type": u.type,
            "ownership": u.ownership, "sector": u.sector, "parent": u.parent, "level": u.level,
            "attributes": dict(u.attributes), "synthetic": u.synthetic}


def node_json(n: TreeNode) -> dict[str, Any]:
    """A unit of the tree: a list's fields and how many units are directly below it."""
    return {**unit_json(n), "children": n.children}


def _date(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _version_fields(v: UnitDetail | VersionShown) -> dict[str, Any]:
    return {"name_zh": v.name_zh, "name_en": v.name_en, "type": v.type, "ownership": v.ownership,
            "sector": v.sector, "parent": v.parent, "attributes": dict(v.attributes)}


def detail_json(d: UnitDetail) -> dict[str, Any]:
    """One unit with its ancestors, versions and events as the API shows it."""
    return {
        "code": d.code, "synthetic": d.synthetic, "open_on_date": d.open_on_date,
        "as_of": d.as_of.isoformat(), "opened": d.opened.isoformat(), "closed": _date(d.closed),
        **_version_fields(d), "level": d.level,
        "ancestors": [{"code": a.code, "name_zh": a.name_zh, "name_en": a.name_en} for a in d.ancestors],
        "versions": [{"valid_from": v.valid_from.isoformat(), "valid_to": _date(v.valid_to),
                      **_version_fields(v)} for v in d.versions],
        "events": [{"kind": e.kind, "effective": e.effective.isoformat(), "detail": e.detail,
                    "related": e.related, "note": e.note, "recorded_by": e.recorded_by} for e in d.events],
    }


@router.get("", response_model=UnitPage)
def list_units(
    conn: Conn,
    user: User,
    as_of: AsOf,
    type: Annotated[str | None, Query(description="unit type")] = None,
    parent: Annotated[str | None, Query(description="code of the parent (direct children)")] = None,
    descendants_of: Annotated[str | None, Query(description="code of a unit (its whole subtree)")] = None,
    ownership: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
) -> dict[str, Any]:
    """Units visible to the caller as they stood on ``as_of``."""
    page = queries.list_units(conn, principal=user, as_of=as_of, type=type, parent=parent,
                              descendants_of=descendants_of, ownership=ownership, q=q,
                              offset=offset, limit=limit)
    day = as_of or queries.today()
    return {"items": [unit_json(u) for u in page.items], "total": page.total, "offset": page.offset,
            "limit": page.limit, "as_of": day.isoformat()}


@dataclass
class Upload:
    data: bytes
    filename: str
    dry_run: bool


async def read_upload(request: Request) -> Upload:
    """A multipart form (``file``, ``dry_run``) or a raw body with ``?filename=&dry_run=``."""
    query = request.query_params
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationError(N_("No file was uploaded."), [
                Problem(N_("file missing"), field="file",
                        expected=N_("a CSV or XLSX file in the form field file"))])
        data, filename = await upload.read(), upload.filename or ""
        flag = str(form.get("dry_run", query.get("dry_run", "")))
    else:
        data, filename, flag = await request.body(), query.get("filename", ""), query.get("dry_run", "")
    if not data:
        raise ValidationError(N_("The upload is empty."), [
            Problem("empty file", field="file", expected=N_("a CSV or XLSX file with a header row"))])
    if len(data) > MAX_UPLOAD:
        raise ValidationError(N_("The upload is too large."), [
            Problem(N_("file too large"), field="file", value=len(data), expected=M_("at most {most} bytes",
                                                                                 most=MAX_UPLOAD))])
    return Upload(data, filename, flag.lower() in ("1", "true", "on", "yes"))


@dataclass
class ParsedUpload:
    upload: Upload
    parsed: tuple[list[transfer.Row], list[Problem]]


def parse_upload(user: User, upload: Annotated[Upload, Depends(read_upload)]) -> ParsedUpload:
    """The file's rows, read in FastAPI's threadpool before the request's transaction begins.

    Only for those who may import (as ``transfer.import_units`` checks again): nobody else makes
    the server parse a file, and they get 403 whatever the file holds.
    """
    require_action(user, Action.REGISTRY_WRITE)
    return ParsedUpload(upload, transfer.parse(upload.data, upload.filename))


@router.post("/import", dependencies=[TAKES_FILES])
def import_units(user: User, file: Annotated[ParsedUpload, Depends(parse_upload)],
                 conn: Conn) -> dict[str, Any]:
    """Import units from CSV or XLSX: all rows or none (problems come back as problem+json)."""
    upload = file.upload
    summary = transfer.import_units(conn, principal=user, data=upload.data, filename=upload.filename,
                                    dry_run=upload.dry_run, parsed=file.parsed)
    return summary.as_dict()


@router.get("/export", response_class=Response)
def export_units(request: Request, conn: Conn, user: User, as_of: AsOf,
                 format: Literal["csv", "xlsx"] = "csv",
                 q: Annotated[str, Query(max_length=100)] = "") -> Response:
    """The units visible to the caller on ``as_of`` (those whose code or name contains ``q``), parents
    before children; an XLSX file's header is in the caller's language."""
    day = as_of or queries.today()
    content = transfer.export_units(conn, principal=user, as_of=day, format=format, q=q,
                                    language=language(request))
    return Response(content, media_type=transfer.MEDIA_TYPES[format], headers={
        "Content-Disposition": f'attachment; filename="units-{day.isoformat()}.{format}"'})


@router.get("/{code}")
def get_unit(conn: Conn, user: User, code: str, as_of: AsOf) -> dict[str, Any]:
    """One unit with its versions and events (its history)."""
    return detail_json(queries.get_unit(conn, principal=user, code=code, as_of=as_of))


@router.get("/{code}/children")
def unit_children(conn: Conn, user: User, code: str, as_of: AsOf) -> list[dict[str, Any]]:
    return [node_json(n) for n in queries.children(conn, principal=user, code=code, as_of=as_of)]


@router.post("", status_code=201)
def create_unit(conn: Conn, user: User, body: UnitCreate) -> dict[str, Any]:
    spec = service.UnitSpec(
        code=body.code, name_zh=body.name_zh, name_en=body.name_en, type=body.type,
        ownership=body.ownership, sector=body.sector, parent=body.parent,
        opened=parse_date(body.opened, "opened") or queries.today(), attributes=body.attributes,
        synthetic=body.synthetic,
    )
    service.create_unit(conn, principal=user, spec=spec, note=body.note)
    return detail_json(queries.get_unit(conn, principal=user, code=body.code, as_of=spec.opened))


@router.patch("/{code}")
def change_unit(conn: Conn, user: User, code: str, body: UnitChange) -> dict[str, Any]:
    """Rename, move or update a unit from ``effective`` on."""
    effective = parse_date(body.effective, "effective") or queries.today()
    changes = body.model_dump(exclude={"effective", "note"}, exclude_unset=True)
    service.change_unit(conn, principal=user, code=code, effective=effective, changes=changes, note=body.note)
    return detail_json(queries.get_unit(conn, principal=user, code=code, as_of=effective))


@router.post("/{code}/close")
def close_unit(conn: Conn, user: User, code: str, body: UnitClose) -> dict[str, Any]:
    """Close a unit, or merge it into another (its children move there)."""
    effective = parse_date(body.effective, "effective") or queries.today()
    if body.merged_into:
        return asdict(service.merge_unit(conn, principal=user, code=code, into=body.merged_into,
                                         effective=effective, note=body.note))
    return asdict(service.close_unit(conn, principal=user, code=code, effective=effective, note=body.note))
