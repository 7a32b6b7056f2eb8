"""Unit groups and group sets: named lists of units that cut across the tree.

A group (双一流高校, 市管医院 …) lists units wherever they sit; a group set (高校分类 …)
lists groups. Reading shows every group but only the members the principal may view on
the date asked. Writing a group or set needs registry write access to every unit it
covers, so a district can keep groups of its own schools but cannot touch the
commission's. Every write is audited; nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action, scope_paths, unit_filter
from jiaowei.db.engine import inserted_id
from jiaowei.domains import N_
from jiaowei.errors import M_, Conflict, NotFound, PermissionDenied, Problem, ValidationError
from jiaowei.registry import store
from jiaowei.registry.queries import today
from jiaowei.registry.service import CODE
from jiaowei.registry.store import (
    unit_group_members,
    unit_group_set_members,
    unit_group_sets,
    unit_groups,
    units,
)
from jiaowei.uids import new_uid

# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class GroupMember:
    """A member unit of a group as it stood on the date asked."""

    code: str
    name_zh: str
    name_en: str
    type: str
    synthetic: bool


@dataclass(frozen=True)
class UnitGroup:
    """A group with the sets it belongs to and the members the principal may view."""

    code: str
    name_zh: str
    name_en: str
    sets: list[str]
    member_count: int
    members: list[GroupMember]


@dataclass(frozen=True)
class GroupSet:
    """A group set with the codes of its groups."""

    code: str
    name_zh: str
    name_en: str
    groups: list[str]


@dataclass(frozen=True)
class GroupCreated:
    code: str
    members: list[str]


@dataclass(frozen=True)
class MembersChanged:
    """The unit codes a change really added to a group and really took out."""

    code: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GroupSetCreated:
    code: str
    groups: list[str]


# ---------------------------------------------------------------- writing


def create_group(
    conn: Connection,
    *,
    principal: Principal,
    code: str,
    name_zh: str,
    name_en: str,
    members: Sequence[str] = (),
    note: str = "",
    uid: str | None = None,
) -> GroupCreated:
    """Create a group of units; ``members`` are unit codes."""
    require_action(principal, Action.REGISTRY_WRITE)
    _check_new(conn, unit_groups, code, name_zh, name_en, M_("group"))
    ids = _member_ids(conn, members)
    _require_writable(conn, principal, list(ids.values()))
    group_id = inserted_id(conn.execute(
        insert(unit_groups).values(code=code, uid=uid or new_uid(), name_zh=name_zh.strip(),
                                   name_en=name_en.strip())
    ))
    _insert_members(conn, group_id, ids.values())
    audit.record(conn, actor=principal.username, action="unit_group.create", entity="unit_group",
                 entity_key=code, after={"name_zh": name_zh, "name_en": name_en,
                                         "members": sorted(ids)}, note=note)
    return GroupCreated(code=code, members=sorted(ids))


def add_members(
    conn: Connection, *, principal: Principal, code: str, members: Sequence[str], note: str = ""
) -> MembersChanged:
    """Add units to a group; units already in it are left as they are."""
    require_action(principal, Action.REGISTRY_WRITE)
    group_id = _group_id(conn, code)
    ids = _member_ids(conn, members)
    current = set(conn.scalars(select(unit_group_members.c.unit_id)
                               .where(unit_group_members.c.group_id == group_id)))
    _require_writable(conn, principal, sorted(current | set(ids.values())))
    added = {c: i for c, i in ids.items() if i not in current}
    _insert_members(conn, group_id, added.values())
    audit.record(conn, actor=principal.username, action="unit_group.add", entity="unit_group",
                 entity_key=code, after={"added": sorted(added)}, note=note)
    return MembersChanged(code=code, added=sorted(added))


def remove_members(
    conn: Connection, *, principal: Principal, code: str, members: Sequence[str], note: str = ""
) -> MembersChanged:
    """Take units out of a group; codes not in it are ignored."""
    require_action(principal, Action.REGISTRY_WRITE)
    group_id = _group_id(conn, code)
    ids = _member_ids(conn, members)
    current = set(conn.scalars(select(unit_group_members.c.unit_id)
                               .where(unit_group_members.c.group_id == group_id)))
    _require_writable(conn, principal, sorted(current))
    removed = {c: i for c, i in ids.items() if i in current}
    if removed:
        conn.execute(delete(unit_group_members).where(
            unit_group_members.c.group_id == group_id,
            unit_group_members.c.unit_id.in_(list(removed.values()))))
    audit.record(conn, actor=principal.username, action="unit_group.remove", entity="unit_group",
                 entity_key=code, before={"removed": sorted(removed)}, note=note)
    return MembersChanged(code=code, removed=sorted(removed))


def change_members(
    conn: Connection,
    *,
    principal: Principal,
    code: str,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    note: str = "",
) -> MembersChanged:
    """Add some units to a group and take others out, as one change."""
    both = sorted(set(add) & set(remove))
    if not add and not remove or both:
        raise ValidationError(N_("Nothing to change."), [
            Problem(N_("a unit cannot be both added and removed"), field="members", value=c,
                    expected=N_("each code in only one of the two lists")) for c in both]
            or [Problem(N_("no unit codes given"), field="members",
                        expected=N_("at least one unit code to add or to remove"))])
    added = add_members(conn, principal=principal, code=code, members=add, note=note).added if add else []
    removed = remove_members(conn, principal=principal, code=code, members=remove,
                             note=note).removed if remove else []
    return MembersChanged(code=code, added=added, removed=removed)


def create_group_set(
    conn: Connection,
    *,
    principal: Principal,
    code: str,
    name_zh: str,
    name_en: str,
    groups: Sequence[str],
    note: str = "",
    uid: str | None = None,
) -> GroupSetCreated:
    """Create a set of groups; ``groups`` are group codes."""
    require_action(principal, Action.REGISTRY_WRITE)
    _check_new(conn, unit_group_sets, code, name_zh, name_en, M_("group set"))
    found = dict(conn.execute(select(unit_groups.c.code, unit_groups.c.id)
                              .where(unit_groups.c.code.in_(list(groups)))).all())
    missing = [g for g in groups if g not in found]
    if missing:
        raise ValidationError(N_("The group set cannot be created."), [
            Problem(N_("no such group"), field="groups", value=g,
                    expected=N_("the code of an existing group"))
            for g in missing])
    members = conn.scalars(select(unit_group_members.c.unit_id)
                           .where(unit_group_members.c.group_id.in_(list(found.values()))))
    _require_writable(conn, principal, sorted(set(members)))
    set_id = inserted_id(conn.execute(
        insert(unit_group_sets).values(code=code, uid=uid or new_uid(), name_zh=name_zh.strip(),
                                       name_en=name_en.strip())
    ))
    if found:
        conn.execute(insert(unit_group_set_members),
                     [{"set_id": set_id, "group_id": g} for g in sorted(set(found.values()))])
    audit.record(conn, actor=principal.username, action="unit_group_set.create", entity="unit_group_set",
                 entity_key=code, after={"name_zh": name_zh, "name_en": name_en,
                                         "groups": sorted(found)}, note=note)
    return GroupSetCreated(code=code, groups=sorted(found))


def _check_new(conn: Connection, table: Any, code: str, name_zh: str, name_en: str, what: str) -> None:
    problems = []
    if not CODE.match(code or ""):
        problems.append(Problem("invalid code", field="code", value=code,
                                expected=N_("1-64 letters, digits, _ . - starting with a letter or digit")))
    for name, value in (("name_zh", name_zh), ("name_en", name_en)):
        if not (value or "").strip() or len(value) > 200:
            problems.append(Problem(N_("name is required"), field=name, value=value,
                                    expected=N_("a non-empty name of at most 200 characters")))
    if problems:
        raise ValidationError(M_("The {what} cannot be created.", what=what), problems)
    if conn.scalar(select(table.c.id).where(table.c.code == code)) is not None:
        raise Conflict(M_("A {what} with code {code!r} already exists.", what=what, code=code))


def _member_ids(conn: Connection, members: Sequence[str]) -> dict[str, int]:
    found = store.unit_ids_for(conn, members)
    missing = [m for m in dict.fromkeys(members) if m not in found]
    if missing:
        raise ValidationError(N_("Unknown member units."), [
            Problem("no such unit", field="members", value=m, expected="the code of an existing unit")
            for m in missing])
    return found


def _insert_members(conn: Connection, group_id: int, unit_ids: Any) -> None:
    rows = [{"group_id": group_id, "unit_id": u} for u in sorted(set(unit_ids))]
    if rows:
        conn.execute(insert(unit_group_members), rows)


def _require_writable(conn: Connection, principal: Principal, unit_ids: Sequence[int]) -> None:
    """Every unit must lie in the actor's capture scope (on its last day open, if closed)."""
    if principal.unlimited or not unit_ids:
        return
    day = today()
    roots = scope_paths(conn, principal, Action.REGISTRY_WRITE, day)
    for segments in store.segments_of(conn, unit_ids).values():
        past = [s for s in segments if s.valid_from <= day] or segments
        path = past[-1].path if past else ""
        if not any(path.startswith(root) for root in roots):
            raise PermissionDenied("A unit of this group is outside your capture scope; "
                                   "only someone who may write every member may change the group.")


