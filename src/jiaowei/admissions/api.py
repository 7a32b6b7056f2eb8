"""JSON routes of admissions under /api/admissions.

Staff routes need a login or token and act within the caller's scope. Two routes are public:
a campaign's published results, and a family's lookup of its own application (throttled).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from jiaowei import clock
from jiaowei.admissions import queries, service
from jiaowei.admissions.applications import priorities
from jiaowei.errors import JiaoweiError
from jiaowei.registry.api import Upload, read_upload
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import Conn, MaybeUser, User, lookup_limit, parse_date
from jiaowei.web.errors import respond

router = APIRouter(prefix="/api/admissions", tags=["admissions"])

Responses = dict[int | str, dict[str, Any]]
CONFLICT: Responses = {409: {"description": "The campaign is not at the stage this step needs"}}
THROTTLED: Responses = {429: {"description": "Too many failed look-ups of this application number"}}
Step = Literal["open", "freeze", "draw", "publish", "freeze_placement", "place", "appeals", "close"]


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=64)
    year: int
    stage: str = Field(description="primary_1, junior_6, childcare or after_school")
    title_zh: str = Field(max_length=200)
    title_en: str = Field(max_length=200)
    organiser: str = Field(max_length=64, description="code of the organising unit (commission or district)")
    max_choices: int = 3
    mechanism: str = "choice-rounds"
    multiples: str = "together"
    born_from: dt.date | None = Field(default=None, description="age window: earliest date of birth accepted")
    born_to: dt.date | None = Field(default=None, description="age window: latest date of birth accepted")
    age_on: dt.date | None = Field(default=None, description="age window: the day ages in months count on")
    min_age_months: int | None = Field(default=None, description="age window: youngest age in whole months")
    max_age_months: int | None = Field(default=None, description="age window: oldest age in whole months")


class SchoolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: str = Field(max_length=64)
    capacity: int
    kind: str = Field(default="private", description="private (drawn by choice) or public (placement)")
    program: str = Field(default="", max_length=32)
    districts: list[str] = Field(default_factory=list, max_length=50)


class SchoolsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schools: list[SchoolIn] = Field(max_length=5000)


class FallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    district: str = Field(max_length=64)
    schools: list[str] = Field(max_length=200)


class ApplicantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    id_number: str = Field(max_length=18)
    birth_date: str = Field(description="YYYY-MM-DD")
    district: str = Field(max_length=64)
    residence_tier: int = 1
    catchment: str = Field(default="", max_length=80)
    group_id: str = Field(default="", max_length=32)
    choices: list[str] = Field(default_factory=list, max_length=service.MAX_CHOICES + 1)
    priorities: dict[str, int] = Field(default_factory=dict, max_length=50,
                                       description="priority tier (0–9, lower first) by private school id")


class ChoicesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    choices: list[str] = Field(max_length=service.MAX_CHOICES + 1)


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[str] = Field(default_factory=list, max_length=20,
                               description="public randomness named after the freeze (draw, place)")
    mechanism: str = Field(default="choice-rounds",
                           description="for freeze_placement: choice-rounds or deferred-acceptance")


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(max_length=20)
    reason: str = Field(max_length=4000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: str = Field(description="upheld or rejected")
    note: str = Field(default="", max_length=4000)


class LookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(max_length=20)
    birth_date: str = Field(max_length=10, description="YYYY-MM-DD")


def settings_of(request: Request) -> Any:
    return request.app.state.settings


@router.get("/campaigns")
def list_campaigns(conn: Conn, user: User) -> list[dict[str, Any]]:
    return [asdict(c) for c in queries.list_campaigns(conn)]


@router.post("/campaigns", status_code=201, responses=CONFLICT)
def create_campaign(conn: Conn, user: User, body: CampaignCreate) -> dict[str, Any]:
    service.create_campaign(conn, principal=user, spec=service.CampaignSpec(**body.model_dump()))
    return asdict(queries.campaign(conn, code=body.code))


@router.get("/campaigns/{code}")
def get_campaign(conn: Conn, user: User, code: str) -> dict[str, Any]:
    return asdict(queries.campaign(conn, code=code))


@router.post("/campaigns/{code}/schools", status_code=201, responses=CONFLICT)
def add_schools(conn: Conn, user: User, code: str, body: SchoolsIn) -> dict[str, Any]:
    specs = [service.SchoolSpec(unit=s.unit, capacity=s.capacity, kind=s.kind, program=s.program,
                                districts=tuple(s.districts)) for s in body.schools]
    return {"school_ids": service.add_schools(conn, principal=user, campaign=code, schools=specs)}


@router.put("/campaigns/{code}/fallback", responses=CONFLICT)
def set_fallback(conn: Conn, user: User, code: str, body: FallbackIn) -> dict[str, Any]:
    """A district's fallback order of public schools for placement (统筹)."""
    schools = service.set_fallback(conn, principal=user, campaign=code, district=body.district,
                                   schools=body.schools)
    return {"district": body.district, "schools": schools}


