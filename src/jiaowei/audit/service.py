"""Writing and verifying the audit chain.

Each entry's hash is SHA-256 over its canonical JSON (sorted keys, no spaces) including
the previous entry's hash, so editing, deleting or reordering any entry breaks the chain
from that point on. ``audit_head`` records the tip, so removing the newest entries is
detected as well, unless the head is moved back with them: only a signed checkpoint
(:mod:`jiaowei.audit.checkpoint`) catches that, or a rewrite re-hashed to the end.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, insert, select, update

from jiaowei.audit import checkpoint
from jiaowei.audit.checkpoint import Checkpoint
from jiaowei.audit.model import AuditEntry
from jiaowei.audit.store import audit_head, audit_log, audit_verified
from jiaowei.errors import IntegrityError

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
    """The outcome of a chain check: ``reason`` in English, ``template``/``params`` for the catalog."""

    entries: int
    first_bad_seq: int | None
    reason: str
    template: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    head: str = ""  # when the chain holds: the hash of its last entry (GENESIS when empty)
    since: int = 0  # the entry the check started after (0: the whole chain was checked)
    read: int = 0  # how many entries after ``since`` this check read

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


def _broken(intact: int, bad: int, template: str, /, **params: Any) -> ChainReport:
    return ChainReport(intact, bad, template.format(**params), template, params)


@dataclass(frozen=True)
class Anchor:
    """A head the chain once had, from a signed checkpoint: entry ``seq`` had ``hash``."""

    seq: int
    hash: str
    label: str = ""  # where it came from (a checkpoint's file name), for the report


def head(conn: Connection) -> tuple[int, str]:
    """The chain's tip as ``audit_head`` records it: (seq, hash); (0, GENESIS) when empty."""
    found = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
    return (found.seq, found.hash) if found else (0, GENESIS)


def verify(conn: Connection, *, anchors: Sequence[Anchor] = (), after: Anchor | None = None) -> ChainReport:
    """Walk the chain from the start (or from ``after``); report the first entry that does not hold.

    Without a key this checks what the database alone can show: the entries are numbered 1, 2, 3 …
    with no gap, each links to the previous one's hash and hashes to its own, ``before``/``after``
    are JSON, and ``audit_head`` names the last entry. It cannot tell a log whose newest entries
    were deleted (with ``audit_head`` moved back), or that was edited and re-hashed from some entry
    on, from the real one: ``anchors`` (heads from signed checkpoints, see
    :mod:`jiaowei.audit.checkpoint`) catch that, since each must still be in the chain unchanged.

    ``after`` (where an earlier verification stopped: entry ``seq`` had ``hash``) checks only the
    entries after it, and that entry itself still has that hash; ``read`` counts the entries after it.
    """
    for anchor in anchors:
        if anchor.seq == 0 and anchor.hash != GENESIS:
            return _broken(0, 1, "the checkpoint {label} names entry 0 with a hash that is not the "
                           "chain's start", label=anchor.label)
    since = after.seq if after is not None and after.seq > 0 else 0
    pending = sorted((a for a in anchors if a.seq > since), key=lambda a: a.seq)
    proven, prev, count, tip = since, GENESIS, since, None
    rows = _entries(conn, since=since)
    if since:
        assert after is not None
        start = next(rows, None)
        if start is None or start.seq != since or start.hash != after.hash or not _hashes(start):
            return _broken(since - 1, since, "entry {seq}, intact when the log was last verified, is missing "
                           "or was changed: verify the whole chain", seq=since)
        tip, prev = (start.head_seq or 0, start.head_hash or GENESIS), start.hash
    for row in rows:
        entry = dict(row._mapping)
        tip = (entry.pop("head_seq") or 0, entry.pop("head_hash") or GENESIS)
        problem = _check_entry(entry, expected_seq=count + 1, prev=prev, intact=count)
        if problem is not None:
            return replace(problem, since=since, read=count - since)
        prev, count = entry["hash"], count + 1
        while pending and pending[0].seq == count:
            anchor = pending.pop(0)
            if anchor.hash != prev:
                return _broken(proven, count, "entry {seq} is not the one the checkpoint {label} signed: it "
                               "or an entry before it was rewritten", seq=count, label=anchor.label)
            proven = count
    report = _check_head(tip or head(conn), count=count, prev=prev, pending=pending)
    return replace(report, since=since, read=count - since)


def _hashes(row: Any) -> bool:
    """The entry hashes to the hash stored with it."""
    entry = {k: v for k, v in row._mapping.items() if k not in ("head_seq", "head_hash")}
    return entry_hash(entry) == entry["hash"]


