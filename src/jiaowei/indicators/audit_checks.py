"""The indicators tables recomputed from their history and the audit chain (see ``audit.reconcile``).

- ``data_values``: each value must be what ``data_value_history`` says, replayed per key (the
  last change's value, comment and follow-up flag, and its write; absent after a DELETE); and
  each write's history must hash to the ``changes_digest`` held *inside* its ``data.import``
  entry (never the ``data_imports`` side column). A write without an entry, or an entry without
  its write, is a mismatch too. One pass over each table in key order: no query per row.
- ``approvals``, ``completions``, ``lock_exceptions``, ``targets`` and ``indicator_facts``:
  replayed from their entries (deleting a data set or an indicator removes its rows, as the
  foreign keys cascade) and compared with the live rows, field by field.

Not reconciled: ``min_max`` (a generation is one entry for many bounds), the metadata tables and
``approval_events`` (a log of its own); their entries do not hold each row's state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, select

from jiaowei.audit.checkpoint import Text
from jiaowei.audit.model import AuditEntry
from jiaowei.audit.reconcile import N_, Chain, Mismatch, term
from jiaowei.indicators import store
from jiaowei.indicators.values.writing import CREATED, DELETED, UPDATED, digest_line
from jiaowei.registry import queries as registry

Key = tuple[int, int, int, int, int]
STREAM = 10_000  # rows fetched at a time (a server-side cursor on PostgreSQL)
EMPTY = hashlib.sha256(b"").hexdigest()
TERMS = (N_("data_values"), N_("data_imports"), N_("data_value_history"), N_("approvals"), N_("completions"),
         N_("lock_exceptions"), N_("targets"), N_("indicator_facts"), N_("value"), N_("comment"),
         N_("follow-up flag"), N_("write"), N_("approved by"), N_("approved at"), N_("completed by"),
         N_("completed at"), N_("until"), N_("reason"), N_("granted by"), N_("granted at"),
         N_("at_risk_margin"), N_("benchmark"), N_("benchmark_label"), N_("note"), N_("source"))

# ---------------------------------------------------------------- data values


class _Names:
    """Codes of the ids in a key, looked up only for the rows that differ."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.codes: dict[str, dict[int, str]] | None = None

    def key(self, k: Key) -> Text:
        if self.codes is None:
            self.codes = {
                "period": dict(self.conn.execute(select(store.periods.c.id, store.periods.c.code)).all()),
                "element": dict(self.conn.execute(
                    select(store.data_elements.c.id, store.data_elements.c.code)).all()),
                "combo": dict(self.conn.execute(
                    select(store.category_option_combos.c.id, store.category_option_combos.c.code)).all()),
            }
        c = self.codes
        unit = registry.codes_of(self.conn, [k[1]]).get(k[1], f"#{k[1]}")
        combo, attribute = c["combo"].get(k[3], f"#{k[3]}"), c["combo"].get(k[4], f"#{k[4]}")
        params = {"element": c["element"].get(k[2], f"#{k[2]}"), "combo": combo, "attribute": attribute,
                  "unit": unit, "period": c["period"].get(k[0], f"#{k[0]}")}
        if attribute == "default":
            return Text(N_("element {element} ({combo}) at unit {unit} in period {period}"), params)
        return Text(N_("element {element} ({combo}, {attribute}) at unit {unit} in period {period}"), params)


def _stream(conn: Connection, query: Select[Any]) -> Iterator[Any]:
    return iter(conn.execute(query.execution_options(yield_per=STREAM)))


class _Audited(NamedTuple):
    """What a write's ``data.import`` entry holds: its place in the chain, digest and digest version."""

    seq: int
    digest: Any
    version: Any


