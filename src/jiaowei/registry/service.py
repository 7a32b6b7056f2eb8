"""Registry use cases: browse the tree on a date, open, change, move, close, merge, import.

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

from sqlalchemy import Connection, func, insert, or_, select

from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal
from jiaowei.auth.scope import in_scope, require_action, require_unit, scope_paths, unit_filter
from jiaowei.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from jiaowei.paging import Page
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
    path_ids,
)
from jiaowei.registry.store import unit_events, unit_paths, units

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_PAGE = 500


def today() -> dt.date:
    return dt.date.today()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------- reading


def _unit_dict(row: Any, parent_codes: Mapping[int, str]) -> dict[str, Any]:
    return {
        "code": row.code,
        "name_zh": row.name_zh,
        "name_en": row.name_en,
        "type": row.type,
        "ownership": row.ownership,
        "sector": row.sector,
        "parent": parent_codes.get(row.parent_id) if row.parent_id else None,
        "level": row.depth,
        "attributes": dict(row.attributes or {}),
        "synthetic": bool(row.synthetic),
    }


def _codes(conn: Connection, ids: set[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    id_list = [i for i in ids if i is not None]
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        out.update(dict(conn.execute(select(units.c.id, units.c.code).where(units.c.id.in_(chunk))).all()))
    return out


def _rows_to_dicts(conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
    parents = _codes(conn, {r.parent_id for r in rows if r.parent_id})
    return [_unit_dict(r, parents) for r in rows]


def list_units(
    conn: Connection,
    *,
    principal: Principal,
    as_of: dt.date | None = None,
    type: str | None = None,
    parent: str | None = None,
    descendants_of: str | None = None,
    ownership: str | None = None,
    q: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """Units visible to ``principal`` as they stood on ``as_of``, paged."""
    day = as_of or today()
    problems = _filter_problems(type=type, ownership=ownership, offset=offset, limit=limit)
    if problems:
        raise ValidationError("The unit list cannot be filtered that way.", problems)
    query = store.units_on_select(day).where(unit_filter(conn, principal, Action.VIEW, day))
    if type:
        query = query.where(store.unit_versions.c.type == type)
    if ownership:
        query = query.where(store.unit_versions.c.ownership == ownership)
    if parent:
        query = query.where(store.unit_versions.c.parent_id == _known_id(conn, parent, "parent"))
    if descendants_of:
        path = store.path_on(conn, _known_id(conn, descendants_of, "descendants_of"), day)
        query = query.where(store.in_paths([path] if path else []))
    if q:
        like = f"%{q}%"
        query = query.where(
            or_(
                units.c.code.ilike(like),
                store.unit_versions.c.name_zh.like(like),
                store.unit_versions.c.name_en.ilike(like),
            )
        )
    total = store.count_rows(conn, query)
    rows = conn.execute(query.order_by(unit_paths.c.path).offset(offset).limit(limit)).all()
    return Page(_rows_to_dicts(conn, rows), total, offset, limit)


def _filter_problems(*, type: str | None, ownership: str | None, offset: int, limit: int) -> list[Problem]:
    problems = []
    if type and type not in {t.value for t in UnitType}:
        problems.append(Problem("unknown unit type", field="type", value=type, expected=choices(UnitType)))
    if ownership and ownership not in {o.value for o in Ownership}:
        problems.append(
            Problem("unknown ownership", field="ownership", value=ownership, expected=choices(Ownership))
        )
    if offset < 0:
        problems.append(Problem("offset must not be negative", field="offset", value=offset, expected=">= 0"))
    if not 1 <= limit <= MAX_PAGE:
        problems.append(
            Problem("limit out of range", field="limit", value=limit, expected=f"1 to {MAX_PAGE}")
        )
    return problems


def _known_id(conn: Connection, code: str, field_name: str) -> int:
    unit_id = store.unit_id_for(conn, code)
    if unit_id is None:
        raise ValidationError(
            "Unknown unit.",
            [Problem("no such unit", field=field_name, value=code, expected="the code of an existing unit")],
        )
    return unit_id


def _visible_id(
    conn: Connection, principal: Principal, code: str, day: dt.date, action: Action = Action.VIEW
) -> int:
    unit_id = store.unit_id_for(conn, code)
    if unit_id is None:
        raise NotFound(f"No unit with code {code!r}.")
    require_unit(conn, principal, action, unit_id, day, code)
    return unit_id


def children(
    conn: Connection, *, principal: Principal, code: str | None, as_of: dt.date | None = None
) -> list[dict[str, Any]]:
    """Children of a unit on a date (or the principal's top units when ``code`` is None)."""
    day = as_of or today()
    query = store.units_on_select(day).where(unit_filter(conn, principal, Action.VIEW, day))
    if code is not None:
        unit_id = _visible_id(conn, principal, code, day)
        query = query.where(store.unit_versions.c.parent_id == unit_id)
    elif principal.unlimited:
        query = query.where(store.unit_versions.c.parent_id.is_(None))
    else:
        roots = scope_paths(conn, principal, Action.VIEW, day)
        top = [p for p in roots if not any(p != o and p.startswith(o) for o in roots)]
        query = query.where(unit_paths.c.path.in_(top))
    rows = conn.execute(query.order_by(units.c.code)).all()
    items = _rows_to_dicts(conn, rows)
    counts = _child_counts(conn, [r.id for r in rows], day)
    for item, row in zip(items, rows, strict=True):
        item["children"] = counts.get(row.id, 0)
    return items


def _child_counts(conn: Connection, ids: list[int], day: dt.date) -> dict[int, int]:
    if not ids:
        return {}
    v = store.unit_versions
    rows = conn.execute(
        select(v.c.parent_id, func.count())
        .where(v.c.parent_id.in_(ids), store.valid_on(v, day))
        .group_by(v.c.parent_id)
    )
    return {r[0]: r[1] for r in rows}


def get_unit(
    conn: Connection, *, principal: Principal, code: str, as_of: dt.date | None = None
) -> dict[str, Any]:
    """One unit: its state on ``as_of`` (if open then), ancestors, every version and event."""
    day = as_of or today()
    unit_id = _visible_id(conn, principal, code, day)
    unit = conn.execute(select(units).where(units.c.id == unit_id)).one()
    versions = store.versions_of(conn, [unit_id])[unit_id]
    current = next((v for v in versions if v.covers(day)), None)
    shown = current or versions[-1]
    ids = {v.parent_id for v in versions if v.parent_id}
    path = store.last_path(conn, unit_id, day) or ""
    ids |= set(path_ids(path))
    codes = _codes(conn, ids)
    names = _names(conn, set(path_ids(path)), day)
    return {
        "code": unit.code,
        "synthetic": bool(unit.synthetic),
        "open_on_date": current is not None,
        "as_of": day.isoformat(),
        "opened": versions[0].valid_from.isoformat(),
        "closed": None if versions[-1].valid_to == FOREVER else versions[-1].valid_to.isoformat(),
        **_version_dict(shown, codes),
        "level": max(len(path_ids(path)) - 1, 0),
        "ancestors": [
            {"code": codes[i], "name_zh": names.get(i, ("", ""))[0], "name_en": names.get(i, ("", ""))[1]}
            for i in path_ids(path)[:-1]
        ],
        "versions": [
            {
                "valid_from": v.valid_from.isoformat(),
                "valid_to": None if v.valid_to == FOREVER else v.valid_to.isoformat(),
                **_version_dict(v, codes),
            }
            for v in versions
        ],
        "events": _events(conn, unit_id),
    }


def _names(conn: Connection, ids: set[int], day: dt.date) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    v = store.unit_versions
    rows = conn.execute(
        select(v.c.unit_id, v.c.name_zh, v.c.name_en, v.c.valid_from)
        .where(v.c.unit_id.in_(ids), v.c.valid_from <= day)
        .order_by(v.c.valid_from)
    )
    return {r.unit_id: (r.name_zh, r.name_en) for r in rows}


def _version_dict(v: UnitVersion, codes: Mapping[int, str]) -> dict[str, Any]:
    return {
        "name_zh": v.name_zh,
        "name_en": v.name_en,
        "type": v.type,
        "ownership": v.ownership,
        "sector": v.sector,
        "parent": codes.get(v.parent_id) if v.parent_id else None,
        "attributes": dict(v.attributes),
    }


def _events(conn: Connection, unit_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(unit_events)
        .where(unit_events.c.unit_id == unit_id)
        .order_by(unit_events.c.effective, unit_events.c.id)
    ).all()
    related = _codes(conn, {r.related_unit_id for r in rows if r.related_unit_id})
    return [
        {
            "kind": r.kind,
            "effective": r.effective.isoformat(),
            "detail": r.detail,
            "related": related.get(r.related_unit_id),
            "note": r.note,
            "recorded_by": r.recorded_by,
        }
        for r in rows
    ]


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


ENUM_FIELDS: dict[str, tuple[frozenset[str], type[StrEnum]]] = {
    name: (frozenset(m.value for m in enum), enum)
    for name, enum in (("type", UnitType), ("ownership", Ownership), ("sector", Sector))
}


def check_fields(values: Mapping[str, Any], row: int | None = None) -> list[Problem]:
    """Problems with unit field values (any subset of the fields)."""
    problems = []

    def bad(name: str, message: str, expected: str) -> None:
        problems.append(Problem(message, row=row, field=name, value=values.get(name), expected=expected))

    if "code" in values and not CODE.match(str(values["code"] or "")):
        bad("code", "invalid code", "1-64 letters, digits, _ . - starting with a letter or digit")
    for name in ("name_zh", "name_en"):
        if name in values and not str(values[name] or "").strip():
            bad(name, "name is required", "a non-empty name")
        elif name in values and len(str(values[name])) > 200:
            bad(name, "name too long", "at most 200 characters")
    for name, (accepted, enum) in ENUM_FIELDS.items():
        if name in values and values[name] not in accepted:
            bad(name, f"unknown {name}", choices(enum))
    if "attributes" in values and not isinstance(values["attributes"], dict):
        bad("attributes", "attributes must be an object", 'a JSON object such as {"双一流": true}')
    return problems


def create_unit(conn: Connection, *, principal: Principal, spec: UnitSpec, note: str = "") -> dict[str, Any]:
    """Open a new unit under ``spec.parent`` on ``spec.opened``."""
    created = import_new_units(conn, principal=principal, specs=[spec], rows=[None], note=note)
    return {"code": created[0]}


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
                    "a unit with this code already exists",
                    row=row,
                    field="code",
                    value=spec.code,
                    expected="a new code",
                )
            )
        if spec.parent and spec.parent not in existing and spec.parent not in batch:
            problems.append(
                Problem(
                    "no such parent unit",
                    row=row,
                    field="parent",
                    value=spec.parent,
                    expected="the code of an existing unit or of a unit in the same file",
                )
            )
    if problems:
        raise ValidationError("The units cannot be created.", problems)
    for spec in specs:
        if spec.parent in existing:
            require_unit(conn, principal, Action.REGISTRY_WRITE, existing[spec.parent], spec.opened,
                         spec.parent)
        elif not spec.parent and not principal.unlimited:
            raise ValidationError(
                "Only an administrator can open a unit at the top of the tree.",
                [Problem("a parent is required", field="parent", expected="a unit code")],
            )
    now = _now()
    conn.execute(
        insert(units), [{"code": s.code, "synthetic": s.synthetic, "created_at": now} for s in specs]
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
                    **_version_dict(versions[ids[s.code]][0], {ids[s.parent]: s.parent} if s.parent else {}),
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
    codes = _codes(conn, {broken.unit_id} | ({broken.parent_id} if broken.parent_id else set()))
    code = codes.get(broken.unit_id, str(broken.unit_id))
    if broken.reason == "cycle":
        message = f"unit {code} would be its own ancestor on {broken.date.isoformat()}"
        expected = "a parent that is not below the unit"
    else:
        parent = codes.get(broken.parent_id or 0, "?")
        message = f"unit {code} would have parent {parent}, which is not open on {broken.date.isoformat()}"
        expected = "a parent open for the whole time; move or close the children first"
    return ValidationError(
        "The change would break the tree.",
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
) -> dict[str, Any]:
    """Rename, move or update a unit from ``effective`` on; history before it stays."""
    unit_id = _visible_id(conn, principal, code, effective, Action.REGISTRY_WRITE)
    allowed = {"name_zh", "name_en", "type", "ownership", "sector", "parent", "attributes"}
    unknown = [k for k in changes if k not in allowed]
    problems = [
        Problem("field cannot be changed", field=k, value=changes[k], expected=", ".join(sorted(allowed)))
        for k in unknown
    ]
    problems += check_fields(changes)
    if problems:
        raise ValidationError(f"Unit {code} cannot be changed that way.", problems)
    values = dict(changes)
    if "parent" in values:
        parent = values.pop("parent")
        parent_id = _known_id(conn, parent, "parent") if parent else None
        if parent_id is None and not principal.unlimited:
            raise ValidationError(
                "Only an administrator can move a unit to the top of the tree.",
                [Problem("a parent is required", field="parent", expected="a unit code")],
            )
        if parent_id is not None:
            require_unit(conn, principal, Action.REGISTRY_WRITE, parent_id, effective, parent)
        values["parent_id"] = parent_id
    versions = store.versions_of(conn, [unit_id])[unit_id]
    current = next((v for v in versions if v.covers(effective)), None)
    if current is None:
        raise ValidationError(
            f"Unit {code} is not open on {effective.isoformat()}.",
            [
                Problem(
                    "unit not open on this date",
                    field="effective",
                    value=effective.isoformat(),
                    expected=_life(versions),
                )
            ],
        )
    diff = {k: v for k, v in values.items() if getattr(current, k) != v}
    if not diff:
        return {"code": code, "changed": False}
    updated = apply_change(versions, effective, diff)
    old_segments = store.segments_of(conn, [unit_id])[unit_id]
    store.replace_versions(conn, unit_id, updated)
    if "parent_id" in diff:
        _reindex(conn, {unit_id: updated})
    _require_reach(conn, principal, unit_id, code, effective, (versions, old_segments), updated)
    kinds = _change_kinds(diff)
    codes = _codes(conn, {current.parent_id, diff.get("parent_id")} - {None})  # type: ignore[arg-type]
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
        after={**after, "effective": effective},
        note=note,
    )
    return {"code": code, "changed": True, "events": [k.value for k in kinds]}


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
                f"Unit {code!r} is outside your capture scope on {day.isoformat()}, and the change "
                f"from {effective.isoformat()} would reach that date; record it from that date "
                "on only through someone who holds the unit then."
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
) -> dict[str, Any]:
    """Close a unit from ``effective`` on. Its children must be moved or closed first."""
    unit_id = _visible_id(conn, principal, code, effective, Action.REGISTRY_WRITE)
    versions = store.versions_of(conn, [unit_id])[unit_id]
    try:
        closed = close_versions(versions, effective)
    except ValueError as exc:
        raise ValidationError(
            f"Unit {code} cannot be closed on {effective.isoformat()}.",
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
        after={"closed": effective, "merged_into": merged_into},
        note=note,
    )
    return {"code": code, "closed": effective.isoformat()}


