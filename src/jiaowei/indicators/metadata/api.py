"""JSON routes for metadata in DHIS2's shapes: /api/dataElements, /api/categories, …, /api/metadata.

Lists answer ``{"pager": {...}, "<kind>": [...]}``; writes take DHIS2 JSON (one object, a list
under the kind's key, or a whole bundle) and answer DHIS2's import report. Reads need a login or
token; writes need the metadata.write action (administrators and commission staff).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import Connection

from jiaowei.auth.model import Principal
from jiaowei.dhis2.api import (
    NOT_ACCEPTABLE,
    FieldsParam,
    FilterParam,
    JunctionParam,
    OrderParam,
    PagingParam,
    dhis2_list,
    require_json,
)
from jiaowei.dhis2.query import answer_one
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, Problem, ValidationError
from jiaowei.i18n import translate
from jiaowei.indicators.metadata import queries
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.metadata.bundle import BundleConflict, BundleRefused
from jiaowei.indicators.metadata.import_report import REFUSED_RESPONSE, refusal_report
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import Conn, User, asked_language
from jiaowei.web.errors import json_safe
from jiaowei.web.forms import in_language

router = APIRouter(prefix="/api", tags=["metadata"])

API_KINDS = ("dataElements", "categories", "categoryCombos", "dataSets", "indicators", "validationRules")
Responses = dict[int | str, dict[str, Any]]
CONFLICT: Responses = {409: {"description": "A change that saved data or other metadata forbids"}}
Document = Annotated[dict[str, Any], Body(description="DHIS2 metadata JSON")]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
PageSize = Annotated[int, Query(ge=1, le=500)]
Fields = FieldsParam  # DHIS2's fields (jiaowei.dhis2.query); without it, every field is sent


@router.get("/categoryCombos/preview")
def preview_combo(
    conn: Conn,
    user: User,
    categories: Annotated[list[Annotated[str, Field(max_length=2000)]], Query(max_length=100, description=(
        "category codes: the parameter repeated, one code each, or one comma-separated list"))] = [],  # noqa: B006
) -> dict[str, Any]:
    """How many option combos a combo of these categories would have, before it is saved.

    Repeated, each parameter is one code, commas included (``categories=A,B&categories=C`` names
    ``A,B`` and ``C``); a single parameter is split at its commas, as before."""
    given = categories if len(categories) > 1 else [c for text in categories for c in text.split(",")]
    codes = [c.strip() for c in given if c.strip()]
    preview = queries.preview_combo(conn, principal=user, categories=codes)
    return {"categories": preview.categories, "combinations": preview.combinations, "limit": preview.limit}


@router.get("/metadata")
def export_metadata(
    conn: Conn,
    user: User,
    kinds: Annotated[
        str | None, Query(max_length=500, description="kinds, comma-separated; default all")
    ] = None,
    idScheme: Annotated[  # noqa: N803 - DHIS2's parameter name
        str, Query(max_length=10, description="CODE (jiaowei's default) or UID (for DHIS2: expressions "
                   "with uids, option combos and the units of unit types listed)")
    ] = "CODE",
) -> dict[str, Any]:
    """The metadata as one DHIS2 bundle, which POST /api/metadata imports (and, with idScheme=UID, DHIS2).

    ``jiaowei:warnings`` names each object DHIS2 cannot take as jiaowei has it, and why.
    """
    chosen = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
    return queries.export_bundle(conn, kinds=chosen, principal=user, id_scheme=idScheme)


@router.post("/metadata", responses=REFUSED_RESPONSE, dependencies=[TAKES_FILES])
def import_metadata(
    request: Request,
    conn: Conn,
    user: User,
    document: Document,
    dryRun: bool = False,  # noqa: N803 - DHIS2's parameter name
    importStrategy: Annotated[str, Query(max_length=40)] = "CREATE_AND_UPDATE",  # noqa: N803
    atomicMode: Annotated[str, Query(max_length=10, description="ALL only: all or nothing")] = "ALL",  # noqa: N803
    skipUnsupported: Annotated[  # noqa: N803 - jiaowei's own parameter, named in DHIS2's manner
        bool, Query(description="false: a kind jiaowei does not import refuses the bundle")
    ] = True,
) -> Any:
    """Import a DHIS2 metadata bundle: everything or nothing; ``dryRun=true`` writes nothing.

    Kinds jiaowei does not import are skipped and reported (status WARNING); with
    ``skipUnsupported=false`` they refuse the bundle. A refused bundle answers DHIS2's 409
    ImportReport with jiaowei's problems beside it.
    """
    for name, value, supported in (("importStrategy", importStrategy, "CREATE_AND_UPDATE"),
                                   ("atomicMode", atomicMode, "ALL")):
        if value != supported:
            raise ValidationError(
                N_("Unsupported parameter value."),
                [Problem(N_("unsupported"), field=name, value=value, expected=supported)],
            )
    try:
        report = metadata.import_bundle(
            conn, principal=user, bundle=document, dry_run=dryRun, skip_unsupported=skipUnsupported
        )
    except (BundleRefused, BundleConflict) as error:
        return _refused(request, error, document)
    if asked := asked_language(request):  # the skipped kinds' warnings
        for reports in (t.get("objectReports", []) for t in report["typeReports"]):
            for warning in (e for r in reports for e in r["errorReports"]):
                warning["message"] = translate(asked, warning["message"])
    return report


def _refused(request: Request, error: BundleRefused | BundleConflict, document: Any) -> JSONResponse:
    """DHIS2's 409 ImportReport, in the language the request asks for."""
    asked = asked_language(request)
    shown = in_language(error, asked) if asked else error
    body = refusal_report(error, document, shown)
    if asked:
        body["title"] = translate(asked, error.title)
    return JSONResponse(json_safe(body), status_code=409)