def _history_states(
    conn: Connection, audited: dict[int, _Audited], hashers: dict[int, Any]
) -> Iterator[tuple[Key, tuple[str | None, str | None, bool, int]]]:
    """Each key's last change (value after, comment, follow-up, write), in key order; a DELETE
    gives value None. Feeds every history row to its write's digest on the way (the lines of
    ``writing.changes_digest``, which come in key order within a write as they do here), in the
    version its entry names; a write's last change is the one latest in the chain."""
    h = store.data_value_history
    key_cols = (h.c.period_id, h.c.unit_id, h.c.data_element_id, h.c.coc_id, h.c.aoc_id)
    query = select(*key_cols, h.c.import_id, h.c.change, h.c.value_before, h.c.value_after, h.c.comment,
                   h.c.followup).order_by(*key_cols, h.c.import_id)
    current: Key | None = None
    best: tuple[int, tuple[str | None, str | None, bool, int]] | None = None
    for r in _stream(conn, query):
        k: Key = (r[0], r[1], r[2], r[3], r[4])
        import_id, change = r[5], r[6]
        if change == "CREATE":
            line = CREATED % (*k, r[8])
        elif change == "UPDATE":
            line = UPDATED % (*k, r[7], r[8])
        else:
            line = DELETED % (*k, r[7])
        entry = audited.get(import_id)
        if entry is None or entry.version != 1:
            line = digest_line(line, r[9], r[10])
        hasher = hashers.get(import_id)
        if hasher is None:
            hashers[import_id] = hasher = hashlib.sha256(line.encode())
        else:
            hasher.update(("\n" + line).encode())
        state = (None if change == "DELETE" else r[8], r[9], bool(r[10]), import_id)
        order = entry.seq if entry is not None else 0
        if k != current:
            if current is not None and best is not None:
                yield current, best[1]
            current, best = k, (order, state)
        elif best is None or order >= best[0]:
            best = (order, state)
    if current is not None and best is not None:
        yield current, best[1]


def _live_values(conn: Connection) -> Iterator[tuple[Key, tuple[str, str | None, bool, int]]]:
    dv = store.data_values
    key_cols = (dv.c.period_id, dv.c.unit_id, dv.c.data_element_id, dv.c.coc_id, dv.c.aoc_id)
    query = select(*key_cols, dv.c.value, dv.c.comment, dv.c.followup, dv.c.import_id).order_by(*key_cols)
    for r in _stream(conn, query):
        yield (r[0], r[1], r[2], r[3], r[4]), (r[5], r[6], bool(r[7]), r[8])


def _value_differs(
    live: tuple[str, str | None, bool, int] | None, said: tuple[str | None, str | None, bool, int] | None
) -> Text | None:
    """Why a live value is not what its history says, or None."""
    if said is None:
        return None if live is None else Text(N_("the value {value} has no history: no audited write stored "
                                                 "it"), {"value": repr(live[0])})
    if live is None:
        return (None if said[0] is None
                else Text(N_("the value {value} is missing; its history says write {write} stored it"),
                          {"value": repr(said[0]), "write": said[3]}))
    if said[0] is None:
        return Text(N_("the value {value} exists; its history says write {write} deleted it"),
                    {"value": repr(live[0]), "write": said[3]})
    for name, i in (("value", 0), ("comment", 1), ("follow-up flag", 2), ("write", 3)):
        if live[i] != said[i]:
            return Text(N_("{field} is {live}, its history says {logged}"),
                        {"field": term(name), "live": repr(live[i]), "logged": repr(said[i])})
    return None


def _merge(
    live: Iterator[tuple[Key, Any]], said: Iterator[tuple[Key, Any]]
) -> Iterator[tuple[Key, Any, Any]]:
    """Two streams in key order joined on the key: (key, live state or None, history state or None)."""
    a, b = next(live, None), next(said, None)
    while a is not None or b is not None:
        if a is not None and (b is None or a[0] < b[0]):
            yield a[0], a[1], None
            a = next(live, None)
        elif b is not None and (a is None or b[0] < a[0]):
            yield b[0], None, b[1]
            b = next(said, None)
        elif a is not None and b is not None:
            yield a[0], a[1], b[1]
            a, b = next(live, None), next(said, None)


def data_values(conn: Connection, chain: Chain) -> Iterator[Mismatch]:
    """Live values against their replayed history, then each write's history against its entry."""
    audited: dict[int, _Audited] = {}
    for entry in chain.entries(entity="data_values", actions=["data.import"]):
        after = entry.after if isinstance(entry.after, dict) else {}
        try:
            audited[int(entry.entity_key)] = _Audited(
                entry.seq, after.get("changes_digest"), after.get("digest_version", 1))
        except ValueError:
            named = Text(N_("audit entry {seq}"), {"seq": entry.seq})
            yield Mismatch("data_imports", str(named), N_("names no write"), key_text=named)
    hashers: dict[int, Any] = {}
    names = _Names(conn)
    for key, live, said in _merge(_live_values(conn), _history_states(conn, audited, hashers)):
        if reason := _value_differs(live, said):
            row = names.key(key)
            yield Mismatch("data_values", str(row), reason.template, reason.params, key_text=row)
    yield from _writes(conn, audited, hashers)


