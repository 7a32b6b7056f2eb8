"""Reconciling the live tables with what the audit chain vouches for.

The hash chain proves that no entry was changed, but the tables that users read live beside it. An
attacker with write access to the database could edit a live row (promote a viewer, change a value)
without touching the log. Each domain therefore names, in its ``domain.py`` (``audit_checks``), the
functions that recompute its live tables from their history and from the entries of the chain and
report every row that differs. ``jiaowei audit verify`` and ``GET /api/audit/verify`` run them all
after the chain itself holds.

A check is ``check(conn, chain) -> Iterable[Mismatch]``. It must read the digests and states held
*inside* chain entries (``chain.entries(...)``), never side columns that an attacker could rewrite
together with the rows they vouch for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from jiaowei.audit.model import AuditEntry
from jiaowei.audit.service import entry_of
from jiaowei.audit.store import audit_log


@dataclass(frozen=True)
class Mismatch:
    """One live row that differs from what the chain and its history say."""

    table: str  # the live table, e.g. "data_values", "users"
    key: str  # the row, in words a reader can find it by (a unit code, a username …)
    reason: str  # what differs, e.g. "role is administrator, the audit log says viewer"

    def __str__(self) -> str:
        return f"{self.table} {self.key}: {self.reason}"


class Chain:
    """Read access to the (already verified) chain's entries, for the checks."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def entries(
        self, *, entity: str | None = None, actions: Iterable[str] | None = None
    ) -> Iterator[AuditEntry]:
        """Entries about ``entity`` (and with one of ``actions``), oldest first."""
        query = select(audit_log).order_by(audit_log.c.seq)
        if entity is not None:
            query = query.where(audit_log.c.entity == entity)
        if actions is not None:
            query = query.where(audit_log.c.action.in_(list(actions)))
        for row in self.conn.execute(query):
            yield entry_of(row)


Check = Callable[[Connection, Chain], Iterable[Mismatch]]


def checks() -> list[tuple[str, Check]]:
    """Every domain's checks, named ``module:function``, in the order of the domains."""
    from jiaowei.domains import domains, load

    return [(name, load(name)) for domain in domains() for name in domain.audit_checks]


def reconcile(conn: Connection, *, limit: int = 1000) -> list[Mismatch]:
    """Run every check; at most ``limit`` mismatches are returned."""
    chain = Chain(conn)
    found: list[Mismatch] = []
    for _name, check in checks():
        for mismatch in check(conn, chain):
            found.append(mismatch)
            if len(found) >= limit:
                return found
    return found


def describe(mismatches: list[Mismatch], *, limit: int = 20) -> str:
    """The first mismatches, one per line, for a CLI message or a log line."""
    shown = [str(m) for m in mismatches[:limit]]
    more = len(mismatches) - len(shown)
    return "\n".join(shown + ([f"… and {more} more"] if more > 0 else []))


def as_json(mismatches: list[Mismatch]) -> list[dict[str, Any]]:
    return [{"table": m.table, "key": m.key, "reason": m.reason} for m in mismatches]
