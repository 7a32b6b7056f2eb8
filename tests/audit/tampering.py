"""Tampering with the audit log by direct SQL, as someone with write access to the database would."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, text

from jiaowei.audit import service as audit


def rehash_from(conn: Connection, seq: int) -> None:
    """Recompute every hash from entry ``seq`` to the end and move ``audit_head`` to the new tip."""
    rows = conn.execute(text("SELECT * FROM audit_log WHERE seq >= :seq ORDER BY seq"), {"seq": seq})
    prev = conn.scalar(text("SELECT hash FROM audit_log WHERE seq = :seq"), {"seq": seq - 1}) or audit.GENESIS
    for row in [dict(r._mapping) for r in rows]:
        row["prev_hash"] = prev
        prev = audit.entry_hash(row)
        conn.execute(text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s"),
                     {"p": row["prev_hash"], "h": prev, "s": row["seq"]})
    conn.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})


def cut_after(conn: Connection, seq: int) -> None:
    """Delete every entry after ``seq`` and move ``audit_head`` back to it."""
    conn.execute(text("DELETE FROM audit_log WHERE seq > :seq"), {"seq": seq})
    tip = conn.scalar(text("SELECT hash FROM audit_log WHERE seq = :seq"), {"seq": seq}) or audit.GENESIS
    conn.execute(text("UPDATE audit_head SET seq = :seq, hash = :h WHERE id = 1"), {"seq": seq, "h": tip})


def rewrite_afters(conn: Connection, edit: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite every entry's ``after`` with ``edit`` and re-hash the chain: an older database's log."""
    for row in conn.execute(text("SELECT seq, after FROM audit_log ORDER BY seq")).all():
        after = json.loads(row.after)
        if isinstance(after, dict):
            edit(after)
            conn.execute(text("UPDATE audit_log SET after = :a WHERE seq = :s"),
                         {"a": audit.canonical(after), "s": row.seq})
    rehash_from(conn, 1)
