"""Every route of the app, called by a district user about units outside their district.

The user is ``district_staff`` with capture scope D1 of the small tree (SH → D1, D2 →
S1, S2), authenticated by an API token and by a login session. Each route is called
with path parameters and query parameters naming D2, S2 and SH, and writes carry
bodies naming them. No response may show anything of D2 or S2 (nor SH's own record),
and nothing outside D1 may change. SH, the commission above D1, may appear as D1's
parent: a district sees where it hangs in the tree, but not the commission's record.

:data:`MATRIX` says how to call each route; a route missing from it fails the test, so
a new route cannot ship without its line here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select
from starlette.routing import BaseRoute

from jiaowei import clock
from jiaowei.auth.model import SYSTEM
from jiaowei.indicators.store import data_values as dv
from jiaowei.registry import queries, service, store, transfer
from jiaowei.registry.model import UnitDetail
from tests.auth import scope_client_matrix, scope_reports_matrix, scope_units_matrix, scope_values_matrix
from tests.factories import indicator_metadata, login, make_unit, make_user, mentions, small_tree, token_for
from tests.plans.appraisals_matrix import appraisals_matrix, seed_appraisals
from tests.plans.evidence_matrix import evidence_matrix, seed_evidence
from tests.plans.rectification_matrix import rectification_matrix, seed_rectification
from tests.plans.risks_matrix import risks_matrix, seed_risks, workbook_matrix
from tests.plans.task_pages_matrix import task_pages_matrix
from tests.plans.tasks_matrix import seed_tasks, tasks_matrix

OUT = ("D2", "S2", "SH")
DATES = ("1999-06-01", "2000-01-01", "2020-01-01", "2100-01-01")
SECRETS = {  # what must never be shown to a D1 user: names and attributes outside D1
    "D2": {
        "name_zh": "禁区二号",
        "name_en": "Hidden District Two",
        "attributes": {"marker": "mark-d2-private"},
    },
    "S2": {
        "name_zh": "禁校二号",
        "name_en": "Hidden School Two",
        "attributes": {"marker": "mark-s2-private"},
    },
    "SH": {"attributes": {"marker": "mark-sh-private"}},
}
NEVER_SHOWN = (
    "禁区二号",
    "Hidden District Two",
    "mark-d2-private",
    "禁校二号",
    "Hidden School Two",
    "mark-s2-private",
    "mark-sh-private",
)
GROUPS = {  # unit groups spanning districts, and one the D1 user may keep
    "G-MIX": ["S1", "S2", "D2"],
    "G-OUT": ["S2", "D2", "SH"],
    "G-IN": ["S1"],
}
SKIPPED = {"/static", "/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"}


@dataclass
class Call:
    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    data: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    content: bytes | None = None
    writes_registry: bool = False
    status: int | None = None  # the status the call must get, when it must get one

    def text(self) -> str:
        return " ".join(
            str(x) for x in (self.url, self.params, self.json, self.data, self.content, self.files)
        )


def csv_file(*rows: dict[str, str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=transfer.COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode()


def naming(out: str) -> list[bytes]:
    """Import files that would touch ``out``: open a unit under it, rename it, close it, move S1 there."""
    return [
        csv_file(
            {"code": "NEW1", "name_zh": "新", "name_en": "New", "type": "primary_school", "parent": out}
        ),
        csv_file({"code": out, "name_zh": "改", "name_en": "Changed", "valid_from": "2020-01-01"}),
        csv_file({"code": out, "valid_to": "2020-01-01"}),
        csv_file({"code": "S1", "parent": out, "valid_from": "2020-01-01"}),
    ]


def unit_queries(out: str) -> list[dict[str, str]]:
    return [
        {"parent": out},
        {"descendants_of": out},
        {"q": out},
        {"q": "Hidden"},
        {"q": "禁"},
        *({"as_of": d} for d in DATES),
        *({"as_of": d, "descendants_of": out} for d in DATES),
    ]


def api_list(out: str) -> list[Call]:
    return [Call("GET", "/api/units", params=p) for p in unit_queries(out)]


def api_import(out: str) -> list[Call]:
    calls = []
    for body in naming(out):
        calls.append(
            Call(
                "POST", "/api/units/import", params={"filename": "u.csv"}, content=body, writes_registry=True
            )
        )
        calls.append(
            Call(
                "POST", "/api/units/import", files={"file": ("u.csv", body, "text/csv")}, writes_registry=True
            )
        )
    return calls


def api_export(out: str) -> list[Call]:
    return [
        Call("GET", "/api/units/export", params={"as_of": d, "format": f})
        for d in DATES
        for f in ("csv", "xlsx")
    ]


def api_unit(out: str) -> list[Call]:
    return [Call("GET", f"/api/units/{out}", params={"as_of": d}) for d in DATES] + [
        Call("GET", f"/api/units/{out}")
    ]


def api_children(out: str) -> list[Call]:
    return [Call("GET", f"/api/units/{out}/children", params={"as_of": d}) for d in DATES]


def api_create(out: str) -> list[Call]:
    body = {
        "code": "NEW1",
        "name_zh": "新",
        "name_en": "New",
        "type": "primary_school",
        "opened": "2020-01-01",
    }
    return [
        Call("POST", "/api/units", json={**body, "parent": out}, writes_registry=True),
        Call("POST", "/api/units", json={**body, "code": out, "parent": "D1"}, writes_registry=True),
    ]


def api_change(out: str) -> list[Call]:
    return [
        Call(
            "PATCH",
            f"/api/units/{out}",
            json={"effective": "2020-01-01", "name_zh": "改"},
            writes_registry=True,
        ),
        Call(
            "PATCH",
            f"/api/units/{out}",
            json={"effective": "2020-01-01", "parent": "D1"},
            writes_registry=True,
        ),
        Call("PATCH", "/api/units/S1", json={"effective": "2020-01-01", "parent": out}, writes_registry=True),
        Call("PATCH", "/api/units/D1", json={"effective": "2020-01-01", "parent": out}, writes_registry=True),
    ]


def api_close(out: str) -> list[Call]:
    return [
        Call("POST", f"/api/units/{out}/close", json={"effective": "2020-01-01"}, writes_registry=True),
        Call(
            "POST",
            f"/api/units/{out}/close",
            json={"effective": "2020-01-01", "merged_into": "D1"},
            writes_registry=True,
        ),
        Call(
            "POST",
            "/api/units/S1/close",
            json={"effective": "2020-01-01", "merged_into": out},
            writes_registry=True,
        ),
    ]


def page_tree(out: str) -> list[Call]:
    return [Call("GET", "/units", params={"open": ",".join(OUT), "as_of": d}) for d in DATES] + [
        Call("GET", "/units", params={"q": q}) for q in (out, "Hidden", "禁")
    ]


def page_children(out: str) -> list[Call]:
    return [Call("GET", f"/units/{out}/children", params={"as_of": d, "open": ",".join(OUT)}) for d in DATES]


def page_new_form(out: str) -> list[Call]:
    return [Call("GET", "/units/new", params={"parent": out})]


def page_create(out: str) -> list[Call]:
    form = {
        "code": "NEW1",
        "name_zh": "新",
        "name_en": "New",
        "type": "primary_school",
        "opened": "2020-01-01",
    }
    return [Call("POST", "/units/new", data={**form, "parent": out}, writes_registry=True)]


def page_import(out: str) -> list[Call]:
    return [
        Call(
            "POST",
            "/units/import",
            files={"file": ("u.csv", body, "text/csv")},
            data=data,
            writes_registry=True,
        )
        for body in naming(out)
        for data in ({}, {"dry_run": "on"})
    ]


def page_unit(out: str) -> list[Call]:
    return [Call("GET", f"/units/{out}", params={"as_of": d}) for d in DATES]


def page_edit_form(out: str) -> list[Call]:
    return [Call("GET", f"/units/{out}/edit", params={"as_of": d}) for d in DATES]


def page_edit(out: str) -> list[Call]:
    return [
        Call(
            "POST",
            f"/units/{out}/edit",
            data={"effective": "2020-01-01", "name_zh": "改"},
            writes_registry=True,
        ),
        Call("POST", "/units/S1/edit", data={"effective": "2020-01-01", "parent": out}, writes_registry=True),
    ]


def page_close(out: str) -> list[Call]:
    return [
        Call("POST", f"/units/{out}/close", data={"effective": "2020-01-01"}, writes_registry=True),
        Call(
            "POST",
            "/units/S1/close",
            data={"effective": "2020-01-01", "merged_into": out},
            writes_registry=True,
        ),
    ]


def api_group_create(out: str) -> list[Call]:
    body = {"code": "NEW-G", "name_zh": "新组", "name_en": "New group"}
    return [
        Call("POST", "/api/unitGroups", json={**body, "members": ["S1", out]}, writes_registry=True),
        Call("POST", "/api/unitGroups", json={**body, "members": [out]}, writes_registry=True),
    ]


def api_group_members(out: str) -> list[Call]:
    return [
        Call("POST", "/api/unitGroups/G-IN/members", json={"add": [out]}, writes_registry=True),
        Call("POST", "/api/unitGroups/G-MIX/members", json={"remove": [out]}, writes_registry=True),
        Call("POST", "/api/unitGroups/G-MIX/members", json={"remove": ["S1"]}, writes_registry=True),
        Call("POST", "/api/unitGroups/G-OUT/members", json={"add": ["S1"]}, writes_registry=True),
    ]


def api_group_set_create(out: str) -> list[Call]:
    body = {"code": "NEW-SET", "name_zh": "新集", "name_en": "New set"}
    return [
        Call("POST", "/api/unitGroupSets", json={**body, "groups": ["G-IN", group]}, writes_registry=True)
        for group in ("G-MIX", "G-OUT")
    ]


def page_groups(out: str) -> list[Call]:
    return [Call("GET", "/groups", params={"as_of": d}) for d in DATES]


def page_group(out: str) -> list[Call]:
    return [Call("GET", f"/groups/{group}", params={"as_of": d}) for group in GROUPS for d in DATES]


def page_group_create(out: str) -> list[Call]:
    form = {"code": "NEW-G", "name_zh": "新组", "name_en": "New group"}
    return [
        Call("POST", "/groups/new", data={**form, "members": f"S1\n{out}"}, writes_registry=True),
        Call("POST", "/groups/new", data={**form, "members": f"S1, {out}"}, writes_registry=True),
    ]


def page_group_members(out: str) -> list[Call]:
    return [
        Call("POST", "/groups/G-IN/members", data={"add": out}, writes_registry=True),
        Call("POST", "/groups/G-MIX/members", data={"remove": out}, writes_registry=True),
        Call("POST", "/groups/G-OUT/members", data={"add": "S1"}, writes_registry=True),
    ]


def audit_reads(url: str) -> Callable[[str], list[Call]]:
    """The audit log is the commission's: a district user is refused, whatever the filters."""
    return lambda out: [
        Call("GET", url, params=params, status=403)
        for params in ({}, {"entity": "unit", "key": out}, {"actor": "system"}, {"offset": "1"})
    ]


