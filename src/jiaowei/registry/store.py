"""Registry tables, the SQL that reads and writes them, and the image of them a process keeps."""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    false,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from jiaowei.db.among import among
from jiaowei.db.base import JSONType, byte_ordered_string, metadata
from jiaowei.db.engine import is_read_only
from jiaowei.db.kept import kept, stamps
from jiaowei.registry.model import FOREVER, Link, Segment, Unit, UnitVersion, path_upper_bound
from jiaowei.uids import new_uid

units = Table(
    "units",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("uid", String(11), nullable=False, default=new_uid, index=True, unique=True),  # DHIS2's id
    Column("synthetic", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# unit_versions and unit_paths are clustered on their natural keys (WITHOUT ROWID on SQLite):
# a subtree is one contiguous range of unit_paths, and each version one b-tree search away.
unit_versions = Table(
    "unit_versions",
    metadata,
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
    Column("valid_from", Date, primary_key=True),
    Column("valid_to", Date, nullable=False),
    Column("parent_id", ForeignKey("units.id"), nullable=True, index=True),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("type", String(32), nullable=False, index=True),
    Column("ownership", String(16), nullable=False),
    Column("sector", String(16), nullable=False),
    Column("attributes", JSONType, nullable=False),
    sqlite_with_rowid=False,
)

unit_paths = Table(
    "unit_paths",
    metadata,
    Column("path", byte_ordered_string(400), primary_key=True),
    Column("valid_from", Date, primary_key=True),
    Column("valid_to", Date, nullable=False),
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), nullable=False),
    Column("depth", Integer, nullable=False),
    Index("ix_unit_paths_unit_dates", "unit_id", "valid_from"),
    sqlite_with_rowid=False,
)

unit_events = Table(
    "unit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("effective", Date, nullable=False),
    Column("related_unit_id", ForeignKey("units.id"), nullable=True),
    Column("detail", JSONType, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(64), nullable=False),
)

unit_groups = Table(
    "unit_groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("uid", String(11), nullable=False, default=new_uid, index=True, unique=True),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
)

