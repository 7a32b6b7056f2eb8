"""The registry's live tables checked against the audit chain (``jiaowei audit verify``).

Units and their versions: each unit's entries (``unit.open``, ``unit.change``, ``unit.close``,
``unit.merge``) are replayed in the order of the chain. Since issue 9 a change, close or merge keeps
every version of the unit after the write (``after.versions``, parents by code), and the replay
takes that as it stands; an older entry without it is replayed with the registry's own rules
(:func:`~jiaowei.registry.model.apply_change`, :func:`~jiaowei.registry.model.close_versions`) from
the fields it does hold, so a database upgraded from before is checked the same way. The result is
compared with ``units`` (code, synthetic flag) and ``unit_versions`` (dates, parent, names, type,
ownership, sector, attributes). ``unit_paths`` must be what the path engine derives from those
versions. Not checked: ``units.created_at`` and ``unit_events`` (a readable account of the same
writes; the chain is the record).

Groups and group sets: created with their names and members, then members added and removed;
replayed and compared with ``unit_groups``, ``unit_group_members``, ``unit_group_sets`` and
``unit_group_set_members``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, select

from jiaowei.audit.checkpoint import Text
from jiaowei.audit.reconcile import N_, UNLOGGED, Chain, Mismatch, term
from jiaowei.registry.model import (
    FOREVER,
    TreeBroken,
    UnitVersion,
    apply_change,
    close_versions,
    compute_paths,
    merge_segments,
)
from jiaowei.registry.store import (
    unit_group_members,
    unit_group_set_members,
    unit_group_sets,
    unit_groups,
    unit_paths,
    unit_versions,
    units,
)

UNIT_ACTIONS = ("unit.open", "unit.change", "unit.close", "unit.merge")
FIELDS = ("parent_id", "name_zh", "name_en", "type", "ownership", "sector", "attributes")
SHOWN = {"parent_id": "parent"}
TERMS = (N_("units"), N_("unit_versions"), N_("unit_paths"), N_("unit_groups"), N_("unit_group_members"),
         N_("unit_group_sets"), N_("unit_group_set_members"), N_("parent"), N_("name_zh"), N_("name_en"),
         N_("type"), N_("ownership"), N_("sector"), N_("attributes"), N_("synthetic"), N_("none"),
         N_("open"))
STREAM = {"stream_results": True, "yield_per": 5000}


@dataclass
class _Unit:
    """A unit as the chain says it is: its synthetic flag and its versions (parents interned)."""

    synthetic: bool = False
    versions: list[UnitVersion] = field(default_factory=list)
    broken: Text | None = None  # why the entries cannot be replayed, if they cannot


class _Codes:
    """Unit codes as small integers, so that the registry's own rules replay versions by code."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.codes: list[str] = []

    def id(self, code: str | None) -> int | None:
        if code is None:
            return None
        if code not in self.ids:
            self.ids[code] = len(self.codes)
            self.codes.append(code)
        return self.ids[code]

    def code(self, unit_id: int | None) -> str | None:
        return None if unit_id is None else self.codes[unit_id]


def _day(value: Any) -> dt.date:
    return dt.date.fromisoformat(str(value))


def _version(fields: Mapping[str, Any], start: dt.date, end: dt.date, codes: _Codes) -> UnitVersion:
    return UnitVersion(valid_from=start, valid_to=end, parent_id=codes.id(fields.get("parent")),
                       name_zh=fields["name_zh"], name_en=fields["name_en"], type=fields["type"],
                       ownership=fields["ownership"], sector=fields["sector"],
                       attributes=dict(fields.get("attributes") or {}))


def _replay(unit: _Unit, action: str, after: Mapping[str, Any], codes: _Codes) -> None:
    if "versions" in after:  # the full state, written since issue 9
        unit.versions = [_version(v, _day(v["valid_from"]), _day(v["valid_to"]), codes)
                         for v in after["versions"]]
    elif action == "unit.open":
        unit.versions = [_version(after, _day(after["opened"]), FOREVER, codes)]
    elif action == "unit.change":
        diff = {name: value for name, value in after.items() if name in FIELDS}
        if "parent" in after:
            diff["parent_id"] = codes.id(after["parent"])
        unit.versions = apply_change(unit.versions, _day(after["effective"]), diff)
    else:
        unit.versions = close_versions(unit.versions, _day(after["closed"]))


def chain_units(chain: Chain, codes: _Codes) -> dict[str, _Unit]:
    """Every unit the chain opened, replayed to its last entry."""
    found: dict[str, _Unit] = {}
    for entry in chain.entries(entity="unit", actions=UNIT_ACTIONS):
        unit = found.setdefault(entry.entity_key, _Unit())
        if entry.action == "unit.open":
            unit.synthetic = bool(entry.after.get("synthetic", False))
        if unit.broken:
            continue
        try:
            _replay(unit, entry.action, entry.after, codes)
        except (KeyError, TypeError, ValueError) as exc:
            unit.broken = Text(N_("its audit entry {seq} ({action}) cannot be replayed: {error}"),
                               {"seq": entry.seq, "action": entry.action, "error": str(exc)})
    return found


