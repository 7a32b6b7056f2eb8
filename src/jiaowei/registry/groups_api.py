"""JSON routes of unit groups under /api/unitGroups and group sets under /api/unitGroupSets."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from jiaowei.auth.model import Principal
from jiaowei.registry import groups
from jiaowei.registry.queries import today
from jiaowei.web.deps import AsOf, Conn, User

router = APIRouter(prefix="/api", tags=["registry"])

Codes = list[str]


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=64)
    name_zh: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    members: Codes = Field(default_factory=list, max_length=10_000, description="unit codes")
    note: str = Field(default="", max_length=500)


class MembersChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    add: Codes = Field(default_factory=list, max_length=10_000, description="unit codes to add")
    remove: Codes = Field(default_factory=list, max_length=10_000, description="unit codes to take out")
    note: str = Field(default="", max_length=500)


class GroupSetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=64)
    name_zh: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    groups: Codes = Field(default_factory=list, max_length=10_000, description="group codes")
    note: str = Field(default="", max_length=500)


@router.get("/unitGroups")
def list_unit_groups(conn: Conn, user: User, as_of: AsOf) -> dict[str, Any]:
    """Every group with the members the caller may view on ``as_of``, and the group sets."""
    day = as_of or today()
    return {
        "items": [asdict(g) for g in groups.list_groups(conn, principal=user, as_of=day)],
        "sets": _sets(conn, user),
        "as_of": day.isoformat(),
    }


@router.post("/unitGroups", status_code=201)
def create_unit_group(conn: Conn, user: User, body: GroupCreate) -> dict[str, Any]:
    """Create a group; the caller must be allowed to write every member."""
    groups.create_group(conn, principal=user, code=body.code, name_zh=body.name_zh, name_en=body.name_en,
                        members=body.members, note=body.note)
    return _group(conn, user, body.code)


@router.get("/unitGroups/{code}")
def get_unit_group(conn: Conn, user: User, code: str, as_of: AsOf) -> dict[str, Any]:
    """One group with the members the caller may view on ``as_of``."""
    return _group(conn, user, code, as_of or today())


@router.post("/unitGroups/{code}/members")
def change_unit_group_members(conn: Conn, user: User, code: str, body: MembersChange) -> dict[str, Any]:
    """Add units to a group and take others out: ``{"add": [...], "remove": [...]}``."""
    change = groups.change_members(conn, principal=user, code=code, add=body.add, remove=body.remove,
                                   note=body.note)
    return {**_group(conn, user, code), "added": change.added, "removed": change.removed}


@router.get("/unitGroupSets")
def list_unit_group_sets(conn: Conn, user: User) -> dict[str, Any]:
    """Every group set with the codes of its groups."""
    return {"items": _sets(conn, user)}


@router.post("/unitGroupSets", status_code=201)
def create_unit_group_set(conn: Conn, user: User, body: GroupSetCreate) -> dict[str, Any]:
    """Create a set of groups; the caller must be allowed to write every member of every group."""
    return asdict(groups.create_group_set(conn, principal=user, code=body.code, name_zh=body.name_zh,
                                          name_en=body.name_en, groups=body.groups, note=body.note))


def _group(conn: Connection, user: Principal, code: str, day: dt.date | None = None) -> dict[str, Any]:
    day = day or today()
    return {**asdict(groups.get_group(conn, principal=user, code=code, as_of=day)), "as_of": day.isoformat()}


def _sets(conn: Connection, user: Principal) -> list[dict[str, Any]]:
    return [asdict(s) for s in groups.list_group_sets(conn, principal=user)]
