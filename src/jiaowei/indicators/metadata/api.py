"""JSON routes for metadata in DHIS2's shapes: /api/dataElements, /api/categories, …, /api/metadata.

Lists answer ``{"pager": {...}, "<kind>": [...]}``; writes take DHIS2 JSON (one object, a list
under the kind's key, or a whole bundle) and answer DHIS2's import report. Reads need a login or
token; writes need the metadata.write action (administrators and commission staff).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from sqlalchemy import Connection

from jiaowei.auth.model import Principal
from jiaowei.domains import N_
from jiaowei.errors import M_, NotFound, Problem, ValidationError
from jiaowei.indicators.metadata import queries
from jiaowei.indicators.metadata import service as metadata
from jiaowei.web.body import TAKES_FILES
from jiaowei.web.deps import Conn, User

router = APIRouter(prefix="/api", tags=["metadata"])

API_KINDS = ("dataElements", "categories", "categoryCombos", "dataSets", "indicators", "validationRules")
Responses = dict[int | str, dict[str, Any]]
CONFLICT: Responses = {409: {"description": "A change that saved data or other metadata forbids"}}
Document = Annotated[dict[str, Any], Body(description="DHIS2 metadata JSON")]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
PageSize = Annotated[int, Query(ge=1, le=500)]
Fields = Annotated[
    str | None, Query(max_length=2000, description="accepted and ignored: every field is sent")
]


@router.get("/categoryCombos/preview")
def preview_combo(
    conn: Conn,
    user: User,
    categories: Annotated[str, Query(max_length=2000, description="category codes, comma-separated")] = "",
) -> dict[str, Any]:
    """How many option combos a combo of these categories would have, before it is saved."""
    codes = [c.strip() for c in categories.split(",") if c.strip()]
    preview = queries.preview_combo(conn, principal=user, categories=codes)
    return {"categories": preview.categories, "combinations": preview.combinations, "limit": preview.limit}


@router.get("/metadata")
def export_metadata(
    conn: Conn,
    user: User,
    kinds: Annotated[
        str | None, Query(max_length=500, description="kinds, comma-separated; default all")
    ] = None,
) -> dict[str, Any]:
    """The metadata as one DHIS2 bundle, which POST /api/metadata imports."""
    chosen = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
    return queries.export_bundle(conn, kinds=chosen, principal=user)


@router.post("/metadata", responses=CONFLICT, dependencies=[TAKES_FILES])
def import_metadata(
    conn: Conn,
    user: User,
    document: Document,
    dryRun: bool = False,  # noqa: N803 - DHIS2's parameter name
    importStrategy: Annotated[str, Query(max_length=40)] = "CREATE_AND_UPDATE",  # noqa: N803
) -> dict[str, Any]:
    """Import a DHIS2 metadata bundle: everything or nothing; ``dryRun=true`` writes nothing."""
    if importStrategy != "CREATE_AND_UPDATE":
        raise ValidationError(
            N_("Unsupported import strategy."),
            [
                Problem(
                    N_("unsupported"), field="importStrategy", value=importStrategy,
                    expected="CREATE_AND_UPDATE"
                )
            ],
        )
    return metadata.import_bundle(conn, principal=user, bundle=document, dry_run=dryRun)


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
        conn: Conn,
        user: User,
        page: PageNumber = 1,
        pageSize: PageSize = 50,  # noqa: N803
        fields: Fields = None,
    ) -> dict[str, Any]:
        objects = queries.export_objects(conn, kind=kind, principal=user)
        total = len(objects)
        start = (page - 1) * pageSize
        pager = {
            "page": page,
            "pageCount": max(1, math.ceil(total / pageSize)),
            "total": total,
            "pageSize": pageSize,
        }
        return {"pager": pager, kind: objects[start : start + pageSize]}

    def create_objects(conn: Conn, user: User, document: Document) -> dict[str, Any]:
        return metadata.import_bundle(conn, principal=user, bundle=_one_kind(kind, document))

    def get_object(conn: Conn, user: User, code: str, fields: Fields = None) -> dict[str, Any]:
        return _found(conn, user, kind, code)

    def delete_object(conn: Conn, user: User, code: str) -> dict[str, Any]:
        return _delete(conn, user, kind, code)

    singular = kind[:-1]
    router.add_api_route(
        f"/{kind}", list_objects, methods=["GET"], name=f"list_{kind}", summary=f"List {kind} (DHIS2 pager)"
    )
    router.add_api_route(
        f"/{kind}",
        create_objects,
        methods=["POST"],
        name=f"create_{kind}",
        summary=f'Create or update {kind}: one object or {{"{kind}": [...]}}',
        responses=CONFLICT,
    )
    router.add_api_route(
        f"/{kind}/{{code}}",
        get_object,
        methods=["GET"],
        name=f"get_{singular}",
        summary=f"One {singular}, by code or id",
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
