"""The DHIS2 round trip: DHIS2's metadata with its organisation units in, its data in JSON, CSV, ADX
and DXF2 in, everything out again by uid; the values and the ids match.

The bundle is DHIS2's malaria bundle (``metadata/aggregate_metadata.json``, its broken rule left
out) with the Sierra Leone units, levels and group of DHIS2's end-to-end setup bundle
(``metadata/setup_metadata.json``), whose uids the malaria data sets name, and that bundle's aggregate
BOOLEAN data element in one data set of our own (the malaria elements are all numbers). The values
are DHIS2's own ``datavalueset/dataValues_single_dataset.json`` (two values) and six more written the
same way; each format's file is written from them as DHIS2 writes that format (ADX: categories as
attributes, a boolean as ``value="0"`` with an ``<annotation>``), and imported with ``idScheme=UID``.
Then ``GET /api/dataValueSets?idScheme=UID`` in each of the four formats gives back exactly those
(element uid, period, unit uid, option combo uid, value), and ``GET /api/metadata?idScheme=UID``
gives back the bundle's ids for each of them. Both databases.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.factories import make_user, token_for
from tests.indicators.metadata.test_dhis2_metadata import FIXTURES, dhis2_bundle, without_broken_rule

DEFAULT_COC, DEFAULT_COMBO = "HllvX50cXC0", "bjDvmb4bfuf"
DXF2 = "http://dhis2.org/schema/dxf/2.0"
ADX = "urn:ihe:qrph:adx:2015"
BOOLEAN_ELEMENT = "vbZ5LGNfGET"  # setup_metadata.json's "TA Date and time AGGREGATE", a BOOLEAN


class Value(NamedTuple):
    element: str
    period: str
    unit: str
    coc: str
    value: str


DHIS2_FILE = "dataValues_single_dataset.json"
VALUES = (
    Value("BjDrgVrkBI3", "201911", "O6uvpzGd5pu", "oPcWGgS2Liz", "1000"),  # DHIS2_FILE's two values
    Value("BjDrgVrkBI3", "201911", "O6uvpzGd5pu", "rtfSaMjPyq6", "2000"),
    Value("enVf9I39FRZ", "201911", "g8upMTyEZGZ", "t5FrQ0GTvGf", "3"),
    Value("enVf9I39FRZ", "201912", "g8upMTyEZGZ", "AroSt3y4ir0", "12"),
    Value("kC0lyoKVBqC", "201912", "YuQRtpLP10I", DEFAULT_COC, "7"),
    Value("dFaBg0HpoIL", "2019", "ImspTQPwCqd", "hF0pQZIn6Ch", "7500000"),  # a yearly data set
    Value("cOVhTyW8zN6", "2019", "ImspTQPwCqd", DEFAULT_COC, "4200"),
    Value(BOOLEAN_ELEMENT, "201911", "DiszpKrYNg8", DEFAULT_COC, "true"),
)


def round_trip_bundle() -> dict[str, Any]:
    bundle = without_broken_rule(dhis2_bundle())
    setup = json.loads((FIXTURES / "metadata" / "setup_metadata.json").read_text("utf-8"))
    for kind in ("organisationUnitLevels", "organisationUnits", "organisationUnitGroups"):
        bundle[kind] = setup[kind]
    [boolean] = [e for e in setup["dataElements"] if e["id"] == BOOLEAN_ELEMENT]
    bundle["dataElements"].append(boolean)
    bundle["dataSets"].append({"id": "jwRoundTrp1", "code": "RT_BOOLEAN", "name": "Round trip: a boolean",
                               "periodType": "Monthly", "organisationUnits": [{"id": "DiszpKrYNg8"}],
                               "dataSetElements": [{"dataElement": {"id": BOOLEAN_ELEMENT}}]})
    return bundle


BUNDLE = round_trip_bundle()


def _data_sets() -> dict[str, str]:
    """The data set of each element (each is in one)."""
    return {m["dataElement"]["id"]: ds["id"] for ds in BUNDLE["dataSets"] for m in ds["dataSetElements"]}


def _coc_options(by: str = "code") -> dict[str, dict[str, str]]:
    """Each option combo's options as {category uid: option code} (``by="id"``: option uid), from the
    bundle."""
    codes = {o["id"]: o[by] for o in BUNDLE["categoryOptions"]}
    category_of = {o["id"]: c["id"] for c in BUNDLE["categories"] for o in c["categoryOptions"]}
    return {coc["id"]: {category_of[o["id"]]: codes[o["id"]] for o in coc["categoryOptions"]}
            for coc in BUNDLE["categoryOptionCombos"]}


# ---------------------------------------------------------------- the files, as DHIS2 writes them


def json_file(values: tuple[Value, ...]) -> bytes:
    rows = [{"dataElement": v.element, "period": v.period, "orgUnit": v.unit, "categoryOptionCombo": v.coc,
             "attributeOptionCombo": DEFAULT_COC, "value": v.value} for v in values]
    return json.dumps({"dataValues": rows}).encode()


def csv_file(values: tuple[Value, ...]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["dataelement", "period", "orgunit", "catoptcombo", "attroptcombo", "value", "storedby",
                     "lastupdated", "comment", "followup", "deleted"])
    writer.writerows([v.element, v.period, v.unit, v.coc, DEFAULT_COC, v.value, "admin", "", "", "false",
                      "false"] for v in values)
    return out.getvalue().encode()


def dxf2_file(values: tuple[Value, ...]) -> bytes:
    root = ET.Element("dataValueSet", xmlns=DXF2)
    for v in values:
        ET.SubElement(root, "dataValue", dataElement=v.element, period=v.period, orgUnit=v.unit,
                      categoryOptionCombo=v.coc, attributeOptionCombo=DEFAULT_COC, value=v.value)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def adx_period(period: str) -> str:
    return f"{period}-01-01/P1Y" if len(period) == 4 else f"{period[:4]}-{period[4:]}-01/P1M"


def adx_file(values: tuple[Value, ...]) -> bytes:
    """One group per data set, unit and period; categories as attributes, by option code; a value
    that is not a number as ``value="0"`` with the value in ``<annotation>`` (DHIS2's ADX rules)."""
    root = ET.Element("adx", xmlns=ADX, exported="2019-12-31T00:00:00Z")
    groups: dict[tuple[str, str, str], ET.Element] = {}
    options, data_sets = _coc_options(), _data_sets()
    for v in values:
        key = (data_sets[v.element], v.unit, v.period)
        if key not in groups:
            groups[key] = ET.SubElement(root, "group", dataSet=key[0], orgUnit=v.unit,
                                        period=adx_period(v.period))
        number = v.value.lstrip("-").isdigit()
        item = ET.SubElement(groups[key], "dataValue", dataElement=v.element, **options.get(v.coc, {}),
                             value=v.value if number else "0")
        if not number:
            ET.SubElement(item, "annotation").text = v.value
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# ---------------------------------------------------------------- the exports, read back


def read_json(data: bytes) -> set[Value]:
    return {Value(r["dataElement"], r["period"], r["orgUnit"], r["categoryOptionCombo"], r["value"])
            for r in json.loads(data)["dataValues"]}


def read_csv(data: bytes) -> set[Value]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[0][:6] == ["dataelement", "period", "orgunit", "catoptcombo", "attroptcombo", "value"]
    assert {r[4] for r in rows[1:]} == {DEFAULT_COC}
    return {Value(r[0], r[1], r[2], r[3], r[5]) for r in rows[1:]}


def read_dxf2(data: bytes) -> set[Value]:
    root = ET.fromstring(data)
    assert root.tag == f"{{{DXF2}}}dataValueSet"
    return {Value(d.get("dataElement", ""), d.get("period", ""), d.get("orgUnit", ""),
                  d.get("categoryOptionCombo", ""), d.get("value", "")) for d in root}


def read_adx(data: bytes) -> set[Value]:
    """ADX names no option combo: it is found from the categories' options (by uid, as the export is
    asked for idScheme=UID), through the bundle."""
    root = ET.fromstring(data)
    by_options = {tuple(sorted(o.items())): coc for coc, o in _coc_options(by="id").items()}
    found = set()
    for group in root.iter(f"{{{ADX}}}group"):
        start, duration = group.get("period", "").split("/")
        period = start[:4] + ("" if duration == "P1Y" else start[5:7])
        for item in group.iter(f"{{{ADX}}}dataValue"):
            attributes = dict(item.attrib)
            element, value = attributes.pop("dataElement"), attributes.pop("value")
            named = attributes.pop("categoryOptionCombo", None)
            coc = named or by_options.get(tuple(sorted(attributes.items())))
            annotation = item.find(f"{{{ADX}}}annotation")
            if value == "0" and annotation is not None and annotation.text:
                value = annotation.text
            found.add(Value(element, period, group.get("orgUnit", ""), coc or DEFAULT_COC, value))
    return found


WRITERS: dict[str, tuple[Callable[[tuple[Value, ...]], bytes], str]] = {
    "json": (json_file, "application/json"),
    "csv": (csv_file, "application/csv"),
    "adx": (adx_file, "application/adx+xml"),
    "dxf2": (dxf2_file, "application/xml"),
}
READERS: dict[str, Callable[[bytes], set[Value]]] = {
    "dhis2-json": read_json, "dhis2-csv": read_csv, "adx": read_adx, "dxf2": read_dxf2,
}


@pytest.fixture
def headers(conn: Connection) -> dict[str, str]:
    return token_for(conn, make_user(conn, role="administrator"))


UID = {"idScheme": "UID"}
ADX_UID = {"dataElementIdScheme": "UID", "orgUnitIdScheme": "UID"}
"""ADX names disaggregations by category and option codes, which the option combo scheme is not for."""


def post(client: TestClient, headers: dict[str, str], data: bytes, media_type: str,
         schemes: dict[str, str] = UID) -> None:
    answer = client.post("/api/dataValueSets", content=data, params=schemes,
                         headers={**headers, "content-type": media_type})
    assert answer.status_code == 200, answer.text[:3000]
    assert answer.json()["response"]["status"] == "SUCCESS", answer.text[:3000]


@pytest.mark.parametrize("written", ["json", "csv", "adx", "dxf2"])
def test_dhis2_metadata_and_data_come_back_with_the_same_values_and_ids(
    client: TestClient, conn: Connection, headers: dict[str, str], written: str
) -> None:
    imported = client.post("/api/metadata", json=BUNDLE, headers=headers)
    assert imported.status_code == 200, imported.text[:3000]
    writer, media_type = WRITERS[written]
    if written == "json":  # DHIS2's own file for its two values, unchanged
        post(client, headers, (FIXTURES / "datavalueset" / DHIS2_FILE).read_bytes(), media_type)
        post(client, headers, writer(VALUES[2:]), media_type)
    else:
        post(client, headers, writer(VALUES), media_type, ADX_UID if written == "adx" else UID)

    for exported_as, read in READERS.items():
        answer = client.get("/api/dataValueSets", headers=headers, params={
            "idScheme": "UID", "format": exported_as, "orgUnit": "ImspTQPwCqd", "children": "true"})
        assert answer.status_code == 200, (exported_as, answer.text[:3000])
        assert read(answer.content) == set(VALUES), exported_as

    metadata = client.get("/api/metadata", headers=headers, params={"idScheme": "UID"})
    assert metadata.status_code == 200, metadata.text[:3000]
    check_metadata_ids(metadata.json())


def test_with_no_id_scheme_a_dhis2_file_names_units_by_uid(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    """DHIS2's own file, posted with no scheme: elements, units and option combos are each matched by
    code, else by uid, and the export names the root unit by uid or by code alike."""
    assert client.post("/api/metadata", json=BUNDLE, headers=headers).status_code == 200
    post(client, headers, (FIXTURES / "datavalueset" / DHIS2_FILE).read_bytes(), "application/json", {})
    by_uid, by_code = (
        client.get("/api/dataValueSets", headers=headers,
                   params={"idScheme": "UID", "orgUnit": unit, "children": "true"})
        for unit in ("ImspTQPwCqd", "OU_525")
    )
    assert by_uid.status_code == 200, by_uid.text[:2000]
    assert read_json(by_uid.content) == read_json(by_code.content) == set(VALUES[:2])


def test_an_adx_file_imports_with_id_scheme_uid(
    client: TestClient, conn: Connection, headers: dict[str, str]
) -> None:
    """Under idScheme=UID, ADX's data elements and units are uids, its categories and options codes."""
    assert client.post("/api/metadata", json=BUNDLE, headers=headers).status_code == 200
    post(client, headers, adx_file(VALUES), "application/adx+xml", UID)
    answer = client.get("/api/dataValueSets", headers=headers, params={
        "idScheme": "UID", "format": "dhis2-json", "orgUnit": "ImspTQPwCqd", "children": "true"})
    assert read_json(answer.content) == set(VALUES)


def check_metadata_ids(out: dict[str, Any]) -> None:
    """The export names every value's element, unit and option combo by the bundle's uids; the
    option combos, units and data sets are the bundle's, and so are its expressions, uids and all."""
    elements = {e["id"]: e for e in out["dataElements"]}
    units = {u["id"]: u for u in out["organisationUnits"]}
    cocs = {c["id"]: c for c in out["categoryOptionCombos"]}
    assert {c["id"] for c in BUNDLE["categoryOptionCombos"]} == set(cocs)
    for coc in BUNDLE["categoryOptionCombos"]:
        assert cocs[coc["id"]]["categoryCombo"]["id"] == coc["categoryCombo"]["id"]
        options = {o["id"] for o in cocs[coc["id"]]["categoryOptions"]}
        assert options == {o["id"] for o in coc["categoryOptions"]}
    for unit in BUNDLE["organisationUnits"]:
        assert units[unit["id"]]["code"] == unit["code"]
        parent = unit.get("parent")
        assert units[unit["id"]].get("parent", {}).get("id") == (parent["id"] if parent else None)
    indicators, rules = {i["id"]: i for i in out["indicators"]}, {r["id"]: r for r in out["validationRules"]}
    for indicator in BUNDLE["indicators"]:  # stored with codes, written with uids again
        exported = indicators[indicator["id"]]
        assert (exported["numerator"], exported["denominator"]) == (indicator["numerator"],
                                                                    indicator["denominator"])
    for rule in BUNDLE["validationRules"]:
        for side in ("leftSide", "rightSide"):
            assert rules[rule["id"]][side]["expression"] == rule[side]["expression"]
    data_sets = {ds["id"]: ds for ds in out["dataSets"]}
    for v in VALUES:
        combo = elements[v.element]["categoryCombo"]["id"]
        if v.coc == DEFAULT_COC:
            assert combo == DEFAULT_COMBO, v
        else:
            assert cocs[v.coc]["categoryCombo"]["id"] == combo, v
        assert v.unit in units, v
        holding = data_sets[_data_sets()[v.element]]
        assert v.element in {m["dataElement"]["id"] for m in holding["dataSetElements"]}, v
        assert v.unit in {u["id"] for u in holding["organisationUnits"]}, v