def plain(method: str, url: str, **kw: Any) -> Callable[[str], list[Call]]:
    return lambda out: [Call(method, url, **kw)]


# ---------------------------------------------------------------- admissions
# CD1 is a campaign the D1 user organises (created by the first call); everything naming a unit
# outside D1 (a school, a district, an organiser) must be refused, and C<out> does not exist.

ADM = "/api/admissions/campaigns"


def adm_campaign(out: str) -> dict[str, Any]:
    return {"code": f"C{out}", "year": 2020, "stage": "primary_1", "title_zh": "招生",
            "title_en": "Admissions", "organiser": out}


def adm_person(out: str) -> dict[str, Any]:
    return {"name": "王", "id_number": "310101201301010011", "birth_date": "2013-01-01", "district": out}


def adm_csv(district: str) -> bytes:
    return ("number,name,id_number,birth_date,district\n"
            f"X-1,王,310101201301010011,2013-01-01,{district}\n").encode()


ADMISSIONS_MATRIX: dict[tuple[str, str], Callable[[str], list[Call]]] = {
    # jobs: each is its owner's alone (tests/jobs/ start them); anyone else's is not found
    ("GET", "/jobs"): plain("GET", "/jobs", status=200),
    ("GET", "/jobs/{job_id}"): plain("GET", "/jobs/0123456789abcdef01234567", status=404),
    ("GET", "/api/jobs/{job_id}"): plain("GET", "/api/jobs/0123456789abcdef01234567", status=404),
    ("POST", ADM): lambda out: [
        Call("POST", ADM, json={**adm_campaign("D1"), "code": "CD1", "organiser": "D1"}),
        Call("POST", ADM, json=adm_campaign(out), writes_registry=True),
    ],
    ("GET", ADM): plain("GET", ADM),
    ("GET", ADM + "/{code}"): lambda out: [Call("GET", f"{ADM}/C{out}"), Call("GET", f"{ADM}/CD1")],
    ("POST", ADM + "/{code}/schools"): lambda out: [
        Call("POST", f"{ADM}/CD1/schools", json={"schools": [{"unit": out, "capacity": 1, "kind": k}]},
             writes_registry=True) for k in ("private", "public")
    ] + [Call("POST", f"{ADM}/CD1/schools", json={"schools": [{"unit": "S1", "capacity": 1,
                                                                "districts": [out]}]}, writes_registry=True)],
    ("PUT", ADM + "/{code}/fallback"): lambda out: [
        Call("PUT", f"{ADM}/CD1/fallback", json={"district": out, "schools": []}, writes_registry=True)],
    ("POST", ADM + "/{code}/applicants"): lambda out: [
        Call("POST", f"{ADM}/CD1/applicants", json=adm_person(out), writes_registry=True),
        Call("POST", f"{ADM}/C{out}/applicants", json=adm_person("D1"), writes_registry=True)],
    ("POST", ADM + "/{code}/applicants/import"): lambda out: [
        Call("POST", f"{ADM}/{c}/applicants/import", content=adm_csv(d), writes_registry=True)
        for c, d in (("CD1", out), (f"C{out}", "D1"))] + [
        Call("POST", f"{ADM}/CD1/applicants/import", files={"file": ("a.csv", adm_csv(out), "text/csv")},
             writes_registry=True)],
    ("POST", ADM + "/{code}/priorities/import"): lambda out: [
        Call("POST", f"{ADM}/C{out}/priorities/import", content=b"number,school_id,tier\n1000000000,S1,1\n",
             writes_registry=True)],
    ("GET", ADM + "/{code}/applicants"): lambda out: [
        Call("GET", f"{ADM}/CD1/applicants"), Call("GET", f"{ADM}/C{out}/applicants")],
    ("PUT", ADM + "/{code}/applicants/{number}/choices"): lambda out: [
        Call("PUT", f"{ADM}/CD1/applicants/1000000000/choices", json={"choices": [out]},
             writes_registry=True)],
    ("POST", ADM + "/{code}/steps/{step}"): lambda out: [
        Call("POST", f"{ADM}/C{out}/steps/{step}", json={"sources": [out]}, writes_registry=True)
        for step in ("open", "freeze", "draw", "publish", "place", "appeals", "close")],
    ("POST", ADM + "/{code}/appeals"): lambda out: [
        Call("POST", f"{ADM}/CD1/appeals", json={"number": "1000000000", "reason": out},
             writes_registry=True)],
    ("POST", "/api/admissions/appeals/{appeal_id}/decision"): lambda out: [
        Call("POST", "/api/admissions/appeals/1/decision", json={"decision": "upheld"},
             writes_registry=True)],
    ("GET", "/api/admissions/public/{code}"): lambda out: [
        Call("GET", f"/api/admissions/public/C{out}"), Call("GET", "/api/admissions/public/CD1")],
    ("GET", "/api/admissions/public/{code}/proof/{stage}/{name:path}"): lambda out: [
        Call("GET", f"/api/admissions/public/{c}/proof/lottery/results.csv") for c in ("CD1", f"C{out}")],
    ("POST", "/api/admissions/public/{code}/lookup"): lambda out: [
        Call("POST", f"/api/admissions/public/{c}/lookup", json={"number": "1000000000",
                                                                   "birth_date": "2013-01-01"})
        for c in ("CD1", f"C{out}")],
    ("GET", "/admissions/public"): plain("GET", "/admissions/public"),
    ("GET", "/admissions"): plain("GET", "/admissions"),
    ("POST", "/admissions"): lambda out: [
        Call("POST", "/admissions", data={**adm_campaign(out), "year": "2020", "max_choices": "3"},
             writes_registry=True)],
    ("GET", "/admissions/{code}"): lambda out: [Call("GET", f"/admissions/{c}") for c in ("CD1", f"C{out}")],
    ("POST", "/admissions/{code}/steps/{step}"): lambda out: [
        Call("POST", f"/admissions/C{out}/steps/freeze", data={"sources": out}, writes_registry=True)],
    ("POST", "/admissions/{code}/schools"): lambda out: [
        Call("POST", "/admissions/CD1/schools", data={"unit": out, "capacity": "1", "kind": k},
             writes_registry=True) for k in ("private", "public")
    ] + [Call("POST", "/admissions/CD1/schools", data={"unit": "S1", "capacity": "1", "districts": out},
              writes_registry=True),
         Call("POST", f"/admissions/C{out}/schools", data={"unit": "S1", "capacity": "1"},
              writes_registry=True)],
    ("POST", "/admissions/{code}/fallback"): lambda out: [
        Call("POST", "/admissions/CD1/fallback", data={"district": out, "schools": ""}, writes_registry=True),
        Call("POST", f"/admissions/C{out}/fallback", data={"district": "D1", "schools": ""},
             writes_registry=True)],
    ("POST", "/admissions/{code}/applicants/import"): lambda out: [
        Call("POST", f"/admissions/{c}/applicants/import", files={"file": ("a.csv", adm_csv(d), "text/csv")},
             writes_registry=True) for c, d in (("CD1", out), (f"C{out}", "D1"))],
    ("GET", "/admissions/{code}/results"): lambda out: [
        Call("GET", f"/admissions/{c}/results") for c in ("CD1", f"C{out}")],
    ("GET", "/admissions/{code}/lookup"): lambda out: [
        Call("GET", f"/admissions/{c}/lookup") for c in ("CD1", f"C{out}")],
    ("POST", "/admissions/{code}/lookup"): lambda out: [
        Call("POST", f"/admissions/{c}/lookup", data={"number": "1000000000", "birth_date": "2013-01-01"})
        for c in ("CD1", f"C{out}")],
}


