"""Direct SQL edits of the indicators tables are caught by ``GET /api/audit/verify`` and by
``jiaowei audit verify``, on SQLite and PostgreSQL: values, their history (with a recomputed side
digest), approvals, completions, lock exceptions, targets and facts (issue 9, item 4)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from jiaowei import clock
from jiaowei.audit import reconcile
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import make_engine
from jiaowei.db.migrate import upgrade
from jiaowei.indicators.approval import completeness
from jiaowei.indicators.approval import service as approval
from jiaowei.indicators.model import ValueRow
from jiaowei.indicators.targets import service as targets
from jiaowei.indicators.values import service as values
from tests.cli.test_cli import cli_env, create_pg_database, drop_pg_database, jiaowei
from tests.conftest import BACKENDS
from tests.factories import indicator_setup, make_user, token_for

KEY = "period_id = :p AND unit_id = :u AND data_element_id = :e AND coc_id = :c AND aoc_id = :a"


def _rows(*items: tuple[str, str, str | None, str]) -> list[ValueRow]:
    return [ValueRow(data_element=de, period="2020", org_unit=ou, category_option_combo=coc, value=v, row=i)
            for i, (de, ou, coc, v) in enumerate(items, 1)]


def load(conn: Connection) -> None:
    """Values written, updated and deleted; completions, an approval, an unapproval, an exception,
    a target: each through its service."""
    indicator_setup(conn)
    values.import_values(conn, principal=SYSTEM, source="dhis2-json", rows=_rows(
        ("PUPILS", "S1", "M", "120"), ("PUPILS", "S1", "F", "110"), ("TEACHERS", "S1", None, "15"),
        ("PUPILS", "S2", "M", "80"), ("TEACHERS", "S2", None, "9")))
    values.save_value(conn, principal=SYSTEM, data_element="PUPILS", period="2020", org_unit="S1",
                      category_option_combo="M", value="125", comment="recounted")
    values.delete_value(conn, principal=SYSTEM, data_element="TEACHERS", period="2020", org_unit="S2")
    for unit in ("S1", "S2"):
        completeness.complete(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit=unit)
    for unit in ("S1", "S2"):
        approval.approve(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit=unit)
    approval.unapprove(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S2", reason="typo")
    approval.grant_exception(conn, principal=SYSTEM, data_set="SCHOOL_Y", period="2020", unit="S2",
                             until=clock.today() + dt.timedelta(days=30), reason="late census")
    targets.set_target(conn, principal=SYSTEM, indicator="PTR", unit="SH", period="2020", value=15.0)


def _ids(conn: Connection, element: str, unit: str, combo: str = "default") -> dict[str, int]:
    """The key of a data value, by codes (the attribute combo is the default one)."""
    def one(sql: str, code: str) -> int:
        return int(conn.execute(text(sql), {"code": code}).scalar_one())

    return {
        "p": one("SELECT id FROM periods WHERE code = :code", "2020"),
        "u": one("SELECT id FROM units WHERE code = :code", unit),
        "e": one("SELECT id FROM data_elements WHERE code = :code", element),
        "c": one("SELECT id FROM category_option_combos WHERE code = :code"
                 f" AND combo_id = (SELECT combo_id FROM data_elements WHERE code = '{element}')", combo),
        "a": one("SELECT id FROM category_option_combos WHERE code = :code", "default"),
    }


def _edit_value(conn: Connection) -> None:
    conn.execute(text(f"UPDATE data_values SET value = '111' WHERE {KEY}"), _ids(conn, "PUPILS", "S1", "F"))


def _delete_value(conn: Connection) -> None:
    conn.execute(text(f"DELETE FROM data_values WHERE {KEY}"), _ids(conn, "TEACHERS", "S1"))


def _insert_value(conn: Connection) -> None:
    write = conn.execute(text("SELECT MIN(id) FROM data_imports")).scalar_one()
    conn.execute(text("INSERT INTO data_values (period_id, unit_id, data_element_id, coc_id, aoc_id, value, "
                      "followup, synthetic, import_id) VALUES (:p, :u, :e, :c, :a, '99', false, false, :w)"),
                 {**_ids(conn, "RATE", "S2"), "w": write})


def _history_digest(conn: Connection, write: int, version: int = 2) -> str:
    """What ``data_imports.changes_digest`` says for the write, recomputed as an attacker would."""
    lines = []
    key_columns = "period_id, unit_id, data_element_id, coc_id, aoc_id"
    query = (f"SELECT {key_columns}, change, value_before, value_after, comment, followup "
             f"FROM data_value_history WHERE import_id = :w ORDER BY {key_columns}")
    for r in conn.execute(text(query), {"w": write}):
        key = "|".join(str(i) for i in r[:5])
        line = {"CREATE": f"C|{key}|{r[7]}", "UPDATE": f"U|{key}|{r[6]}|{r[7]}",
                "DELETE": f"D|{key}|{r[6]}"}[r[5]]
        comment = json.dumps(r[8], ensure_ascii=False)
        lines.append(line if version == 1 else f"{line}|{1 if r[9] else 0}|{comment}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _edit_history(conn: Connection) -> None:
    """The saved value rewritten everywhere but in the chain: live row, history row, side digest."""
    ids = _ids(conn, "PUPILS", "S1", "M")
    write = conn.execute(text(f"SELECT import_id FROM data_values WHERE {KEY}"), ids).scalar_one()
    conn.execute(text(f"UPDATE data_values SET value = '500' WHERE {KEY}"), ids)
    conn.execute(text(f"UPDATE data_value_history SET value_after = '500' WHERE {KEY} AND import_id = :w"),
                 {**ids, "w": write})
    conn.execute(text("UPDATE data_imports SET changes_digest = :d WHERE id = :w"),
                 {"d": _history_digest(conn, write), "w": write})


def _edit_comment(conn: Connection) -> None:
    """A comment rewritten in the live row and its history, the side digest recomputed."""
    ids = _ids(conn, "PUPILS", "S1", "M")
    write = conn.execute(text(f"SELECT import_id FROM data_values WHERE {KEY}"), ids).scalar_one()
    conn.execute(text(f"UPDATE data_values SET comment = 'all fine' WHERE {KEY}"), ids)
    conn.execute(text(f"UPDATE data_value_history SET comment = 'all fine' WHERE {KEY} AND import_id = :w"),
                 {**ids, "w": write})
    conn.execute(text("UPDATE data_imports SET changes_digest = :d WHERE id = :w"),
                 {"d": _history_digest(conn, write), "w": write})


def _edit_approval(conn: Connection) -> None:
    conn.execute(text("UPDATE approvals SET approved_by = 'mallory'"))


def _delete_completion(conn: Connection) -> None:
    conn.execute(text("DELETE FROM completions WHERE unit_id = (SELECT id FROM units WHERE code = 'S2')"))


def _insert_approval(conn: Connection) -> None:
    conn.execute(text("INSERT INTO approvals (data_set_id, period_id, unit_id, approved_by, approved_at) "
                      "SELECT data_set_id, period_id, unit_id, 'system', completed_at FROM completions "
                      "WHERE unit_id = (SELECT id FROM units WHERE code = 'S2')"))


def _extend_exception(conn: Connection) -> None:
    conn.execute(text("UPDATE lock_exceptions SET until = :d"), {"d": dt.date(2099, 1, 1)})


def _edit_target(conn: Connection) -> None:
    conn.execute(text("UPDATE targets SET value = 10"))


def _insert_fact(conn: Connection) -> None:
    conn.execute(text("INSERT INTO indicator_facts (indicator_id, unit_id, period_id, value, source) "
                      "SELECT indicator_id, unit_id, period_id, 42, 'forged' FROM targets"))


def _unaudited_write(conn: Connection) -> None:
    conn.execute(text("INSERT INTO data_imports (at, actor, source, changes_digest, summary) "
                      "SELECT at, actor, source, changes_digest, summary FROM data_imports WHERE id = "
                      "(SELECT MIN(id) FROM data_imports)"))


TAMPERINGS: dict[str, tuple[Callable[[Connection], None], str, str]] = {
    # name: (the edit, the row's words in the message, what is said about it)
    "edited value": (_edit_value, "data_values element PUPILS (F) at unit S1 in period 2020",
                     "value is '111', its history says '110'"),
    "deleted value": (_delete_value, "data_values element TEACHERS (default) at unit S1 in period 2020",
                      "the value '15' is missing"),
    "inserted value": (_insert_value, "data_values element RATE (default) at unit S2 in period 2020",
                       "the value '99' has no history"),
    "history and side digest": (_edit_history, "data_value_history write",
                                "its history no longer matches the digest in the audit log"),
    "comment in history and side digest": (_edit_comment, "data_value_history write",
                                           "its history no longer matches the digest in the audit log"),
    "edited approval": (_edit_approval, "approvals SCHOOL_Y/2020/S1", "approved by is 'mallory'"),
    "inserted approval": (_insert_approval, "approvals SCHOOL_Y/2020/S2",
                          "exists; the audit log has no entry"),
    "deleted completion": (_delete_completion, "completions SCHOOL_Y/2020/S2", "is missing"),
    "extended exception": (_extend_exception, "lock_exceptions SCHOOL_Y/2020/S2", "until is '2099-01-01'"),
    "edited target": (_edit_target, "targets PTR/SH/2020", "value is 10.0, the audit log says 15.0"),
    "inserted fact": (_insert_fact, "indicator_facts PTR/SH/2020", "exists; the audit log has no entry"),
    "unaudited write": (_unaudited_write, "data_imports write", "has no entry in the audit log"),
}


def test_the_services_writes_reconcile(conn: Connection) -> None:
    load(conn)
    assert reconcile.reconcile(conn) == []
    assert values.verify_imports(conn) == []


@pytest.mark.parametrize("name", TAMPERINGS)
def test_a_direct_edit_is_caught_by_the_api(client: TestClient, conn: Connection, name: str) -> None:
    load(conn)
    headers = token_for(conn, make_user(conn, "auditor", role="administrator"))
    assert client.get("/api/audit/verify", headers=headers).json()["ok"]
    tamper, row, reason = TAMPERINGS[name]
    tamper(conn)
    body = client.get("/api/audit/verify", headers=headers).json()
    assert not body["ok"] and body["first_bad_seq"] is None
    found = [f"{m['table']} {m['key']}: {m['reason']}" for m in body["mismatches"]]
    assert any(line.startswith(row) and reason in line for line in found), found


def test_a_rewritten_history_is_what_verify_imports_reports(conn: Connection) -> None:
    load(conn)
    _edit_history(conn)
    updated = text("SELECT MAX(import_id) FROM data_value_history WHERE change = 'UPDATE'")
    write = conn.execute(updated).scalar_one()
    assert values.verify_imports(conn) == [
        f"write {write}: its history no longer matches the digest in the audit log"
    ]


def test_a_deleted_data_set_takes_its_approvals_and_completions_along(conn: Connection) -> None:
    from jiaowei.indicators.metadata import service as metadata

    load(conn)
    metadata.delete_object(conn, principal=SYSTEM, kind="dataSets", code="SCHOOL_Y")  # the keys cascade
    assert conn.execute(text("SELECT COUNT(*) FROM completions")).scalar_one() == 0
    assert reconcile.reconcile(conn) == []


def test_writes_audited_before_the_comments_were_digested_still_reconcile(conn: Connection) -> None:
    """Entries without ``digest_version`` (written before it) hold the version 1 digest: values only."""
    indicator_setup(conn)
    values.import_values(conn, principal=SYSTEM, source="dhis2-json",
                         rows=_rows(("PUPILS", "S1", "M", "120"), ("TEACHERS", "S1", None, "15")))
    write = conn.execute(text("SELECT MAX(id) FROM data_imports")).scalar_one()
    old = _history_digest(conn, write, version=1)
    _rewrite_last_entry(conn, old)
    assert reconcile.reconcile(conn) == []
    conn.execute(text("UPDATE data_value_history SET value_after = '121'"))
    conn.execute(text("UPDATE data_values SET value = '121'"))
    assert [str(m) for m in reconcile.reconcile(conn)] == [
        f"data_value_history write {write}: its history no longer matches the digest in the audit log"]


def _rewrite_last_entry(conn: Connection, digest: str) -> None:
    """Give the last entry the version 1 shape and digest, re-hashed: as the service wrote it before."""
    from jiaowei.audit import service as audit

    row = conn.execute(text("SELECT * FROM audit_log ORDER BY seq DESC")).mappings().first()
    assert row is not None and row["action"] == "data.import"
    after = {k: v for k, v in json.loads(row["after"]).items() if k != "digest_version"}
    entry = {**row, "after": audit.canonical({**after, "changes_digest": digest})}
    entry["hash"] = audit.entry_hash(entry)
    conn.execute(text('UPDATE audit_log SET "after" = :a, hash = :h WHERE seq = :s'),
                 {"a": entry["after"], "h": entry["hash"], "s": row["seq"]})
    conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": entry["hash"]})
    last = "(SELECT MAX(id) FROM data_imports)"
    conn.execute(text(f"UPDATE data_imports SET changes_digest = :d WHERE id = {last}"), {"d": digest})
    assert audit.verify(conn).ok


def _cli_database(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            load(conn)
    finally:
        engine.dispose()


def _tamper_all(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for tamper, _row, _reason in TAMPERINGS.values():
                tamper(conn)
    finally:
        engine.dispose()


def _check_cli(env: dict[str, str], url: str) -> None:
    clean = jiaowei(env, "audit", "verify")
    assert "chain intact" in clean.stdout
    _tamper_all(url)
    caught = jiaowei(env, "audit", "verify", expect=None)
    assert caught.returncode != 0, caught.stdout
    message = " ".join(caught.stderr.split())  # rich wraps long lines
    assert f"{len(TAMPERINGS)} live rows differ" in message or "live rows differ" in message, message
    for _tamper, row, reason in TAMPERINGS.values():
        assert row in message and reason in message, (row, message)


def test_the_cli_catches_every_direct_edit_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    _cli_database(url)
    _check_cli({**cli_env(tmp_path / "home", url), "COLUMNS": "1000"}, url)


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not selected")
def test_the_cli_catches_every_direct_edit_on_postgresql(pg_cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = "jiaowei_reconcile_indicators"
    url = create_pg_database(pg_cluster.url, name)
    try:
        _cli_database(url)
        _check_cli({**cli_env(tmp_path / "home", url), "COLUMNS": "1000"}, url)
    finally:
        drop_pg_database(pg_cluster.url, name)