def merge_unit(
    conn: Connection, *, principal: Principal, code: str, into: str, effective: dt.date, note: str = ""
) -> dict[str, Any]:
    """Merge ``code`` into ``into``: its children move to ``into``, then it closes."""
    target = _visible_id(conn, principal, into, effective, Action.REGISTRY_WRITE)
    if into == code:
        raise ValidationError(
            "A unit cannot be merged into itself.",
            [Problem("same unit", field="into", value=into, expected="another unit")],
        )
    target_versions = store.versions_of(conn, [target])[target]
    if not any(v.covers(effective) for v in target_versions):
        raise ValidationError(
            f"Unit {into} is not open on {effective.isoformat()}.",
            [
                Problem(
                    "unit not open on this date", field="into", value=into, expected=_life(target_versions)
                )
            ],
        )
    source = _visible_id(conn, principal, code, effective, Action.REGISTRY_WRITE)
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
    return {"code": code, "merged_into": into, "moved_children": list(kids)}


def check_unit_codes(conn: Connection, codes: Sequence[str]) -> dict[str, int]:
    found = store.unit_ids_for(conn, codes)
    missing = [c for c in codes if c not in found]
    if missing:
        raise NotFound(f"No unit with code {missing[0]!r}.")
    return found


def ensure_new_code(conn: Connection, code: str) -> None:
    if store.unit_id_for(conn, code) is not None:
        raise Conflict(f"A unit with code {code!r} already exists.")
