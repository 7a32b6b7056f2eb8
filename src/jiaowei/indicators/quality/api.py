"""Data quality routes in DHIS2's shapes: validation rule analysis, one form's validation,
outlier detection and min–max bounds. Every answer carries plain messages in zh and en."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.indicators.quality import outliers, queries
from jiaowei.web.deps import Conn, User, language, parse_date

router = APIRouter(prefix="/api", tags=["quality"])

Code = Annotated[str, Field(min_length=1, max_length=64)]
TOO_MUCH: dict[int | str, dict[str, Any]] = {
    422: {"description": "Invalid input, or more than 5,000 unit × period pairs to validate"}
}


class ValidationRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ou: Code
    startDate: str = Field(max_length=10, description="YYYY-MM-DD")  # noqa: N815 - DHIS2's names
    endDate: str = Field(max_length=10, description="YYYY-MM-DD")  # noqa: N815
    vrg: str | None = Field(default=None, max_length=64, description="ignored (no rule groups yet)")
    ds: str | None = Field(default=None, max_length=64, description="only rules of this data set")
    notification: bool = False


def _shown(violation: queries.Violation, lang: str) -> dict[str, Any]:
    """DHIS2's validation result names plus jiaowei's own fields and messages."""
    en = lang == "en"
    return {
        "validationRuleId": violation.rule,
        "validationRuleDescription": violation.rule_name_en if en else violation.rule_name_zh,
        "organisationUnitId": violation.unit,
        "organisationUnitDisplayName": violation.unit_name_en if en else violation.unit_name_zh,
        "periodId": violation.period,
        "periodDisplayName": violation.period,
        "attributeOptionComboId": "default",
        "importance": violation.importance,
        "leftSideValue": violation.left_value,
        "operator": violation.operator,
        "rightSideValue": violation.right_value,
        "message": violation.message_en if en else violation.message_zh,
        **violation.as_dict(),
    }


def _dates(start: str, end: str) -> tuple[Any, Any]:
    first, last = parse_date(start, "startDate"), parse_date(end, "endDate")
    if first is None or last is None or first > last:
        raise ValidationError(
            N_("The dates do not make a range."),
            [
                Problem(
                    N_("startDate must be on or before endDate"),
                    field="startDate",
                    value=start,
                    expected=M_("a date on or before {end}", end=end),
                )
            ],
        )
    return first, last


@router.post("/dataAnalysis/validationRules", responses=TOO_MUCH)
def validation_analysis(
    request: Request, conn: Conn, user: User, body: ValidationRunIn
) -> list[dict[str, Any]]:
    """Run the validation rules over a unit's subtree and every stored period inside the dates."""
    start, end = _dates(body.startDate, body.endDate)
    periods = queries.stored_periods(conn, start=start, end=end, data_set=body.ds)
    found = queries.run_rules(
        conn, principal=user, units=[body.ou], periods=periods, children=True, data_set=body.ds
    )
    lang = language(request)
    return [_shown(v, lang) for v in found]


@router.get("/validation/dataSet/{ds}")
def validate_form(
    request: Request,
    conn: Conn,
    user: User,
    ds: str,
    pe: Annotated[str, Query(max_length=16)],
    ou: Annotated[str, Query(max_length=64)],
) -> dict[str, Any]:
    """One form's problems: the rules of the data set it breaks and its values outside bounds."""
    found = queries.check_form(conn, principal=user, data_set=ds, period=pe, unit=ou)
    lang = language(request)
    return {"validationRuleViolations": [_shown(v, lang) for v in found], "commentRequiredViolations": []}


@router.get("/outlierDetection")
def outlier_detection(
    conn: Conn,
    user: User,
    ou: Annotated[list[str], Query(max_length=50)],
    startDate: Annotated[str, Query(max_length=10)],  # noqa: N803
    endDate: Annotated[str, Query(max_length=10)],  # noqa: N803
    ds: Annotated[str | None, Query(max_length=64)] = None,
    de: Annotated[list[str] | None, Query(max_length=200)] = None,
    algorithm: Literal["Z_SCORE", "MOD_Z_SCORE", "MIN_MAX"] = "Z_SCORE",
    threshold: Annotated[float | None, Query(gt=0, le=1000)] = None,
    maxResults: Annotated[int, Query(ge=1, le=outliers.MAX_RESULTS)] = 500,  # noqa: N803
) -> dict[str, Any]:
    """Values far from the rest of their series, or outside their min–max bounds."""
    start, end = _dates(startDate, endDate)
    found = outliers.outliers(
        conn,
        principal=user,
        data_set=ds,
        elements=de,
        units=ou,
        children=True,
        start=start,
        end=end,
        algorithm=algorithm,
        threshold=threshold,
        max_results=maxResults,
    )
    used = threshold if threshold is not None else outliers.DEFAULT_THRESHOLDS[algorithm]
    return {
        "outlierValues": found,
        "metadata": {
            "algorithm": algorithm,
            "threshold": used,
            "maxResults": maxResults,
            "count": len(found),
            "startDate": start.isoformat(),
            "endDate": end.isoformat(),
            "orderBy": "score",
        },
    }


class Ref(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Code


class MinMaxIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Ref
    dataElement: Ref  # noqa: N815
    optionCombo: Ref | None = None  # noqa: N815
    min: float = Field(ge=-1e15, le=1e15)
    max: float = Field(ge=-1e15, le=1e15)


class MinMaxKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Ref
    dataElement: Ref  # noqa: N815
    optionCombo: Ref | None = None  # noqa: N815


class GenerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataSet: Code  # noqa: N815
    orgUnit: Code  # noqa: N815
    factor: float = Field(default=2.0, gt=0, le=100)


@router.get("/minMaxDataElements")
def list_min_max(
    conn: Conn,
    user: User,
    ou: Annotated[list[str], Query(max_length=50)],
    ds: Annotated[str | None, Query(max_length=64)] = None,
    de: Annotated[list[str] | None, Query(max_length=200)] = None,
    children: bool = False,
) -> dict[str, Any]:
    """Stored min–max bounds at units you may see."""
    found = outliers.min_max_of(conn, principal=user, units=ou, children=children, data_set=ds, elements=de)
    return {"minMaxDataElements": found}


@router.post("/minMaxDataElements", status_code=201)
def save_min_max(conn: Conn, user: User, body: MinMaxIn) -> dict[str, Any]:
    """Set a unit's bounds for one cell by hand."""
    return outliers.set_min_max(
        conn,
        principal=user,
        unit=body.source.code,
        element=body.dataElement.code,
        coc=body.optionCombo.code if body.optionCombo else None,
        min_value=body.min,
        max_value=body.max,
    )


@router.delete("/minMaxDataElements")
def delete_min_max(conn: Conn, user: User, body: MinMaxKey) -> dict[str, Any]:
    """Remove a unit's bounds for one cell."""
    coc = body.optionCombo.code if body.optionCombo else None
    outliers.delete_min_max(
        conn, principal=user, unit=body.source.code, element=body.dataElement.code, coc=coc
    )
    return {"deleted": True}


@router.post("/minMaxValues/generate")
def generate_min_max(conn: Conn, user: User, body: GenerateIn) -> dict[str, Any]:
    """Generate bounds (mean ± factor·sd) from history; bounds set by hand are kept."""
    return outliers.generate_min_max(
        conn, principal=user, data_set=body.dataSet, units=[body.orgUnit], children=True, factor=body.factor
    )
