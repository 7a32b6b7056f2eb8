"""DHIS2's organisation units imported into the registry (jiaowei.dhis2.units), from DHIS2's own bundles.

``setup_metadata.json`` is dhis2-core's end-to-end setup bundle (levels, five units of Sierra Leone,
a group); ``ou_with_group_and_set.json`` has units without codes, a group and a group set. Both are
imported as they are; changed copies test dates, types, updates and refusals.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from jiaowei.auth.model import SYSTEM
from jiaowei.dhis2.units import ORG_UNIT_KINDS, export_org_units, import_org_units, unit_code_for
from jiaowei.errors import NotFound, PermissionDenied
from jiaowei.registry import groups, queries
from jiaowei.registry.store import unit_events, unit_group_sets, unit_groups, unit_levels, units
from jiaowei.uids import is_uid
from tests.factories import make_unit, make_user, small_tree

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dhis2" / "metadata"


def bundle(name: str) -> dict[str, Any]:
    """The organisation unit kinds of one of DHIS2's bundles."""
    whole = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return {kind: whole[kind] for kind in ORG_UNIT_KINDS if kind in whole}


SETUP = "setup_metadata.json"
GROUP_AND_SET = "ou_with_group_and_set.json"


def counts(conn: Connection) -> tuple[int, ...]:
    tables = (units, unit_events, unit_groups, unit_group_sets, unit_levels)
    return tuple(int(conn.scalar(select(func.count()).select_from(t)) or 0) for t in tables)


def events(conn: Connection, code: str) -> list[tuple[str, dt.date]]:
    detail = queries.get_unit(conn, principal=SYSTEM, code=code)
    return [(e.kind, e.effective) for e in detail.events]


def test_dhis2_setup_bundle_keeps_uids_parents_levels_and_groups(conn: Connection) -> None:
    stats, problems = import_org_units(conn, principal=SYSTEM, lists=bundle(SETUP))
    assert problems == []
    assert stats["organisationUnits"]["created"] == 5
    assert stats["organisationUnitLevels"]["created"] == 4
    assert stats["organisationUnitGroups"]["created"] == 1
    exported = export_org_units(conn, principal=SYSTEM, kinds=ORG_UNIT_KINDS)
    by_id = {u["id"]: u for u in exported["organisationUnits"]}
    assert by_id["DiszpKrYNg8"]["code"] == "OU_559"
    assert by_id["DiszpKrYNg8"]["parent"] == {"id": "YuQRtpLP10I"}
    assert by_id["DiszpKrYNg8"]["path"] == "/ImspTQPwCqd/O6uvpzGd5pu/YuQRtpLP10I/DiszpKrYNg8"
    assert by_id["DiszpKrYNg8"]["level"] == 4
    assert [(lv["level"], lv["id"], lv["code"]) for lv in exported["organisationUnitLevels"]] == [
        (1, "H1KlN4QIauv", "TA_NATIONAL"),
        (2, "wjP19dkFeIk", "TA_DISTRICT"),
        (3, "tTUf91fCytl", "TA_CHIEFDOM"),
        (4, "m9lBJogzE95", "TA_FACILITY"),
    ]
    group = next(g for g in exported["organisationUnitGroups"] if g["id"] == "tMbbjys8mS6")
    assert group["code"] == "TA_OU_GROUP"
    # the file names Sierra Leone as {"id": "ImspTQPwCqd", "code": "OU_167609"}: the id wins, as in DHIS2
    assert sorted(m["id"] for m in group["organisationUnits"]) == sorted(
        ["g8upMTyEZGZ", "O6uvpzGd5pu", "ImspTQPwCqd", "DiszpKrYNg8", "YuQRtpLP10I"]
    )
    assert unit_code_for(conn, {"id": "YuQRtpLP10I"}) == "OU_539"
    assert unit_code_for(conn, {"code": "OU_539"}) == "OU_539"
    assert unit_code_for(conn, {"id": "xxxxxxxxxxx"}) is None


