"""Metadata going out to DHIS2 (GET /api/metadata): indicator types with ids, ``idScheme=UID``
expressions, the units of unit types listed, what cannot go back said in ``jiaowei:warnings``,
and a re-import into an empty database that gives the same metadata."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from jiaowei.auth.model import SYSTEM
from jiaowei.indicators import demo, expressions
from jiaowei.indicators.metadata import bundle_export
from jiaowei.indicators.metadata import service as metadata
from jiaowei.indicators.model import UID
from jiaowei.registry import store as registry_store
from tests.factories import make_unit, make_user, small_tree, token_for

DHIS2_DEFAULTS = {"bjDvmb4bfuf", "GLevLNI9wkl", "xYerKDKCefk", "HllvX50cXC0"}
"""DHIS2's own default category combo, category, option and option combo: DHIS2 has them."""
REFERENCES = {  # a reference's key in an object -> the kind of bundle object it names
    "categoryOptions": "categoryOptions",
    "categories": "categories",
    "categoryCombo": "categoryCombos",
    "dataElement": "dataElements",
    "indicatorType": "indicatorTypes",
    "organisationUnits": "organisationUnits",
    "parent": "organisationUnits",
    "organisationUnitGroups": "organisationUnitGroups",
}


def demo_like(conn: Connection) -> dict[str, str]:
    """The demo's metadata over a small tree with a kindergarten: unit types, the school year, a ratio."""
    small_tree(conn)
    make_unit(conn, "K1", parent="D1", type="kindergarten")
    make_unit(conn, "K2", parent="D2", type="kindergarten")
    demo._metadata(conn, {"PRIVATE_ADMISSION": ["S1"], "CAMPUS_HEALTH": ["S2"]})
    return token_for(conn, make_user(conn, role="commission_staff", capture=["SH"]))