def _live_units(conn: Connection, codes: _Codes) -> Iterator[tuple[int, str, bool, list[UnitVersion]]]:
    """Each live unit with its versions, parents interned by code; one streamed query."""
    parent = units.alias("parent")
    v = unit_versions
    query = (select(units.c.id, units.c.code, units.c.synthetic, v, parent.c.code.label("parent_code"))
             .select_from(units.outerjoin(v, v.c.unit_id == units.c.id)
                          .outerjoin(parent, parent.c.id == v.c.parent_id))
             .order_by(units.c.id, v.c.valid_from))
    current: tuple[int, str, bool, list[UnitVersion]] | None = None
    for row in conn.execute(query.execution_options(**STREAM)):
        if current is None or current[0] != row.id:
            if current is not None:
                yield current
            current = (row.id, row.code, bool(row.synthetic), [])
        if row.valid_from is not None:
            known = row.parent_code if row.parent_id is None or row.parent_code else f"#{row.parent_id}"
            current[3].append(UnitVersion(
                valid_from=row.valid_from, valid_to=row.valid_to, parent_id=codes.id(known),
                name_zh=row.name_zh, name_en=row.name_en, type=row.type, ownership=row.ownership,
                sector=row.sector, attributes=dict(row.attributes or {})))
    if current is not None:
        yield current


def _span(v: UnitVersion) -> str:
    return f"{v.valid_from.isoformat()}–{'open' if v.valid_to == FOREVER else v.valid_to.isoformat()}"


def _spans(versions: list[UnitVersion]) -> Text:
    """The versions' dates ("2000-01-01–open, …"), "open" and "none" in the reader's words."""
    if not versions:
        return term("none")
    shown = [(v.valid_from.isoformat(), v.valid_to) for v in versions]
    template = ", ".join(f"{start}–{{open}}" if end == FOREVER else f"{start}–{end.isoformat()}"
                         for start, end in shown)
    return Text(template, {"open": term("open")})