def test_the_export_gives_back_the_bundles_ids_parents_and_opening_dates(conn: Connection) -> None:
    given = bundle(SETUP)["organisationUnits"]
    import_org_units(conn, principal=SYSTEM, lists=bundle(SETUP))
    exported = export_org_units(conn, principal=SYSTEM, kinds=["organisationUnits"])["organisationUnits"]
    assert {
        (u["id"], u["code"], (u.get("parent") or {}).get("id"), u["openingDate"], u["name"]) for u in exported
    } == {(u["id"], u["code"], (u.get("parent") or {}).get("id"), u["openingDate"], u["name"]) for u in given}
    again, problems = import_org_units(conn, principal=SYSTEM, lists={"organisationUnits": exported})
    assert problems == [] and again["organisationUnits"] == {
        "created": 0,
        "updated": 5,
        "deleted": 0,
        "ignored": 0,
        "total": 5,
    }


def test_opening_dates_are_open_events_and_an_earlier_child_opens_with_its_parent(conn: Connection) -> None:
    import_org_units(conn, principal=SYSTEM, lists=bundle(SETUP))
    assert events(conn, "OU_525") == [("open", dt.date(1994, 1, 1))]
    assert events(conn, "OU_167609") == [("open", dt.date(2009, 1, 1))]
    # Badjia opened in 1970 in DHIS2, before Bo (1990): in the registry it opens with Bo
    assert events(conn, "OU_539") == [("open", dt.date(1994, 1, 1))]
    detail = queries.get_unit(conn, principal=SYSTEM, code="OU_539")
    assert detail.attributes == {"dhis2_opening_date": "1970-01-01"}


def test_a_closed_date_closes_the_unit_with_a_close_event(conn: Connection) -> None:
    lists = bundle(SETUP)
    leaf = next(u for u in lists["organisationUnits"] if u["id"] == "g8upMTyEZGZ")
    leaf["closedDate"] = "2019-07-01T00:00:00.000"
    _, problems = import_org_units(conn, principal=SYSTEM, lists=lists)
    assert problems == []
    assert events(conn, "OU_167609") == [("open", dt.date(2009, 1, 1)), ("close", dt.date(2019, 7, 1))]
    exported = export_org_units(conn, principal=SYSTEM, kinds=["organisationUnits"])["organisationUnits"]
    assert next(u for u in exported if u["id"] == "g8upMTyEZGZ")["closedDate"] == "2019-07-01T00:00:00.000"
    again, problems = import_org_units(conn, principal=SYSTEM, lists=lists)  # already closed that day
    assert problems == [] and len(events(conn, "OU_167609")) == 2


def test_units_without_codes_take_their_uid_and_group_sets_keep_their_groups(conn: Connection) -> None:
    stats, problems = import_org_units(conn, principal=SYSTEM, lists=bundle(GROUP_AND_SET))
    assert problems == [] and stats["organisationUnitGroupSets"]["created"] == 1
    assert queries.get_unit(conn, principal=SYSTEM, code="LlabdFE9f05").parent == "PIBHO8qBw9o"
    group = groups.get_group(conn, principal=SYSTEM, code="IViMsXfUyWn")
    assert [m.code for m in group.members] == ["LlabdFE9f05", "PIBHO8qBw9o"]
    assert group.sets == ["XcKGktFuGFj"]
    exported = export_org_units(conn, principal=SYSTEM, kinds=["organisationUnitGroupSets"])
    assert exported["organisationUnitGroupSets"][0]["organisationUnitGroups"] == [{"id": "IViMsXfUyWn"}]


def test_a_bad_parent_is_named_by_row_field_and_value_and_nothing_is_written(conn: Connection) -> None:
    lists = bundle(SETUP)
    before = counts(conn)
    lists["organisationUnits"][2]["parent"] = {"id": "NoSuchUnit1"}
    stats, problems = import_org_units(conn, principal=SYSTEM, lists=lists)
    assert [(p.row, p.field, p.value) for p in problems] == [
        (3, "organisationUnits[2].parent", "NoSuchUnit1")
    ]
    assert counts(conn) == before


