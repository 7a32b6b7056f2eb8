"""`jiaowei audit verify` against the registry's live tables: tampering by direct SQL is reported.

Each case edits, inserts or deletes rows of ``units``, ``unit_versions``, ``unit_paths`` or the
group tables behind the services' back, on SQLite and PostgreSQL; the chain itself stays intact,
and the check names the unit (or group) and what differs, through the API and the command line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, delete, insert, select, text, update
from typer.testing import CliRunner

from jiaowei.audit import reconcile
from jiaowei.audit import service as audit
from jiaowei.auth.model import SYSTEM
from jiaowei.cli.main import app as cli
from jiaowei.db.engine import BoundDatabase
from jiaowei.registry import groups, service
from jiaowei.registry.store import (
    unit_group_members,
    unit_groups,
    unit_paths,
    unit_versions,
    units,
)
from tests.audit.tampering import rewrite_afters
from tests.factories import make_unit, make_user, small_tree, token_for

TABLES = {"units", "unit_versions", "unit_paths", "unit_groups", "unit_group_members", "unit_group_sets",
          "unit_group_set_members"}


def registry_mismatches(conn: Connection) -> list[reconcile.Mismatch]:
    assert audit.verify(conn).ok
    return [m for m in reconcile.reconcile(conn) if m.table in TABLES]


def world(conn: Connection) -> None:
    """A tree with a rename, a move, a closed and a merged unit, a group with changes, a group set."""
    small_tree(conn)
    make_unit(conn, "S3", parent="D1", attributes={"双一流": True})
    make_unit(conn, "S4", parent="D2", synthetic=True)
    make_unit(conn, "K1", parent="S3", type="kindergarten")
    service.change_unit(conn, principal=SYSTEM, code="S1", effective=dt.date(2010, 9, 1),
                        changes={"name_zh": "第一学校", "attributes": {"a": 1}})
    service.change_unit(conn, principal=SYSTEM, code="S2", effective=dt.date(2015, 1, 1),
                        changes={"parent": "D1"})
    service.close_unit(conn, principal=SYSTEM, code="S4", effective=dt.date(2018, 7, 1))
    service.merge_unit(conn, principal=SYSTEM, code="S3", into="S1", effective=dt.date(2019, 9, 1))
    groups.create_group(conn, principal=SYSTEM, code="G1", name_zh=" 组一 ", name_en="Group 1",
                        members=["S1", "S2"])
    groups.change_members(conn, principal=SYSTEM, code="G1", add=["D1"], remove=["S2"])
    groups.create_group(conn, principal=SYSTEM, code="G2", name_zh="组二", name_en="Group 2", members=["S2"])
    groups.create_group_set(conn, principal=SYSTEM, code="GS", name_zh="组集", name_en="Set", groups=["G1"])


def uid(conn: Connection, code: str) -> int:
    return int(conn.scalar(select(units.c.id).where(units.c.code == code)))


def gid(conn: Connection, code: str) -> int:
    return int(conn.scalar(select(unit_groups.c.id).where(unit_groups.c.code == code)))


def first(conn: Connection, code: str) -> Any:
    v = unit_versions
    return v.c.unit_id == uid(conn, code), v.c.valid_from == dt.date(2000, 1, 1)


def rename(conn: Connection) -> None:
    conn.execute(update(unit_versions).where(*first(conn, "S1")).values(name_zh="伪造学校"))


def move(conn: Connection) -> None:
    conn.execute(update(unit_versions).where(unit_versions.c.unit_id == uid(conn, "S1"))
                 .values(parent_id=uid(conn, "D2")))


def redate(conn: Connection) -> None:
    conn.execute(update(unit_versions).where(*first(conn, "S1")).values(valid_to=dt.date(2011, 9, 1)))


def attributes(conn: Connection) -> None:
    conn.execute(update(unit_versions).where(unit_versions.c.unit_id == uid(conn, "S1"),
                                             unit_versions.c.valid_from == dt.date(2010, 9, 1))
                 .values(attributes={"a": 2}))


def synthetic(conn: Connection) -> None:
    conn.execute(update(units).where(units.c.code == "S2").values(synthetic=True))


def insert_unit(conn: Connection) -> None:
    conn.execute(insert(units).values(code="X9", synthetic=False, created_at=dt.datetime.now(dt.UTC)))
    conn.execute(insert(unit_versions).values(
        unit_id=uid(conn, "X9"), valid_from=dt.date(2001, 1, 1), valid_to=dt.date.max,
        parent_id=uid(conn, "D1"), name_zh="影子", name_en="Shadow", type="primary_school",
        ownership="public", sector="education", attributes={}))


def delete_unit(conn: Connection) -> None:
    unit_id = uid(conn, "S2")
    conn.execute(delete(unit_group_members).where(unit_group_members.c.unit_id == unit_id))
    conn.execute(delete(unit_paths).where(unit_paths.c.unit_id == unit_id))
    conn.execute(delete(unit_versions).where(unit_versions.c.unit_id == unit_id))
    conn.execute(delete(units).where(units.c.id == unit_id))


def delete_version(conn: Connection) -> None:
    conn.execute(delete(unit_versions).where(unit_versions.c.unit_id == uid(conn, "S1"),
                                             unit_versions.c.valid_from == dt.date(2010, 9, 1)))


def insert_version(conn: Connection) -> None:
    conn.execute(update(unit_versions).where(unit_versions.c.unit_id == uid(conn, "S4"))
                 .values(valid_to=dt.date(2017, 1, 1)))
    row = conn.execute(select(unit_versions).where(unit_versions.c.unit_id == uid(conn, "S4"))).one()
    conn.execute(insert(unit_versions).values({**row._mapping, "valid_from": dt.date(2017, 1, 1),
                                               "valid_to": dt.date.max, "name_zh": "复活"}))


def path(conn: Connection) -> None:
    conn.execute(update(unit_paths).where(unit_paths.c.unit_id == uid(conn, "S1"))
                 .values(path=text(f"'/{uid(conn, 'SH')}/{uid(conn, 'D2')}/{uid(conn, 'S1')}/'")))


def group_name(conn: Connection) -> None:
    conn.execute(update(unit_groups).where(unit_groups.c.code == "G1").values(name_en="Forged"))


def group_member(conn: Connection) -> None:
    conn.execute(insert(unit_group_members).values(group_id=gid(conn, "G1"), unit_id=uid(conn, "S2")))


def group_lost(conn: Connection) -> None:
    conn.execute(delete(unit_group_members).where(unit_group_members.c.group_id == gid(conn, "G2")))


def group_insert(conn: Connection) -> None:
    conn.execute(insert(unit_groups).values(code="G9", name_zh="影子组", name_en="Shadow"))


# tampering, then the (table, key) and words each mismatch must show
CASES: dict[str, tuple[Callable[[Connection], None], tuple[str, str, str]]] = {
    "rename": (rename, ("unit_versions", "S1", "name_zh is \"伪造学校\"")),
    "move": (move, ("unit_versions", "S1", "parent is 'D2', the audit log says 'D1'")),
    "dates": (redate, ("unit_versions", "S1", "versions 2000-01-01–2011-09-01")),
    "attributes": (attributes, ("unit_versions", "S1", "attributes is {\"a\": 2}")),
    "synthetic": (synthetic, ("units", "S2", "synthetic is True")),
    "insert-unit": (insert_unit, ("units", "X9", "not in the audit log")),
    "delete-unit": (delete_unit, ("units", "S2", "row is missing")),
    "delete-version": (delete_version, ("unit_versions", "S1", "versions 2000-01-01–2010-09-01, the")),
    "insert-version": (insert_version, ("unit_versions", "S4", "2017-01-01–open")),
    "path": (path, ("unit_paths", "S1", "paths")),
    "group-name": (group_name, ("unit_groups", "G1", "name_en is 'Forged'")),
    "group-member": (group_member, ("unit_group_members", "G1", "units S2 are in it")),
    "group-lost": (group_lost, ("unit_group_members", "G2", "units S2 are missing")),
    "group-insert": (group_insert, ("unit_groups", "G9", "not in the audit log")),
}


def found(mismatches: list[reconcile.Mismatch], expected: tuple[str, str, str]) -> bool:
    table, key, words = expected
    return any(m.table == table and m.key == key and words in m.reason for m in mismatches)


def test_units_and_groups_written_through_the_services_reconcile(conn: Connection) -> None:
    world(conn)
    assert registry_mismatches(conn) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_direct_tampering_is_reported(conn: Connection, case: str) -> None:
    world(conn)
    tamper, expected = CASES[case]
    tamper(conn)
    mismatches = registry_mismatches(conn)
    assert found(mismatches, expected), mismatches


def test_the_api_reports_the_row(client: TestClient, conn: Connection) -> None:
    world(conn)
    headers = token_for(conn, make_user(conn, "auditor"))
    clean = client.get("/api/audit/verify", headers=headers).json()
    assert [m for m in clean["mismatches"] if m["table"] in TABLES] == []
    rename(conn)
    body = client.get("/api/audit/verify", headers=headers).json()
    assert body["ok"] is False and body["first_bad_seq"] is None
    assert any(m["table"] == "unit_versions" and m["key"] == "S1" and "伪造学校" in m["reason"]
               for m in body["mismatches"]), body


def test_the_command_line_exits_non_zero_and_names_the_row(conn: Connection, db: BoundDatabase,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    world(conn)
    shared = BoundDatabase(conn)
    shared.engine = SimpleNamespace(dispose=lambda: None)  # type: ignore[assignment]
    monkeypatch.setattr("jiaowei.cli.common.database", lambda: shared)
    move(conn)
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code != 0
    assert "unit_versions S1: version from 2000-01-01: parent is 'D2'" in str(result.exception), result


def test_entries_written_before_the_full_state_are_replayed(conn: Connection) -> None:
    world(conn)
    rewrite_afters(conn, lambda after: after.pop("versions", None))
    assert registry_mismatches(conn) == []
    rename(conn)
    assert found(registry_mismatches(conn), CASES["rename"][1])