def _writes(conn: Connection, audited: dict[int, _Audited], hashers: dict[int, Any]) -> Iterator[Mismatch]:
    """Each write (a ``data_imports`` row) against its entry: both there, and the digests equal."""
    writes = set(conn.scalars(select(store.data_imports.c.id)))
    for write in sorted(writes | audited.keys() | hashers.keys()):
        entry, key = audited.get(write), Text(N_("write {write}"), {"write": write})
        if entry is None:
            yield Mismatch("data_imports", str(key), N_("has no entry in the audit log"), key_text=key)
            continue
        if write not in writes:
            yield Mismatch("data_imports", str(key), N_("is missing; audit entry {seq} records it"),
                           {"seq": entry.seq}, key_text=key)
        hasher = hashers.get(write)
        if entry.digest != (hasher.hexdigest() if hasher is not None else EMPTY):
            yield Mismatch("data_value_history", str(key),
                           N_("its history no longer matches the digest in the audit log"), key_text=key)


def history_mismatches(conn: Connection) -> list[str]:
    """The writes whose history (or entry) differs from the audit log, as ``verify_imports`` said it."""
    found = data_values(conn, Chain(conn))
    return [f"{m.key}: {m.reason}" for m in found if m.table != "data_values"]


# ---------------------------------------------------------------- replayed tables


def _with_deletions(chain: Chain, entity: str, actions: list[str], owner: str) -> Iterator[AuditEntry]:
    """The entries about ``entity`` and the deletions of its ``owner`` kind, in chain order."""
    return heapq.merge(
        chain.entries(entity=entity, actions=actions),
        chain.entries(entity=owner, actions=["delete"]),
        key=lambda e: e.seq,
    )


def _instant(value: Any) -> dt.datetime | None:
    """A time as stored or as ISO text, in UTC (a naive one, as SQLite returns it, is UTC)."""
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _compare(
    table: str, live: dict[str, dict[str, Any]], said: dict[str, dict[str, Any]]
) -> Iterator[Mismatch]:
    """Rows (field -> value, already comparable) by key: missing, unaccounted for, or different."""
    for key in sorted(live.keys() | said.keys()):
        row, expected = live.get(key), said.get(key)
        if row is None:
            yield Mismatch(table, key, N_("is missing; the audit log says it exists"))
        elif expected is None:
            yield Mismatch(table, key, N_("exists; the audit log has no entry that leaves it there"))
        else:
            for field, value in expected.items():
                if field in row and row[field] != value:
                    yield Mismatch(table, key, N_("{field} is {live}, the audit log says {logged}"),
                                   {"field": term(field), "live": _shown(row[field]),
                                    "logged": _shown(value)})


