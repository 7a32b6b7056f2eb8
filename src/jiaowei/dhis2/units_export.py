"""DHIS2's organisation units, levels, groups and group sets as jiaowei writes them.

Each function returns the list of one kind in DHIS2's JSON shapes (``/api/metadata`` and
``/api/organisationUnits`` both use them), showing only what the principal may view: units whose
place today (or on their last day open) is within their view scope, every group and group set
with only the visible units as members. The mapping is documented in docs/dhis2.md
("Organisation units").
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.errors import M_, NotFound
from jiaowei.registry import dhis2 as registry
from jiaowei.registry.dhis2 import UnitRecord

OPENING_ATTRIBUTE = "dhis2_opening_date"
"""The unit attribute that keeps a DHIS2 openingDate earlier than the day the unit opened in jiaowei."""


def stamp(value: dt.date | dt.datetime | None) -> str | None:
    """A date or time as DHIS2 writes it: ``2020-04-05T00:00:00.000``."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")
    return f"{value.isoformat()}T00:00:00.000"


def translations(name_zh: str, name_en: str, *, short: bool = True) -> list[dict[str, str]]:
    """The zh_CN translations of NAME (and SHORT_NAME) when the Chinese name differs."""
    if not name_zh or name_zh == name_en:
        return []
    props = ("NAME", "SHORT_NAME") if short else ("NAME",)
    return [{"property": p, "locale": "zh_CN", "value": name_zh} for p in props]


def organisation_units(conn: Connection, *, principal: Principal) -> list[dict[str, Any]]:
    """Every unit the principal may view, parents first, as DHIS2's organisationUnits."""
    records = registry.visible_units(conn, principal=principal)
    uids = registry.uids_of(conn, {i for r in records for i in r.path})
    return [unit_object(r, uids) for r in records]


def unit_object(record: UnitRecord, uids: dict[int, str]) -> dict[str, Any]:
    v = record.version
    opened = v.attributes.get(OPENING_ATTRIBUTE)
    out: dict[str, Any] = {
        "id": record.uid,
        "code": record.code,
        "name": v.name_en,
        "shortName": v.name_en[:50],
        "level": len(record.path),
        "path": "/" + "/".join(uids.get(i, "") for i in record.path),
        "openingDate": f"{opened}T00:00:00.000" if isinstance(opened, str) else stamp(record.opened),
        "created": stamp(record.created_at),
        "lastUpdated": stamp(record.last_updated or record.created_at),
        "translations": translations(v.name_zh, v.name_en),
    }
    if record.closed is not None:
        out["closedDate"] = stamp(record.closed)
    if v.parent_id is not None and v.parent_id in uids:
        out["parent"] = {"id": uids[v.parent_id]}
    return out


def organisation_unit_levels(conn: Connection, *, principal: Principal) -> list[dict[str, Any]]:
    """The organisation unit levels, from the top (names of depths: every user may read them)."""
    require_action(principal, Action.VIEW)
    out = []
    for level in registry.levels(conn):
        item: dict[str, Any] = {
            "id": level.uid,
            "level": level.level,
            "name": level.name_en,
            "translations": translations(level.name_zh, level.name_en, short=False),
        }
        if level.code:
            item["code"] = level.code
        out.append(item)
    return out


def organisation_unit_groups(conn: Connection, *, principal: Principal) -> list[dict[str, Any]]:
    """Every group, with the members the principal may view (by uid)."""
    found = registry.groups(conn)
    member_ids = sorted({m for g in found for m in g.members})
    visible = {r.id: r.uid for r in registry.visible_units(conn, principal=principal, ids=member_ids)}
    set_uids: dict[int, list[dict[str, str]]] = {}
    for group_set in registry.group_sets(conn):
        for group_id in group_set.members:
            set_uids.setdefault(group_id, []).append({"id": group_set.uid})
    return [
        {
            "id": g.uid,
            "code": g.code,
            "name": g.name_en,
            "shortName": g.name_en[:50],
            "translations": translations(g.name_zh, g.name_en),
            "organisationUnits": [{"id": visible[m]} for m in g.members if m in visible],
            "groupSets": set_uids.get(g.id, []),
        }
        for g in found
    ]


def organisation_unit_group_sets(conn: Connection, *, principal: Principal) -> list[dict[str, Any]]:
    """Every group set with its groups (by uid)."""
    require_action(principal, Action.VIEW)
    group_uids = {g.id: g.uid for g in registry.groups(conn)}
    return [
        {
            "id": s.uid,
            "code": s.code,
            "name": s.name_en,
            "shortName": s.name_en[:50],
            "translations": translations(s.name_zh, s.name_en),
            "organisationUnitGroups": [{"id": group_uids[g]} for g in s.members if g in group_uids],
        }
        for s in registry.group_sets(conn)
    ]


def organisation_unit(conn: Connection, *, principal: Principal, key: str) -> dict[str, Any]:
    """One unit by uid or code, if the principal may view it (else not found, as if it did not exist)."""
    ids = [unit_id for unit_id, _, _ in registry.unit_keys(conn, uids=[key], codes=[key])]
    records = registry.visible_units(conn, principal=principal, ids=ids)
    record = next((r for r in records if r.uid == key), None) or next(
        (r for r in records if r.code == key), None
    )
    if record is None:
        raise NotFound(M_("No organisation unit with id or code {key!r}.", key=key))
    return unit_object(record, registry.uids_of(conn, record.path))


def organisation_unit_group(conn: Connection, *, principal: Principal, key: str) -> dict[str, Any]:
    """One group by uid or code, with the members the principal may view."""
    found = organisation_unit_groups(conn, principal=principal)
    group = next((g for g in found if g["id"] == key), None) or next(
        (g for g in found if g["code"] == key), None
    )
    if group is None:
        raise NotFound(M_("No organisation unit group with id or code {key!r}.", key=key))
    return group
