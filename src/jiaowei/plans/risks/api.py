"""The risk register over JSON, under ``/api/plans/risks`` (the shapes are in docs/api.md).

- ``GET /api/plans/risks``: the register (filters as query parameters), its 5×5 matrix and the
  reviews due on ``as_of``; ``POST``: register a risk.
- ``GET|PATCH /api/plans/risks/{uid}``: one risk with its reviews and linked indicators; change it.
- ``POST /api/plans/risks/{uid}/close`` and ``/reopen``; ``POST /api/plans/risks/{uid}/reviews``:
  a review as JSON, or as a multipart form with evidence files (field ``evidence``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from jiaowei.domains import N_
from jiaowei.errors import Problem, ValidationError
from jiaowei.plans import clock
from jiaowei.plans.risks import queries, service
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import AsOf, Conn, User

router = APIRouter(prefix="/api/plans/risks", tags=["plans"])

Category = Literal[
    "safety_stability", "ideology", "public_opinion", "public_health", "finance", "campus_safety", "other"
]
Cadence = Literal["monthly", "quarterly", "half_yearly", "yearly"]
Rating = Annotated[int, Field(ge=1, le=5)]
Title = Annotated[str, Field(min_length=1, max_length=230)]
LongText = Annotated[str, Field(max_length=5000)]
Owner = Annotated[str, Field(max_length=100)]
UnitCode = Annotated[str, Field(min_length=1, max_length=64)]
Indicators = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=20)]
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"description": "The risk is closed (or open) already"}}


class RiskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: Category
    title: Title
    orgUnit: UnitCode  # noqa: N815
    likelihood: Rating
    impact: Rating
    cadence: Cadence = "quarterly"
    description: LongText = ""
    owner: Owner = ""
    mitigation: LongText = ""
    indicators: Indicators = Field(default_factory=list)


class RiskPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: Category | None = None
    title: Title | None = None
    orgUnit: UnitCode | None = None  # noqa: N815
    likelihood: Rating | None = None
    impact: Rating | None = None
    cadence: Cadence | None = None
    description: LongText | None = None
    owner: Owner | None = None
    mitigation: LongText | None = None
    indicators: Indicators | None = None


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: LongText = ""


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    likelihood: Rating
    impact: Rating
    note: Annotated[str, Field(min_length=1, max_length=5000)]


def _day(as_of: dt.date | None) -> dt.date:
    return as_of or clock.today()


@router.get("")
def list_risks(
    conn: Conn,
    user: User,
    as_of: AsOf,
    category: Annotated[Category | None, Query(description="Only this category")] = None,
    ou: Annotated[
        str | None, Query(max_length=64, description="Unit code: its risks and those below it")
    ] = None,
    level: Annotated[Literal["low", "medium", "high", "very_high"] | None, Query()] = None,
    state: Annotated[
        Literal["open", "closed", "all"], Query(description="Open (default), closed or all")
    ] = "open",
    likelihood: Annotated[int | None, Query(ge=1, le=5)] = None,
    impact: Annotated[int | None, Query(ge=1, le=5)] = None,
    due: Annotated[
        bool, Query(description="Only risks whose review is overdue or due within 14 days")
    ] = False,
) -> dict[str, Any]:
    """The register within your view scope, highest score first; the matrix counts per likelihood × impact."""
    filters = queries.Filters(category, ou, level, None if state == "all" else state, likelihood, impact, due)
    found = queries.register(conn, principal=user, today=_day(as_of), filters=filters)
    return {"asOf": _day(as_of).isoformat(), **found.as_dict()}


@router.post("", status_code=201)
def create_risk(conn: Conn, user: User, body: RiskIn, as_of: AsOf) -> dict[str, Any]:
    """Register a risk (``plans.manage`` on its unit); its first review falls one cadence later."""
    day = _day(as_of)
    uid = service.create_risk(
        conn,
        principal=user,
        category=body.category,
        title=body.title,
        unit=body.orgUnit,
        likelihood=body.likelihood,
        impact=body.impact,
        cadence=body.cadence,
        today=day,
        description=body.description,
        owner=body.owner,
        mitigation=body.mitigation,
        indicators=body.indicators,
    )
    return queries.risk_detail(conn, principal=user, uid=uid, today=day).as_dict()


@router.get("/{uid}")
def get_risk(conn: Conn, user: User, uid: str, as_of: AsOf) -> dict[str, Any]:
    """One risk with its linked indicators' latest values and its reviews, newest first."""
    return queries.risk_detail(conn, principal=user, uid=uid, today=_day(as_of)).as_dict()