def _one_kind(kind: str, document: dict[str, Any]) -> dict[str, Any]:
    """``{"<kind>": [...]}`` as it is, or one object as a list of one."""
    if kind in document and isinstance(document[kind], list):
        return {kind: document[kind]}
    return {kind: [document]}


def _found(conn: Connection, user: Principal, kind: str, key: str) -> dict[str, Any]:
    objects = queries.export_objects(conn, kind=kind, keys=[key], principal=user)
    if not objects:
        raise NotFound(M_("No {kind} with code or id {key!r}.", kind=kind[:-1], key=key))
    return objects[0]


def _delete(conn: Connection, user: Principal, kind: str, key: str) -> dict[str, Any]:
    metadata.delete_by_key(conn, principal=user, kind=kind, key=key)
    stats = {"created": 0, "updated": 0, "deleted": 1, "ignored": 0, "total": 1}
    return {"status": "OK", "stats": stats, "typeReports": [{"klass": kind, "stats": stats}]}


def _add_routes(kind: str) -> None:
    def list_objects(
        request: Request,
        conn: Conn,
        user: User,
        page: PageNumber = 1,
        pageSize: PageSize = 50,  # noqa: N803
        fields: Fields = None,
        filter: FilterParam = None,  # noqa: A002 - DHIS2's parameter name
        order: OrderParam = None,
        rootJunction: JunctionParam = None,  # noqa: N803
        paging: PagingParam = None,
    ) -> dict[str, Any]:
        return dhis2_list(request, queries.export_objects(conn, kind=kind, principal=user), key=kind)

    def create_objects(request: Request, conn: Conn, user: User, document: Document) -> Any:
        bundle = _one_kind(kind, document)
        try:
            return metadata.import_bundle(conn, principal=user, bundle=bundle)
        except (BundleRefused, BundleConflict) as error:
            return _refused(request, error, bundle)

    def get_object(
        request: Request, conn: Conn, user: User, code: str, fields: Fields = None
    ) -> dict[str, Any]:
        require_json(request)
        return answer_one(_found(conn, user, kind, code), request.query_params.multi_items())

    def delete_object(conn: Conn, user: User, code: str) -> dict[str, Any]:
        return _delete(conn, user, kind, code)

    singular = kind[:-1]
    router.add_api_route(
        f"/{kind}", list_objects, methods=["GET"], name=f"list_{kind}", summary=f"List {kind} (DHIS2 pager)",
        responses=NOT_ACCEPTABLE,
    )
    router.add_api_route(
        f"/{kind}",
        create_objects,
        methods=["POST"],
        name=f"create_{kind}",
        summary=f'Create or update {kind}: one object or {{"{kind}": [...]}}',
        responses=REFUSED_RESPONSE,
    )
    router.add_api_route(
        f"/{kind}/{{code}}",
        get_object,
        methods=["GET"],
        name=f"get_{singular}",
        summary=f"One {singular}, by code or id",
        responses=NOT_ACCEPTABLE,
    )
    router.add_api_route(
        f"/{kind}/{{code}}",
        delete_object,
        methods=["DELETE"],
        name=f"delete_{singular}",
        summary=f"Delete a {singular}; refused (409) while it is in use",
        responses=CONFLICT,
    )


for _kind in API_KINDS:
    _add_routes(_kind)
