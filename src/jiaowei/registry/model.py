"""Pure registry model: unit kinds, versions, and the path engine.

Nothing here touches a database. The path engine turns each unit's parent links (with
their effective dates) into *path segments*: for each stretch of time, the unit's
materialised path ``/root/…/parent/unit/`` of unit ids. Subtree queries on any date are
then a range scan on ``path``. The same engine checks that the tree is whole on every
date: each unit's parent is open while the link lasts, and no unit is its own ancestor.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

FOREVER = dt.date.max


class UnitType(StrEnum):
    COMMISSION = "commission"
    DISTRICT_BUREAU = "district_bureau"
    UNIVERSITY = "university"
    VOCATIONAL_COLLEGE = "vocational_college"
    SECONDARY_SCHOOL = "secondary_school"
    PRIMARY_SCHOOL = "primary_school"
    NINE_YEAR_SCHOOL = "nine_year_school"
    KINDERGARTEN = "kindergarten"
    CHILDCARE_POINT = "childcare_point"
    HOSPITAL = "hospital"
    OTHER = "other"


class Ownership(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class Sector(StrEnum):
    EDUCATION = "education"
    HEALTH = "health"


class EventKind(StrEnum):
    OPEN = "open"
    CLOSE = "close"
    RENAME = "rename"
    MOVE = "move"
    MERGE = "merge"
    UPDATE = "update"


def choices(enum: type[StrEnum]) -> str:
    return ", ".join(member.value for member in enum)


@dataclass(frozen=True)
class Link:
    """A unit's parent over ``[valid_from, valid_to)``; ``valid_to`` FOREVER when open-ended."""

    valid_from: dt.date
    valid_to: dt.date
    parent_id: int | None


@dataclass(frozen=True)
class Segment:
    """A unit's materialised path over ``[valid_from, valid_to)``."""

    valid_from: dt.date
    valid_to: dt.date
    path: str

    @property
    def depth(self) -> int:
        return self.path.count("/") - 1


@dataclass
class TreeBroken(Exception):
    """The links given do not form a tree on every date."""

    unit_id: int
    date: dt.date
    reason: str  # "parent-closed" | "cycle"
    parent_id: int | None = None


def path_upper_bound(path: str) -> str:
    """The smallest string greater than every path that starts with ``path``.

    Paths end in ``/``; ``0`` is the next byte after ``/``, so ``[path, upper)`` is a
    range scan over the subtree.
    """
    return path[:-1] + "0"


def path_ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


class _UnitLoop(Exception):
    """The parent links of some units refer to each other across time (not always a cycle)."""


@dataclass
class PathEngine:
    """Derives path segments from links.

    The fast way computes each unit's segments over its whole life once and clips its
    parent's to each link. When units are each other's ancestors at different times
    (X under Y in 2019, Y under X in 2021) that recursion would loop, so the engine then
    clips every request to the dates asked for, which tells a real cycle (on one date)
    from a harmless one across time.
    """

    links: Mapping[int, Sequence[Link]]
    anchors: Mapping[int, Sequence[Segment]] = field(default_factory=dict)
    _whole: dict[int, list[Segment]] = field(default_factory=dict)
    _memo: dict[tuple[int, dt.date, dt.date], list[Segment]] = field(default_factory=dict)
    _clipping: bool = False

    def segments(self, unit_id: int) -> list[Segment]:
        if not self._clipping:
            try:
                return self._whole_life(unit_id, ())
            except _UnitLoop:
                self._clipping = True
        links = self.links[unit_id]
        if not links:
            return []
        start = min(link.valid_from for link in links)
        end = max(link.valid_to for link in links)
        return merge_segments(self._segments(unit_id, start, end, ()))

    def _whole_life(self, unit_id: int, stack: tuple[int, ...]) -> list[Segment]:
        if unit_id in self._whole:
            return self._whole[unit_id]
        if unit_id not in self.links:
            return list(self.anchors.get(unit_id, ()))
        if unit_id in stack:
            raise _UnitLoop()
        result: list[Segment] = []
        for link in self.links[unit_id]:
            if link.parent_id is None:
                result.append(Segment(link.valid_from, link.valid_to, f"/{unit_id}/"))
                continue
            parents = _clip(
                self._whole_life(link.parent_id, (*stack, unit_id)), link.valid_from, link.valid_to
            )
            _require_cover(parents, link.valid_from, link.valid_to, unit_id, link.parent_id)
            result += [Segment(s.valid_from, s.valid_to, f"{s.path}{unit_id}/") for s in parents]
        merged = merge_segments(result)
        self._whole[unit_id] = merged
        return merged

    def _segments(self, unit_id: int, start: dt.date, end: dt.date, stack: tuple[int, ...]) -> list[Segment]:
        key = (unit_id, start, end)
        if key in self._memo:
            return self._memo[key]
        if unit_id in stack:
            raise TreeBroken(unit_id, start, "cycle")
        if unit_id not in self.links:
            return _clip(self.anchors.get(unit_id, ()), start, end)
        result: list[Segment] = []
        for link in self.links[unit_id]:
            a, b = max(link.valid_from, start), min(link.valid_to, end)
            if a >= b:
                continue
            if link.parent_id is None:
                result.append(Segment(a, b, f"/{unit_id}/"))
                continue
            parents = self._segments(link.parent_id, a, b, (*stack, unit_id))
            _require_cover(parents, a, b, unit_id, link.parent_id)
            result += [Segment(s.valid_from, s.valid_to, f"{s.path}{unit_id}/") for s in parents]
        result.sort(key=lambda s: s.valid_from)
        self._memo[key] = result
        return result


