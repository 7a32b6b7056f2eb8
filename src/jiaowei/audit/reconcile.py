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

A mismatch's reason is a catalog message with named placeholders (``template``, marked with
``N_``) and its values (``params``): English by default (``reason``), any language on request
(:meth:`Mismatch.said_in`). Values are data and stay as they are, except words wrapped in
:func:`term` (field names, "none"), which are translated too. Each check module lists the words
it shows (``TERMS``) so that they are extracted and translated with its templates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from jiaowei.audit.checkpoint import Text
from jiaowei.audit.model import AuditEntry
from jiaowei.audit.service import entry_of
from jiaowei.audit.store import audit_log
from jiaowei.domains import N_ as N_  # the marker, re-exported for the check modules
from jiaowei.i18n import translate

UNLOGGED = N_("not in the audit log (a row written around the services)")


def term(word: str) -> Text:
    """A word shown inside a reason (a field name, "none"): translated where the catalog has it."""
    return Text(word)


@dataclass(frozen=True)
class Mismatch:
    """One live row that differs from what the chain and its history say.

    ``template`` is a catalog message, e.g. ``"{field} is {live}, the audit log says {logged}"``,
    and ``params`` its values; ``reason`` is the two put together in English.
    """

    table: str  # the live table, e.g. "data_values", "users"
    key: str  # the row, in words a reader can find it by (a unit code, a username …)
    template: str  # what differs, with named placeholders
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    key_text: Text | None = field(default=None, compare=False, hash=False)  # a key in words: ``key``
    # is it in English, this a catalog message for other languages

    @property
    def text(self) -> Text:
        return Text(self.template, dict(self.params))

    @property
    def reason(self) -> str:
        """What differs, in English: e.g. "role is administrator, the audit log says viewer"."""
        return str(self.text)

    def said_in(self, language: str) -> str:
        """The reason in ``language`` (the template translated, words of :func:`term` too)."""
        return self.text.said_in(language)

    def table_in(self, language: str) -> str:
        """The table's name in ``language`` (its name in the database, in English)."""
        return translate(language, self.table)

    def key_in(self, language: str) -> str:
        """The row in ``language``: the same as ``key`` unless the key is in words."""
        return self.key if self.key_text is None else self.key_text.said_in(language)

    def line_in(self, language: str) -> str:
        return f"{self.table_in(language)} {self.key_in(language)}: {self.said_in(language)}"

    def as_json(self, language: str) -> dict[str, Any]:
        """The mismatch for an API client: ``reason`` in English with its template and values
        (to read by machine), ``message`` in ``language``."""
        return {"table": self.table, "key": self.key, "reason": self.reason,
                "reason_template": self.template, "params": _plain(self.params),
                "message": self.said_in(language)}

    def __str__(self) -> str:
        return f"{self.table} {self.key}: {self.reason}"


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    """Values as JSON can hold them: words in English, anything else but numbers, text, booleans
    and None as its text."""
    return {name: value if value is None or isinstance(value, bool | int | float | str) else str(value)
            for name, value in params.items()}


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


def describe(mismatches: list[Mismatch], *, language: str = "en", limit: int = 20) -> str:
    """The first mismatches, one per line in ``language``, for a CLI message or a log line."""
    shown = [m.line_in(language) for m in mismatches[:limit]]
    more = len(mismatches) - len(shown)
    if more > 0:
        shown.append(Text(N_("… and {n} more"), {"n": more}).said_in(language))
    return "\n".join(shown)


def as_json(mismatches: list[Mismatch], *, language: str = "en") -> list[dict[str, Any]]:
    return [m.as_json(language) for m in mismatches]
