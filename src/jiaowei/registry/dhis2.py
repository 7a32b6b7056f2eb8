"""What DHIS2's organisation units need from the registry: uids, levels, and units as DHIS2 sees them.

Every unit, group and group set has a DHIS2 uid (``units.uid``, filled when it is created); the
organisation unit levels (``unit_levels``) name each depth of the tree, 1 at the top. Reads apply
the principal's view scope; writes check registry write access and are audited. The DHIS2 shapes
themselves are built by :mod:`jiaowei.dhis2.units`, which reads and writes the registry through
this module, :mod:`jiaowei.registry.service` and :mod:`jiaowei.registry.groups`. Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Table, delete, func, insert, select, update

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, scope_paths
from jiaowei.errors import M_, Conflict, NotFound, PermissionDenied
from jiaowei.registry import store
from jiaowei.registry.model import FOREVER, UnitVersion, path_ids
from jiaowei.registry.queries import today
from jiaowei.registry.store import (
    unit_events,
    unit_group_members,
    unit_group_set_members,
    unit_group_sets,
    unit_groups,
    unit_levels,
    units,
)

CHUNK = 500


@dataclass(frozen=True)
class UnitRecord:
    """A unit as DHIS2 sees it: identity, its last version (or the one open today) and its path."""

    id: int
    uid: str
    code: str
    created_at: dt.datetime
    last_updated: dt.datetime | None
    opened: dt.date
    closed: dt.date | None  # the first day it is closed, None while open
    version: UnitVersion
    path: tuple[int, ...]  # unit ids from the top down to the unit itself


@dataclass(frozen=True)
class Level:
    level: int
    uid: str
    code: str | None
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class GroupRecord:
    """A group or a group set: identity, names and its members' ids (units, or groups for a set)."""

    id: int
    uid: str
    code: str
    name_zh: str
    name_en: str
    members: tuple[int, ...]


# ---------------------------------------------------------------- reading


def unit_keys(
    conn: Connection, *, uids: Iterable[str] = (), codes: Iterable[str] = ()
) -> list[tuple[int, str, str]]:
    """(id, uid, code) of the units with any of ``uids`` or ``codes`` (no scope: identities only)."""
    found: dict[int, tuple[int, str, str]] = {}
    for column, values in ((units.c.uid, list(set(uids))), (units.c.code, list(set(codes)))):
        for start in range(0, len(values), CHUNK):
            rows = conn.execute(
                select(units.c.id, units.c.uid, units.c.code).where(column.in_(values[start : start + CHUNK]))
            )
            found.update({row.id: (row.id, row.uid, row.code) for row in rows})
    return list(found.values())


def uids_of(conn: Connection, ids: Iterable[int]) -> dict[int, str]:
    """The uids of the units ``ids``."""
    wanted = sorted(set(ids))
    out: dict[int, str] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = conn.execute(
            select(units.c.id, units.c.uid).where(units.c.id.in_(wanted[start : start + CHUNK]))
        )
        out.update({row.id: row.uid for row in rows})
    return out


def visible_units(
    conn: Connection, *, principal: Principal, ids: Sequence[int] | None = None
) -> list[UnitRecord]:
    """Every unit (or those of ``ids``) whose place today, or on its last day open, is within the
    principal's view scope; in tree order."""
    require_action(principal, Action.VIEW)
    day = today()
    wanted = list(ids) if ids is not None else list(conn.scalars(select(units.c.id)))
    roots = None if principal.unlimited else scope_paths(conn, principal, Action.VIEW, day)
    records = [
        r
        for r in _records(conn, wanted, day)
        if roots is None or any(_path_text(r.path).startswith(root) for root in roots)
    ]
    return sorted(records, key=lambda r: (len(r.path), r.path))


def unit_records(conn: Connection, codes: Iterable[str]) -> dict[str, UnitRecord]:
    """The records of the units ``codes`` by code, whatever the scope (for writes that check it)."""
    ids = store.unit_ids_for(conn, codes)
    return {r.code: r for r in _records(conn, list(ids.values()), today())}


def _path_text(ids: Sequence[int]) -> str:
    return "/" + "".join(f"{i}/" for i in ids)