@router.post("/campaigns/{code}/applicants", status_code=201, responses=CONFLICT)
def register_applicant(request: Request, conn: Conn, user: User, code: str,
                       body: ApplicantIn) -> dict[str, Any]:
    """Register an applicant (and their ranked choices); returns the application number."""
    birth = parse_date(body.birth_date, "birth_date") or clock.today()
    person = service.ApplicantSpec(name=body.name, id_number=body.id_number, birth_date=birth,
                                   district=body.district, residence_tier=body.residence_tier,
                                   catchment=body.catchment, group_id=body.group_id,
                                   choices=tuple(body.choices), priorities=tuple(body.priorities.items()))
    made = service.register_applicants(conn, principal=user, campaign=code, people=[person],
                                       secret_key=settings_of(request).secret_key)
    return asdict(made[0])


@dataclass(frozen=True)
class ApplicantsUpload:
    upload: Upload
    parsed: service.ApplicantsRead


def read_applicants_upload(upload: Annotated[Upload, Depends(read_upload)]) -> ApplicantsUpload:
    """The file's applicants, read in FastAPI's threadpool before the request's transaction begins."""
    return ApplicantsUpload(upload, service.read_applicants(upload.data))


@router.post("/campaigns/{code}/applicants/import", responses=CONFLICT, dependencies=[TAKES_FILES])
def import_applicants(request: Request, user: User, code: str,
                      file: Annotated[ApplicantsUpload, Depends(read_applicants_upload)],
                      conn: Conn) -> dict[str, Any]:
    """Register the applicants of a CSV file (multipart ``file`` or raw body; ``dry_run``): all rows or none.

    Columns: number, name, id_number, birth_date, district, residence_tier, catchment,
    group_id, choices (school ids separated by ``;``), priorities (``school:tier`` pairs separated by ``;``).
    Problems name the row and column; a date of birth outside the campaign's age window is refused.
    """
    upload = file.upload
    summary = service.import_applicants(conn, principal=user, campaign=code, data=upload.data,
                                        dry_run=upload.dry_run, secret_key=settings_of(request).secret_key,
                                        parsed=file.parsed)
    return asdict(summary)


@router.post("/campaigns/{code}/priorities/import", responses=CONFLICT, dependencies=[TAKES_FILES])
def import_priorities(user: User, code: str, upload: Annotated[Upload, Depends(read_upload)],
                      conn: Conn) -> dict[str, Any]:
    """Set the priority tiers of a CSV file (multipart ``file`` or raw body; ``dry_run``): all rows or none.

    Columns: number (application number), school_id (a private school of the campaign), tier (0 to 9,
    lower first; empty removes it). Only before the pool is frozen.
    """
    return asdict(priorities.import_priorities(conn, principal=user, campaign=code, data=upload.data,
                                               dry_run=upload.dry_run))


