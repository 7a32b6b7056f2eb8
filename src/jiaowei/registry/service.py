"""Registry use cases that write: open, change, move, close, merge units.

Reads (browsing the tree on a date) are in :mod:`jiaowei.registry.queries`.

Every function takes keyword arguments, acts for a principal, writes the audit log and
never commits: the caller's transaction decides.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import in_scope, require_action, require_unit
from jiaowei.domains import N_
from jiaowei.errors import M_, Conflict, PermissionDenied, Problem, ValidationError
from jiaowei.registry import store
from jiaowei.registry.model import (
    FOREVER,
    VERSIONED_FIELDS,
    EventKind,
    Ownership,
    Sector,
    Segment,
    TreeBroken,
    UnitType,
    UnitVersion,
    apply_change,
    choices,
    close_versions,
    compute_paths,
)
from jiaowei.registry.queries import codes_of, known_id, today, version_dict, visible_id
from jiaowei.registry.store import unit_events, units
from jiaowei.text import text_problems
from jiaowei.uids import new_uid

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------- writing


@dataclass
class UnitSpec:
    """What a new unit is. Validated by :func:`check_spec`."""

    code: str
    name_zh: str
    name_en: str
    type: str
    ownership: str = Ownership.PUBLIC.value
    sector: str = Sector.EDUCATION.value
    parent: str | None = None
    opened: dt.date = field(default_factory=today)
    attributes: dict[str, Any] = field(default_factory=dict)
    synthetic: bool = False
    uid: str | None = None  # DHIS2's id; a fresh one when None


@dataclass(frozen=True)
class UnitCreated:
    code: str


@dataclass(frozen=True)
class UnitChanged:
    """Whether a change altered the unit, and the kinds of event it recorded."""

    code: str
    changed: bool
    events: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UnitClosed:
    code: str
    closed: str  # ISO date


@dataclass(frozen=True)
class UnitMerged:
    code: str
    merged_into: str
    moved_children: list[str]


ENUM_FIELDS: dict[str, tuple[frozenset[str], type[StrEnum]]] = {
    name: (frozenset(m.value for m in enum), enum)
    for name, enum in (("type", UnitType), ("ownership", Ownership), ("sector", Sector))
}


def check_fields(values: Mapping[str, Any], row: int | None = None) -> list[Problem]:
    """Problems with unit field values (any subset of the fields)."""
    problems: list[Problem] = []

    def bad(name: str, message: str, expected: str) -> None:
        problems.append(Problem(message, row=row, field=name, value=values.get(name), expected=expected))

    if "code" in values and not CODE.match(str(values["code"] or "")):
        bad("code", N_("invalid code"), N_("1-64 letters, digits, _ . - starting with a letter or digit"))
    problems += text_problems(values, ("name_zh", "name_en"), row=row)
    for name in ("name_zh", "name_en"):
        if any(p.field == name for p in problems):
            continue
        if name in values and not str(values[name] or "").strip():
            bad(name, N_("name is required"), N_("a non-empty name"))
        elif name in values and len(str(values[name])) > 200:
            bad(name, N_("name too long"), N_("at most 200 characters"))
    for name, (accepted, enum) in ENUM_FIELDS.items():
        if name in values and values[name] not in accepted:
            bad(name, M_("unknown {field}", field=name), choices(enum))
    if "attributes" in values and not isinstance(values["attributes"], dict):
        bad("attributes", N_("attributes must be an object"), N_('a JSON object such as {"双一流": true}'))
    return problems


def create_unit(conn: Connection, *, principal: Principal, spec: UnitSpec, note: str = "") -> UnitCreated:
    """Open a new unit under ``spec.parent`` on ``spec.opened``."""
    created = import_new_units(conn, principal=principal, specs=[spec], rows=[None], note=note)
    return UnitCreated(code=created[0])


def import_new_units(
    conn: Connection,
    *,
    principal: Principal,
    specs: Sequence[UnitSpec],
    rows: Sequence[int | None],
    note: str = "",
) -> list[str]:
    """Open many units at once (parents first or in the same batch); all or nothing."""
    require_action(principal, Action.REGISTRY_WRITE)
    problems = []
    for spec, row in zip(specs, rows, strict=True):
        problems += check_fields(spec.__dict__, row)
    codes = [s.code for s in specs]
    existing = store.unit_ids_for(conn, codes + [s.parent for s in specs if s.parent])
    batch = {s.code for s in specs}
    for spec, row in zip(specs, rows, strict=True):
        if spec.code in existing:
            problems.append(
                Problem(
                    N_("a unit with this code already exists"),
                    row=row,
                    field="code",
                    value=spec.code,
                    expected=N_("a new code"),
                )
            )
        if spec.parent and spec.parent not in existing and spec.parent not in batch:
            problems.append(
                Problem(
                    N_("no such parent unit"),
                    row=row,
                    field="parent",
                    value=spec.parent,
                    expected=N_("the code of an existing unit or of a unit in the same file"),
                )
            )
    if problems:
        raise ValidationError(N_("The units cannot be created."), problems)
    for spec in specs:
        if spec.parent in existing:
            require_unit(conn, principal, Action.REGISTRY_WRITE, existing[spec.parent], spec.opened,
                         spec.parent)
        elif not spec.parent and not principal.unlimited:
            raise ValidationError(
                N_("Only an administrator can open a unit at the top of the tree."),
                [Problem(N_("a parent is required"), field="parent", expected=N_("a unit code"))],
            )
    now = _now()
    conn.execute(
        insert(units), [{"code": s.code, "uid": s.uid or new_uid(), "synthetic": s.synthetic,
                          "created_at": now} for s in specs]
    )
    ids = store.unit_ids_for(conn, codes)
    ids.update(existing)
    versions = {ids[s.code]: [_first_version(s, ids)] for s in specs}
    store.insert_versions(conn, [(u, vs[0]) for u, vs in versions.items()])
    _index_new(conn, versions, {ids[s.code]: row for s, row in zip(specs, rows, strict=True)})
    for s in specs:  # a new unit follows its parent: it must stay in the actor's scope all its life
        _require_reach(conn, principal, ids[s.code], s.code, s.opened, ([], []), versions[ids[s.code]])
    _record_events(conn, principal, [(ids[s.code], EventKind.OPEN, s.opened, None, {}) for s in specs], note)
    audit.record_many(
        conn,
        actor=principal.username,
        entries=[
            {
                "action": "unit.open",
                "entity": "unit",
                "entity_key": s.code,
                "before": None,
                "after": {
                    **version_dict(versions[ids[s.code]][0], {ids[s.parent]: s.parent} if s.parent else {}),
                    "opened": s.opened,
                    "synthetic": s.synthetic,
                },
                "note": note,
            }
            for s in specs
        ],
    )
    return codes


def _first_version(spec: UnitSpec, ids: Mapping[str, int]) -> UnitVersion:
    return UnitVersion(
        valid_from=spec.opened,
        valid_to=FOREVER,
        parent_id=ids[spec.parent] if spec.parent else None,
        name_zh=spec.name_zh.strip(),
        name_en=spec.name_en.strip(),
        type=spec.type,
        ownership=spec.ownership,
        sector=spec.sector,
        attributes=dict(spec.attributes),
    )


def _index_new(
    conn: Connection, versions: Mapping[int, list[UnitVersion]], rows: Mapping[int, int | None]
) -> None:
    """Path segments for units just opened: nothing is below them yet, so no re-reading."""
    links = store.links_of(dict(versions))
    outside = {
        link.parent_id
        for ls in links.values()
        for link in ls
        if link.parent_id and link.parent_id not in links
    }
    try:
        segments = compute_paths(links, store.segments_of(conn, outside))
    except TreeBroken as broken:
        raise _tree_error(conn, broken, rows) from None
    store.insert_segments(conn, segments)


def _reindex(
    conn: Connection, changed: Mapping[int, list[UnitVersion]], rows: Mapping[int, int | None] | None = None
) -> None:
    """Recompute path segments for the changed units and everything ever below them."""
    ids: list[int] = []
    seen: set[int] = set()
    for unit_id in changed:
        if unit_id not in seen:
            for d in store.ever_descendants(conn, unit_id):
                if d not in seen:
                    seen.add(d)
                    ids.append(d)
    versions = store.versions_of(conn, ids)
    links = store.links_of(versions)
    outside = {
        link.parent_id
        for ls in links.values()
        for link in ls
        if link.parent_id and link.parent_id not in links
    }
    anchors = store.segments_of(conn, outside)
    try:
        segments = compute_paths(links, anchors)
    except TreeBroken as broken:
        raise _tree_error(conn, broken, rows or {}) from None
    store.replace_segments(conn, segments)


def _tree_error(conn: Connection, broken: TreeBroken, rows: Mapping[int, int | None]) -> ValidationError:
    codes = codes_of(conn, {broken.unit_id} | ({broken.parent_id} if broken.parent_id else set()))
    code = codes.get(broken.unit_id, str(broken.unit_id))
    if broken.reason == "cycle":
        message = f"unit {code} would be its own ancestor on {broken.date.isoformat()}"
        expected = "a parent that is not below the unit"
    else:
        parent = codes.get(broken.parent_id or 0, "?")
        message = f"unit {code} would have parent {parent}, which is not open on {broken.date.isoformat()}"
        expected = "a parent open for the whole time; move or close the children first"
    return ValidationError(
        N_("The change would break the tree."),
        [Problem(message, row=rows.get(broken.unit_id), field="parent", value=code, expected=expected)],
    )


def _record_events(
    conn: Connection,
    principal: Principal,
    events: Sequence[tuple[int, EventKind, dt.date, int | None, dict[str, Any]]],
    note: str,
) -> None:
    if not events:
        return
    now = _now()
    conn.execute(
        insert(unit_events),
        [
            {
                "unit_id": u,
                "kind": k.value,
                "effective": d,
                "related_unit_id": r,
                "detail": audit.jsonable(detail),
                "note": note,
                "recorded_at": now,
                "recorded_by": principal.username,
            }
            for u, k, d, r, detail in events
        ],
    )


def change_unit(
    conn: Connection,
    *,
    principal: Principal,
    code: str,
    effective: dt.date,
    changes: Mapping[str, Any],
    note: str = "",
) -> UnitChanged:
    """Rename, move or update a unit from ``effective`` on; history before it stays."""
    unit_id = visible_id(conn, principal, code, effective, Action.REGISTRY_WRITE)
    allowed = {"name_zh", "name_en", "type", "ownership", "sector", "parent", "attributes"}
    unknown = [k for k in changes if k not in allowed]
    problems = [
        Problem(N_("field cannot be changed"), field=k, value=changes[k], expected=", ".join(sorted(allowed)))
        for k in unknown
    ]
    problems += check_fields(changes)
    if problems:
        raise ValidationError(M_("Unit {code} cannot be changed that way.", code=code), problems)
    values = dict(changes)
    if "parent" in values:
        parent = values.pop("parent")
        parent_id = known_id(conn, parent, "parent") if parent else None
        if parent_id is None and not principal.unlimited:
            raise ValidationError(
                N_("Only an administrator can move a unit to the top of the tree."),
                [Problem(N_("a parent is required"), field="parent", expected=N_("a unit code"))],
            )
        if parent_id is not None:
            require_unit(conn, principal, Action.REGISTRY_WRITE, parent_id, effective, parent)
        values["parent_id"] = parent_id
    versions = store.versions_of(conn, [unit_id])[unit_id]
    current = next((v for v in versions if v.covers(effective)), None)
    if current is None:
        raise ValidationError(
            M_("Unit {code} is not open on {effective}.", code=code, effective=effective.isoformat()),
            [
                Problem(
                    N_("unit not open on this date"),
                    field="effective",
                    value=effective.isoformat(),
                    expected=_life(versions),
                )
            ],
        )
    diff = {k: v for k, v in values.items() if getattr(current, k) != v}
    if not diff:
        return UnitChanged(code=code, changed=False)
    _refuse_own_root(principal, unit_id, code, diff)
    updated = apply_change(versions, effective, diff)
    old_segments = store.segments_of(conn, [unit_id])[unit_id]
    store.replace_versions(conn, unit_id, updated)
    if "parent_id" in diff:
        _reindex(conn, {unit_id: updated})
    _require_reach(conn, principal, unit_id, code, effective, (versions, old_segments), updated)
    kinds = _change_kinds(diff)
    codes = codes_of(conn, {current.parent_id, diff.get("parent_id")} - {None})  # type: ignore[arg-type]
    before = {k: getattr(current, k) for k in diff}
    after = dict(diff)
    for side in (before, after):
        if "parent_id" in side:
            side["parent"] = codes.get(side.pop("parent_id"))
    _record_events(
        conn,
        principal,
        [
            (
                unit_id,
                k,
                effective,
                diff.get("parent_id") if k is EventKind.MOVE else None,
                {"before": before, "after": after},
            )
            for k in kinds
        ],
        note,
    )
    audit.record(
        conn,
        actor=principal.username,
        action="unit.change",
        entity="unit",
        entity_key=code,
        before={**before, "effective": effective},
        after={**after, "effective": effective, "versions": _state(conn, updated)},
        note=note,
    )
    return UnitChanged(code=code, changed=True, events=[k.value for k in kinds])


def _state(conn: Connection, versions: Sequence[UnitVersion]) -> list[dict[str, Any]]:
    """Every version of the unit after a write, parents by code: what the audit entry keeps so that
    ``jiaowei audit verify`` can compare the live rows with it (:mod:`jiaowei.registry.audit_checks`)."""
    codes = codes_of(conn, {v.parent_id for v in versions})
    return [{"valid_from": v.valid_from, "valid_to": v.valid_to, **version_dict(v, codes)} for v in versions]


_ROOT_FIELDS = {"name_zh": "rename", "name_en": "rename", "parent_id": "move", "closed": "close",
                "merged_into": "merge"}


def _refuse_own_root(principal: Principal, unit_id: int, code: str, diff: Mapping[str, Any]) -> None:
    """Scoped staff may not rename, move, close or merge a unit their capture scope starts at (a district
    bureau, for district staff): that is the commission's decision, not theirs."""
    if principal.unlimited or unit_id not in principal.capture:
        return
    refused = sorted({verb for name, verb in _ROOT_FIELDS.items() if name in diff})
    if refused:
        raise PermissionDenied(
            M_("Unit {code!r} is where your capture scope starts; you may not {actions} it. Ask an "
               "administrator.", code=code, actions=' or '.join(refused))
        )


