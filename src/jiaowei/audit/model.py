"""Pure audit model: one entry of the log as readers see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AuditEntry:
    """An audit log entry with ``before`` and ``after`` decoded from their stored JSON text."""

    seq: int
    at: str
    actor: str
    action: str
    entity: str
    entity_key: str
    before: Any
    after: Any
    note: str
    hash: str
    prev_hash: str