def _shown(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else repr(value)


def _live(
    conn: Connection, table: Any, key: Callable[[Any], str], fields: Callable[[Any], dict[str, Any]],
    *joins: tuple[Any, Any],
) -> dict[str, dict[str, Any]]:
    """The live rows of ``table`` by key, with the code of each joined table as ``code_0``, ``code_1`` …"""
    source = table
    for joined, on in joins:
        source = source.join(joined, on)
    codes = (t.c.code.label(f"code_{i}") for i, (t, _) in enumerate(joins))
    query = select(table, *codes).select_from(source)
    return {key(r): fields(r) for r in conn.execute(query)}


def _dataset_joins(table: Any) -> tuple[tuple[Any, Any], ...]:
    units = registry.unit_codes()
    return (
        (store.data_sets, store.data_sets.c.id == table.c.data_set_id),
        (store.periods, store.periods.c.id == table.c.period_id),
        (units, units.c.id == table.c.unit_id),
    )


def _ds_key(r: Any) -> str:
    return f"{r.code_0}/{r.code_1}/{r.code_2}"


def _replay(
    entries: Iterable[AuditEntry], owner: str, set_actions: set[str],
    key: Callable[[AuditEntry], str], fields: Callable[[AuditEntry], dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """The rows the chain leaves standing: set by ``set_actions``, removed by the others and by
    the deletion of their owner (entity_key the code the row's key starts with)."""
    state: dict[str, dict[str, Any]] = {}
    for e in entries:
        if e.entity == owner:
            state = {k: v for k, v in state.items() if not k.startswith(f"{e.entity_key}/")}
        elif e.action in set_actions:
            state[key(e)] = fields(e)
        else:
            state.pop(key(e), None)
    return state


def approvals(conn: Connection, chain: Chain) -> Iterator[Mismatch]:
    """Approved data: approvals minus unapprovals; who approved it (and when, in newer entries)."""
    def fields(e: AuditEntry) -> dict[str, Any]:
        at = (e.after or {}).get("approvedAt")
        return {"approved by": e.actor, **({"approved at": _instant(at)} if at else {})}

    said = _replay(
        _with_deletions(chain, "approval", ["data.approve", "data.unapprove"], "dataSets"), "dataSets",
        {"data.approve"}, lambda e: f"{e.after['dataSet']}/{e.after['period']}/{e.after['orgUnit']}", fields,
    )
    a = store.approvals
    live = _live(conn, a, _ds_key,
                 lambda r: {"approved by": r.approved_by, "approved at": _instant(r.approved_at)},
                 *_dataset_joins(a))
    yield from _compare("approvals", live, said)


def completions(conn: Connection, chain: Chain) -> Iterator[Mismatch]:
    """Complete registrations: completions minus withdrawals; by whom and when."""
    def key(e: AuditEntry) -> str:
        shown = e.after if e.action == "data.complete" else e.before
        return f"{shown['dataSet']}/{shown['period']}/{shown['organisationUnit']}"

    said = _replay(
        _with_deletions(chain, "completion", ["data.complete", "data.uncomplete"], "dataSets"), "dataSets",
        {"data.complete"}, key,
        lambda e: {"completed by": e.after.get("storedBy"), "completed at": _instant(e.after.get("date"))},
    )
    c = store.completions
    live = _live(conn, c, _ds_key,
                 lambda r: {"completed by": r.completed_by, "completed at": _instant(r.completed_at)},
                 *_dataset_joins(c))
    yield from _compare("completions", live, said)


def lock_exceptions(conn: Connection, chain: Chain) -> Iterator[Mismatch]:
    """Exceptions to period locks: grants minus revocations, with their end, reason and grantor."""
    def key(e: AuditEntry) -> str:
        shown = e.after if e.action == "lock.exception.grant" else e.before
        return f"{shown['data_set']}/{shown['period']}/{shown['unit']}"

    said = _replay(
        _with_deletions(chain, "lock_exception", ["lock.exception.grant", "lock.exception.revoke"],
                        "dataSets"), "dataSets", {"lock.exception.grant"}, key,
        lambda e: {"until": e.after["until"], "reason": e.after["reason"],
                   "granted by": e.after["granted_by"], "granted at": _instant(e.after["granted_at"])},
    )
    x = store.lock_exceptions
    live = _live(conn, x, _ds_key, lambda r: {
        "until": r.until.isoformat(), "reason": r.reason, "granted by": r.granted_by,
        "granted at": _instant(r.granted_at)}, *_dataset_joins(x))
    yield from _compare("lock_exceptions", live, said)


def _indicator_joins(table: Any) -> tuple[tuple[Any, Any], ...]:
    units = registry.unit_codes()
    return (
        (store.indicators, store.indicators.c.id == table.c.indicator_id),
        (units, units.c.id == table.c.unit_id),
        (store.periods, store.periods.c.id == table.c.period_id),
    )


TARGET_FIELDS = ("value", "at_risk_margin", "benchmark", "benchmark_label", "note")


def targets(conn: Connection, chain: Chain) -> Iterator[Mismatch]:
    """Targets: set (created or replaced) minus deleted, each field as last set (not ``cascaded_from``:
    deleting a target detaches its cascaded copies without an entry of theirs)."""
    said = _replay(
        _with_deletions(chain, "target", ["create", "update", "delete"], "indicators"), "indicators",
        {"create", "update"}, lambda e: e.entity_key,
        lambda e: {f: e.after.get(f) for f in TARGET_FIELDS if f in e.after},
    )
    t = store.targets
    live = _live(conn, t, _ds_key, lambda r: {f: getattr(r, f) for f in TARGET_FIELDS}, *_indicator_joins(t))
    yield from _compare("targets", live, said)


def indicator_facts(conn: Connection, chain: Chain) -> Iterator[Mismatch]:
    """Published facts: each as created (value and source)."""
    said = _replay(
        _with_deletions(chain, "indicator_fact", ["create", "update", "delete"], "indicators"), "indicators",
        {"create", "update"}, lambda e: e.entity_key,
        lambda e: {"value": e.after.get("value"), "source": e.after.get("source")},
    )
    f = store.indicator_facts
    live = _live(conn, f, _ds_key, lambda r: {"value": r.value, "source": r.source}, *_indicator_joins(f))
    yield from _compare("indicator_facts", live, said)