# ---------------------------------------------------------------- data values
# The world has the indicator metadata of tests/factories.indicator_metadata and values for S1
# and S2 (see ``world``). Every read naming an outside unit shows nothing of it; every write
# naming one is refused and changes nothing (data_values is part of the snapshot).


def dv_json(unit: str) -> bytes:
    item = {"dataElement": "TEACHERS", "period": "2020", "orgUnit": unit, "value": "9"}
    return json.dumps({"dataValues": [item]}).encode()


def dv_csv(unit: str) -> bytes:
    return f"dataelement,period,orgunit,catoptcombo,attroptcombo,value\nTEACHERS,2020,{unit},,,9\n".encode()


def dv_imports(out: str) -> list[Call]:
    url = "/api/dataValueSets"
    return [
        Call("POST", url, content=dv_json(out), writes_registry=True),
        Call("POST", url, params={"atomicMode": "NONE"}, content=dv_json(out), writes_registry=False),
        Call("POST", url, params={"importStrategy": "DELETE"}, content=dv_json(out), writes_registry=True),
        Call("POST", url, files={"file": ("v.csv", dv_csv(out), "text/csv")}, writes_registry=True),
    ]


def dv_reads(out: str) -> list[Call]:
    url = "/api/dataValueSets"
    return [Call("GET", url, params={"orgUnit": out, "period": "2020", **extra})
            for extra in ({}, {"children": "true"}, {"dataSet": "SCHOOL_Y", "format": "dhis2-csv"},
                          {"format": "adx", "children": "true"})]


DATA_MATRIX: dict[tuple[str, str], Callable[[str], list[Call]]] = {
    # jobs: each is its owner's alone (tests/jobs/ start them); anyone else's is not found
    ("GET", "/jobs"): plain("GET", "/jobs", status=200),
    ("GET", "/jobs/{job_id}"): plain("GET", "/jobs/0123456789abcdef01234567", status=404),
    ("GET", "/api/jobs/{job_id}"): plain("GET", "/api/jobs/0123456789abcdef01234567", status=404),
    ("POST", "/api/dataValueSets"): dv_imports,
    ("GET", "/api/dataValueSets"): dv_reads,
    ("GET", "/api/dataValueSets/template"): lambda out: [
        Call("GET", "/api/dataValueSets/template",
             params={"dataSet": "SCHOOL_Y", "period": "2020", "orgUnit": out})
    ],
    ("POST", "/api/dataValues"): lambda out: [
        Call("POST", "/api/dataValues", json={"dataElement": "TEACHERS", "period": "2020", "orgUnit": out,
                                             "value": "7"}, writes_registry=True),
    ],
    ("DELETE", "/api/dataValues"): lambda out: [
        Call("DELETE", "/api/dataValues", params={"de": "TEACHERS", "pe": "2020", "ou": out},
             writes_registry=True),
    ],
    ("GET", "/api/dataValues/history"): lambda out: [
        Call("GET", "/api/dataValues/history", params={"de": "TEACHERS", "pe": "2020", "ou": out}),
    ],
    ("GET", "/data/entry"): lambda out: [
        Call("GET", "/data/entry", params={"ds": "SCHOOL_Y", "pe": "2020", "ou": out}),
    ],
    ("POST", "/data/entry/upload"): lambda out: [
        Call("POST", "/data/entry/upload", data={"ds": "SCHOOL_Y", "pe": "2020", "ou": "S1"},
             files={"file": ("v.json", dv_json(out), "application/json")}),
        Call("POST", "/data/entry/upload", data={"ds": "SCHOOL_Y", "pe": "2020", "ou": out},
             files={"file": ("v.csv", dv_csv(out), "text/csv")}),
    ],
}


# ---------------------------------------------------------------- data quality
# ``seed_quality`` adds a rule that S1 and S2 both break and min–max bounds at S2; a D1 user
# sees S1's violations and outliers only, and cannot set, delete or generate bounds outside D1.

QUALITY_RUN = "/api/dataAnalysis/validationRules"
QUALITY_DATES = {"startDate": "2000-01-01", "endDate": "2020-12-31"}


def seed_quality(conn: Connection) -> None:
    from jiaowei.indicators.metadata import service as metadata
    from jiaowei.indicators.quality import outliers

    metadata.save_validation_rule(conn, principal=SYSTEM, code="QR", name_zh="规则", name_en="Rule",
                                  left="#{TEACHERS}", operator="equal_to", right="99")
    outliers.set_min_max(conn, principal=SYSTEM, unit="S2", element="TEACHERS", coc=None, min_value=1,
                         max_value=2)


def quality_cell(out: str) -> dict[str, Any]:
    return {"source": {"code": out}, "dataElement": {"code": "TEACHERS"}}


QUALITY_MATRIX: dict[tuple[str, str], Callable[[str], list[Call]]] = {
    # jobs: each is its owner's alone (tests/jobs/ start them); anyone else's is not found
    ("GET", "/jobs"): plain("GET", "/jobs", status=200),
    ("GET", "/jobs/{job_id}"): plain("GET", "/jobs/0123456789abcdef01234567", status=404),
    ("GET", "/api/jobs/{job_id}"): plain("GET", "/api/jobs/0123456789abcdef01234567", status=404),
    ("POST", QUALITY_RUN): lambda out: [
        Call("POST", QUALITY_RUN, json={"ou": ou, **QUALITY_DATES, **extra})
        for ou in (out, "D1") for extra in ({}, {"ds": "SCHOOL_Y"})],
    ("GET", "/api/validation/dataSet/{ds}"): lambda out: [
        Call("GET", "/api/validation/dataSet/SCHOOL_Y", params={"pe": "2020", "ou": out})],
    ("GET", "/api/outlierDetection"): lambda out: [
        Call("GET", "/api/outlierDetection",
             params={"ds": "SCHOOL_Y", "ou": ou, "algorithm": a, **QUALITY_DATES})
        for ou in (out, "D1") for a in ("Z_SCORE", "MIN_MAX")],
    ("GET", "/api/minMaxDataElements"): lambda out: [
        Call("GET", "/api/minMaxDataElements", params={"ou": ou, "children": "true"}) for ou in (out, "D1")],
    ("POST", "/api/minMaxDataElements"): lambda out: [
        Call("POST", "/api/minMaxDataElements", json={**quality_cell(out), "min": 0, "max": 5},
             writes_registry=True)],
    ("DELETE", "/api/minMaxDataElements"): lambda out: [
        Call("DELETE", "/api/minMaxDataElements", json=quality_cell(out), writes_registry=True)],
    ("POST", "/api/minMaxValues/generate"): lambda out: [
        Call("POST", "/api/minMaxValues/generate", json={"dataSet": "SCHOOL_Y", "orgUnit": out},
             writes_registry=True)],
    ("GET", "/quality/validation"): lambda out: [
        Call("GET", "/quality/validation", params={"ou": ou, "start": "2020-01-01", "end": "2020-12-31"})
        for ou in (out, "D1")],
    ("GET", "/quality/outliers"): lambda out: [
        Call("GET", "/quality/outliers", params={"ou": ou, "ds": "SCHOOL_Y", "algorithm": "MIN_MAX",
                                                 "start": "2000-01-01", "end": "2020-12-31"})
        for ou in (out, "D1")],
}