def _clip(segments: Sequence[Segment], start: dt.date, end: dt.date) -> list[Segment]:
    out = []
    for s in segments:
        a, b = max(s.valid_from, start), min(s.valid_to, end)
        if a < b:
            out.append(Segment(a, b, s.path))
    return out


def _require_cover(
    parents: Sequence[Segment], start: dt.date, end: dt.date, unit_id: int, parent_id: int
) -> None:
    cursor = start
    for s in sorted(parents, key=lambda s: s.valid_from):
        if s.valid_from > cursor:
            break
        cursor = max(cursor, s.valid_to)
    if cursor < end:
        raise TreeBroken(unit_id, cursor, "parent-closed", parent_id)


def merge_segments(segments: Sequence[Segment]) -> list[Segment]:
    """Join touching segments that carry the same path."""
    out: list[Segment] = []
    for s in sorted(segments, key=lambda s: s.valid_from):
        if out and out[-1].path == s.path and out[-1].valid_to == s.valid_from:
            out[-1] = Segment(out[-1].valid_from, s.valid_to, s.path)
        else:
            out.append(s)
    return out


def compute_paths(
    links: Mapping[int, Sequence[Link]], anchors: Mapping[int, Sequence[Segment]] | None = None
) -> dict[int, list[Segment]]:
    """Path segments for every unit in ``links``; raises TreeBroken if any date breaks."""
    engine = PathEngine(links, anchors or {})
    return {unit_id: engine.segments(unit_id) for unit_id in links}


@dataclass(frozen=True)
class UnitVersion:
    """What a unit was over ``[valid_from, valid_to)``."""

    valid_from: dt.date
    valid_to: dt.date
    parent_id: int | None
    name_zh: str
    name_en: str
    type: str
    ownership: str
    sector: str
    attributes: dict[str, Any]

    def link(self) -> Link:
        return Link(self.valid_from, self.valid_to, self.parent_id)

    def covers(self, day: dt.date) -> bool:
        return self.valid_from <= day < self.valid_to


VERSIONED_FIELDS = ("parent_id", "name_zh", "name_en", "type", "ownership", "sector", "attributes")


def apply_change(
    versions: Sequence[UnitVersion], day: dt.date, changes: Mapping[str, Any]
) -> list[UnitVersion]:
    """Apply ``changes`` from ``day`` on, until each field's next recorded change.

    The version covering ``day`` is split there. Later versions take a changed field
    only while it still holds the value it had on ``day``: a later rename or move that
    was already recorded stays in force.
    """
    current = next((v for v in versions if v.covers(day)), None)
    if current is None:
        raise ValueError("the unit is not open on that date")
    before = {name: getattr(current, name) for name in changes}
    pending = dict(changes)  # fields not yet overtaken by a later recorded change
    out: list[UnitVersion] = []
    for v in sorted(versions, key=lambda v: v.valid_from):
        if v.valid_to <= day:
            out.append(v)
            continue
        if v.valid_from < day:
            out.append(_replace(v, valid_to=day))
            v = _replace(v, valid_from=day)
        pending = {name: value for name, value in pending.items() if getattr(v, name) == before[name]}
        out.append(_replace(v, **pending))
    return merge_versions(out)


def close_versions(versions: Sequence[UnitVersion], day: dt.date) -> list[UnitVersion]:
    """End the unit's life on ``day`` (the unit is closed from ``day`` on)."""
    ordered = sorted(versions, key=lambda v: v.valid_from)
    if not ordered or not (ordered[0].valid_from < day):
        raise ValueError("a unit can only close after it opened")
    if ordered[-1].valid_to != FOREVER:
        raise ValueError("the unit is already closed")
    if ordered[-1].valid_from >= day:
        raise ValueError("the unit has changes recorded on or after that date")
    return [*ordered[:-1], _replace(ordered[-1], valid_to=day)]