unit_group_members = Table(
    "unit_group_members",
    metadata,
    Column("group_id", ForeignKey("unit_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
)

unit_group_sets = Table(
    "unit_group_sets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("uid", String(11), nullable=False, default=new_uid, index=True, unique=True),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
)

unit_group_set_members = Table(
    "unit_group_set_members",
    metadata,
    Column("set_id", ForeignKey("unit_group_sets.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("unit_groups.id", ondelete="CASCADE"), primary_key=True),
)

# DHIS2's organisationUnitLevels: a name (and uid) for each depth of the tree, 1 at the top.
unit_levels = Table(
    "unit_levels",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("uid", String(11), nullable=False, unique=True, default=new_uid),
    Column("code", String(50), nullable=True, unique=True),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
)


def valid_on(table: Table, day: dt.date) -> ColumnElement[bool]:
    return and_(table.c.valid_from <= day, table.c.valid_to > day)


def in_paths(paths: Iterable[str]) -> ColumnElement[bool]:
    """Rows of ``unit_paths`` under any of ``paths`` (each a range scan)."""
    ranges = [
        and_(unit_paths.c.path >= p, unit_paths.c.path < path_upper_bound(p)) for p in paths
    ]
    return or_(*ranges) if ranges else false()





def version_from_row(row: Any) -> UnitVersion:
    return UnitVersion(
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        parent_id=row.parent_id,
        name_zh=row.name_zh,
        name_en=row.name_en,
        type=row.type,
        ownership=row.ownership,
        sector=row.sector,
        attributes=dict(row.attributes or {}),
    )


def unit_id_for(conn: Connection, code: str) -> int | None:
    return conn.scalar(select(units.c.id).where(units.c.code == code))


def unit_ids_for(conn: Connection, codes: Iterable[str]) -> dict[str, int]:
    codes = list(set(codes))
    found: dict[str, int] = {}
    for start in range(0, len(codes), 500):
        chunk = codes[start : start + 500]
        for row in conn.execute(select(units.c.code, units.c.id).where(units.c.code.in_(chunk))):
            found[row.code] = row.id
    return found


def versions_of(conn: Connection, unit_ids: Sequence[int]) -> dict[int, list[UnitVersion]]:
    out: dict[int, list[UnitVersion]] = {u: [] for u in unit_ids}
    for wanted in among(conn, unit_versions.c.unit_id, list(out)):
        rows = conn.execute(
            select(unit_versions)
            .where(wanted)
            .order_by(unit_versions.c.unit_id, unit_versions.c.valid_from)
        )
        for row in rows:
            out[row.unit_id].append(version_from_row(row))
    return out


def replace_versions(conn: Connection, unit_id: int, versions: Sequence[UnitVersion]) -> None:
    conn.execute(delete(unit_versions).where(unit_versions.c.unit_id == unit_id))
    insert_versions(conn, [(unit_id, v) for v in versions])


def insert_versions(conn: Connection, rows: Sequence[tuple[int, UnitVersion]]) -> None:
    if not rows:
        return
    conn.execute(
        insert(unit_versions),
        [
            {
                "unit_id": unit_id,
                "valid_from": v.valid_from,
                "valid_to": v.valid_to,
                "parent_id": v.parent_id,
                "name_zh": v.name_zh,
                "name_en": v.name_en,
                "type": v.type,
                "ownership": v.ownership,
                "sector": v.sector,
                "attributes": v.attributes,
            }
            for unit_id, v in rows
        ],
    )


def segments_of(conn: Connection, unit_ids: Iterable[int]) -> dict[int, list[Segment]]:
    out: dict[int, list[Segment]] = {u: [] for u in unit_ids}
    for wanted in among(conn, unit_paths.c.unit_id, list(out)):
        rows = conn.execute(select(unit_paths).where(wanted).order_by(unit_paths.c.valid_from))
        for row in rows:
            out[row.unit_id].append(Segment(row.valid_from, row.valid_to, row.path))
    return out


def replace_segments(conn: Connection, segments: dict[int, list[Segment]]) -> None:
    ids = list(segments)
    for start in range(0, len(ids), 500):
        conn.execute(delete(unit_paths).where(unit_paths.c.unit_id.in_(ids[start : start + 500])))
    insert_segments(conn, segments)


def insert_segments(conn: Connection, segments: dict[int, list[Segment]]) -> None:
    rows = [
        {
            "unit_id": unit_id,
            "valid_from": s.valid_from,
            "valid_to": s.valid_to,
            "path": s.path,
            "depth": s.depth,
        }
        for unit_id, segs in segments.items()
        for s in segs
    ]
    for start in range(0, len(rows), 5000):
        conn.execute(insert(unit_paths), rows[start : start + 5000])


def ever_descendants(conn: Connection, unit_id: int) -> list[int]:
    """Every unit that was ever below ``unit_id`` on any date, ``unit_id`` included."""
    found = [unit_id]
    frontier = [unit_id]
    seen = {unit_id}
    while frontier:
        children: set[int] = set()
        for start in range(0, len(frontier), 500):
            chunk = frontier[start : start + 500]
            children.update(
                conn.scalars(
                    select(unit_versions.c.unit_id).where(unit_versions.c.parent_id.in_(chunk))
                )
            )
        frontier = [c for c in children if c not in seen]
        seen.update(frontier)
        found += frontier
    return found


def links_of(versions: dict[int, list[UnitVersion]]) -> dict[int, list[Link]]:
    return {u: [v.link() for v in vs] for u, vs in versions.items()}


def path_on(conn: Connection, unit_id: int, day: dt.date) -> str | None:
    return conn.scalar(
        select(unit_paths.c.path).where(unit_paths.c.unit_id == unit_id, valid_on(unit_paths, day))
    )


def last_path(conn: Connection, unit_id: int, day: dt.date) -> str | None:
    """The unit's path on ``day``, or on its last day open before ``day``."""
    return conn.scalar(
        select(unit_paths.c.path)
        .where(unit_paths.c.unit_id == unit_id, unit_paths.c.valid_from <= day)
        .order_by(unit_paths.c.valid_from.desc())
        .limit(1)
    )


def last_paths(conn: Connection, unit_ids: Iterable[int], day: dt.date) -> dict[int, str]:
    """:func:`last_path` of each unit, by id (units with none are left out): one statement."""
    path = (
        select(unit_paths.c.path)
        .where(unit_paths.c.unit_id == units.c.id, unit_paths.c.valid_from <= day)
        .order_by(unit_paths.c.valid_from.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = select(units.c.id, path.label("path"))
    found: dict[int, str] = {}
    for wanted in among(conn, units.c.id, sorted(set(unit_ids))):
        found.update((r.id, r.path) for r in conn.execute(query.where(wanted)) if r.path is not None)
    return found


def _identity_and_version() -> tuple[Any, ...]:
    """The columns of a unit and its version that :func:`units_on_select` and :func:`last_known_select`
    share (then each adds the path)."""
    return (units.c.id, units.c.code, units.c.synthetic, unit_versions.c.parent_id, unit_versions.c.name_zh,
            unit_versions.c.name_en, unit_versions.c.type, unit_versions.c.ownership, unit_versions.c.sector,
            unit_versions.c.attributes)


def last_known_select(within: tuple[dt.date, dt.date] | None = None) -> Any:
    """Units as they stood last: identity, newest version and newest path ('' when none), one row each;
    ``within`` a period ``[first, end)``: as they stood last in it (the version and the path segment
    overlapping it that began last; path NULL when no segment overlaps it).

    The columns are those of :func:`units_on_select`; units without a version (in the period) are left
    out. Narrow it with a condition on ``unit_versions.c.unit_id``: PostgreSQL then reads only those
    units' versions (on ``units.id`` it may read every version, misjudging the newest-version
    condition as rare).
    """

    def overlapping(table: Any) -> list[ColumnElement[bool]]:
        return [] if within is None else [table.c.valid_from < within[1], table.c.valid_to > within[0]]

    newer = unit_versions.alias("newer")
    newest = select(func.max(newer.c.valid_from)).where(newer.c.unit_id == unit_versions.c.unit_id,
                                                        *overlapping(newer))
    path = (
        select(unit_paths.c.path)
        .where(unit_paths.c.unit_id == units.c.id, *overlapping(unit_paths))
        .order_by(unit_paths.c.valid_from.desc())
        .limit(1)
        .scalar_subquery()
    )
    return select(
        *_identity_and_version(),
        (path if within else func.coalesce(path, "")).label("path"),
    ).select_from(
        unit_versions.join(units, units.c.id == unit_versions.c.unit_id)
    ).where(unit_versions.c.valid_from == newest.scalar_subquery())


def unit_from_row(row: Any) -> Unit:
    """A :func:`units_on_select` row as a :class:`Unit`."""
    return Unit(row.id, row.code, row.name_zh, row.name_en, row.type, row.ownership, row.sector,
                row.parent_id, row.path, bool(row.synthetic), dict(row.attributes or {}))


def units_under(conn: Connection, day: dt.date, paths: Iterable[str], *,
                depth: int | None = None) -> list[Unit]:
    """The units open on ``day`` under any of ``paths`` (each path's own unit included; with ``depth``,
    only those at that depth, the root's being 1), in tree order: from the image in a read-only unit of
    work (:func:`image`), else in one statement."""
    wanted = list(paths)
    if (kept_image := image(conn)) is not None:
        found = kept_image.under(day, wanted)
        return found if depth is None else [u for u in found if u.depth == depth]
    query = units_on_select(day).where(in_paths(wanted)).order_by(unit_paths.c.path)
    if depth is not None:
        query = query.where(unit_paths.c.depth == depth)
    return [unit_from_row(row) for row in conn.execute(query)]


def subtree_ids(conn: Connection, unit_id: int, day: dt.date) -> list[int]:
    """Ids of the unit and everything below it on ``day``: from the image in a read-only unit of work,
    else one range scan, no joins.

    This is what aggregation up the tree uses; empty when the unit is not open that day.
    """
    if (kept_image := image(conn, ids=[unit_id])) is not None:
        found = kept_image.path_on(unit_id, day)
        return [] if found is None else [u.id for u in kept_image.under(day, [found])]
    path = path_on(conn, unit_id, day)
    if path is None:
        return []
    return list(conn.scalars(select(unit_paths.c.unit_id).where(in_paths([path]), valid_on(unit_paths, day))))


def units_on_select(day: dt.date) -> Any:
    """Units as they stood on ``day``: identity, version and path, one row each."""
    return (
        select(
            *_identity_and_version(),
            unit_paths.c.path,
            unit_paths.c.depth,
        )
        .select_from(
            units.join(
                unit_versions,
                and_(unit_versions.c.unit_id == units.c.id, valid_on(unit_versions, day)),
            ).join(
                unit_paths, and_(unit_paths.c.unit_id == units.c.id, valid_on(unit_paths, day))
            )
        )
    )


def count_rows(conn: Connection, query: Any) -> int:
    return int(conn.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)


def is_forever(day: dt.date) -> bool:
    return day == FOREVER


# ---------------------------------------------------------------- the image a process keeps
#
# Nearly every page and API route reads a few units, each read a statement joining three tables: on
# PostgreSQL a round trip and a plan (0.3 to 0.8 ms), several times a request. The registry changes
# seldom, so a process keeps all of it, read in three statements, under the ``registry`` stamp
# (migration 0020, jiaowei.db.kept), and a read-only unit of work (a GET request) answers the look-ups
# of jiaowei.registry.queries from it; a writing transaction reads the tables, to see its own writes
# (decision 0022). The image answers exactly what the SQL answers (a version or a segment covers
# ``valid_from <= day < valid_to``); tests/registry/test_image.py compares the two.

_Span = TypeVar("_Span", UnitVersion, Segment)
_View = TypeVar("_View")
_DAYS_KEPT = 8  # per image: the units open on the days asked for lately (a period's end, today)


@dataclass(frozen=True)
class Image:
    """Every unit of the registry: identity, versions and segments, oldest first."""

    identities: Mapping[int, tuple[str, bool]]  # id: (code, synthetic)
    ids_by_code: Mapping[str, int]
    versions: Mapping[int, tuple[UnitVersion, ...]]
    segments: Mapping[int, tuple[Segment, ...]]
    _days: dict[dt.date, dict[int, Unit]] = field(default_factory=dict, compare=False, repr=False)
    _below: dict[dt.date, dict[int | None, list[Unit]]] = field(default_factory=dict, compare=False,
                                                                repr=False)
    _by_path: dict[dt.date, list[Unit]] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def on(self, day: dt.date) -> dict[int, Unit]:
        """Every unit open on ``day``, by id (a version and a segment cover the day)."""
        return self._view(self._days, day, lambda: self._open_on(day))

    def below(self, day: dt.date) -> dict[int | None, list[Unit]]:
        """The units open on ``day`` by their parent's id (None: the top of the tree), each list by code."""
        def index() -> dict[int | None, list[Unit]]:
            below: dict[int | None, list[Unit]] = {}
            for unit in sorted(self.on(day).values(), key=lambda u: u.code):
                below.setdefault(unit.parent_id, []).append(unit)
            return below
        return self._view(self._below, day, index)

    def by_path(self, day: dt.date) -> list[Unit]:
        """The units open on ``day`` in tree order (by path: a subtree is a contiguous run)."""
        return self._view(self._by_path, day, lambda: sorted(self.on(day).values(), key=lambda u: u.path))

    def _view(self, views: dict[dt.date, _View], day: dt.date, build: Callable[[], _View]) -> _View:
        """``views[day]``, built on first use; the last :data:`_DAYS_KEPT` days asked for are kept."""
        with self._lock:
            found = views.get(day)
        if found is not None:
            return found
        found = build()  # outside the lock: two threads may both build it, and keep either
        with self._lock:
            views[day] = found
            for older in list(views)[:-_DAYS_KEPT]:  # dicts keep insertion order: the oldest first
                del views[older]
        return found

    def _open_on(self, day: dt.date) -> dict[int, Unit]:
        found = {}
        for unit_id, (code, synthetic) in self.identities.items():
            version = _covering(self.versions.get(unit_id, ()), day)
            segment = _covering(self.segments.get(unit_id, ()), day)
            if version is not None and segment is not None:
                found[unit_id] = Unit(unit_id, code, version.name_zh, version.name_en, version.type,
                                      version.ownership, version.sector, version.parent_id, segment.path,
                                      synthetic, version.attributes)
        return found

    def units_on(self, day: dt.date, *, ids: Iterable[int] | None, types: Iterable[str] | None,
                 ownership: str | None, parent_id: int | None, top_level: bool) -> list[Unit]:
        """``registry.queries.units_on``'s units: open on ``day``, filtered the same way, by code."""
        found: Iterable[Unit]
        if parent_id is not None or top_level:  # the day's index by parent: no scan of every unit
            found = [] if parent_id is not None and top_level else self.below(day).get(parent_id, [])
            if ids is not None:
                wanted = set(ids)
                found = [u for u in found if u.id in wanted]
        else:
            open_units = self.on(day)
            found = (open_units.values() if ids is None
                     else [open_units[i] for i in set(ids) if i in open_units])
        kinds = None if types is None else set(types)
        return sorted((u for u in found if (kinds is None or u.type in kinds)
                       and (ownership is None or u.ownership == ownership)), key=lambda u: u.code)

    def under(self, day: dt.date, paths: Iterable[str]) -> list[Unit]:
        """The units open on ``day`` under any of ``paths`` ('' for the whole tree), in tree order."""
        ordered = self.by_path(day)
        wanted = sorted(set(paths))
        outermost = [p for p in wanted if not any(p != o and p.startswith(o) for o in wanted)]
        if "" in outermost:
            return list(ordered)
        keys = [u.path for u in ordered]
        return [u for p in outermost  # disjoint runs, in tree order
                for u in ordered[bisect.bisect_left(keys, p):bisect.bisect_left(keys, path_upper_bound(p))]]

    def tree_top(self, day: dt.date, most: int) -> list[Unit]:
        """The first top unit by path open on ``day`` and at most ``most`` units below it, in tree order."""
        below = self.below(day)
        top = min(below.get(None, []), key=lambda u: u.path, default=None)
        return [] if top is None else [top, *sorted(below.get(top.id, []), key=lambda u: u.path)[:most]]

    def path_on(self, unit_id: int, day: dt.date) -> str | None:
        """The unit's path on ``day``; None if it was not open then."""
        segment = _covering(self.segments.get(unit_id, ()), day)
        return segment.path if segment is not None else None

    def last_within(self, unit_id: int, first: dt.date | None = None,
                    end: dt.date | None = None) -> Unit | None:
        """The unit as it stood last (its newest version and path, '' when it has none), or with
        ``first`` and ``end`` as it stood last in ``[first, end)`` (None when no path segment overlaps
        it): :func:`jiaowei.registry.store.last_known_select`'s rows."""
        identity = self.identities.get(unit_id)
        versions, segments = self.versions.get(unit_id, ()), self.segments.get(unit_id, ())
        if first is not None and end is not None:
            versions = tuple(v for v in versions if v.valid_from < end and v.valid_to > first)
            segments = tuple(s for s in segments if s.valid_from < end and s.valid_to > first)
            if not segments:
                return None
        if identity is None or not versions:
            return None
        version, path = versions[-1], segments[-1].path if segments else ""
        return Unit(unit_id, identity[0], version.name_zh, version.name_en, version.type, version.ownership,
                    version.sector, version.parent_id, path, identity[1], version.attributes)

    def last_path(self, unit_id: int, day: dt.date) -> str | None:
        """The unit's path on ``day``, or on its last day open before ``day``."""
        before = [s for s in self.segments.get(unit_id, ()) if s.valid_from <= day]
        return before[-1].path if before else None


def _covering(spans: Iterable[_Span], day: dt.date) -> _Span | None:
    for span in spans:
        if span.valid_from <= day < span.valid_to:
            return span
    return None


def image(conn: Connection, *, ids: Iterable[int | None] = (), codes: Iterable[str] = ()) -> Image | None:
    """The registry kept by the process under the stamp ``conn`` sees, when ``conn`` is in a read-only
    unit of work (see above) and the image knows every one of ``ids`` and ``codes``; None to read the
    tables. (Under READ COMMITTED a GET's later statement may name a unit created after the request
    read the stamps: such a unit is read from the tables.)"""
    if not is_read_only(conn) or stamps(conn).get("registry") is None:  # no stamp: nothing can be kept
        return None
    found = kept(conn, "registry", "registry.image", lambda: _read_image(conn))
    if any(i is not None and i not in found.identities for i in ids) or any(
            c not in found.ids_by_code for c in codes):
        return None
    return found


def _read_image(conn: Connection) -> Image:
    identities = {r.id: (r.code, bool(r.synthetic))
                  for r in conn.execute(select(units.c.id, units.c.code, units.c.synthetic))}
    versions: dict[int, list[UnitVersion]] = {}
    ordered = select(unit_versions).order_by(unit_versions.c.unit_id, unit_versions.c.valid_from)
    for row in conn.execute(ordered):
        versions.setdefault(row.unit_id, []).append(version_from_row(row))
    segments: dict[int, list[Segment]] = {}
    query = select(unit_paths.c.unit_id, unit_paths.c.valid_from, unit_paths.c.valid_to, unit_paths.c.path)
    for row in conn.execute(query.order_by(unit_paths.c.unit_id, unit_paths.c.valid_from)):
        segments.setdefault(row.unit_id, []).append(Segment(row.valid_from, row.valid_to, row.path))
    return Image(identities, {code: i for i, (code, _synthetic) in identities.items()},
                 {i: tuple(v) for i, v in versions.items()}, {i: tuple(s) for i, s in segments.items()})