# ---------------------------------------------------------------- indicator values and targets
# PTR over the world's TEACHERS values: a D1 user reads D1 and S1 only; targets for a unit
# outside D1 are refused (the first call of each write sets D1's own target, which is allowed).

def target_body(unit: str, **extra: Any) -> dict[str, Any]:
    return {"indicator": "PTR", "orgUnit": unit, "period": "2020", "value": 12, **extra}


INDICATOR_TARGETS_MATRIX: dict[tuple[str, str], Callable[[str], list[Call]]] = {
    # jobs: each is its owner's alone (tests/jobs/ start them); anyone else's is not found
    ("GET", "/jobs"): plain("GET", "/jobs", status=200),
    ("GET", "/jobs/{job_id}"): plain("GET", "/jobs/0123456789abcdef01234567", status=404),
    ("GET", "/api/jobs/{job_id}"): plain("GET", "/api/jobs/0123456789abcdef01234567", status=404),
    ("GET", "/api/indicatorValues"): lambda out: [
        Call("GET", "/api/indicatorValues", params=params)
        for params in ({"indicator": "PTR", "ou": out, "pe": "2020"}, {"ou": out, "pe": "2020"},
                       {"indicator": "PTR", "ou": "D1", "pe": "2020"}, {"indicator": "PTR"}, {})],
    ("GET", "/api/targets"): lambda out: [
        Call("GET", "/api/targets", params={"indicator": "PTR", "ou": ou}) for ou in (out, "D1")],
    ("POST", "/api/targets"): lambda out: [
        Call("POST", "/api/targets", json=target_body("D1")),
        Call("POST", "/api/targets", json=target_body(out), writes_registry=True),
        Call("POST", "/api/targets", json=[target_body("S1"), target_body(out)], writes_registry=True)],
    ("POST", "/api/targets/trajectory"): lambda out: [
        Call("POST", "/api/targets/trajectory", json={
            "indicator": "PTR", "orgUnit": out, "startPeriod": "2020", "endPeriod": "2022", "startValue": 1,
            "endValue": 2}, writes_registry=True)],
    ("POST", "/api/targets/cascade"): lambda out: [
        Call("POST", "/api/targets/cascade", json={"indicator": "PTR", "orgUnit": "D1", "period": "2020"}),
        Call("POST", "/api/targets/cascade", json={"indicator": "PTR", "orgUnit": out, "period": "2020",
                                                   "overwrite": True}, writes_registry=True)],
    ("DELETE", "/api/targets"): lambda out: [
        Call("DELETE", "/api/targets", params={"indicator": "PTR", "ou": out, "pe": "2020"},
             writes_registry=True)],
    ("GET", "/indicators"): lambda out: [
        Call("GET", "/indicators", params=params) for params in ({"ou": out, "pe": "2020"}, {})],
    ("GET", "/indicators/{code}"): lambda out: [
        Call("GET", "/indicators/PTR", params=params) for params in ({"ou": out, "pe": "2020"}, {})],
    ("POST", "/indicators/{code}/targets"): lambda out: [
        Call("POST", "/indicators/PTR/targets", data={"ou": out, "pe": "2020", "value": "12"},
             writes_registry=True)],
    ("POST", "/indicators/{code}/cascade"): lambda out: [
        Call("POST", "/indicators/PTR/cascade", data={"ou": out, "pe": "2020", "overwrite": "on"},
             writes_registry=True)],
}

# ---------------------------------------------------------------- metadata (DHIS2 JSON)
# Metadata is the commission's: a D1 user reads it (a data set lists only the units it may see)
# and every write is refused, whatever it names.

META_EXISTING = {"dataElements": "PUPILS", "categories": "SEX", "categoryCombos": "BY_SEX",
                 "dataSets": "SCHOOL_Y", "indicators": "PTR", "validationRules": "QR"}


def meta_bundle(out: str) -> dict[str, Any]:
    return {"dataSets": [{"code": "SCHOOL_Y", "name": "School annual", "periodType": "Yearly",
                          "organisationUnits": [{"code": out}, {"code": "S1"}],
                          "dataSetElements": [{"dataElement": {"code": "PUPILS"}}]}],
            "dataElements": [{"code": f"DE_{out}", "name": out}]}


def meta_kind(kind: str) -> dict[tuple[str, str], Callable[[str], list[Call]]]:
    one, url = f"/api/{kind}/{{code}}", f"/api/{kind}"

    def posts(out: str) -> list[Call]:
        single = {"code": f"X_{out}", "name": out}
        return [Call("POST", url, json=body, status=403, writes_registry=True)
                for body in ({kind: meta_bundle(out).get(kind, [single])}, single)]

    return {
        ("GET", url): lambda out: [Call("GET", url, params={"pageSize": "500"})],
        ("POST", url): posts,
        ("GET", one): lambda out: [Call("GET", f"{url}/{c}") for c in (out, META_EXISTING[kind])],
        ("DELETE", one): lambda out: [Call("DELETE", f"{url}/{c}", status=403, writes_registry=True)
                                      for c in (out, META_EXISTING[kind])],
    }


METADATA_MATRIX: dict[tuple[str, str], Callable[[str], list[Call]]] = {
    # jobs: each is its owner's alone (tests/jobs/ start them); anyone else's is not found
    ("GET", "/jobs"): plain("GET", "/jobs", status=200),
    ("GET", "/jobs/{job_id}"): plain("GET", "/jobs/0123456789abcdef01234567", status=404),
    ("GET", "/api/jobs/{job_id}"): plain("GET", "/api/jobs/0123456789abcdef01234567", status=404),
    **{route: calls for kind in META_EXISTING for route, calls in meta_kind(kind).items()},
    ("GET", "/api/categoryCombos/preview"): lambda out: [
        Call("GET", "/api/categoryCombos/preview", params={"categories": c}) for c in ("SEX", out)],
    ("GET", "/api/metadata"): lambda out: [Call("GET", "/api/metadata", params=p)
                                           for p in ({}, {"kinds": "dataSets"}, {"idScheme": "UID"})],
    ("POST", "/api/metadata"): lambda out: [
        Call("POST", "/api/metadata", params={"dryRun": d}, json=meta_bundle(out), status=403,
             writes_registry=True) for d in ("true", "false")] + [
        Call("POST", "/api/metadata", params={"atomicMode": "ALL", "skipUnsupported": "false"},
             json={**meta_bundle(out), "legendSets": [{"code": out}]}, status=403, writes_registry=True)],
    ("GET", "/metadata"): plain("GET", "/metadata"),
    ("GET", "/metadata/dataElements"): plain("GET", "/metadata/dataElements"),
    ("GET", "/metadata/dataSets"): plain("GET", "/metadata/dataSets"),
    ("GET", "/metadata/categoryCombos"): plain("GET", "/metadata/categoryCombos"),
    ("GET", "/metadata/categoryCombos/new"): plain("GET", "/metadata/categoryCombos/new", status=403),
    ("POST", "/metadata/categoryCombos/new"): lambda out: [
        Call("POST", "/metadata/categoryCombos/new", data={"code": out, "name_zh": out, "name_en": out,
                                                           "categories": "SEX", "action": a},
             status=403, writes_registry=True) for a in ("preview", "save")],
}

# ---------------------------------------------------------------- completeness, approval, locks
# ``seed_approval``: S1 and S2 registered complete, S2 approved, a lock exception at S2. A D1
# user sees none of S2's (nor D2's); every registration, approval or exception naming a unit
# outside D1 is refused.