def merge_versions(versions: Sequence[UnitVersion]) -> list[UnitVersion]:
    out: list[UnitVersion] = []
    for v in versions:
        if out and out[-1].valid_to == v.valid_from and _same(out[-1], v):
            out[-1] = _replace(out[-1], valid_to=v.valid_to)
        else:
            out.append(v)
    return out


def _same(a: UnitVersion, b: UnitVersion) -> bool:
    return all(getattr(a, name) == getattr(b, name) for name in VERSIONED_FIELDS)


def _replace(v: UnitVersion, **changes: Any) -> UnitVersion:
    return replace(v, **changes)


# ---------------------------------------------------------------- what other domains read of units


@dataclass(frozen=True)
class Unit:
    """A unit as it stood on a day (or, for :meth:`UnitHistory.in_period`, last within a period)."""

    id: int
    code: str
    name_zh: str
    name_en: str
    type: str
    ownership: str
    sector: str
    parent_id: int | None
    path: str
    synthetic: bool = False
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the top of the tree down to the unit's parent."""
        return path_ids(self.path)[:-1]

    @property
    def depth(self) -> int:
        """1 at the top of the tree (as ``unit_paths.depth``)."""
        return self.path.count("/") - 1


@dataclass(frozen=True)
class UnitHistory:
    """Every version and path segment of a unit, oldest first."""

    id: int
    code: str
    synthetic: bool
    versions: tuple[UnitVersion, ...]
    segments: tuple[Segment, ...]

    def in_period(self, first: dt.date, last: dt.date) -> Unit | None:
        """The unit as it stood last within ``first`` to ``last`` (both included); None if not open then."""
        end = last + dt.timedelta(days=1)
        segment = next(
            (g for g in reversed(self.segments) if g.valid_from < end and g.valid_to > first),
            None,
        )
        version = next(
            (v for v in reversed(self.versions) if v.valid_from < end and v.valid_to > first),
            None,
        )
        if segment is None or version is None:
            return None
        return self._unit(version, segment.path)

    def last(self) -> Unit:
        """The unit as it stood last (its final version and path, also when it is closed)."""
        path = self.segments[-1].path if self.segments else ""
        return self._unit(self.versions[-1], path)

    def _unit(self, v: UnitVersion, path: str) -> Unit:
        return Unit(self.id, self.code, v.name_zh, v.name_en, v.type, v.ownership, v.sector, v.parent_id,
                    path, self.synthetic, dict(v.attributes))


# ---------------------------------------------------------------- what the registry's browsing reads return


@dataclass(frozen=True)
class UnitSummary:
    """A unit as a list shows it on a day: its parent by code, its depth in the tree (``level``)."""

    code: str
    name_zh: str
    name_en: str
    type: str
    ownership: str
    sector: str
    parent: str | None
    level: int
    attributes: Mapping[str, Any] = field(hash=False)
    synthetic: bool


@dataclass(frozen=True)
class TreeNode(UnitSummary):
    """A unit in the tree, with how many units were directly below it on the day."""

    children: int


@dataclass(frozen=True)
class UnitFound:
    """A unit offered by the unit picker: its names, its parent's (to tell namesakes apart), and
    how many units are directly below it (to browse down)."""

    code: str
    name_zh: str
    name_en: str
    type: str
    level: int
    parent: str | None
    parent_name_zh: str
    parent_name_en: str
    children: int


@dataclass(frozen=True)
class Ancestor:
    """A unit above another in the tree, with its names on the day."""

    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class VersionShown:
    """A version of a unit as its history shows it: the parent by code, ``valid_to`` None while open."""

    valid_from: dt.date
    valid_to: dt.date | None
    name_zh: str
    name_en: str
    type: str
    ownership: str
    sector: str
    parent: str | None
    attributes: Mapping[str, Any] = field(hash=False)

    def covers(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


@dataclass(frozen=True)
class UnitEventShown:
    """An event in a unit's history: the related unit (a move's new parent, a merge's target) by code."""

    kind: str
    effective: dt.date
    detail: Mapping[str, Any] = field(hash=False)
    related: str | None
    note: str
    recorded_by: str


@dataclass(frozen=True)
class UnitDetail:
    """One unit: its state on ``as_of`` (else its last state), ancestors, every version and event."""

    code: str
    synthetic: bool
    open_on_date: bool
    as_of: dt.date
    opened: dt.date
    closed: dt.date | None
    name_zh: str
    name_en: str
    type: str
    ownership: str
    sector: str
    parent: str | None
    attributes: Mapping[str, Any] = field(hash=False)
    level: int
    ancestors: tuple[Ancestor, ...]
    versions: tuple[VersionShown, ...]
    events: tuple[UnitEventShown, ...]