def _records(conn: Connection, ids: Sequence[int], day: dt.date) -> list[UnitRecord]:
    versions = store.versions_of(conn, list(ids))
    segments = store.segments_of(conn, ids)
    out = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        changed = dict(
            conn.execute(
                select(unit_events.c.unit_id, func.max(unit_events.c.recorded_at))
                .where(unit_events.c.unit_id.in_(chunk))
                .group_by(unit_events.c.unit_id)
            ).all()
        )
        for row in conn.execute(select(units).where(units.c.id.in_(chunk))):
            vs, segs = versions.get(row.id) or [], segments.get(row.id) or []
            if not vs or not segs:
                continue
            version = next((v for v in vs if v.covers(day)), vs[-1])
            segment = next((s for s in segs if s.valid_from <= day < s.valid_to), segs[-1])
            end = vs[-1].valid_to
            out.append(
                UnitRecord(
                    row.id,
                    row.uid,
                    row.code,
                    row.created_at,
                    changed.get(row.id),
                    vs[0].valid_from,
                    None if end == FOREVER else end,
                    version,
                    tuple(path_ids(segment.path)),
                )
            )
    return out


def levels(conn: Connection) -> list[Level]:
    """The organisation unit levels, from the top."""
    rows = conn.execute(select(unit_levels).order_by(unit_levels.c.level))
    return [Level(r.level, r.uid, r.code, r.name_zh, r.name_en) for r in rows]


def groups(conn: Connection) -> list[GroupRecord]:
    """Every group with the ids of all its members (filter them by scope before showing them)."""
    members: dict[int, list[int]] = {}
    for row in conn.execute(select(unit_group_members).order_by(unit_group_members.c.unit_id)):
        members.setdefault(row.group_id, []).append(row.unit_id)
    rows = conn.execute(select(unit_groups).order_by(unit_groups.c.code))
    return [
        GroupRecord(r.id, r.uid, r.code, r.name_zh, r.name_en, tuple(members.get(r.id, ()))) for r in rows
    ]


def group_sets(conn: Connection) -> list[GroupRecord]:
    """Every group set with the ids of its groups."""
    members: dict[int, list[int]] = {}
    for row in conn.execute(select(unit_group_set_members).order_by(unit_group_set_members.c.group_id)):
        members.setdefault(row.set_id, []).append(row.group_id)
    rows = conn.execute(select(unit_group_sets).order_by(unit_group_sets.c.code))
    return [
        GroupRecord(r.id, r.uid, r.code, r.name_zh, r.name_en, tuple(members.get(r.id, ()))) for r in rows
    ]


# ---------------------------------------------------------------- writing


def adopt_unit_uid(conn: Connection, *, principal: Principal, code: str, uid: str) -> None:
    """Give the unit ``code`` the uid ``uid`` (a DHIS2 bundle names it so); needs write access to it."""
    unit = conn.execute(select(units.c.id, units.c.uid).where(units.c.code == code)).one_or_none()
    if unit is None:
        raise NotFound(M_("No unit with code {code!r}.", code=code))
    if unit.uid == uid:
        return
    _require_writable(conn, principal, unit.id)
    _refuse_taken(conn, units, uid, M_("unit"))
    conn.execute(update(units).where(units.c.id == unit.id).values(uid=uid))
    audit.record(
        conn,
        actor=principal.username,
        action="unit.uid",
        entity="unit",
        entity_key=code,
        before={"uid": unit.uid},
        after={"uid": uid},
    )


def adopt_group_uid(
    conn: Connection, *, principal: Principal, code: str, uid: str, group_set: bool = False
) -> None:
    """Give the group (or group set) ``code`` the uid ``uid``; needs registry write access."""
    require_action(principal, Action.REGISTRY_WRITE)
    table = unit_group_sets if group_set else unit_groups
    row = conn.execute(select(table.c.id, table.c.uid).where(table.c.code == code)).one()
    if row.uid == uid:
        return
    _refuse_taken(conn, table, uid, M_("group set") if group_set else M_("group"))
    conn.execute(update(table).where(table.c.id == row.id).values(uid=uid))
    entity = "unit_group_set" if group_set else "unit_group"
    audit.record(
        conn,
        actor=principal.username,
        action=f"{entity}.uid",
        entity=entity,
        entity_key=code,
        before={"uid": row.uid},
        after={"uid": uid},
    )


