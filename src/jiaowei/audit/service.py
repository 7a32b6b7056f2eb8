"""Writing and verifying the audit chain.

Each entry's hash is SHA-256 over its canonical JSON (sorted keys, no spaces) including
the previous entry's hash, so editing, deleting or reordering any entry breaks the chain
from that point on. ``audit_head`` records the tip, so removing the newest entries is
detected as well.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from jiaowei.audit.model import AuditEntry
from jiaowei.audit.store import audit_head, audit_log

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    """JSON text with sorted keys and no spaces: what the log stores and hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


HASHED = ("seq", "at", "actor", "action", "entity", "entity_key", "before", "after", "prev_hash", "note")


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 over the entry's fields as stored (``before``/``after`` are JSON text)."""
    return hashlib.sha256(canonical([entry[k] for k in HASHED]).encode()).hexdigest()


def jsonable(value: Any) -> Any:
    """Values as JSON stores them (dates as ISO strings)."""
    return json.loads(canonical(value))


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_key: str,
    before: Any = None,
    after: Any = None,
    note: str = "",
) -> None:
    """Append one entry to the chain, inside the caller's transaction."""
    record_many(conn, actor=actor, entries=[{
        "action": action, "entity": entity, "entity_key": entity_key,
        "before": before, "after": after, "note": note,
    }])


def record_many(conn: Connection, *, actor: str, entries: list[dict[str, Any]]) -> None:
    """Append entries (each with action, entity, entity_key, before, after, note) in order."""
    if not entries:
        return
    head = conn.execute(select(audit_head).where(audit_head.c.id == 1).with_for_update()).first()
    if head is None:
        conn.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS))
        seq, prev = 0, GENESIS
    else:
        seq, prev = head.seq, head.hash
    at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rows = []
    for item in entries:
        seq += 1
        entry = {
            "seq": seq, "at": at, "actor": actor, "action": item["action"],
            "entity": item["entity"], "entity_key": item["entity_key"],
            "before": canonical(item.get("before")), "after": canonical(item.get("after")),
            "prev_hash": prev, "note": item.get("note", ""),
        }
        entry["hash"] = prev = entry_hash(entry)
        rows.append(entry)
    for start in range(0, len(rows), 5000):
        conn.execute(insert(audit_log), rows[start : start + 5000])
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=prev))


@dataclass(frozen=True)
class ChainReport:
    entries: int
    first_bad_seq: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


def verify(conn: Connection) -> ChainReport:
    """Walk the chain from the start; report the first entry that does not hold."""
    prev, expected_seq, count = GENESIS, 1, 0
    for row in _entries(conn):
        entry = dict(row._mapping)
        if entry["seq"] != expected_seq:
            return ChainReport(count, expected_seq, f"entry {expected_seq} is missing")
        if entry["prev_hash"] != prev:
            return ChainReport(count, entry["seq"], "the link to the previous entry is broken")
        if entry_hash(entry) != entry["hash"]:
            return ChainReport(count, entry["seq"], "the entry was changed after it was written")
        prev, expected_seq, count = entry["hash"], expected_seq + 1, count + 1
    head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != count or head_hash != prev:
        return ChainReport(count, count + 1, f"entries after {count} were removed (head is {head_seq})")
    return ChainReport(count, None, "")


def _entries(conn: Connection) -> Iterator[Any]:
    return iter(conn.execute(select(audit_log).order_by(audit_log.c.seq)))


def history(conn: Connection, *, entity: str, entity_key: str, limit: int = 100) -> list[AuditEntry]:
    """The newest entries about one thing (a unit, a group …), newest first."""
    rows = conn.execute(
        select(audit_log)
        .where(audit_log.c.entity == entity, audit_log.c.entity_key == entity_key)
        .order_by(audit_log.c.seq.desc())
        .limit(limit)
    )
    return [entry_of(row) for row in rows]


def entry_of(row: Any) -> AuditEntry:
    """An ``audit_log`` row as an entry, ``before`` and ``after`` decoded from their JSON text."""
    return AuditEntry(
        seq=row.seq, at=row.at, actor=row.actor, action=row.action, entity=row.entity,
        entity_key=row.entity_key, before=json.loads(row.before), after=json.loads(row.after),
        note=row.note, hash=row.hash, prev_hash=row.prev_hash,
    )