@router.get("/campaigns/{code}/applicants")
def staff_results(request: Request, conn: Conn, user: User, code: str,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                  limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 100) -> dict[str, Any]:
    """Applicants of the districts in your scope with their results; names and ID numbers unless a viewer."""
    found = queries.staff_results(conn, principal=user, code=code, secret_key=settings_of(request).secret_key,
                                  offset=offset, limit=limit)
    return asdict(found)


@router.put("/campaigns/{code}/applicants/{number}/choices", responses=CONFLICT)
def submit_choices(conn: Conn, user: User, code: str, number: str, body: ChoicesIn) -> dict[str, Any]:
    return {"choices": service.submit_choices(conn, principal=user, campaign=code, number=number,
                                              chosen=body.choices)}


@router.post("/campaigns/{code}/steps/{step}", responses=CONFLICT)
def step(request: Request, conn: Conn, user: User, code: str, step: Step, body: StepIn) -> dict[str, Any]:
    """Move the campaign on: open, freeze, draw, publish, freeze_placement, place, appeals, close.

    ``draw`` and ``place`` need ``sources``; ``freeze_placement`` takes a ``mechanism`` and
    publishes the placement pool's digest before ``place`` draws.
    """
    return asdict(service.take_step(conn, principal=user, campaign=code, step=step,
                                    home=settings_of(request).home, sources=body.sources,
                                    mechanism=body.mechanism))


@router.post("/campaigns/{code}/appeals", status_code=201, responses=CONFLICT)
def file_appeal(conn: Conn, user: User, code: str, body: AppealIn) -> dict[str, Any]:
    appeal_id = service.file_appeal(conn, principal=user, campaign=code, number=body.number,
                                    reason=body.reason)
    return {"id": appeal_id}


@router.post("/appeals/{appeal_id}/decision", responses=CONFLICT)
def decide_appeal(conn: Conn, user: User, appeal_id: Annotated[int, Path(ge=1, le=2**31)],
                  body: DecisionIn) -> dict[str, Any]:
    return asdict(service.decide_appeal(conn, principal=user, appeal_id=appeal_id, decision=body.decision,
                                        note=body.note))


# ---------------------------------------------------------------- public


@router.get("/public/{code}")
def public_results(conn: Conn, user: MaybeUser, code: str,
                   offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                   limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 200) -> dict[str, Any]:
    """No login: digests, seed sources, seed, cutoffs and the masked list once results are published."""
    return {**asdict(queries.campaign(conn, code=code)),
            "results": asdict(queries.masked_results(conn, code=code, offset=offset, limit=limit))}


@router.get("/public/{code}/proof/{stage}/{name:path}", response_class=FileResponse)
def proof_file(conn: Conn, user: MaybeUser, code: str, stage: Literal["lottery", "placement"],
               name: str) -> Response:
    """A file of a published proof bundle: results.csv, cutoffs.csv, manifest.json, inputs/…"""
    path = queries.bundle_file(conn, code=code, stage=stage, name=name)
    media = {".json": "application/json", ".csv": "text/csv"}.get(path.suffix, "text/plain")
    return FileResponse(path, media_type=f"{media}; charset=utf-8", filename=path.name)


@router.post("/public/{code}/lookup", responses=THROTTLED)
def lookup(request: Request, conn: Conn, user: MaybeUser, code: str, body: LookupIn) -> Any:
    """No login: a family's application by its number and the child's date of birth (throttled)."""
    settings = settings_of(request)
    found = service.family_lookup(conn, code=code, number=body.number, birth_date=body.birth_date,
                                  secret_key=settings.secret_key, max_failures=settings.login_max_failures,
                                  window_minutes=settings.login_window_minutes,
                                  per_address=lookup_limit(request))
    return respond(request, found) if isinstance(found, JiaoweiError) else asdict(found)

