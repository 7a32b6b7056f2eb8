"""Lines of the scope matrix (tests/auth/test_scope_matrix.py) for issue 13's new DHIS2 routes:
the client routes of jiaowei.dhis2.api. A D1 user asks about D2, S2 and SH by code, in the path,
in ``filter`` and with every field (``*``, nested); nothing of them may show (``/api/me`` lists
only D1 among the user's organisation units)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _lists(call: Any, path: str, out: str) -> list[Any]:
    params = [
        {},
        {"fields": "*", "paging": "false"},
        {"fields": ":all,categoryOptions[*],categoryCombo[*]", "filter": f"code:!eq:{out}"},
        {"filter": f"identifiable:token:{out}", "rootJunction": "OR", "order": "code:desc"},
        {"pageSize": "1", "page": "2", "fields": ":identifiable"},
    ]
    return [call("GET", path, params=p) for p in params]


def _me(call: Any, out: str) -> list[Any]:
    return [
        call("GET", "/api/me"),
        call("GET", "/api/40/me.json"),
        call("GET", "/api/me", params={"fields": "*"}),
        call("GET", "/api/me", params={"fields": "id,organisationUnits[id,code,name,displayName]"}),
    ]


def matrix(call: Any) -> dict[tuple[str, str], Callable[[str], list[Any]]]:
    """(method, path) -> the calls a D1 user makes with the out-of-district code out."""
    return {
        ("GET", "/api/system/info"): lambda out: [call("GET", "/api/system/info"),
                                                  call("GET", "/api/41/system/info.json")],
        ("GET", "/api/me"): lambda out: _me(call, out),
        ("GET", "/api/categoryOptionCombos"): lambda out: _lists(call, "/api/categoryOptionCombos", out),
        ("GET", "/api/categoryOptionCombos/{key}"): lambda out: [
            call("GET", f"/api/categoryOptionCombos/{out}", params={"fields": "*"}, status=404),
            call("GET", "/api/categoryOptionCombos/default", params={"fields": "*"}),
        ],
        ("GET", "/api/categoryOptions"): lambda out: _lists(call, "/api/categoryOptions", out),
        ("GET", "/api/categoryOptions/{key}"): lambda out: [
            call("GET", f"/api/categoryOptions/{out}", status=404),
            call("GET", "/api/categoryOptions/M", params={"fields": "*"}),
        ],
    }