def _group_id(conn: Connection, code: str) -> int:
    group_id = conn.scalar(select(unit_groups.c.id).where(unit_groups.c.code == code))
    if group_id is None:
        raise NotFound(M_("No unit group with code {code!r}.", code=code))
    return int(group_id)


# ---------------------------------------------------------------- reading


def list_groups(
    conn: Connection, *, principal: Principal, as_of: dt.date | None = None
) -> list[UnitGroup]:
    """Every group, with the members the principal may view as they stood on ``as_of``."""
    return _groups(conn, principal, as_of or today(), None)


def get_group(
    conn: Connection, *, principal: Principal, code: str, as_of: dt.date | None = None
) -> UnitGroup:
    """One group, with the members the principal may view on ``as_of``."""
    found = _groups(conn, principal, as_of or today(), _group_id(conn, code))
    return found[0]


def list_group_sets(conn: Connection, *, principal: Principal) -> list[GroupSet]:
    """Every group set with the codes of its groups."""
    require_action(principal, Action.VIEW)
    sets = conn.execute(select(unit_group_sets).order_by(unit_group_sets.c.code)).all()
    rows = conn.execute(
        select(unit_group_set_members.c.set_id, unit_groups.c.code)
        .join(unit_groups, unit_groups.c.id == unit_group_set_members.c.group_id)
        .order_by(unit_groups.c.code)
    ).all()
    return [GroupSet(code=s.code, name_zh=s.name_zh, name_en=s.name_en,
                     groups=[r.code for r in rows if r.set_id == s.id]) for s in sets]


