"""The second half of a data value import: compare with what is stored, plan, write, digest.

:func:`plan_changes` sorts the checked rows into creates, updates and deletes (a value equal to
the stored one is ignored); :func:`write_plan` applies them with one ``executemany`` per kind and
writes their history rows; :func:`changes_digest` is the SHA-256 the audit entry vouches for, and
``audit_checks.data_values`` recomputes it from the history.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from jiaowei.indicators.model import ImportStrategy
from jiaowei.indicators.values.checking import CHUNK, Checked, Context, Key, ensure_periods


def stored_values(conn: Connection, keys: Iterable[Key]) -> dict[Key, tuple[str, str | None, bool]]:
    """The stored value, comment and follow-up flag of every key that has one."""
    pairs: dict[int, set[int]] = {}
    for k in keys:
        if k[0] > 0:
            pairs.setdefault(k[0], set()).add(k[1])
    out: dict[Key, tuple[str, str | None, bool]] = {}
    cursor = conn.connection.cursor()  # the request's own connection: plain tuples, no row objects
    try:
        for period_id, unit_set in pairs.items():
            unit_list = sorted(unit_set)
            for start in range(0, len(unit_list), CHUNK):
                chunk = unit_list[start : start + CHUNK]
                marks = ", ".join([_placeholder(conn)] * len(chunk))
                cursor.execute(
                    _sql(
                        conn,
                        "SELECT period_id, unit_id, data_element_id, coc_id, aoc_id, value, comment, "
                        f"followup FROM data_values WHERE period_id = ? AND unit_id IN ({marks})",
                    ),
                    (period_id, *chunk),
                )
                for r in cursor.fetchall():
                    out[r[:5]] = r[5:]  # value, comment, followup (0/1 on SQLite: equal to False/True)
    finally:
        cursor.close()
    return out


@dataclass
class Plan:
    creates: list[tuple[Key, str, str | None, bool, str | None]] = field(default_factory=list)
    updates: list[tuple[Key, str, str | None, bool, str | None, tuple[str, str | None, bool]]] = field(
        default_factory=list
    )
    deletes: list[tuple[Key, tuple[str, str | None, bool]]] = field(default_factory=list)
    ignored: int = 0


def plan_changes(
    checked: Checked,
    stored: dict[Key, tuple[str, str | None, bool]],
    strategy: ImportStrategy = ImportStrategy.CREATE_AND_UPDATE,
) -> Plan:
    """Creates, updates and deletes against what is stored. As DHIS2's import strategies: CREATE
    ignores every stored value (and so every deletion), UPDATE every value not stored yet."""
    plan = Plan()
    creating, updating = strategy is not ImportStrategy.UPDATE, strategy is not ImportStrategy.CREATE
    for key, (value, comment, followup, by) in checked.writes.items():
        before = stored.get(key)
        if before is None or not updating:
            if creating and before is None:
                plan.creates.append((key, value, comment, bool(followup), by))
            else:
                plan.ignored += 1
            continue
        new_comment = comment if comment is not None else before[1]
        new_followup = followup if followup is not None else before[2]
        if (value, new_comment, new_followup) == before:
            plan.ignored += 1
        else:
            plan.updates.append((key, value, new_comment, new_followup, by, before))
    for key in checked.deletes:
        before = stored.get(key)
        if before is None or not updating:
            plan.ignored += 1
        else:
            plan.deletes.append((key, before))
    return plan


# ---------------------------------------------------------------- writing


def _placeholder(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _sql(conn: Connection, text: str) -> str:
    return text.replace("?", _placeholder(conn))


def write_plan(
    conn: Connection, *, plan: Plan, import_id: int, synthetic: bool, history_of_creates: bool = True
) -> None:
    """Apply the plan with one executemany per kind, then write each change's history row.

    ``history_of_creates=False``: the new values' history is left to :func:`copy_created_history`
    (an import in batches calls it once, after its last batch)."""
    key = "period_id = ? AND unit_id = ? AND data_element_id = ? AND coc_id = ? AND aoc_id = ?"
    # The import and the synthetic flag are constants of the statement; a value without comment,
    # author or flag (most) binds only its key and value: a third fewer parameters.
    constants = f"{'TRUE' if synthetic else 'FALSE'}, {int(import_id)}"
    plain = [(*k, v) for k, v, c, f, by in plan.creates if c is None and by is None and not f]
    if plain:
        conn.exec_driver_sql(
            _sql(
                conn,
                "INSERT INTO data_values (period_id, unit_id, data_element_id, coc_id, aoc_id, value, "
                f"followup, synthetic, import_id) VALUES (?, ?, ?, ?, ?, ?, FALSE, {constants})",
            ),
            plain,
        )
    if len(plain) < len(plan.creates):
        conn.exec_driver_sql(
            _sql(
                conn,
                "INSERT INTO data_values (period_id, unit_id, data_element_id, coc_id, aoc_id, value, "
                "stored_by, comment, followup, synthetic, import_id) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {constants})",
            ),
            [(*k, v, by, c, f) for k, v, c, f, by in plan.creates if c is not None or by is not None or f],
        )
    bulk = history_of_creates and len(plan.creates) > BULK
    if bulk:  # before the updates, which carry this import's id too
        copy_created_history(conn, import_id, _periods_of(plan.creates), check=False)
    if plan.updates:
        conn.exec_driver_sql(
            _sql(
                conn,
                "UPDATE data_values SET value = ?, comment = ?, followup = ?, stored_by = ?, "
                f"import_id = {int(import_id)} WHERE {key}",
            ),
            [(v, c, f, by, *k) for k, v, c, f, by, _ in plan.updates],
        )
    if plan.deletes:
        conn.exec_driver_sql(_sql(conn, f"DELETE FROM data_values WHERE {key}"), [k for k, _ in plan.deletes])
    history: list[tuple[Any, ...]] = []
    if history_of_creates and not bulk:
        history = [(*k, "CREATE", None, v, c, f) for k, v, c, f, _ in plan.creates]
    history += [(*k, "UPDATE", b[0], v, c, f) for k, v, c, f, _, b in plan.updates]
    history += [(*k, "DELETE", b[0], None, b[1], b[2]) for k, b in plan.deletes]
    if history:
        conn.exec_driver_sql(
            _sql(
                conn,
                "INSERT INTO data_value_history (period_id, unit_id, data_element_id, coc_id, aoc_id, "
                f"import_id, change, value_before, value_after, comment, followup) "
                f"VALUES (?, ?, ?, ?, ?, {int(import_id)}, ?, ?, ?, ?, ?)",
            ),
            history,
        )


def copy_created_history(conn: Connection, import_id: int, periods: Iterable[int] | None = None, *,
                         check: bool = True) -> None:
    """One statement writes the CREATE history of the values this import stored (no Python per row).

    ``periods``: only in these. ``check``: leave out the values that have a history row of this
    import already (the ones it updated), as an import in batches needs after its last batch."""
    where = f"dv.import_id = {int(import_id)}"
    if periods is not None:
        where += f" AND dv.period_id IN ({_ids(periods)})"
    if check:
        where += (
            " AND NOT EXISTS (SELECT 1 FROM data_value_history h WHERE h.period_id = dv.period_id AND "
            "h.unit_id = dv.unit_id AND h.data_element_id = dv.data_element_id AND h.coc_id = dv.coc_id "
            f"AND h.aoc_id = dv.aoc_id AND h.import_id = {int(import_id)})"
        )
    conn.exec_driver_sql(
        "INSERT INTO data_value_history (period_id, unit_id, data_element_id, coc_id, aoc_id, "
        "import_id, change, value_before, value_after, comment, followup) SELECT dv.period_id, dv.unit_id, "
        "dv.data_element_id, dv.coc_id, dv.aoc_id, dv.import_id, 'CREATE', NULL, dv.value, dv.comment, "
        f"dv.followup FROM data_values dv WHERE {where}"
    )


def history_digest(conn: Connection, import_id: int) -> str:
    """:func:`changes_digest` of a write, from its history rows (streamed in key order): for an
    import written in batches, whose changes are never all in memory at once."""
    digest = hashlib.sha256()
    result = conn.exec_driver_sql(
        "SELECT period_id, unit_id, data_element_id, coc_id, aoc_id, change, value_before, value_after, "
        f"comment, followup FROM data_value_history WHERE import_id = {int(import_id)} "
        "ORDER BY period_id, unit_id, data_element_id, coc_id, aoc_id",
        execution_options={"stream_results": True},  # a server-side cursor on PostgreSQL
    )
    separator = ""
    for part in result.partitions(10_000):
        lines = [digest_line(CREATED % (*r[:5], r[7]) if r[5] == "CREATE" else UPDATED % (*r[:5], r[6], r[7])
                             if r[5] == "UPDATE" else DELETED % (*r[:5], r[6]), r[8], r[9]) for r in part]
        digest.update((separator + "\n".join(lines)).encode())
        separator = "\n"
    return digest.hexdigest()


BULK = 20_000
"""Above this many new values, their history rows are copied by one INSERT … SELECT."""


def _periods_of(creates: list[tuple[Key, str, str | None, bool, str | None]]) -> set[int]:
    return {k[0] for k, *_ in creates}


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(str(int(i)) for i in sorted(ids))


def fix_period_ids(conn: Connection, plan: Plan, ctx: Context) -> None:
    """Store the periods first used by this import and put their ids into the plan's keys."""
    new = {code: slot for code, slot in ctx.period_ids.items() if slot < 0}
    if not new:
        return
    ids = ensure_periods(conn, new)
    swap = {slot: ids[code] for code, slot in new.items()}
    plan.creates = [
        ((swap.get(k[0], k[0]), k[1], k[2], k[3], k[4]), v, c, f, by) for k, v, c, f, by in plan.creates
    ]