def _require_reach(
    conn: Connection,
    principal: Principal,
    unit_id: int,
    code: str,
    effective: dt.date,
    old: tuple[Sequence[UnitVersion], Sequence[Segment]],
    new: Sequence[UnitVersion],
) -> None:
    """A change reaches every later date it alters (up to the field's next recorded change),
    so the principal must hold the unit, where it was and where it goes, on each of those dates."""
    if principal.unlimited:
        return
    new_segments = store.segments_of(conn, [unit_id])[unit_id]
    starts = {v.valid_from for v in (*old[0], *new)} | {g.valid_from for g in (*old[1], *new_segments)}
    starts.add(effective)
    for day in sorted(d for d in starts if d >= effective):
        before = (_fields_on(old[0], day), _path_on(old[1], day))
        after = (_fields_on(new, day), _path_on(new_segments, day))
        paths = {p for p in (before[1], after[1]) if p}
        if before != after and not all(in_scope(conn, principal, Action.REGISTRY_WRITE, p,
                                                day) for p in paths):
            raise PermissionDenied(
                M_("Unit {code!r} is outside your capture scope on {day}, and the change from {effective} "
                   "would reach that date; record it from that date on only through someone who holds the "
                   "unit then.", code=code, day=day.isoformat(), effective=effective.isoformat())
            )


