"""DHIS2's organisation unit routes: ``/api/organisationUnits`` (list and one),
``/api/organisationUnitLevels``, ``/api/organisationUnitGroups`` (list and one) and
``/api/organisationUnitGroupSets``.

Thin: each list is built by one function of :mod:`jiaowei.dhis2.units_export` (only what the caller
may view) and answered with DHIS2's list parameters (:mod:`jiaowei.dhis2.query`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from jiaowei.dhis2 import units_export
from jiaowei.dhis2.api import NOT_ACCEPTABLE, require_json
from jiaowei.dhis2.protocol import asked_url
from jiaowei.dhis2.query import answer_list, answer_one, read_parameters
from jiaowei.web.deps import Conn, User

router = APIRouter(prefix="/api", tags=["dhis2"], responses=NOT_ACCEPTABLE)  # JSON only (require_json)

OWN = ("level", "query")  # the organisation unit list's own parameters, beside DHIS2's list parameters


def _listed(request: Request, objects: list[dict[str, Any]], key: str) -> dict[str, Any]:
    require_json(request)  # the protocol's rules: JSON only, pager links repeat the path asked for
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in OWN]
    return answer_list(objects, read_parameters(query), key=key, url=asked_url(request))


@router.get("/organisationUnits")
def list_organisation_units(
    conn: Conn,
    user: User,
    request: Request,
    level: Annotated[
        int | None, Query(ge=1, le=100, description="only units at this level (1: the top)")
    ] = None,
    query: Annotated[str | None, Query(max_length=200, description="part of the name, code or id")] = None,
) -> dict[str, Any]:
    """The units the caller may view, parents first, in DHIS2's shape (a pager unless ``paging=false``)."""
    objects = units_export.organisation_units(conn, principal=user)
    if level is not None:
        objects = [o for o in objects if o["level"] == level]
    if query:
        needle = query.casefold()
        objects = [
            o
            for o in objects
            if any(needle in str(o.get(k, "")).casefold() for k in ("name", "code", "id"))
            or any(needle in t["value"].casefold() for t in o["translations"])
        ]
    return _listed(request, objects, "organisationUnits")


@router.get("/organisationUnits/{id}")
def get_organisation_unit(conn: Conn, user: User, request: Request, id: str) -> Any:
    """One unit by uid or code (not found when the caller may not view it)."""
    found = units_export.organisation_unit(conn, principal=user, key=id)
    return answer_one(found, request.query_params.multi_items())


@router.get("/organisationUnitLevels")
def list_organisation_unit_levels(conn: Conn, user: User, request: Request) -> dict[str, Any]:
    """The organisation unit levels, from the top."""
    return _listed(
        request, units_export.organisation_unit_levels(conn, principal=user), "organisationUnitLevels"
    )


@router.get("/organisationUnitGroups")
def list_organisation_unit_groups(conn: Conn, user: User, request: Request) -> dict[str, Any]:
    """Every group, with the members the caller may view."""
    return _listed(
        request, units_export.organisation_unit_groups(conn, principal=user), "organisationUnitGroups"
    )


@router.get("/organisationUnitGroups/{id}")
def get_organisation_unit_group(conn: Conn, user: User, request: Request, id: str) -> Any:
    """One group by uid or code, with the members the caller may view."""
    found = units_export.organisation_unit_group(conn, principal=user, key=id)
    return answer_one(found, request.query_params.multi_items())


@router.get("/organisationUnitGroupSets")
def list_organisation_unit_group_sets(conn: Conn, user: User, request: Request) -> dict[str, Any]:
    """Every group set with its groups."""
    objects = units_export.organisation_unit_group_sets(conn, principal=user)
    return _listed(request, objects, "organisationUnitGroupSets")