def _check_entry(entry: dict[str, Any], *, expected_seq: int, prev: str, intact: int) -> ChainReport | None:
    if entry["seq"] != expected_seq:
        return _broken(intact, expected_seq, "entry {seq} is missing", seq=expected_seq)
    if entry["prev_hash"] != prev:
        return _broken(intact, expected_seq, "the link to the previous entry is broken")
    if entry_hash(entry) != entry["hash"]:
        return _broken(intact, expected_seq, "the entry was changed after it was written")
    try:
        json.loads(entry["before"]), json.loads(entry["after"])
    except ValueError:
        return _broken(intact, expected_seq, "the entry's values are not JSON")
    return None


def _check_head(tip: tuple[int, str], *, count: int, prev: str, pending: list[Anchor]) -> ChainReport:
    if pending:
        anchor = pending[0]
        return _broken(count, count + 1, "the log ends at entry {n}, but the checkpoint {label} vouches "
                       "for entry {seq}: entries were removed", n=count, label=anchor.label, seq=anchor.seq)
    head_seq, head_hash = tip
    if head_seq != count or head_hash != prev:
        return _broken(count, count + 1, "entries after {n} were removed (head is {head})",
                       n=count, head=head_seq)
    return ChainReport(count, None, "", head=prev)


def last_verified(conn: Connection) -> Anchor:
    """Where the last verification stopped: the last entry it found intact (entry 0 before any)."""
    found = conn.execute(select(audit_verified).where(audit_verified.c.id == 1)).first()
    return Anchor(found.seq, found.hash, label=found.at) if found else Anchor(0, GENESIS)


def verify_since_last(conn: Connection) -> ChainReport:
    """Check only the entries after the last verification (and that its last entry is unchanged)."""
    return verify(conn, after=last_verified(conn))


def moves_mark(report: ChainReport) -> bool:
    """Whether :func:`remember_verified` may change anything (not when a check found nothing new)."""
    return not (report.ok and report.since and report.entries == report.since)


def remember_verified(conn: Connection, *, report: ChainReport) -> None:
    """Record where ``report``'s verification stopped, for the next one to start after.

    An intact chain moves the mark forward to its head (never back). A break in the chain itself
    found by a walk from the start moves it to the last intact entry, so that the next check finds the
    break again. Any other report leaves it where it is: a break found after the mark (the entries
    before it were not re-checked), or an entry that differs from a signed checkpoint (the chain was
    rewritten and re-hashed: the mark's own hash may be what still shows it).
    """
    hash: str | None
    if report.ok:
        seq, hash = report.entries, report.head
        condition = audit_verified.c.seq < seq
    elif report.since == 0 and report.first_bad_seq is not None and "label" not in report.params:
        seq = report.first_bad_seq - 1
        hash = conn.scalar(select(audit_log.c.hash).where(audit_log.c.seq == seq)) if seq else GENESIS
        condition = audit_verified.c.seq != seq
    else:
        return
    at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if conn.scalar(select(audit_verified.c.id).where(audit_verified.c.id == 1)) is None:
        conn.execute(insert(audit_verified).values(id=1, seq=seq, hash=hash or GENESIS, at=at))
        return
    conn.execute(update(audit_verified).where(audit_verified.c.id == 1, condition)
                 .values(seq=seq, hash=hash or GENESIS, at=at))


def sign_head(conn: Connection, *, key: Ed25519PrivateKey) -> Checkpoint:
    """A signed checkpoint of the head, once the whole chain verifies (never of a broken chain)."""
    report = verify(conn)
    if not report.ok:
        raise checkpoint.error(IntegrityError, "The audit chain is broken at entry {seq} ({reason}); no "
                               "checkpoint is signed for a broken chain.", seq=report.first_bad_seq,
                               reason=checkpoint.Text(report.template, report.params))
    at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return checkpoint.sign(key, seq=report.entries, hash=report.head, at=at)


def _entries(conn: Connection, *, since: int = 0) -> Iterator[Any]:
    """Every entry in order (from entry ``since`` on), each with the head as ``head_seq``/``head_hash``:
    one statement, so one snapshot of both even under PostgreSQL's READ COMMITTED, while writers append."""
    tip = select(audit_head).where(audit_head.c.id == 1)
    query = select(audit_log, tip.with_only_columns(audit_head.c.seq).scalar_subquery().label("head_seq"),
                   tip.with_only_columns(audit_head.c.hash).scalar_subquery().label("head_hash"))
    if since:
        query = query.where(audit_log.c.seq >= since)
    return iter(conn.execute(query.order_by(audit_log.c.seq)))


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