def replace_set_groups(
    conn: Connection, *, principal: Principal, code: str, group_codes: Sequence[str]
) -> bool:
    """Make the groups of the set ``code`` exactly ``group_codes``; whether anything changed.

    Only someone who may write every unit of the groups it had and gets may change a set
    (administrators, in practice, for sets that span districts)."""
    require_action(principal, Action.REGISTRY_WRITE)
    set_id = conn.scalar(select(unit_group_sets.c.id).where(unit_group_sets.c.code == code))
    if set_id is None:
        raise NotFound(M_("No unit group set with code {code!r}.", code=code))
    wanted = dict(
        conn.execute(
            select(unit_groups.c.id, unit_groups.c.code).where(unit_groups.c.code.in_(list(group_codes)))
        ).all()
    )
    current = set(
        conn.scalars(
            select(unit_group_set_members.c.group_id).where(unit_group_set_members.c.set_id == set_id)
        )
    )
    if current == set(wanted):
        return False
    if not principal.unlimited:
        members = conn.scalars(
            select(unit_group_members.c.unit_id).where(
                unit_group_members.c.group_id.in_(list(current | set(wanted)))
            )
        )
        for unit_id in set(members):
            _require_writable(conn, principal, unit_id)
    conn.execute(delete(unit_group_set_members).where(unit_group_set_members.c.set_id == set_id))
    if wanted:
        conn.execute(
            insert(unit_group_set_members), [{"set_id": set_id, "group_id": g} for g in sorted(wanted)]
        )
    codes = dict(
        conn.execute(
            select(unit_groups.c.id, unit_groups.c.code).where(unit_groups.c.id.in_(list(current)))
        ).all()
    )
    added, removed = (
        sorted(wanted[g] for g in set(wanted) - current),
        sorted(codes[g] for g in current - set(wanted)),
    )
    entries = (
        [
            {
                "action": "unit_group_set.add",
                "entity": "unit_group_set",
                "entity_key": code,
                "before": None,
                "after": {"added": added},
                "note": "",
            }
        ]
        if added
        else []
    )
    entries += (
        [
            {
                "action": "unit_group_set.remove",
                "entity": "unit_group_set",
                "entity_key": code,
                "before": {"removed": removed},
                "after": None,
                "note": "",
            }
        ]
        if removed
        else []
    )
    audit.record_many(conn, actor=principal.username, entries=entries)  # as groups.add_members writes them
    return True


def save_level(conn: Connection, *, principal: Principal, level: Level) -> bool:
    """Create or change the organisation unit level ``level.level``; whether anything changed.

    Levels name the whole tree's depths, so only an administrator may change them."""
    require_action(principal, Action.REGISTRY_WRITE)
    old = next((lv for lv in levels(conn) if lv.level == level.level), None)
    if old == level:
        return False
    if not principal.unlimited:
        raise PermissionDenied(M_("Only an administrator may change the organisation unit levels."))
    values = {"uid": level.uid, "code": level.code, "name_zh": level.name_zh, "name_en": level.name_en}
    if old is None:
        conn.execute(insert(unit_levels).values(level=level.level, **values))
    else:
        conn.execute(update(unit_levels).where(unit_levels.c.level == level.level).values(**values))
    audit.record(
        conn,
        actor=principal.username,
        action="unit_level.save",
        entity="unit_level",
        entity_key=str(level.level),
        before=old.__dict__ if old else None,
        after=values,
    )
    return True


def _refuse_taken(conn: Connection, table: Table, uid: str, what: str) -> None:
    if conn.scalar(select(table.c.id).where(table.c.uid == uid)) is not None:
        raise Conflict(M_("Another {what} already has the uid {uid!r}.", what=what, uid=uid))


def _require_writable(conn: Connection, principal: Principal, unit_id: int) -> None:
    require_action(principal, Action.REGISTRY_WRITE)
    if principal.unlimited:
        return
    day = today()
    path = store.last_path(conn, unit_id, day) or ""
    if not any(path.startswith(root) for root in scope_paths(conn, principal, Action.REGISTRY_WRITE, day)):
        raise PermissionDenied(M_("A unit named by the file is outside your capture scope."))