CREATED, UPDATED, DELETED = "C|%d|%d|%d|%d|%d|%s", "U|%d|%d|%d|%d|%d|%s|%s", "D|%d|%d|%d|%d|%d|%s"
"""The lines of :func:`changes_digest`: the key's ids, then the value before and/or after."""

DIGEST_VERSION = 2
"""1: the lines above; 2 (``digest_version`` in the entry): each ends with ``|followup|comment``,
the flag as 0 or 1 and the comment as JSON, after the change (before it, for a deletion)."""


def digest_line(line: str, comment: str | None, followup: Any) -> str:
    """A version 2 line: the version 1 ``line`` with the comment and follow-up flag it leaves."""
    if comment is None:  # the common case, without json.dumps (a third of the digest's time)
        return f"{line}|1|null" if followup else f"{line}|0|null"
    return f"{line}|{1 if followup else 0}|{json.dumps(comment, ensure_ascii=False)}"


def changes_digest(plan: Plan) -> str:
    """SHA-256 over every change in key order, one line each: what the audit entry vouches for.

    Lines are ``C|period|unit|element|coc|aoc|after``, ``U|…|before|after`` and ``D|…|before``,
    with the numeric ids of the stored rows, then ``|followup|comment`` (``DIGEST_VERSION`` 2),
    joined by newlines.
    """
    digest = hashlib.sha256()
    feed_digest(digest, change_lines(plan), first=True)
    return digest.hexdigest()