def _fields_on(versions: Sequence[UnitVersion], day: dt.date) -> tuple[Any, ...] | None:
    v = next((v for v in versions if v.covers(day)), None)
    return tuple(getattr(v, name) for name in VERSIONED_FIELDS) if v else None


def _path_on(segments: Sequence[Segment], day: dt.date) -> str | None:
    return next((s.path for s in segments if s.valid_from <= day < s.valid_to), None)


def _life(versions: Sequence[UnitVersion]) -> str:
    end = versions[-1].valid_to
    return f"a date from {versions[0].valid_from.isoformat()}" + (
        "" if end == FOREVER else f" to before {end.isoformat()}"
    )


def _change_kinds(diff: Mapping[str, Any]) -> list[EventKind]:
    kinds = []
    if {"name_zh", "name_en"} & diff.keys():
        kinds.append(EventKind.RENAME)
    if "parent_id" in diff:
        kinds.append(EventKind.MOVE)
    if {"type", "ownership", "sector", "attributes"} & diff.keys():
        kinds.append(EventKind.UPDATE)
    return kinds


def close_unit(
    conn: Connection,
    *,
    principal: Principal,
    code: str,
    effective: dt.date,
    note: str = "",
    merged_into: int | None = None,
) -> UnitClosed:
    """Close a unit from ``effective`` on. Its children must be moved or closed first."""
    unit_id = visible_id(conn, principal, code, effective, Action.REGISTRY_WRITE)
    _refuse_own_root(principal, unit_id, code, {"merged_into" if merged_into else "closed": effective})
    versions = store.versions_of(conn, [unit_id])[unit_id]
    try:
        closed = close_versions(versions, effective)
    except ValueError as exc:
        raise ValidationError(
            M_("Unit {code} cannot be closed on {effective}.", code=code, effective=effective.isoformat()),
            [Problem(str(exc), field="effective", value=effective.isoformat(), expected=_life(versions))],
        ) from None
    old_segments = store.segments_of(conn, [unit_id])[unit_id]
    store.replace_versions(conn, unit_id, closed)
    _reindex(conn, {unit_id: closed})
    _require_reach(conn, principal, unit_id, code, effective, (versions, old_segments), closed)
    kind = EventKind.MERGE if merged_into else EventKind.CLOSE
    _record_events(conn, principal, [(unit_id, kind, effective, merged_into, {})], note)
    audit.record(
        conn,
        actor=principal.username,
        action=f"unit.{kind.value}",
        entity="unit",
        entity_key=code,
        before={"closed": None},
        after={"closed": effective, "merged_into": merged_into, "versions": _state(conn, closed)},
        note=note,
    )
    return UnitClosed(code=code, closed=effective.isoformat())


