"""Lines of the scope matrix (tests/auth/test_scope_matrix.py) for issue 13's dataValueSets
parameters: id schemes, import strategies, ``completeDate``, ``lastUpdated``/``lastUpdatedDuration``,
``includeDeleted`` and the Accept header. They replace the matrix's own lines for the two routes,
so those are repeated here first (tests/auth/test_scope_matrix.py ``dv_imports``/``dv_reads``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

URL = "/api/dataValueSets"


def _json(unit: str, **top: str) -> bytes:
    item = {"dataElement": "TEACHERS", "period": "2020", "orgUnit": unit, "value": "9"}
    return json.dumps({**top, "dataValues": [item]}).encode()


def _csv(unit: str) -> bytes:
    return f"dataelement,period,orgunit,catoptcombo,attroptcombo,value\nTEACHERS,2020,{unit},,,9\n".encode()


def _imports(call: Any, out: str) -> list[Any]:
    form = {"dataSet": "SCHOOL_Y", "period": "2020", "orgUnit": out, "completeDate": "2021-01-10"}
    return [
        call("POST", URL, content=_json(out), writes_registry=True),
        call("POST", URL, params={"atomicMode": "NONE"}, content=_json(out), writes_registry=False),
        call("POST", URL, params={"importStrategy": "DELETE"}, content=_json(out), writes_registry=True),
        call("POST", URL, files={"file": ("v.csv", _csv(out), "text/csv")}, writes_registry=True),
        # issue 13: each strategy, a unit named by its name, a form registered complete
        *[
            call("POST", URL, params={"importStrategy": s}, content=_json(out), writes_registry=True)
            for s in ("CREATE", "UPDATE")
        ],
        call(
            "POST",
            URL,
            params={"orgUnitIdScheme": "NAME"},
            content=_json(f"Unit {out}"),
            writes_registry=True,
        ),
        call("POST", URL, content=_json(out, **form), writes_registry=True),
        call("POST", URL, params={"atomicMode": "NONE"}, content=_json("S1", **form), writes_registry=False),
    ]


def _reads(call: Any, out: str) -> list[Any]:
    extras: list[dict[str, str]] = [
        {"period": "2020"},
        {"period": "2020", "children": "true"},
        {"period": "2020", "dataSet": "SCHOOL_Y", "format": "dhis2-csv"},
        {"period": "2020", "format": "adx", "children": "true"},
        # issue 13: changed since, deleted values, names and uids out
        {"lastUpdatedDuration": "3650d", "children": "true"},
        {"lastUpdated": "2000-01-01", "includeDeleted": "true", "children": "true", "idScheme": "NAME"},
        {"period": "2020", "idScheme": "UID", "includeDeleted": "true"},
    ]
    return [call("GET", URL, params={"orgUnit": out, **extra}) for extra in extras]


def matrix(call: Any) -> dict[tuple[str, str], Callable[[str], list[Any]]]:
    """(method, path) -> the calls a D1 user makes with the out-of-district code out."""
    return {
        ("POST", URL): lambda out: _imports(call, out),
        ("GET", URL): lambda out: _reads(call, out),
    }