@router.patch("/{uid}")
def change_risk(conn: Conn, user: User, uid: str, body: RiskPatch, as_of: AsOf) -> dict[str, Any]:
    """Change the fields given; moving the risk to another unit needs ``plans.manage`` on both."""
    changes = body.model_dump(exclude_unset=True)
    if "orgUnit" in changes:
        changes["unit"] = changes.pop("orgUnit")
    nulls = [name for name, value in changes.items() if value is None]
    if nulls:
        raise ValidationError(
            N_("A field may be left out, not set to null."),
            [Problem("null", field=name, expected=N_("a value")) for name in nulls],
        )
    service.update_risk(conn, principal=user, uid=uid, today=_day(as_of), changes=changes)
    return queries.risk_detail(conn, principal=user, uid=uid, today=_day(as_of)).as_dict()


@router.post("/{uid}/close", responses=CONFLICT)
def close_risk(conn: Conn, user: User, uid: str, body: CloseIn, as_of: AsOf) -> dict[str, Any]:
    """Close the risk with a note; it leaves the matrix and the reviews due."""
    service.close_risk(conn, principal=user, uid=uid, today=_day(as_of), note=body.note)
    return queries.risk_detail(conn, principal=user, uid=uid, today=_day(as_of)).as_dict()


@router.post("/{uid}/reopen", responses=CONFLICT)
def reopen_risk(conn: Conn, user: User, uid: str, as_of: AsOf) -> dict[str, Any]:
    """Open a closed risk again."""
    service.reopen_risk(conn, principal=user, uid=uid, today=_day(as_of))
    return queries.risk_detail(conn, principal=user, uid=uid, today=_day(as_of)).as_dict()


@dataclass
class ReviewUpload:
    review: ReviewIn
    evidence: list[tuple[str, bytes]]


async def read_review(request: Request) -> ReviewUpload:
    """A review as JSON, or as a multipart form (likelihood, impact, note, evidence files)."""
    files: list[tuple[str, bytes]] = []
    try:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form()
            fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
            for upload in form.getlist("evidence"):
                if not isinstance(upload, str) and upload.filename:
                    files.append((upload.filename, await upload.read()))
            return ReviewUpload(ReviewIn.model_validate(fields, strict=False), files)
        return ReviewUpload(ReviewIn.model_validate(json.loads(await request.body() or b"null")), files)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValidationError(N_("The body is not JSON."), [Problem(N_("not JSON"), field="body")]) from None
    except PydanticError as error:
        raise ValidationError(
            N_("The review is not valid."),
            [
                Problem(str(e["msg"]), field=".".join(str(p) for p in e["loc"]) or "body")
                for e in error.errors()
            ],
        ) from None


_REVIEW_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ReviewIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["likelihood", "impact", "note"],
                    "properties": {
                        "likelihood": {"type": "integer", "minimum": 1, "maximum": 5},
                        "impact": {"type": "integer", "minimum": 1, "maximum": 5},
                        "note": {"type": "string", "maxLength": 5000},
                        "evidence": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            },
        },
    }
}


@router.post(
    "/{uid}/reviews",
    status_code=201,
    responses=CONFLICT,
    openapi_extra=_REVIEW_BODY,
    dependencies=[TAKES_FILES],
)
def review_risk(
    user: User, uid: str, body: Annotated[ReviewUpload, Depends(read_review)], conn: Conn, as_of: AsOf
) -> dict[str, Any]:
    """Record a review (``plans.report`` on its unit): the new likelihood and impact, a note, evidence."""
    day = _day(as_of)
    review = service.record_review(
        conn,
        principal=user,
        uid=uid,
        likelihood=body.review.likelihood,
        impact=body.review.impact,
        note=body.review.note,
        today=day,
        evidence=body.evidence,
    )
    detail = queries.risk_detail(conn, principal=user, uid=uid, today=day)
    return {"review": next(r.as_dict() for r in detail.reviews if r.uid == review), "risk": detail.as_dict()}