APPROVAL_Q = {"ds": "SCHOOL_Y", "pe": "2020"}
REG = "/api/completeDataSetRegistrations"


def seed_approval(conn: Connection) -> None:
    from jiaowei.indicators.approval import completeness
    from jiaowei.indicators.approval import service as approval

    for unit in ("S1", "S2"):
        completeness.complete(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit=unit)
    approval.approve(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S2")
    approval.grant_exception(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S2",
                             until=clock.today() + dt.timedelta(days=30), reason="mark-s2-private")


def approval_registration(unit: str, completed: bool) -> dict[str, Any]:
    item = {"dataSet": "SCHOOL_Y", "period": "2020", "organisationUnit": unit, "completed": completed}
    return {"completeDataSetRegistrations": [item]}


def approval_calls(method: str, url: str, *units: str, **extra: str) -> Callable[[str], list[Call]]:
    """One call per unit (``out`` for the unit outside D1), writes refused."""
    def calls(out: str) -> list[Call]:
        return [Call(method, url, params={**APPROVAL_Q, "ou": out if u == "out" else u, **extra},
                     writes_registry=method != "GET") for u in units]
    return calls


APPROVAL_MATRIX: dict[tuple[str, str], Callable[[str], list[Call]]] = {
    # jobs: each is its owner's alone (tests/jobs/ start them); anyone else's is not found
    ("GET", "/jobs"): plain("GET", "/jobs", status=200),
    ("GET", "/jobs/{job_id}"): plain("GET", "/jobs/0123456789abcdef01234567", status=404),
    ("GET", "/api/jobs/{job_id}"): plain("GET", "/api/jobs/0123456789abcdef01234567", status=404),
    ("GET", REG): approval_calls("GET", REG, "out", "D1", children="true"),
    ("POST", REG): lambda out: [
        Call("POST", REG, json=approval_registration(out, done), writes_registry=True)
        for done in (True, False)],
    ("DELETE", REG): approval_calls("DELETE", REG, "out"),
    ("GET", "/api/dataApprovals"): approval_calls("GET", "/api/dataApprovals", "out", "D1"),
    ("POST", "/api/dataApprovals"): approval_calls("POST", "/api/dataApprovals", "out"),
    ("DELETE", "/api/dataApprovals"): approval_calls("DELETE", "/api/dataApprovals", "out", reason="r"),
    ("GET", "/api/completeness"): approval_calls("GET", "/api/completeness", "out", "D1"),
    ("GET", "/api/lockExceptions"): lambda out: [
        Call("GET", "/api/lockExceptions", params=params) for params in ({}, APPROVAL_Q)],
    ("POST", "/api/lockExceptions"): approval_calls("POST", "/api/lockExceptions", "out", "S1",
                                                    until="2100-01-01", reason="r"),
    ("DELETE", "/api/lockExceptions"): approval_calls("DELETE", "/api/lockExceptions", "out"),
    ("GET", "/data/approval"): approval_calls("GET", "/data/approval", "out", "D1", "S1"),
    ("POST", "/data/approval/approve"): lambda out: [
        Call("POST", "/data/approval/approve", data={**APPROVAL_Q, "ou": out, "back": "D1"},
             writes_registry=True)],
    ("POST", "/data/approval/unapprove"): lambda out: [
        Call("POST", "/data/approval/unapprove", data={**APPROVAL_Q, "ou": out, "reason": "r", "back": "D1"},
             writes_registry=True)],
    ("GET", "/data/completeness"): approval_calls("GET", "/data/completeness", "out", "D1"),
    # the work list names no unit: it lists the forms of the caller's own units only
    ("GET", "/api/myForms"): lambda out: [Call("GET", "/api/myForms", params={"as_of": d}) for d in DATES],
    ("GET", "/data/my-forms"): lambda out: [
        Call("GET", "/data/my-forms", params={"as_of": d}) for d in DATES],
}


# ---------------------------------------------------------------- accounts
# ``seed_accounts``: a unit reporter per outside unit (rep-D2, rep-S2, rep-SH, named with a secret)
# with a token each, and rep-in inside D1. The D1 user manages rep-in only: every outside reporter
# is "not found", and rep-in cannot be given a scope outside D1 or another role.

OUT_TOKENS: dict[str, int] = {}


def seed_accounts(conn: Connection) -> None:
    from jiaowei.auth import service as auth
    from jiaowei.auth.store import api_tokens

    names = {"D2": SECRETS["D2"]["name_en"], "S2": SECRETS["S2"]["name_en"], "SH": "mark-sh-private"}
    for out, name in names.items():
        auth.create_user(conn, principal=SYSTEM, username=f"rep-{out}", password="a long passphrase 1",
                         role="unit_reporter", capture_scope=[out], display_name=str(name))
        auth.create_token(conn, principal=SYSTEM, username=f"rep-{out}")
        OUT_TOKENS[out] = conn.scalar(select(func.max(api_tokens.c.id)))
    make_user(conn, "rep-in", role="unit_reporter", capture=["S1"])


def accounts(method: str, path: str, status: int, **kw: Any) -> Callable[[str], list[Call]]:
    return lambda out: [Call(method, path.format(out=out, token=OUT_TOKENS.get(out, 0)), status=status, **kw)]


ACCOUNTS_MATRIX: dict[tuple[str, str], Callable[[str], list[Call]]] = {
    # jobs: each is its owner's alone (tests/jobs/ start them); anyone else's is not found
    ("GET", "/jobs"): plain("GET", "/jobs", status=200),
    ("GET", "/jobs/{job_id}"): plain("GET", "/jobs/0123456789abcdef01234567", status=404),
    ("GET", "/api/jobs/{job_id}"): plain("GET", "/api/jobs/0123456789abcdef01234567", status=404),
    ("GET", "/api/users"): lambda out: [Call("GET", "/api/users", params=p, status=s) for p, s in (
        ({"q": out}, 200), ({"q": "Hidden"}, 200), ({"role": "unit_reporter"}, 200), ({"unit": out}, 200))],
    ("POST", "/api/users"): lambda out: [
        Call("POST", "/api/users", json={"username": "new-rep", "role": "unit_reporter", **scope}, status=s)
        for scope, s in (({"capture": [out]}, 403), ({"capture": ["S1"], "view": [out]}, 403),
                         ({"capture": ["S1", out]}, 403), ({"capture": ["S1"], "role": "viewer"}, 403))]
        + [Call("POST", "/api/users", json={"username": f"rep-{out}", "role": "unit_reporter",
                                            "capture": ["S1"]}, status=409)],
    ("GET", "/api/users/{username}"): accounts("GET", "/api/users/rep-{out}", 404),
    ("PATCH", "/api/users/{username}"): lambda out: [
        Call("PATCH", f"/api/users/rep-{out}", json={"capture": ["S1"]}, status=404),
        Call("PATCH", "/api/users/rep-in", json={"capture": [out]}, status=403),
        Call("PATCH", "/api/users/rep-in", json={"view": ["S1", out]}, status=403),
        Call("PATCH", "/api/users/rep-in", json={"role": "district_staff"}, status=403),
        Call("PATCH", "/api/users/d1staff", json={"role": "administrator"}, status=404)],
    ("POST", "/api/users/{username}/disable"): accounts("POST", "/api/users/rep-{out}/disable", 404),
    ("POST", "/api/users/{username}/enable"): accounts("POST", "/api/users/rep-{out}/enable", 404),
    ("POST", "/api/users/{username}/reset-password"): accounts("POST", "/api/users/rep-{out}/reset-password",
                                                               404),
    ("GET", "/api/tokens"): lambda out: [
        Call("GET", "/api/tokens", status=200),
        Call("GET", "/api/tokens", params={"user": f"rep-{out}"}, status=404)],
    ("POST", "/api/tokens"): accounts("POST", "/api/tokens", 403, json={"user": "rep-{out}"}),
    ("DELETE", "/api/tokens/{token_id}"): accounts("DELETE", "/api/tokens/{token}", 404),
    ("GET", "/api/me"): accounts("GET", "/api/me", 200),
    ("POST", "/api/me/password"): accounts("POST", "/api/me/password", 422,
                                           json={"old_password": "wrong", "new_password": "x"}),
    ("GET", "/users"): lambda out: [Call("GET", "/users", params=p, status=200)
                                    for p in ({"q": out}, {"unit": out}, {"q": "Hidden"})],
    ("POST", "/users"): lambda out: [
        Call("POST", "/users", data={"username": "new-rep", "role": "unit_reporter", "capture": out},
             status=403),
        Call("POST", "/users", data={"username": "new-rep", "role": "unit_reporter", "capture": "S1",
                                     "view": out}, status=403)],
    ("GET", "/users/{username}"): accounts("GET", "/users/rep-{out}", 404),
    ("POST", "/users/{username}"): lambda out: [
        Call("POST", f"/users/rep-{out}", data={"capture": "S1"}, status=404),
        Call("POST", "/users/rep-in", data={"capture": out}, status=403)],
    ("POST", "/users/{username}/disable"): accounts("POST", "/users/rep-{out}/disable", 404, data={}),
    ("POST", "/users/{username}/enable"): accounts("POST", "/users/rep-{out}/enable", 404, data={}),
    ("POST", "/users/{username}/reset-password"): accounts("POST", "/users/rep-{out}/reset-password", 404,
                                                           data={}),
    ("POST", "/tokens/{token_id}/revoke"): accounts("POST", "/tokens/{token}/revoke", 404, data={}),
    ("GET", "/me"): accounts("GET", "/me", 200),
    ("GET", "/me/password"): accounts("GET", "/me/password", 200),
    ("POST", "/me/password"): accounts("POST", "/me/password", 422,
                                       data={"old_password": "wrong", "new_password": "x",
                                             "repeat_password": "x"}),
}


# ---------------------------------------------------------------- dashboards
# The D1 user's own dashboards only: tiles and pivots naming units outside D1 are refused or come out
# empty when shown (on "/" and on the dashboard page), and shared dashboards need metadata.write.
PIVOT_OUT = "dimension=dx:TEACHERS&dimension=ou:{out};D1&filter=pe:2020"


def dashboard_items_api(out: str) -> list[Call]:
    url = "/api/dashboards/home/items"
    tile = {"kind": "indicator", "indicator": "PTR", "orgUnit": out, "period": "2020"}
    return [Call("POST", url, json=tile),
            Call("POST", url, json={"kind": "pivot", "query": PIVOT_OUT.format(out=out)}),
            Call("POST", f"/api/dashboards/{out}/items", json={"kind": "pivot", "query": "dimension=dx:PTR"})]


def dashboard_items_page(out: str) -> list[Call]:
    url, home = "/dashboards/items", {"dashboard": "home"}
    tile = {**home, "kind": "indicator", "indicator": "PTR", "ou": out, "pe": "2020"}
    return [Call("POST", url, data=tile),
            Call("POST", url, data={**home, "kind": "chart", "query": PIVOT_OUT.format(out=out)}),
            Call("POST", url, data={"dashboard": out, "kind": "pivot", "query": "dimension=dx:X"})]


def dashboard_reads(prefix: str) -> Callable[[str], list[Call]]:
    return lambda out: [Call("GET", f"{prefix}/{ref}") for ref in ("home", f"B{out}", out)]


DASHBOARD_MATRIX: dict[tuple[str, str], Callable[[str], list[Call]]] = {
    # jobs: each is its owner's alone (tests/jobs/ start them); anyone else's is not found
    ("GET", "/jobs"): plain("GET", "/jobs", status=200),
    ("GET", "/jobs/{job_id}"): plain("GET", "/jobs/0123456789abcdef01234567", status=404),
    ("GET", "/api/jobs/{job_id}"): plain("GET", "/api/jobs/0123456789abcdef01234567", status=404),
    ("GET", "/api/dashboards"): plain("GET", "/api/dashboards"),
    ("POST", "/api/dashboards"): lambda out: [
        Call("POST", "/api/dashboards", json={"name_zh": "区", "name_en": "D", "orgUnit": out}),
        Call("POST", "/api/dashboards", json={"name_zh": "区", "name_en": "D", "code": f"B{out}"})],
    ("POST", "/api/dashboards/{ref}/items"): dashboard_items_api,
    ("GET", "/api/dashboards/{ref}"): dashboard_reads("/api/dashboards"),
    ("PUT", "/api/dashboards/{ref}"): lambda out: [
        Call("PUT", f"/api/dashboards/{out}", json={"name_en": "D"})],
    ("DELETE", "/api/dashboards/{ref}"): lambda out: [Call("DELETE", f"/api/dashboards/{out}")],
    ("PUT", "/api/dashboards/{ref}/items/{item}"): lambda out: [
        Call("PUT", f"/api/dashboards/home/items/{out}", json={"position": 1})],
    ("DELETE", "/api/dashboards/{ref}/items/{item}"): lambda out: [
        Call("DELETE", f"/api/dashboards/home/items/{out}")],
    ("GET", "/dashboards"): plain("GET", "/dashboards"),
    ("POST", "/dashboards"): plain("POST", "/dashboards", data={"name_zh": "区", "name_en": "D"}),
    ("POST", "/dashboards/items"): dashboard_items_page,
    ("GET", "/dashboards/{ref}"): dashboard_reads("/dashboards"),
    ("POST", "/dashboards/{ref}/items/{item}/move"): lambda out: [
        Call("POST", f"/dashboards/home/items/{out}/move", data={"direction": "up"})],
    ("POST", "/dashboards/{ref}/items/{item}/remove"): lambda out: [
        Call("POST", f"/dashboards/home/items/{out}/remove", data={})],
    ("POST", "/dashboards/{ref}/delete"): lambda out: [Call("POST", f"/dashboards/{out}/delete", data={})],
}


ANALYTICS = ("/api/analytics", "/api/analytics.json", "/api/analytics.csv")


def analytics_reads(path: str) -> Callable[[str], list[Call]]:
    units = ("{out}", "{out};LEVEL-3", "LEVEL-2", "USER_ORGUNIT_CHILDREN", "OU_GROUP-G-MIX", "OU_GROUP-G-OUT")
    return lambda out: [
        Call("GET", path, params={"dimension": f"dx:PUPILS;PTR,ou:{ou.format(out=out)}", "filter": "pe:2020"})
        for ou in units
    ]


MATRIX: dict[tuple[str, str], Callable[[str], list[Call]]] = {
    # jobs: each is its owner's alone (tests/jobs/ start them); anyone else's is not found
    ("GET", "/jobs"): plain("GET", "/jobs", status=200),
    ("GET", "/jobs/{job_id}"): plain("GET", "/jobs/0123456789abcdef01234567", status=404),
    ("GET", "/api/jobs/{job_id}"): plain("GET", "/api/jobs/0123456789abcdef01234567", status=404),
    **ADMISSIONS_MATRIX,
    **ACCOUNTS_MATRIX,
    **DATA_MATRIX,
    **QUALITY_MATRIX,
    **INDICATOR_TARGETS_MATRIX,
    **APPROVAL_MATRIX,
    **METADATA_MATRIX,
    **DASHBOARD_MATRIX,
    **appraisals_matrix(Call),
    **evidence_matrix(Call),
    **rectification_matrix(Call),
    **risks_matrix(Call),
    **workbook_matrix(Call),
    **tasks_matrix(Call),
    **task_pages_matrix(Call),
    **scope_client_matrix.matrix(Call),
    **scope_reports_matrix.matrix(Call),
    **scope_units_matrix.matrix(Call),
    **scope_values_matrix.matrix(Call),
    **{("GET", path): analytics_reads(path) for path in ANALYTICS},
    # The pivot pages take the same query as /api/analytics, and the stored values behind a cell.
    **{("GET", path): analytics_reads(path) for path in ("/analytics", "/analytics.csv", "/analytics.xlsx")},
    ("GET", "/analytics/values"): lambda out: [
        Call("GET", "/analytics/values", params={"dx": "PUPILS", "pe": "2020", "ou": out})],
    ("GET", "/api/dailyHealth"): lambda out: [Call("GET", "/api/dailyHealth", params=p)
                                              for p in ({}, {"ou": out})],
    ("GET", "/data/daily"): lambda out: [Call("GET", "/data/daily", params=p) for p in ({}, {"ou": out})],
    ("GET", "/api/units"): api_list,
    ("POST", "/api/units"): api_create,
    ("POST", "/api/units/import"): api_import,
    ("GET", "/api/units/export"): api_export,
    ("GET", "/api/units/{code}"): api_unit,
    ("GET", "/api/units/{code}/children"): api_children,
    # the unit picker: names, codes and pinyin initials (禁区: jq) of units outside D1 are never offered
    ("GET", "/api/unit-search"): lambda out: [Call("GET", "/api/unit-search", params={"q": q, "as_of": d})
                                              for q in (out, "Hidden", "禁", "jq", "jx") for d in DATES],
    ("GET", "/api/unit-search/children"): lambda out: [
        Call("GET", "/api/unit-search/children", params=p)
        for p in ({}, {"parent": out}, *({"as_of": d, "parent": out} for d in DATES))],
    ("PATCH", "/api/units/{code}"): api_change,
    ("POST", "/api/units/{code}/close"): api_close,
    ("GET", "/api/health"): plain("GET", "/api/health"),
    ("GET", "/metrics"): plain("GET", "/metrics"),  # no unit data; off (404) without its token
    ("GET", "/api/health/live"): plain("GET", "/api/health/live"),
    ("GET", "/api/health/ready"): plain("GET", "/api/health/ready"),
    ("GET", "/api/unitGroups"): lambda out: [
        Call("GET", "/api/unitGroups", params={"as_of": d}) for d in DATES
    ],
    ("GET", "/api/unitGroups/{code}"): lambda out: [
        Call("GET", f"/api/unitGroups/{group}", params={"as_of": d}) for group in GROUPS for d in DATES
    ],
    ("POST", "/api/unitGroups"): api_group_create,
    ("POST", "/api/unitGroups/{code}/members"): api_group_members,
    ("GET", "/api/unitGroupSets"): plain("GET", "/api/unitGroupSets"),
    ("POST", "/api/unitGroupSets"): api_group_set_create,
    ("GET", "/api/audit"): audit_reads("/api/audit"),
    ("GET", "/api/audit/verify"): lambda out: [  # reads no filters: naming one is a 400 (issue 13)
        Call("GET", "/api/audit/verify", status=403),
        Call("GET", "/api/audit/verify", params={"entity": "unit", "key": out}, status=400)],
    ("GET", "/audit"): audit_reads("/audit"),
    ("GET", "/groups"): page_groups,
    ("GET", "/groups/new"): plain("GET", "/groups/new"),
    ("POST", "/groups/new"): page_group_create,
    ("GET", "/groups/{code}"): page_group,
    ("POST", "/groups/{code}/members"): page_group_members,
    ("GET", "/login"): lambda out: [Call("GET", "/login", params={"next": f"/units/{out}"})],
    ("POST", "/login"): None,  # type: ignore[dict-item]  # logging in is how the session client starts
    ("POST", "/logout"): None,  # type: ignore[dict-item]  # called last, see test_every_route_keeps_out
    ("GET", "/units"): page_tree,
    ("GET", "/units/{code}/children"): page_children,
    ("GET", "/units/new"): page_new_form,
    ("POST", "/units/new"): page_create,
    ("GET", "/units/import"): plain("GET", "/units/import"),
    ("POST", "/units/import"): page_import,
    ("GET", "/units/{code}"): page_unit,
    ("GET", "/units/{code}/edit"): page_edit_form,
    ("POST", "/units/{code}/edit"): page_edit,
    ("POST", "/units/{code}/close"): page_close,
    ("GET", "/"): plain("GET", "/"),
    ("POST", "/language"): lambda out: [
        Call("POST", "/language", data={"lang": "en", "next": f"/units/{out}"})
    ],
}


def flat_routes(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, BaseRoute]]:
    """Routes with their full paths, looking inside included routers."""
    found = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            found += flat_routes(inner.routes, prefix + (getattr(context, "prefix", "") or ""))
        else:
            found.append((prefix + getattr(route, "path", ""), route))
    return found


