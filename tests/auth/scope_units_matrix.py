"""Lines of the scope matrix (tests/auth/test_scope_matrix.py) for issue 13's new DHIS2 routes:
the organisation unit routes of jiaowei.dhis2.units_api. A D1 user asks about D2, S2 and SH by code,
in the path, in ``query``, in ``filter`` and with every field; nothing of them may show."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

GROUPS = ("G-MIX", "G-OUT", "G-IN")


def _unit_lists(call: Any, out: str) -> list[Any]:
    params = [
        {},
        {"query": out},
        {"query": "Hidden"},
        {"query": "禁"},
        {"level": "1"},
        {"level": "2"},
        {"fields": "*", "paging": "false"},
        {"filter": f"code:eq:{out}", "fields": ":all"},
        {"filter": "name:ilike:hidden", "fields": "id,code,name,translations,parent[id]"},
        {"fields": "id,path,children", "pageSize": "1", "page": "2"},
    ]
    return [call("GET", "/api/organisationUnits", params=p) for p in params]


def matrix(call: Any) -> dict[tuple[str, str], Callable[[str], list[Any]]]:
    """(method, path) -> the calls a D1 user makes with the out-of-district code out."""
    return {
        ("GET", "/api/organisationUnits"): lambda out: _unit_lists(call, out),
        ("GET", "/api/organisationUnits/{id}"): lambda out: [
            call("GET", f"/api/organisationUnits/{out}", params=p, status=404) for p in ({}, {"fields": "*"})
        ],
        ("GET", "/api/organisationUnitLevels"): lambda out: [call("GET", "/api/organisationUnitLevels")],
        ("GET", "/api/organisationUnitGroups"): lambda out: [
            call("GET", "/api/organisationUnitGroups", params=p)
            for p in (
                {},
                {"fields": "*", "paging": "false"},
                {"fields": "id,organisationUnits[id,code,name]"},
            )
        ],
        ("GET", "/api/organisationUnitGroups/{id}"): lambda out: [
            call("GET", f"/api/organisationUnitGroups/{group}", params=p)
            for group in GROUPS
            for p in ({}, {"fields": "*"})
        ],
        ("GET", "/api/organisationUnitGroupSets"): lambda out: [
            call("GET", "/api/organisationUnitGroupSets", params={"fields": "*"})
        ],
    }
