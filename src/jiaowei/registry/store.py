"""Registry tables and the SQL that reads and writes them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

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
from jiaowei.registry.model import FOREVER, Link, Segment, UnitVersion, path_upper_bound
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


def subtree_ids(conn: Connection, unit_id: int, day: dt.date) -> list[int]:
    """Ids of the unit and everything below it on ``day``: one range scan, no joins.

    This is what aggregation up the tree uses; empty when the unit is not open that day.
    """
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
