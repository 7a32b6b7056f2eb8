"""DHIS2's system, user and category option routes: ``/api/system/info``, ``/api/me``,
``/api/categoryOptionCombos`` and ``/api/categoryOptions`` (with their ``/{id}``).

The lists take DHIS2's list parameters (``fields``, ``filter``, ``order``, paging), read by the
engine in :mod:`jiaowei.dhis2.query`; see :func:`dhis2_list`, which the other DHIS2 list routes use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from jiaowei import clock
from jiaowei.dhis2 import queries
from jiaowei.dhis2.protocol import asked_url
from jiaowei.dhis2.query import answer_list, answer_one, read_parameters
from jiaowei.errors import M_, JiaoweiError, NotFound
from jiaowei.web.deps import Conn, User

router = APIRouter(prefix="/api", tags=["dhis2"])

JSON_TYPES = ("application/json", "application/*", "*/*", "+json")
NOT_ACCEPTABLE: dict[int | str, dict[str, Any]] = {406: {
    "description": "The request asks for a media type other than JSON (a .xml or .csv suffix, or Accept)",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}}

FieldsParam = Annotated[str | None, Query(max_length=2000, description=(
    "DHIS2 fields: id,name · * or :all · :identifiable · :nameable · :simple · a[b,c] · !field"))]
FilterParam = Annotated[list[str] | None, Query(max_length=2000, description=(
    "DHIS2 filter property:operator:value, repeatable (eq, !eq, ne, like, ilike, in:[a,b], null, "
    "!null, gt, ge, lt, le, token, …); dotted properties reach nested objects"))]
OrderParam = Annotated[list[str] | None, Query(max_length=500, description="property:asc|desc|iasc|idesc, …")]
JunctionParam = Annotated[str | None, Query(alias="rootJunction", max_length=3,
                                            description="AND (default) or OR")]
PagingParam = Annotated[str | None, Query(max_length=5, description="false: every object, no pager")]
PageParam = Annotated[int | None, Query(ge=1, le=1_000_000)]
PageSizeParam = Annotated[int | None, Query(alias="pageSize", ge=1, le=100_000)]


class NotAcceptable(JiaoweiError):
    """The client accepts none of the media types the route answers in."""

    code = "not-acceptable"
    title = "Not acceptable"
    status = 406
    exit_code = 2


def require_json(request: Request) -> None:
    """406 unless the request accepts JSON (a ``.xml`` or ``.csv`` suffix on a metadata list)."""
    accept = request.headers.get("accept", "")
    if accept and not any(kind in accept for kind in JSON_TYPES):
        raise NotAcceptable(M_("This address answers only in JSON (application/json), not in {asked}.",
                               asked=accept[:80]))


def dhis2_list(request: Request, objects: Sequence[Mapping[str, Any]], *, key: str) -> dict[str, Any]:
    """A DHIS2 list answer for the request: its ``fields``, ``filter``, ``order`` and paging applied."""
    require_json(request)
    params = read_parameters(request.query_params.multi_items())
    return answer_list(objects, params, key=key, url=asked_url(request))


def dhis2_one(request: Request, objects: Sequence[Mapping[str, Any]], key: str, *, kind: str) -> Any:
    """One object of the list, by id or code, cut to the request's ``fields``."""
    require_json(request)
    found = next((o for o in objects if key in (o.get("id"), o.get("code"))), None)
    if found is None:
        raise NotFound(M_("No {kind} with code or id {key!r}.", kind=kind, key=key))
    return answer_one(found, request.query_params.multi_items())


@router.get("/system/info")
def system_info(request: Request, user: User, fields: FieldsParam = None) -> Any:
    """The server as DHIS2 describes itself (the version is the DHIS2 release whose API jiaowei speaks)."""
    settings = request.app.state.settings
    info = queries.system_info(time_zone=settings.time_zone, now=clock.now(),
                               context_path=str(request.base_url).rstrip("/"))
    return answer_one(info, request.query_params.multi_items())


@router.get("/me", tags=["accounts"])
def me(request: Request, conn: Conn, user: User, fields: FieldsParam = None) -> dict[str, Any]:
    """Who you are: role, scopes, and whether you must change your password; with DHIS2's fields
    (id, name, organisationUnits, authorities, userRoles, settings)."""
    return answer_one(queries.me(conn, principal=user, day=clock.today()), request.query_params.multi_items())


@router.get("/categoryOptionCombos", responses=NOT_ACCEPTABLE)
def list_option_combos(
    request: Request, conn: Conn, user: User, fields: FieldsParam = None, filter: FilterParam = None,  # noqa: A002
    order: OrderParam = None, rootJunction: JunctionParam = None, paging: PagingParam = None,  # noqa: N803
    page: PageParam = None, pageSize: PageSizeParam = None,  # noqa: N803
) -> dict[str, Any]:
    """Every category option combo (DHIS2 pager; ids are the combos' uids)."""
    return dhis2_list(request, queries.option_combos(conn, principal=user), key="categoryOptionCombos")


@router.get("/categoryOptionCombos/{key}", responses=NOT_ACCEPTABLE)
def get_option_combo(request: Request, conn: Conn, user: User, key: str, fields: FieldsParam = None) -> Any:
    """One category option combo, by id or code."""
    return dhis2_one(request, queries.option_combos(conn, principal=user), key, kind="categoryOptionCombo")


@router.get("/categoryOptions", responses=NOT_ACCEPTABLE)
def list_category_options(
    request: Request, conn: Conn, user: User, fields: FieldsParam = None, filter: FilterParam = None,  # noqa: A002
    order: OrderParam = None, rootJunction: JunctionParam = None, paging: PagingParam = None,  # noqa: N803
    page: PageParam = None, pageSize: PageSizeParam = None,  # noqa: N803
) -> dict[str, Any]:
    """Every category option, with its categories and option combos (DHIS2 pager)."""
    return dhis2_list(request, queries.category_options(conn, principal=user), key="categoryOptions")


@router.get("/categoryOptions/{key}", responses=NOT_ACCEPTABLE)
def get_category_option(request: Request, conn: Conn, user: User, key: str,
                        fields: FieldsParam = None) -> Any:
    """One category option, by id or code."""
    return dhis2_one(request, queries.category_options(conn, principal=user), key, kind="categoryOption")