def test_other_refusals_are_named_too(conn: Connection) -> None:
    lists = bundle(SETUP)
    units_ = lists["organisationUnits"]
    units_[0]["id"] = "not-a-uid"
    del units_[1]["openingDate"]
    units_[3]["closedDate"] = "1980-01-01"
    lists["organisationUnitGroups"][0]["organisationUnits"].append({"id": "Missing0001"})
    _, problems = import_org_units(conn, principal=SYSTEM, lists=lists)
    assert {(p.row, p.field) for p in problems} == {
        (1, "organisationUnits[0].id"),
        (2, "organisationUnits[1].openingDate"),
        (4, "organisationUnits[3].closedDate"),
    }
    del lists["organisationUnits"]
    _, problems = import_org_units(conn, principal=SYSTEM, lists=lists)
    assert {(p.field, p.value) for p in problems} >= {
        ("organisationUnitGroups[0].organisationUnits[5]", "Missing0001")
    }
    assert counts(conn)[0] == 0


def test_a_unit_saved_before_takes_the_bundles_uid_and_changes_as_events(conn: Connection) -> None:
    make_unit(conn, "OU_525", type="commission", name_en="Sierra", opened=dt.date(1990, 1, 1))
    lists = bundle(SETUP)
    stats, problems = import_org_units(conn, principal=SYSTEM, lists=lists)
    assert problems == [] and stats["organisationUnits"]["updated"] == 1
    assert unit_code_for(conn, {"id": "ImspTQPwCqd"}) == "OU_525"
    detail = queries.get_unit(conn, principal=SYSTEM, code="OU_525")
    assert detail.name_en == "Sierra Leone" and detail.type == "commission"  # no type rule: the type stays
    assert ("rename", dt.date(2017, 5, 22)) in events(conn, "OU_525")  # on the object's lastUpdated day
    moved = copy.deepcopy(lists)
    badjia = next(u for u in moved["organisationUnits"] if u["id"] == "YuQRtpLP10I")
    badjia["parent"] = {"id": "ImspTQPwCqd"}
    badjia["lastUpdated"] = "2021-03-01T10:00:00.000"
    _, problems = import_org_units(
        conn, principal=SYSTEM, lists={"organisationUnits": moved["organisationUnits"]}
    )
    assert problems == []
    assert ("move", dt.date(2021, 3, 1)) in events(conn, "OU_539")
    assert queries.get_unit(conn, principal=SYSTEM, code="OU_539").parent == "OU_525"
    assert (
        queries.get_unit(conn, principal=SYSTEM, code="OU_539", as_of=dt.date(2020, 1, 1)).parent == "OU_264"
    )


def test_the_type_comes_from_a_unit_type_attribute_or_the_levels_else_other(conn: Connection) -> None:
    lists = bundle(SETUP)
    for level in lists["organisationUnitLevels"]:
        if level["level"] == 2:
            level["attributeValues"] = [{"attribute": {"code": "UNIT_TYPE"}, "value": "district_bureau"}]
    ngelehun = next(u for u in lists["organisationUnits"] if u["id"] == "DiszpKrYNg8")
    ngelehun["attributeValues"] = [
        {"attribute": {"id": "abcdefghijk", "code": "UNIT_TYPE"}, "value": "hospital"}
    ]
    _, problems = import_org_units(conn, principal=SYSTEM, lists=lists)
    assert problems == []
    types = {
        code: queries.get_unit(conn, principal=SYSTEM, code=code).type
        for code in ("OU_525", "OU_264", "OU_539", "OU_559", "OU_167609")
    }
    assert types == {
        "OU_525": "other",
        "OU_264": "district_bureau",
        "OU_539": "other",
        "OU_559": "hospital",
        "OU_167609": "other",
    }