def app_routes(client: TestClient) -> set[tuple[str, str]]:
    out = set()
    for path, route in flat_routes(client.app.routes):
        if path in SKIPPED:
            continue
        methods = set(getattr(route, "methods", None) or {"*"})
        if not isinstance(route, APIRoute) and "GET" in methods:
            methods.discard("HEAD")  # Starlette adds HEAD to every GET route
        out |= {(m, path) for m in methods}
    return out


# ---------------------------------------------------------------- the world


@dataclass
class World:
    conn: Connection
    token: TestClient
    session: TestClient | None
    headers: dict[str, str]
    csrf: str = ""


def seed_values(conn: Connection) -> None:
    """Values for S1 (inside D1) and S2 (outside): the D1 user may read and change only S1's."""
    from jiaowei.indicators.model import ValueRow
    from jiaowei.indicators.values import service as values

    rows = [ValueRow(data_element="TEACHERS", period="2020", org_unit=unit, value=v, row=i)
            for i, (unit, v) in enumerate((("S1", "15"), ("S2", "31")), 1)]
    values.import_values(conn, principal=SYSTEM, rows=rows, source="test")


def hide_outside(conn: Connection) -> None:
    """Give SH, D2 and S2 names and attributes that a D1 user must never see; group them with S1."""
    from jiaowei.registry import groups

    for group, members in GROUPS.items():
        groups.create_group(conn, principal=SYSTEM, code=group, name_zh=group, name_en=group, members=members)
    for code, changes in SECRETS.items():
        service.change_unit(conn, principal=SYSTEM, code=code, effective=dt.date(2000, 1, 1), changes=changes)


