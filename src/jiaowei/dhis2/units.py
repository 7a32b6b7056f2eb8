"""DHIS2's organisation units mapped to the registry: import and export, with their uids kept.

:func:`import_org_units` reads the four organisation unit kinds of a DHIS2 metadata bundle
(``organisationUnitLevels``, ``organisationUnits``, ``organisationUnitGroups``,
``organisationUnitGroupSets``) into the registry through its services, so that every write is
checked against the principal's scope, recorded as registry events and audited. It returns DHIS2's
per-kind stats and the problems of the objects (``organisationUnits[3].parent``, row 4); when there
is any problem nothing is written (its own savepoint). It never commits. :func:`export_org_units`
gives the same kinds back (:mod:`jiaowei.dhis2.units_export`). The mapping, and where it differs
from DHIS2, is in docs/dhis2.md ("Organisation units").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import require_action
from jiaowei.dhis2 import units_export
from jiaowei.dhis2.units_export import OPENING_ATTRIBUTE
from jiaowei.domains import N_
from jiaowei.errors import M_, Problem, ValidationError
from jiaowei.registry import dhis2 as registry
from jiaowei.registry import groups as registry_groups
from jiaowei.registry import service as registry_service
from jiaowei.registry.model import UnitType
from jiaowei.registry.queries import codes_of, today
from jiaowei.uids import UID_EXPECTED, is_uid, new_uid

ORG_UNIT_KINDS = (
    "organisationUnitLevels",
    "organisationUnits",
    "organisationUnitGroups",
    "organisationUnitGroupSets",
)
TYPE_ATTRIBUTE = "UNIT_TYPE"
"""The code (or name) of a DHIS2 attribute whose value on a unit or a level is a jiaowei unit type."""
TYPES = frozenset(t.value for t in UnitType)
REF_EXPECTED = N_("the id or code of a unit in the bundle or already in the registry")
NOTE = "DHIS2 metadata"  # the note of the registry events an import writes
_Lookup = Callable[[Sequence[Mapping[str, Any]]], list[str | None]]
"""The codes that DHIS2 references name (None where a reference names nothing)."""


def unit_code_for(conn: Connection, ref: Mapping[str, Any]) -> str | None:
    """The code of the unit a DHIS2 reference names: ``{"id": uid}`` (DHIS2's default) or
    ``{"code": code}``; the id wins when a reference gives both. None when there is no such unit."""
    uid, code = ref.get("id"), ref.get("code")
    if isinstance(uid, str) and uid:
        found = registry.unit_keys(conn, uids=[uid])
        if found:
            return found[0][2]
    if isinstance(code, str) and code:
        found = registry.unit_keys(conn, codes=[code])
        return found[0][2] if found else None
    return None


def export_org_units(
    conn: Connection, *, principal: Principal, kinds: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The kinds of :data:`ORG_UNIT_KINDS` asked for, in DHIS2's shapes, as far as the principal may view."""
    exporters: dict[str, Callable[..., list[dict[str, Any]]]] = {
        "organisationUnitLevels": units_export.organisation_unit_levels,
        "organisationUnits": units_export.organisation_units,
        "organisationUnitGroups": units_export.organisation_unit_groups,
        "organisationUnitGroupSets": units_export.organisation_unit_group_sets,
    }
    return {kind: exporters[kind](conn, principal=principal) for kind in kinds if kind in exporters}


# ---------------------------------------------------------------- reading a bundle's objects


def _date(value: Any) -> dt.date | None:
    """``2020-04-05``, ``2020-04-05T00:00:00.000`` (DHIS2's way) or None when not a date."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _zh_name(obj: Mapping[str, Any]) -> str | None:
    for item in obj.get("translations") or []:
        if (
            isinstance(item, Mapping)
            and item.get("property") == "NAME"
            and str(item.get("locale", "")).replace("-", "_") in ("zh_CN", "zh")
        ):
            value = item.get("value")
            if isinstance(value, str) and value.strip():
                return value
    return None


def _attribute_type(obj: Mapping[str, Any]) -> str | None:
    """The unit type an attributeValue ``UNIT_TYPE`` gives (by the attribute's code or name)."""
    for item in obj.get("attributeValues") or []:
        attribute = item.get("attribute") if isinstance(item, Mapping) else None
        if not isinstance(attribute, Mapping):
            continue
        names = {str(attribute.get(k, "")).upper() for k in ("code", "name", "id")}
        if TYPE_ATTRIBUTE in names and item.get("value") in TYPES:
            return str(item["value"])
    return None


@dataclass
class _Unit:
    index: int
    uid: str
    code: str
    name_en: str
    name_zh: str
    opening: dt.date
    closed: dt.date | None
    parent: Mapping[str, Any] | None
    level: int | None
    type: str | None
    updated: dt.date | None
    existing: str | None = None  # the registry code of the unit it updates
    parent_code: str | None = None


@dataclass
class _Run:
    conn: Connection
    principal: Principal
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    unit_codes: dict[str, str] = field(default_factory=dict)  # bundle uid and code -> registry code
    level_types: dict[int, str] = field(default_factory=dict)

    def bad(self, kind: str, index: int, name: str, message: str, value: Any, expected: str) -> None:
        self.problems.append(
            Problem(message, row=index + 1, field=f"{kind}[{index}].{name}", value=value, expected=expected)
        )

    def count(self, kind: str, created: int, updated: int) -> None:
        self.stats[kind] = {
            "created": created,
            "updated": updated,
            "deleted": 0,
            "ignored": 0,
            "total": created + updated,
        }

    def placed(self, kind: str, error: ValidationError, names: Mapping[str, str] | None = None) -> None:
        """A service's problems, each placed at the object its row names."""
        renamed = {"name_en": "name", "name_zh": "translations", **(names or {})}
        for p in error.problems or [Problem(error.detail or error.title)]:
            index = (p.row or 1) - 1
            where = renamed.get(p.field or "", p.field or "")
            self.problems.append(
                Problem(
                    p.message,
                    row=index + 1,
                    field=f"{kind}[{index}]" + (f".{where}" if where else ""),
                    value=p.value,
                    expected=p.expected,
                )
            )


# ---------------------------------------------------------------- import


def import_org_units(
    conn: Connection, *, principal: Principal, lists: Mapping[str, Sequence[Mapping[str, Any]]]
) -> tuple[dict[str, dict[str, int]], list[Problem]]:
    """Import the organisation unit kinds of a bundle; (stats per kind, problems). Nothing is written
    when there are problems; permission errors (a unit outside the principal's scope) are raised."""
    require_action(principal, Action.REGISTRY_WRITE)
    run = _Run(conn, principal)
    savepoint = conn.begin_nested()
    try:
        for kind, step in (
            ("organisationUnitLevels", _levels),
            ("organisationUnits", _units),
            ("organisationUnitGroups", _groups),
            ("organisationUnitGroupSets", _group_sets),
        ):
            objects = lists.get(kind)
            if objects is None:
                continue
            if not _listed(run, kind, objects):
                break
            step(run, objects)
            if run.problems:
                break
    except BaseException:
        savepoint.rollback()
        raise
    if run.problems:
        savepoint.rollback()
    else:
        savepoint.commit()
    return run.stats, run.problems


def _listed(run: _Run, kind: str, objects: Any) -> bool:
    if isinstance(objects, list) and all(isinstance(o, Mapping) for o in objects):
        return True
    run.problems.append(
        Problem(
            N_("not a list of objects"),
            field=kind,
            value=str(objects)[:200],
            expected=N_("a JSON list of objects"),
        )
    )
    return False


def _uid_of(run: _Run, kind: str, index: int, obj: Mapping[str, Any]) -> str:
    uid = obj.get("id")
    if uid is None:
        return new_uid()
    if not is_uid(uid):
        run.bad(kind, index, "id", N_("not a DHIS2 uid"), uid, UID_EXPECTED)
    return str(uid)


def _names(run: _Run, kind: str, index: int, obj: Mapping[str, Any]) -> tuple[str, str]:
    name = obj.get("name") or obj.get("shortName")
    if not isinstance(name, str) or not name.strip():
        run.bad(kind, index, "name", N_("name is required"), name, N_("a non-empty name"))
        return "", ""
    return name, _zh_name(obj) or name


def _code_of(run: _Run, kind: str, index: int, obj: Mapping[str, Any], uid: str) -> str:
    code = obj.get("code")
    if code is None or code == "":
        return uid
    if not isinstance(code, str) or not registry_service.CODE.match(code):
        run.bad(
            kind,
            index,
            "code",
            N_("invalid code"),
            code,
            N_("1-64 letters, digits, _ . - starting with a letter or digit"),
        )
    return str(code)


# ---------------------------------------------------------------- levels


def _levels(run: _Run, objects: Sequence[Mapping[str, Any]]) -> None:
    kind = "organisationUnitLevels"
    saved = {lv.level: lv for lv in registry.levels(run.conn)}
    wanted: list[registry.Level] = []
    for index, obj in enumerate(objects):
        number = obj.get("level")
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 100:
            run.bad(kind, index, "level", N_("invalid level"), number, N_("a whole number from 1 (the top)"))
            continue
        old = saved.get(number)
        uid = _uid_of(run, kind, index, obj) if obj.get("id") is not None else (old.uid if old else new_uid())
        name_en, name_zh = _names(run, kind, index, obj)
        code = obj.get("code")
        if code is not None and (not isinstance(code, str) or not 1 <= len(code) <= 50):
            run.bad(kind, index, "code", N_("invalid code"), code, N_("at most 50 characters"))
        wanted.append(registry.Level(number, uid, code or None, name_zh, name_en))
        level_type = _attribute_type(obj) or (
            code.lower() if isinstance(code, str) and code.lower() in TYPES else None
        )
        if level_type:
            run.level_types[number] = level_type
    if run.problems:
        return
    created = sum(1 for lv in wanted if lv.level not in saved)
    for lv in wanted:
        registry.save_level(run.conn, principal=run.principal, level=lv)
    run.count(kind, created, len(wanted) - created)


# ---------------------------------------------------------------- units


def _read_unit(run: _Run, index: int, obj: Mapping[str, Any]) -> _Unit:
    kind = "organisationUnits"
    uid = _uid_of(run, kind, index, obj)
    code = _code_of(run, kind, index, obj, uid)
    name_en, name_zh = _names(run, kind, index, obj)
    opening = _date(obj.get("openingDate"))
    if opening is None:
        run.bad(
            kind,
            index,
            "openingDate",
            N_("openingDate is required"),
            obj.get("openingDate"),
            N_("a date such as 2020-04-05 or 2020-04-05T00:00:00.000"),
        )
    closed = _date(obj.get("closedDate")) if obj.get("closedDate") is not None else None
    if obj.get("closedDate") is not None and (closed is None or (opening and closed <= opening)):
        run.bad(
            kind,
            index,
            "closedDate",
            N_("invalid closedDate"),
            obj.get("closedDate"),
            N_("a date after the openingDate"),
        )
    parent = obj.get("parent")
    if parent is not None and not (isinstance(parent, Mapping) and (parent.get("id") or parent.get("code"))):
        run.bad(kind, index, "parent", N_("invalid parent reference"), str(parent)[:200], REF_EXPECTED)
        parent = None
    level = obj.get("level") if isinstance(obj.get("level"), int) else None
    return _Unit(
        index,
        uid,
        code,
        name_en,
        name_zh,
        opening or dt.date.min,
        closed,
        parent,
        level,
        _attribute_type(obj),
        _date(obj.get("lastUpdated")),
    )


def _units(run: _Run, objects: Sequence[Mapping[str, Any]]) -> None:
    kind = "organisationUnits"
    read = [_read_unit(run, index, obj) for index, obj in enumerate(objects)]
    _refuse_repeats(run, kind, read)
    if run.problems:
        return
    keys = registry.unit_keys(
        run.conn,
        uids=[u.uid for u in read] + [_ref(u.parent, "id") for u in read],
        codes=[u.code for u in read] + [_ref(u.parent, "code") for u in read],
    )
    by_uid = {uid: code for _, uid, code in keys}
    by_code = {code: code for _, _, code in keys}
    for u in read:
        u.existing = by_uid.get(u.uid) or by_code.get(u.code)
        run.unit_codes[u.uid] = run.unit_codes[u.code] = u.existing or u.code
    ordered = _parents_first(run, read, by_uid, by_code)
    if run.problems:
        return
    new = [u for u in ordered if u.existing is None]
    _create_units(run, new)
    old = [u for u in ordered if u.existing is not None]
    if not run.problems:
        _update_units(run, old)
    if not run.problems:
        _close_units(run, [u for u in reversed(ordered) if u.closed is not None])
    run.count(kind, len(new), len(old))


def _ref(ref: Mapping[str, Any] | None, key: str) -> str:
    return str(ref.get(key) or "") if ref else ""


def _refuse_repeats(run: _Run, kind: str, read: Sequence[_Unit]) -> None:
    seen: dict[str, int] = {}
    for u in read:
        for name, value in (("id", u.uid), ("code", u.code)):
            if value in seen and seen[value] != u.index:
                run.bad(
                    kind,
                    u.index,
                    name,
                    M_("repeats the {name} of {kind}[{other}]", name=name, kind=kind, other=seen[value]),
                    value,
                    N_("each object once"),
                )
            seen.setdefault(value, u.index)


def _parents_first(
    run: _Run, read: Sequence[_Unit], by_uid: Mapping[str, str], by_code: Mapping[str, str]
) -> list[_Unit]:
    """The units ordered so that each comes after its parent in the bundle; unknown parents are problems."""
    in_bundle = {**{u.code: u for u in read}, **{u.uid: u for u in read}}
    parent_of: dict[int, _Unit | None] = {}
    for u in read:
        pid, pcode = _ref(u.parent, "id"), _ref(u.parent, "code")
        parent = in_bundle.get(pid) or (in_bundle.get(pcode) if not pid else None)
        parent_of[u.index] = parent
        if parent is not None:
            u.parent_code = parent.existing or parent.code
        elif u.parent is not None:
            u.parent_code = by_uid.get(pid) or (by_code.get(pcode) if not pid or pid not in by_uid else None)
            if u.parent_code is None:
                run.bad(
                    "organisationUnits",
                    u.index,
                    "parent",
                    N_("no such parent unit"),
                    pid or pcode,
                    REF_EXPECTED,
                )
    ordered: list[_Unit] = []
    placed: set[int] = set()
    for u in read:
        chain: list[_Unit] = []
        step: _Unit | None = u
        while step is not None and step.index not in placed:
            if step in chain:
                run.bad(
                    "organisationUnits",
                    u.index,
                    "parent",
                    N_("the parents form a loop"),
                    _ref(u.parent, "id"),
                    N_("a parent that is not below the unit"),
                )
                return ordered
            chain.append(step)
            step = parent_of[step.index]
        for item in reversed(chain):
            placed.add(item.index)
            ordered.append(item)
    return ordered


def _type_of(run: _Run, u: _Unit, level: int | None) -> str | None:
    """The unit's type: its UNIT_TYPE attribute, else its level's, else None (``other`` for a new unit)."""
    return u.type or (run.level_types.get(level) if level else None)


def _create_units(run: _Run, new: Sequence[_Unit]) -> None:
    if not new:
        return
    saved = registry.unit_records(run.conn, [u.parent_code for u in new if u.parent_code])
    openings = {code: r.opened for code, r in saved.items()}
    depth = {code: len(r.path) for code, r in saved.items()}
    specs, rows = [], []
    for u in new:
        parent_opened = openings.get(u.parent_code or "")
        opened = max(u.opening, parent_opened) if parent_opened else u.opening
        level = u.level or (depth.get(u.parent_code or "", 0) + 1)
        attributes = {OPENING_ATTRIBUTE: u.opening.isoformat()} if opened != u.opening else {}
        specs.append(
            registry_service.UnitSpec(
                code=u.code,
                uid=u.uid,
                name_zh=u.name_zh,
                name_en=u.name_en,
                parent=u.parent_code,
                opened=opened,
                type=_type_of(run, u, level) or UnitType.OTHER.value,
                attributes=attributes,
            )
        )
        rows.append(u.index + 1)
        openings[u.code] = opened
        depth[u.code] = level
    try:
        registry_service.import_new_units(
            run.conn, principal=run.principal, specs=specs, rows=rows, note=NOTE
        )
    except ValidationError as error:
        run.placed("organisationUnits", error, {"effective": "openingDate"})


def _update_units(run: _Run, old: Sequence[_Unit]) -> None:
    """Names, parent and (when the bundle says) type of units already saved: a change from the object's
    lastUpdated day (or today), never before the unit's last recorded change."""
    saved = registry.unit_records(run.conn, [u.existing for u in old if u.existing])
    parents = codes_of(run.conn, [r.version.parent_id for r in saved.values()])
    for u in old:
        assert u.existing is not None
        registry.adopt_unit_uid(run.conn, principal=run.principal, code=u.existing, uid=u.uid)
        record = saved[u.existing]
        current = {
            "name_en": record.version.name_en,
            "name_zh": record.version.name_zh,
            "parent": parents.get(record.version.parent_id or 0),
            "type": record.version.type,
        }
        wanted: dict[str, Any] = {"name_en": u.name_en, "name_zh": u.name_zh}
        if u.parent is not None:
            wanted["parent"] = u.parent_code
        if _type_of(run, u, u.level or len(record.path)):
            wanted["type"] = _type_of(run, u, u.level or len(record.path))
        changes = {k: v for k, v in wanted.items() if current[k] != v}
        if not changes:
            continue
        effective = max(u.updated or today(), record.version.valid_from)
        closing = min((d for d in (record.closed, u.closed) if d is not None), default=None)
        if closing is not None and effective >= closing:  # closed by then: the name it had when it closed
            effective = record.version.valid_from
        try:
            registry_service.change_unit(
                run.conn,
                principal=run.principal,
                code=u.existing,
                effective=effective,
                changes=changes,
                note=NOTE,
            )
        except ValidationError as error:
            run.placed("organisationUnits", _at_row(error, u.index), {"effective": "lastUpdated"})
            return


def _close_units(run: _Run, closing: Sequence[_Unit]) -> None:
    """Close the units with a closedDate, children first; a unit already closed that day stays as it is."""
    saved = registry.unit_records(run.conn, [run.unit_codes[u.uid] for u in closing])
    closed = {code: r.closed for code, r in saved.items()}
    for u in closing:
        code = run.unit_codes[u.uid]
        if u.closed is None or closed.get(code) == u.closed:
            continue
        try:
            registry_service.close_unit(
                run.conn, principal=run.principal, code=code, effective=u.closed, note=NOTE
            )
        except ValidationError as error:
            run.placed(
                "organisationUnits", _at_row(error, u.index), {"effective": "closedDate", "": "closedDate"}
            )
            return


def _at_row(error: ValidationError, index: int) -> ValidationError:
    problems = [
        Problem(p.message, row=index + 1, field=p.field, value=p.value, expected=p.expected)
        for p in error.problems or [Problem(error.detail or error.title)]
    ]
    return ValidationError(error.detail or error.title, problems)


# ---------------------------------------------------------------- groups and group sets


def _member_codes(
    run: _Run,
    kind: str,
    index: int,
    refs: Any,
    member: str,
    lookup: _Lookup,
) -> list[str]:
    if refs is None:
        return []
    if not isinstance(refs, list) or not all(isinstance(r, Mapping) for r in refs):
        run.bad(kind, index, member, N_("not a list of references"), str(refs)[:200], N_('[{"id": "..."}]'))
        return []
    codes = []
    for position, (ref, code) in enumerate(zip(refs, lookup(refs), strict=True)):
        if code is None:
            run.bad(
                kind,
                index,
                f"{member}[{position}]",
                N_("no such object"),
                ref.get("id") or ref.get("code"),
                N_("the id or code of an object in the bundle or already saved"),
            )
        else:
            codes.append(code)
    return codes


def _unit_lookup(run: _Run) -> _Lookup:
    def lookup(refs: Sequence[Mapping[str, Any]]) -> list[str | None]:
        keys = registry.unit_keys(
            run.conn, uids=[_ref(r, "id") for r in refs], codes=[_ref(r, "code") for r in refs]
        )
        by_uid = {uid: code for _, uid, code in keys}
        by_code = {code: code for _, _, code in keys}
        return [
            run.unit_codes.get(_ref(r, "id"))
            or by_uid.get(_ref(r, "id"))
            or (None if r.get("id") else run.unit_codes.get(_ref(r, "code")) or by_code.get(_ref(r, "code")))
            for r in refs
        ]

    return lookup


def _group_lookup(run: _Run, bundle: Mapping[str, str]) -> _Lookup:
    saved = registry.groups(run.conn)
    by_uid, by_code = {g.uid: g.code for g in saved}, {g.code: g.code for g in saved}

    def lookup(refs: Sequence[Mapping[str, Any]]) -> list[str | None]:
        return [
            bundle.get(_ref(r, "id"))
            or by_uid.get(_ref(r, "id"))
            or (None if r.get("id") else bundle.get(_ref(r, "code")) or by_code.get(_ref(r, "code")))
            for r in refs
        ]

    return lookup


@dataclass(frozen=True)
class _GroupHead:
    """A group's (or group set's) uid, names and code, and the saved one it is (None: a new one)."""

    uid: str
    name_en: str
    name_zh: str
    code: str
    existing: registry.GroupRecord | None


def _groups(run: _Run, objects: Sequence[Mapping[str, Any]]) -> None:
    """Organisation unit groups: a new one is created with its units; a saved one takes the uid and
    exactly these units. The sets that follow may name them by uid or code."""

    def create(head: _GroupHead, members: list[str]) -> None:
        registry_groups.create_group(
            run.conn,
            principal=run.principal,
            code=head.code,
            name_zh=head.name_zh,
            name_en=head.name_en,
            members=members,
            uid=head.uid,
            note=NOTE,
        )

    def replace(head: _GroupHead, existing: registry.GroupRecord, members: list[str]) -> None:
        registry.adopt_group_uid(run.conn, principal=run.principal, code=existing.code, uid=head.uid)
        current = set(codes_of(run.conn, existing.members).values())
        add, remove = sorted(set(members) - current), sorted(current - set(members))
        if add or remove:
            registry_groups.change_members(
                run.conn, principal=run.principal, code=existing.code, add=add, remove=remove, note=NOTE
            )

    _import_groupings(
        run,
        objects,
        kind="organisationUnitGroups",
        member="organisationUnits",
        saved=registry.groups(run.conn),
        lookup=_unit_lookup(run),
        create=create,
        replace=replace,
        remember=True,
    )


def _group_sets(run: _Run, objects: Sequence[Mapping[str, Any]]) -> None:
    """Organisation unit group sets: a new one is created with its groups; a saved one takes the uid
    and exactly these groups."""

    def create(head: _GroupHead, members: list[str]) -> None:
        registry_groups.create_group_set(
            run.conn,
            principal=run.principal,
            code=head.code,
            name_zh=head.name_zh,
            name_en=head.name_en,
            groups=members,
            uid=head.uid,
            note=NOTE,
        )

    def replace(head: _GroupHead, existing: registry.GroupRecord, members: list[str]) -> None:
        registry.adopt_group_uid(
            run.conn, principal=run.principal, code=existing.code, uid=head.uid, group_set=True
        )
        registry.replace_set_groups(
            run.conn, principal=run.principal, code=existing.code, group_codes=members
        )

    bundle_groups = {k[len("group:") :]: v for k, v in run.unit_codes.items() if k.startswith("group:")}
    _import_groupings(
        run,
        objects,
        kind="organisationUnitGroupSets",
        member="organisationUnitGroups",
        saved=registry.group_sets(run.conn),
        lookup=_group_lookup(run, bundle_groups),
        create=create,
        replace=replace,
        remember=False,
    )


def _import_groupings(
    run: _Run,
    objects: Sequence[Mapping[str, Any]],
    *,
    kind: str,
    member: str,
    saved: Sequence[registry.GroupRecord],
    lookup: _Lookup,
    create: Callable[[_GroupHead, list[str]], None],
    replace: Callable[[_GroupHead, registry.GroupRecord, list[str]], None],
    remember: bool,
) -> None:
    """The one loop of groups and group sets: each object's head and members (``member`` names the
    field that lists them), then ``create`` or ``replace``; ``remember`` keeps each group's code under
    ``group:<uid>`` and ``group:<code>`` for the sets that follow."""
    created = 0
    for index, obj in enumerate(objects):
        head = _group_head(run, kind, index, obj, saved)
        members = _member_codes(run, kind, index, obj.get(member), member, lookup)
        if run.problems:
            return
        if remember:
            code = head.existing.code if head.existing else head.code
            run.unit_codes["group:" + head.uid] = run.unit_codes["group:" + head.code] = code
        try:
            if head.existing is None:
                create(head, members)
                created += 1
            else:
                replace(head, head.existing, members)
        except ValidationError as error:
            run.placed(kind, _at_row(error, index))
            return
    run.count(kind, created, len(objects) - created)


def _group_head(
    run: _Run, kind: str, index: int, obj: Mapping[str, Any], saved: Sequence[registry.GroupRecord]
) -> _GroupHead:
    uid = _uid_of(run, kind, index, obj)
    name_en, name_zh = _names(run, kind, index, obj)
    code = _code_of(run, kind, index, obj, uid)
    existing = next((g for g in saved if g.uid == uid), None) or next(
        (g for g in saved if g.code == code), None
    )
    return _GroupHead(uid, name_en, name_zh, code, existing)