def test_every_unit_group_and_set_made_in_jiaowei_has_a_uid(conn: Connection) -> None:
    small_tree(conn)
    groups.create_group(conn, principal=SYSTEM, code="G1", name_zh="组", name_en="G", members=["S1"])
    groups.create_group_set(conn, principal=SYSTEM, code="SET1", name_zh="集", name_en="S", groups=["G1"])
    exported = export_org_units(conn, principal=SYSTEM, kinds=ORG_UNIT_KINDS)
    uids = [
        o["id"]
        for kind in ("organisationUnits", "organisationUnitGroups", "organisationUnitGroupSets")
        for o in exported[kind]
    ]
    assert len(uids) == 7 and len(set(uids)) == 7 and all(is_uid(u) for u in uids)


@pytest.fixture
def district(conn: Connection) -> Any:
    small_tree(conn)
    return make_user(conn, "d1staff", role="district_staff", capture=["D1"])


def under(parent: str) -> dict[str, Any]:
    return {
        "organisationUnits": [
            {
                "id": "NewSchool01",
                "code": "NS1",
                "name": "New school",
                "openingDate": "2020-09-01T00:00:00.000",
                "parent": {"code": parent},
            }
        ]
    }


def test_a_district_user_imports_under_their_district_only(conn: Connection, district: Any) -> None:
    before = counts(conn)
    with pytest.raises(NotFound):  # a unit outside the district is not disclosed, as everywhere
        import_org_units(conn, principal=district, lists=under("D2"))
    assert counts(conn) == before
    _, problems = import_org_units(conn, principal=district, lists=bundle(GROUP_AND_SET))
    assert [p.field for p in problems] == ["organisationUnits[0].parent"]  # a top unit is the commission's
    assert counts(conn) == before
    stats, problems = import_org_units(conn, principal=district, lists=under("D1"))
    assert problems == [] and queries.get_unit(conn, principal=district, code="NS1").parent == "D1"
    exported = export_org_units(conn, principal=district, kinds=["organisationUnits"])["organisationUnits"]
    assert sorted(u["code"] for u in exported) == ["D1", "NS1", "S1"]
    levels = {"organisationUnitLevels": [{"id": "H1KlN4QIauv", "level": 1, "name": "National"}]}
    with pytest.raises(PermissionDenied):  # levels name the whole tree's depths: the commission's
        import_org_units(conn, principal=district, lists=levels)


def test_every_write_of_an_import_is_in_the_audit_log_as_the_registry_replays_it(conn: Connection) -> None:
    from jiaowei.audit import reconcile
    from jiaowei.audit import service as audit

    for name in (SETUP, GROUP_AND_SET):
        assert import_org_units(conn, principal=SYSTEM, lists=bundle(name))[1] == []
    lists = bundle(GROUP_AND_SET)
    lists["organisationUnitGroupSets"][0]["organisationUnitGroups"] = [{"id": "tMbbjys8mS6"}]
    lists["organisationUnitGroups"][0]["organisationUnits"] = [{"id": "LlabdFE9f05"}, {"code": "OU_559"}]
    lists["organisationUnits"][1]["closedDate"] = "2024-01-01"
    lists["organisationUnits"][1]["name"] = "Renamed child"
    assert import_org_units(conn, principal=SYSTEM, lists=lists)[1] == []
    group = groups.get_group(conn, principal=SYSTEM, code="IViMsXfUyWn", as_of=dt.date(2023, 1, 1))
    assert [g.code for g in group.members] == [
        "LlabdFE9f05",
        "OU_559",
    ]
    assert groups.list_group_sets(conn, principal=SYSTEM)[0].groups == ["TA_OU_GROUP"]
    assert audit.verify(conn).ok
    assert [m for m in reconcile.reconcile(conn) if m.table.startswith("unit")] == []