@pytest.fixture
def world(client: TestClient, conn: Connection) -> World:
    small_tree(conn)
    hide_outside(conn)
    indicator_metadata(conn)
    seed_values(conn)
    seed_quality(conn)
    seed_approval(conn)
    seed_accounts(conn)
    seed_appraisals(conn)
    seed_evidence(conn, client.app.state.settings)
    seed_rectification(conn)
    seed_risks(conn)
    seed_tasks(conn)
    user = make_user(conn, "d1staff", role="district_staff", capture=["D1"])
    headers = token_for(conn, user)
    if ("POST", "/login") not in app_routes(client):
        return World(conn, client, None, headers)
    session = TestClient(client.app)
    csrf = login(session, user.username)
    return World(conn, client, session, headers, csrf)


def send(world: World, call: Call, via: str) -> Any:
    response = _send(world, call, via)
    location = response.headers.get("location", "") if response.status_code == 303 else ""
    if location.startswith("/jobs/"):  # an import runs as a job: its answer is the job's page once run
        return _send(world, Call("GET", location), via)
    return response


def _send(world: World, call: Call, via: str) -> Any:
    if via == "token":
        return world.token.request(
            call.method,
            call.url,
            params=call.params,
            json=call.json,
            data=call.data,
            files=call.files,
            content=call.content,
            headers=world.headers,
            follow_redirects=False,
        )
    assert world.session is not None
    form = call.data is not None or call.files is not None
    data = {**(call.data or {}), "csrf_token": world.csrf} if form else None
    return world.session.request(
        call.method,
        call.url,
        params=call.params,
        json=call.json,
        data=data,
        files=call.files,
        content=call.content,
        headers={"x-csrf-token": world.csrf},
        follow_redirects=False,
    )


def shown(response: Any) -> str:
    """The text of a response, XLSX files read cell by cell, plus any redirect target."""
    if response.content[:4] == transfer.XLSX_MAGIC:
        header, rows = transfer.read_table(response.content, "units.xlsx")
        body = " ".join([*header, *(str(v) for _, row in rows for v in row)])
    else:
        body = response.content.decode("utf-8", "replace")
    return body + " " + response.headers.get("location", "")


def leaks(response: Any, call: Call) -> list[str]:
    text = shown(response)
    found = [secret for secret in NEVER_SHOWN if secret in text]
    sent = call.text()
    for code in ("D2", "S2"):  # a code the caller sent may be echoed in an error; nothing else
        if code not in sent and re.search(rf"(?<![A-Za-z0-9_.-]){code}(?![A-Za-z0-9_.-])", text):
            found.append(code)
    return found


def snapshot(conn: Connection) -> tuple[Any, ...]:
    tables = (store.units, store.unit_versions, store.unit_paths, store.unit_events, store.unit_groups,
              store.unit_group_members, store.unit_group_sets, store.unit_group_set_members)
    counts = tuple(conn.scalar(select(func.count()).select_from(t)) for t in tables)
    versions = conn.execute(
        select(store.units.c.code, *[c for c in store.unit_versions.c if c.name not in ("id", "unit_id")])
        .join(store.unit_versions, store.unit_versions.c.unit_id == store.units.c.id)
        .order_by(store.units.c.code, store.unit_versions.c.valid_from)
    ).all()
    exported = transfer.export_units(conn, principal=SYSTEM, as_of=dt.date(2020, 1, 1), format="csv")
    data = conn.execute(select(dv.c.unit_id, dv.c.data_element_id, dv.c.value).order_by(dv.c.unit_id)).all()
    outside = [row for row in data if row.unit_id != store.unit_id_for(conn, "S1")]
    return counts, [tuple(map(str, row)) for row in versions], exported, [tuple(row) for row in outside]