def merge_unit(
    conn: Connection, *, principal: Principal, code: str, into: str, effective: dt.date, note: str = ""
) -> UnitMerged:
    """Merge ``code`` into ``into``: its children move to ``into``, then it closes."""
    target = visible_id(conn, principal, into, effective, Action.REGISTRY_WRITE)
    if into == code:
        raise ValidationError(
            N_("A unit cannot be merged into itself."),
            [Problem(N_("same unit"), field="into", value=into, expected=N_("another unit"))],
        )
    target_versions = store.versions_of(conn, [target])[target]
    if not any(v.covers(effective) for v in target_versions):
        raise ValidationError(
            M_("Unit {into} is not open on {effective}.", into=into, effective=effective.isoformat()),
            [
                Problem(
                    N_("unit not open on this date"), field="into", value=into,
                    expected=_life(target_versions)
                )
            ],
        )
    source = visible_id(conn, principal, code, effective, Action.REGISTRY_WRITE)
    _refuse_own_root(principal, source, code, {"merged_into": target})
    v = store.unit_versions
    kids = (
        conn.execute(
            select(units.c.code)
            .join(v, v.c.unit_id == units.c.id)
            .where(v.c.parent_id == source, store.valid_on(v, effective))
        )
        .scalars()
        .all()
    )
    for kid in kids:
        change_unit(
            conn,
            principal=principal,
            code=kid,
            effective=effective,
            changes={"parent": into},
            note=note or f"merge of {code} into {into}",
        )
    close_unit(conn, principal=principal, code=code, effective=effective, note=note, merged_into=target)
    return UnitMerged(code=code, merged_into=into, moved_children=list(kids))


def ensure_new_code(conn: Connection, code: str) -> None:
    if store.unit_id_for(conn, code) is not None:
        raise Conflict(M_("A unit with code {code!r} already exists.", code=code))