def export(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = client.get("/api/metadata", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def refs(value: Any, key: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, reference) of every nested object that names another by id, anywhere below ``value``."""
    if isinstance(value, dict):
        if key in REFERENCES:
            yield key, value
        for k, v in value.items():
            yield from refs(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from refs(item, key)


def unit_uids(conn: Connection) -> dict[str, str]:
    units = registry_store.units
    return {r.code: r.uid for r in conn.execute(select(units.c.code, units.c.uid))}


def test_every_reference_of_a_uid_export_resolves_inside_the_bundle(
    client: TestClient, conn: Connection
) -> None:
    out = export(client, demo_like(conn), idScheme="UID")
    ids = {kind: {o["id"] for o in out[kind]} for kind in (*REFERENCES.values(), "categoryOptionCombos")}
    assert all(UID.match(i) for kind in ids.values() for i in kind)
    found = 0
    assert {u["code"] for u in out["organisationUnits"]} == {"SH", "D1", "D2", "S1", "S2", "K1", "K2"}
    for kind in (*bundle_export.EXPORTED_KINDS, "categoryOptionCombos"):
        for obj in out[kind]:
            for key, ref in refs({k: v for k, v in obj.items() if k != "id"}):
                found += 1
                assert ref["id"] in ids[REFERENCES[key]] | DHIS2_DEFAULTS, (kind, obj["code"], key, ref)
    assert found > 50
    # option combos are listed with their combo, and each combo's option combos are among them
    for combo in out["categoryCombos"]:
        assert {c["id"] for c in combo["categoryOptionCombos"]} <= ids["categoryOptionCombos"]
    # indicators name their type by id; the types carry DHIS2's factors
    types = {t["id"]: t for t in out["indicatorTypes"]}
    for indicator in out["indicators"]:
        assert (
            types[indicator["indicatorType"]["id"]]["factor"]
            == bundle_export.DISPLAY_FACTOR[indicator["display"]]
        )
    assert all(o.get("shortName") for k in ("dataElements", "indicators", "categoryOptions") for o in out[k])


def test_uid_expressions_name_elements_and_option_combos_by_id(client: TestClient, conn: Connection) -> None:
    headers = demo_like(conn)
    by_code, by_uid = export(client, headers), export(client, headers, idScheme="uid")
    elements = {e["id"] for e in by_uid["dataElements"]}
    combos = {c["id"] for c in by_uid["categoryOptionCombos"]} | DHIS2_DEFAULTS
    sides = [(i["numerator"], i["denominator"]) for i in by_uid["indicators"]]
    sides += [(r["leftSide"]["expression"], r["rightSide"]["expression"]) for r in by_uid["validationRules"]]
    references = [m for pair in sides for text in pair for m in re.findall(r"#\{([^}]*)\}", text)]
    assert len(references) > 20
    for reference in references:
        element, *combo = reference.split(".")
        assert element in elements and set(combo) <= combos, reference
    # the same expressions, reference for reference: only the names changed
    codes = {e["id"]: e["code"] for e in by_uid["dataElements"]}
    coc_codes = {c["id"]: c["code"] for c in by_uid["categoryOptionCombos"]} | {"HllvX50cXC0": "default"}
    for coded, uided in zip(by_code["indicators"], by_uid["indicators"], strict=True):
        back = re.sub(
            r"#\{([^}.]*)(?:\.([^}]*))?\}",
            lambda m: "#{" + codes[m[1]] + ("." + coc_codes[m[2]] if m[2] else "") + "}",
            uided["numerator"],
        )
        assert expressions.parse(back) == expressions.parse(coded["numerator"])
    assert not any(w["property"] == "numerator" for w in by_uid["jiaowei:warnings"])


def test_data_sets_of_unit_types_list_their_units_by_id_and_code(
    client: TestClient, conn: Connection
) -> None:
    headers = demo_like(conn)
    uids = unit_uids(conn)
    data_sets = {d["code"]: d for d in export(client, headers, idScheme="UID")["dataSets"]}
    assert data_sets["KG_ANNUAL"]["organisationUnits"] == [
        {"id": uids["K1"], "code": "K1"},
        {"id": uids["K2"], "code": "K2"},
    ]
    assert data_sets["CAMPUS_HEALTH"]["organisationUnits"] == [{"id": uids["S2"], "code": "S2"}]
    assert {u["id"] for d in data_sets.values() for u in d["organisationUnits"]} <= {
        u["id"] for u in export(client, headers, idScheme="UID")["organisationUnits"]
    }
    # a district user sees only its own district's units, by code and by id
    district = token_for(conn, make_user(conn, role="district_staff", capture=["D1"]))
    seen = export(client, district, idScheme="UID")
    shown = {d["code"]: d for d in seen["dataSets"]}["KG_ANNUAL"]["organisationUnits"]
    assert shown == [{"id": uids["K1"], "code": "K1"}]
    text = str(seen)
    assert uids["K2"] not in text and "'K2'" not in text
    # jiaowei's own export keeps the unit types as they are, and says so
    coded = {d["code"]: d for d in export(client, headers)["dataSets"]}
    assert coded["KG_ANNUAL"]["organisationUnits"] == [] and coded["KG_ANNUAL"]["unitTypes"] == [
        "kindergarten"
    ]


def test_what_dhis2_cannot_take_is_named_in_the_warnings(client: TestClient, conn: Connection) -> None:
    headers = demo_like(conn)
    for scheme in ("CODE", "UID"):
        warned = {
            (w["klass"], w["code"], w["property"]): w
            for w in export(client, headers, idScheme=scheme)[bundle_export.WARNINGS]
        }
        school_year = warned[("dataSets", "AFTER_SCHOOL", "periodType")]
        assert school_year["value"] == "SchoolYear" and "SchoolYear" in school_year["message"]
        assert ("validationRules", "RULE_AS_PUPILS", "periodType") in warned
        assert warned[("indicators", "HE_COUNSELLOR_RATIO", "indicatorType")]["value"] == "ratio"
        assert ("dataSets", "KG_ANNUAL", "unitTypes") in warned
        assert not any(code == "KG_ANNUAL" and prop == "periodType" for _, code, prop in warned)
    uid_warning = {
        (w["code"], w["property"]): w for w in export(client, headers, idScheme="UID")[bundle_export.WARNINGS]
    }[("KG_ANNUAL", "unitTypes")]
    assert "the 2 units of the types kindergarten" in uid_warning["message"]
    zh = client.get(
        "/api/metadata", params={"idScheme": "UID"}, headers={**headers, "Accept-Language": "zh-CN"}
    )
    assert zh.status_code == 200
    refused = client.get("/api/metadata", params={"idScheme": "NAME"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["problems"][0]["field"] == "idScheme"
    assert "UID" in refused.json()["problems"][0]["expected"]


def _empty_the_metadata(conn: Connection, exported: dict[str, Any]) -> None:
    delete = {"categories": metadata.delete_category, "categoryCombos": metadata.delete_category_combo}
    for kind in reversed(bundle_export.KINDS[1:]):
        for obj in exported[kind]:
            if kind in delete:
                delete[kind](conn, principal=SYSTEM, code=obj["code"])
            else:
                metadata.delete_object(conn, principal=SYSTEM, kind=kind, code=obj["code"])
    assert all(
        count == 0 for kind, count in bundle_export.count_objects(conn).items() if kind != "categoryOptions"
    )


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in ("date", "system")}


def test_reimporting_the_export_into_an_empty_database_gives_the_same_metadata(
    client: TestClient, conn: Connection
) -> None:
    headers = demo_like(conn)
    exported = export(client, headers)
    _empty_the_metadata(conn, exported)
    report = client.post("/api/metadata", json=copy.deepcopy(exported), headers=headers)
    assert report.status_code == 200, report.text
    again = export(client, headers)
    assert _comparable(again) == _comparable(exported)