def change_lines(plan: Plan) -> list[tuple[Key, str]]:
    """The lines of :func:`changes_digest`, each with its key, in key order."""
    v2 = digest_line
    plain = CREATED + "|0|null"  # digest_line of a value without comment or flag, in one step
    changes: list[tuple[Key, str]] = [
        (k, plain % (*k, v) if c is None and not f else v2(CREATED % (*k, v), c, f))
        for k, v, c, f, _ in plan.creates
    ]
    changes += [(k, v2(UPDATED % (*k, b[0], v), c, f)) for k, v, c, f, _by, b in plan.updates]
    changes += [(k, v2(DELETED % (*k, b[0]), b[1], b[2])) for k, b in plan.deletes]
    changes.sort(key=_first)
    return changes


def feed_digest(digest: Any, changes: list[tuple[Key, str]], *, first: bool) -> None:
    """Add ``changes`` to ``digest``, newline-separated (``first``: nothing was added before)."""
    for start in range(0, len(changes), 100_000):
        chunk = "\n".join(line for _, line in changes[start : start + 100_000])
        digest.update((("" if first and not start else "\n") + chunk).encode())


def _first(item: tuple[Key, str]) -> Key:
    return item[0]


def verify_imports(conn: Connection) -> list[str]:
    """The writes whose history no longer hashes to the digest held in their audit entry (or that
    have no entry, or whose entry has no write): ``indicators.audit_checks`` does the work."""
    from jiaowei.indicators.audit_checks import history_mismatches  # it reads this module's format

    return history_mismatches(conn)