def _groups(
    conn: Connection, principal: Principal, day: dt.date, group_id: int | None
) -> list[UnitGroup]:
    require_action(principal, Action.VIEW)
    query = select(unit_groups).order_by(unit_groups.c.code)
    if group_id is not None:
        query = query.where(unit_groups.c.id == group_id)
    groups = conn.execute(query).all()
    members = _visible_members(conn, principal, day, group_id)
    sets = _sets_of(conn, group_id)
    return [
        UnitGroup(code=g.code, name_zh=g.name_zh, name_en=g.name_en, sets=sets.get(g.id, []),
                  member_count=len(members.get(g.id, [])), members=members.get(g.id, []))
        for g in groups
    ]


def _visible_members(
    conn: Connection, principal: Principal, day: dt.date, group_id: int | None
) -> dict[int, list[GroupMember]]:
    m = unit_group_members
    query = (
        store.units_on_select(day)
        .add_columns(m.c.group_id)
        .join(m, m.c.unit_id == units.c.id)
        .where(unit_filter(conn, principal, Action.VIEW, day))
        .order_by(units.c.code)
    )
    if group_id is not None:
        query = query.where(m.c.group_id == group_id)
    out: dict[int, list[GroupMember]] = {}
    for row in conn.execute(query):
        out.setdefault(row.group_id, []).append(
            GroupMember(code=row.code, name_zh=row.name_zh, name_en=row.name_en, type=row.type,
                        synthetic=bool(row.synthetic)))
    return out


def _sets_of(conn: Connection, group_id: int | None) -> dict[int, list[str]]:
    query = (
        select(unit_group_set_members.c.group_id, unit_group_sets.c.code)
        .join(unit_group_sets, unit_group_sets.c.id == unit_group_set_members.c.set_id)
        .order_by(unit_group_sets.c.code)
    )
    if group_id is not None:
        query = query.where(unit_group_set_members.c.group_id == group_id)
    out: dict[int, list[str]] = {}
    for row in conn.execute(query):
        out.setdefault(row.group_id, []).append(row.code)
    return out