def _shown(name: str, value: Any, codes: _Codes) -> str:
    if name == "parent_id":
        return repr(codes.code(value))
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON stores them (a tuple and a list, a date and its ISO text)."""
    return a == b or json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def version_differences(live: list[UnitVersion], logged: list[UnitVersion], codes: _Codes) -> list[Text]:
    """What differs between a unit's live versions and the chain's, as catalog messages."""
    spans = [_span(v) for v in live], [_span(v) for v in logged]
    if spans[0] != spans[1]:
        return [Text(N_("versions {live}, the audit log says {logged}"),
                     {"live": _spans(live), "logged": _spans(logged) if logged else ""})]
    return [Text(N_("version from {start}: {field} is {live}, the audit log says {logged}"), {
                "start": a.valid_from.isoformat(), "field": term(SHOWN.get(name, name)),
                "live": _shown(name, getattr(a, name), codes),
                "logged": _shown(name, getattr(b, name), codes)})
            for a, b in zip(live, logged, strict=True) for name in FIELDS
            if not _same(getattr(a, name), getattr(b, name))]


def check_units(conn: Connection, chain: Chain) -> Iterator[Mismatch]:
    """``units`` and ``unit_versions`` against the replayed chain, then ``unit_paths``."""
    codes = _Codes()
    logged = chain_units(chain, codes)
    links: dict[int, list[UnitVersion]] = {}
    names: dict[int, str] = {}
    for unit_id, code, synthetic, versions in _live_units(conn, codes):
        links[unit_id], names[unit_id] = versions, code
        expected = logged.pop(code, None)
        if expected is None:
            yield Mismatch("units", code, UNLOGGED)
            continue
        if expected.broken:
            yield Mismatch("unit_versions", code, expected.broken.template, expected.broken.params)
            continue
        if synthetic != expected.synthetic:
            yield Mismatch("units", code, N_("{field} is {live}, the audit log says {logged}"),
                           {"field": term("synthetic"), "live": synthetic, "logged": expected.synthetic})
        for reason in version_differences(versions, expected.versions, codes):
            yield Mismatch("unit_versions", code, reason.template, reason.params)
    for code in sorted(logged):
        yield Mismatch("units", code, N_("the audit log opened this unit, but its row is missing"))
    yield from _orphan_versions(conn)
    yield from check_paths(conn, links, names, codes)


def _orphan_versions(conn: Connection) -> Iterator[Mismatch]:
    query = (select(unit_versions.c.unit_id).distinct()
             .where(unit_versions.c.unit_id.not_in(select(units.c.id))))
    for unit_id in conn.scalars(query):
        yield Mismatch("unit_versions", f"#{unit_id}", N_("versions of a unit id that has no unit row"))


def check_paths(conn: Connection, versions: Mapping[int, list[UnitVersion]], names: Mapping[int, str],
                codes: _Codes) -> Iterator[Mismatch]:
    """``unit_paths`` must be what the path engine derives from the (checked) live versions."""
    ids: dict[int | None, int] = {codes.ids[c]: unit_id for unit_id, c in names.items() if c in codes.ids}
    links = {u: [replace(v, parent_id=ids.get(v.parent_id)).link() for v in vs] for u, vs in versions.items()}
    try:
        wanted = compute_paths(links)
    except TreeBroken as broken:
        yield Mismatch("unit_versions", names.get(broken.unit_id, f"#{broken.unit_id}"),
                       N_("the versions do not form a tree on {date} ({problem})"),
                       {"date": broken.date.isoformat(), "problem": broken.reason})
        return
    live: dict[int, list[Any]] = {}
    for row in conn.execute(select(unit_paths).order_by(unit_paths.c.unit_id, unit_paths.c.valid_from)
                            .execution_options(**STREAM)):
        live.setdefault(row.unit_id, []).append((row.valid_from, row.valid_to, row.path, row.depth))
    for unit_id in sorted(set(wanted) | set(live)):
        want = [(s.valid_from, s.valid_to, s.path, s.depth) for s in merge_segments(wanted.get(unit_id, []))]
        if live.get(unit_id, []) != want:
            yield Mismatch("unit_paths", names.get(unit_id, f"#{unit_id}"),
                           N_("paths {live}, the versions give {wanted}"),
                           {"live": _paths(live.get(unit_id, [])), "wanted": _paths(want)})


def _paths(rows: Iterable[Any]) -> Text:
    """Each path with the date it starts, or "none"."""
    shown = [Text(N_("{path} from {start}"), {"path": p, "start": a.isoformat()}) for a, _b, p, _d in rows]
    if not shown:
        return term("none")
    return Text(", ".join(f"{{p{i}}}" for i in range(len(shown))), {f"p{i}": t for i, t in enumerate(shown)})


# ---------------------------------------------------------------- groups


def _logged_groups(chain: Chain, entity: str, members: str) -> dict[str, tuple[str, str, set[str]]]:
    """Groups (or sets) as created, their members (or groups) then added and removed."""
    found: dict[str, tuple[str, str, set[str]]] = {}
    for entry in chain.entries(entity=entity):
        after, before = entry.after or {}, entry.before or {}
        if entry.action.endswith(".create"):
            names = (after["name_zh"].strip(), after["name_en"].strip())
            found[entry.entity_key] = (*names, set(after[members]))
        elif entry.entity_key in found and entry.action.endswith(".add"):
            found[entry.entity_key][2].update(after.get("added", []))
        elif entry.entity_key in found and entry.action.endswith(".remove"):
            found[entry.entity_key][2].difference_update(before.get("removed", []))
    return found


def _live_groups(conn: Connection, table: Any, link: Any, keys: tuple[str, str],
                 target: Any) -> dict[str, tuple[str, str, set[str]]]:
    """Live groups (or sets) by code: names and member codes; ``keys`` name the link's two columns."""
    found = {r.code: (r.name_zh, r.name_en, set[str]()) for r in conn.execute(select(table))}
    query = (select(table.c.code, target.c.code.label("member"))
             .select_from(link.join(table, table.c.id == link.c[keys[0]])
                          .join(target, target.c.id == link.c[keys[1]])))
    for row in conn.execute(query.execution_options(**STREAM)):
        found[row.code][2].add(row.member)
    return found


EXTRA = {"unit": N_("units {codes} are in it, not in the audit log"),
         "group": N_("groups {codes} are in it, not in the audit log")}
MISSING = {"unit": N_("units {codes} are missing from it"), "group": N_("groups {codes} are missing from it")}


def _compare_groups(what: str, live: dict[str, tuple[str, str, set[str]]],
                    logged: dict[str, tuple[str, str, set[str]]], member: str) -> Iterator[Mismatch]:
    table, members = f"unit_{what}s", f"unit_{what}_members"
    for code in sorted(set(live) | set(logged)):
        if code not in logged:
            yield Mismatch(table, code, UNLOGGED)
        elif code not in live:
            yield Mismatch(table, code, N_("the audit log created it, but its row is missing"))
        else:
            (zh, en, have), (log_zh, log_en, want) = live[code], logged[code]
            for name, a, b in (("name_zh", zh, log_zh), ("name_en", en, log_en)):
                if a != b:
                    yield Mismatch(table, code, N_("{field} is {live}, the audit log says {logged}"),
                                   {"field": term(name), "live": repr(a), "logged": repr(b)})
            if extra := sorted(have - want):
                yield Mismatch(members, code, EXTRA[member], {"codes": ", ".join(extra)})
            if missing := sorted(want - have):
                yield Mismatch(members, code, MISSING[member], {"codes": ", ".join(missing)})


def check_groups(conn: Connection, chain: Chain) -> Iterator[Mismatch]:
    """Unit groups, their members, group sets and their groups against the chain."""
    yield from _compare_groups(
        "group", _live_groups(conn, unit_groups, unit_group_members, ("group_id", "unit_id"), units),
        _logged_groups(chain, "unit_group", "members"), "unit")
    yield from _compare_groups(
        "group_set",
        _live_groups(conn, unit_group_sets, unit_group_set_members, ("set_id", "group_id"), unit_groups),
        _logged_groups(chain, "unit_group_set", "groups"), "group")