# ---------------------------------------------------------------- the tests


def test_the_matrix_covers_every_route(client: TestClient) -> None:
    routes = app_routes(client)
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes the scope matrix does not know how to call; add them to MATRIX: {missing}"
    assert not stale, f"MATRIX lines for routes that no longer exist: {stale}"


@pytest.mark.parametrize("via", ["token", "session"])
def test_every_route_keeps_a_district_user_out_of_other_districts(world: World, via: str) -> None:
    if via == "session" and world.session is None:
        pytest.skip("POST /login does not exist yet, so there is no session to test")
    before = snapshot(world.conn)
    problems = []
    for route, calls in MATRIX.items():
        if calls is None:
            continue
        for out in OUT:
            for call in calls(out):
                response = send(world, call, via)
                assert response.status_code < 500, (route, call, response.text[:500])
                if found := leaks(response, call):
                    problems.append(
                        f"{call.method} {call.url} {call.params or call.json or call.data}: "
                        f"{response.status_code} shows {found}"
                    )
                if call.status is not None and response.status_code != call.status:
                    problems.append(
                        f"{call.method} {call.url} {call.params}: "
                        f"answered {response.status_code}, expected {call.status}"
                    )
                if call.writes_registry and response.status_code < 400:
                    problems.append(
                        f"{call.method} {call.url} {call.json or call.data or ''}: "
                        f"write outside D1 answered {response.status_code}"
                    )
    if via == "session":
        response = send(world, Call("POST", "/logout"), via)
        assert response.status_code == 303 and not leaks(response, Call("POST", "/logout"))
    assert not problems, "\n".join(problems)
    assert snapshot(world.conn) == before, "a request changed the registry outside D1"


@pytest.mark.parametrize("via", ["token", "session"])
def test_the_same_user_reads_and_writes_inside_their_district(world: World, via: str) -> None:
    if via == "session" and world.session is None:
        pytest.skip("POST /login does not exist yet, so there is no session to test")
    calls = [
        Call("GET", "/api/units", params={"descendants_of": "D1", "as_of": "2020-01-01"}),
        Call("GET", "/api/units/S1"),
        Call("GET", "/units/S1"),
        Call("GET", "/api/units/export", params={"as_of": "2020-01-01"}),
        Call("PATCH", "/api/units/S1", json={"effective": "2020-01-01", "name_zh": "一号学校"}),
        Call(
            "POST",
            "/api/units",
            json={
                "code": "NEW1",
                "name_zh": "新校",
                "name_en": "New School",
                "type": "primary_school",
                "parent": "D1",
                "opened": "2020-01-01",
            },
        ),
        Call(
            "POST",
            "/units/new",
            data={
                "code": "NEW2",
                "name_zh": "新校二",
                "name_en": "New School 2",
                "type": "primary_school",
                "parent": "S1",
                "opened": "2020-01-01",
            },
        ),
        Call(
            "POST",
            "/api/units/import",
            params={"filename": "u.csv"},
            content=csv_file(
                {
                    "code": "NEW3",
                    "name_zh": "新三",
                    "name_en": "New 3",
                    "type": "kindergarten",
                    "parent": "D1",
                    "valid_from": "2020-01-01",
                }
            ),
        ),
        Call("POST", "/api/units/NEW1/close", json={"effective": "2021-01-01"}),
        Call("POST", "/api/unitGroups", json={"code": "D1-G", "name_zh": "区组", "name_en": "District group",
                                              "members": ["S1"]}),
        Call("POST", "/api/unitGroups/G-IN/members", json={"add": ["D1"]}),
        Call("POST", "/groups/G-IN/members", data={"remove": "D1"}),
        Call("GET", "/groups/G-MIX"),
        Call("GET", "/api/units", params={"descendants_of": "D1", "as_of": "2020-06-01"}),
        Call("GET", "/api/unitGroups/G-MIX"),
    ]
    responses = [send(world, call, via) for call in calls]
    for call, response in zip(calls, responses, strict=True):
        assert response.status_code in (200, 201, 303), (call, response.text[:500])
        assert not leaks(response, call), call
    assert {u["code"] for u in responses[0].json()["items"]} == {"D1", "S1"}
    assert responses[1].json()["ancestors"][0]["code"] == "SH"  # where D1 hangs, by design
    assert "S1" in responses[3].text and not mentions(responses[3].text, "D2")
    listed = {u["code"]: u["name_zh"] for u in responses[-2].json()["items"]}
    assert listed.keys() == {"D1", "S1", "NEW1", "NEW2", "NEW3"} and listed["S1"] == "一号学校"
    assert [m["code"] for m in responses[-1].json()["members"]] == ["S1"]


def test_a_backdated_change_does_not_reach_past_the_day_a_unit_left_the_district(client, conn) -> None:
    """S3 was in D1 until 2010, then moved to D2: a D1 user may fix its early years only."""
    small_tree(conn)
    make_unit(conn, "S3", parent="D1", name_zh="三校")
    change(conn, "S3", "2010-01-01", parent="D2")
    headers = token_for(conn, make_user(conn, "d1staff", role="district_staff", capture=["D1"]))
    renamed = client.patch(
        "/api/units/S3", headers=headers, json={"effective": "2005-01-01", "name_zh": "改名"}
    )
    assert renamed.status_code == 403, renamed.text
    assert state(conn, "S3", "2020-01-01").name_zh == "三校"
    assert state(conn, "S3", "2005-01-01").name_zh == "三校"
    early = client.patch(
        "/api/units/S3", headers=headers, json={"effective": "2005-01-01", "ownership": "private"}
    )
    assert early.status_code == 403  # it would hold until S3's next change of ownership: none, so into D2
    closing = client.post("/api/units/S3/close", headers=headers, json={"effective": "2005-01-01"})
    assert closing.status_code >= 400 and state(conn, "S3", "2020-01-01").closed is None
    before_move = client.patch(
        "/api/units/S3", headers=headers, json={"effective": "2005-01-01", "parent": "S1"}
    )
    assert before_move.status_code == 200, before_move.text  # a move holds until the recorded move to D2
    assert state(conn, "S3", "2020-01-01").parent == "D2"


def test_a_change_does_not_follow_an_ancestor_out_of_the_district(client, conn) -> None:
    """X (with its school S4) leaves D1 for D2 in 2010: S4 after 2010 is D2's business."""
    small_tree(conn)
    make_unit(conn, "X", parent="D1", type="other")
    make_unit(conn, "S4", parent="X", name_zh="四校")
    change(conn, "X", "2010-01-01", parent="D2")
    headers = token_for(conn, make_user(conn, "d1staff", role="district_staff", capture=["D1"]))
    closing = client.post("/api/units/S4/close", headers=headers, json={"effective": "2005-01-01"})
    assert closing.status_code == 403, closing.text
    renamed = client.patch(
        "/api/units/S4", headers=headers, json={"effective": "2005-01-01", "name_zh": "改名"}
    )
    assert renamed.status_code == 403, renamed.text
    moved = client.patch("/api/units/S1", headers=headers, json={"effective": "2005-01-01", "parent": "X"})
    assert moved.status_code == 403, moved.text  # S1 would follow X into D2 in 2010
    assert state(conn, "S1", "2020-01-01").parent == "D1"
    assert state(conn, "S4", "2020-01-01").name_zh == "四校"
    fine = client.patch("/api/units/S1", headers=headers, json={"effective": "2005-01-01", "name_zh": "一校"})
    assert fine.status_code == 200, fine.text


def change(conn: Connection, code: str, effective: str, **changes: Any) -> None:
    service.change_unit(
        conn, principal=SYSTEM, code=code, effective=dt.date.fromisoformat(effective), changes=changes
    )


def state(conn: Connection, code: str, on: str) -> UnitDetail:
    return queries.get_unit(conn, principal=SYSTEM, code=code, as_of=dt.date.fromisoformat(on))
