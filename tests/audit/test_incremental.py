"""Incremental verification: the page, the API and the CLI check only the entries written since the
last verification stopped (counted in ``read``), still find tampering after that point, and a full
verification stays available (on both databases)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text, update

from jiaowei.audit import service as audit
from jiaowei.audit.store import audit_log
from tests.audit.tampering import rehash_from
from tests.audit.test_checkpoint_cli import env, sql, tamper  # noqa: F401  (env: the CLI's database)
from tests.cli.test_cli import jiaowei
from tests.factories import login, make_unit, make_user, small_tree, token_for


def verify(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, object]:
    answer = client.get("/api/audit/verify", headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_a_second_verification_reads_only_the_new_entries(client: TestClient, conn: Connection) -> None:
    small_tree(conn)
    headers = token_for(conn, make_user(conn, "wang", role="commission_staff", capture=["SH"]))
    total = int(conn.scalar(text("SELECT COUNT(*) FROM audit_log")))
    first = verify(client, headers, new_only="true")
    assert first["ok"] and first["since"] == 0 and first["read"] == total == first["entries"]
    again = verify(client, headers, new_only="true")
    assert again["ok"] and again["since"] == total and again["read"] == 0 and again["entries"] == total
    make_unit(conn, "S3", parent="D1")
    make_unit(conn, "S4", parent="D1")
    third = verify(client, headers, new_only="true")
    assert third["ok"] and third["since"] == total and third["read"] == 2 and third["entries"] == total + 2
    full = verify(client, headers)  # the whole chain, as before
    assert full["ok"] and full["since"] == 0 and full["read"] == total + 2


def test_tampering_after_the_mark_is_found(client: TestClient, conn: Connection) -> None:
    small_tree(conn)
    headers = token_for(conn, make_user(conn, "wang"))
    mark = int(verify(client, headers, new_only="true")["entries"])
    make_unit(conn, "S3", parent="D1")
    make_unit(conn, "S4", parent="D1")
    conn.execute(update(audit_log).where(audit_log.c.seq == mark + 1).values(note="edited"))
    report = verify(client, headers, new_only="true")
    assert not report["ok"] and report["first_bad_seq"] == mark + 1 and report["since"] == mark
    assert report["read"] == 0  # the break is the first entry it read
    assert not verify(client, headers, new_only="true")["ok"]  # the mark did not move past it


def test_a_rewrite_of_the_marked_entry_is_found(client: TestClient, conn: Connection) -> None:
    small_tree(conn)
    headers = token_for(conn, make_user(conn, "wang"))
    mark = int(verify(client, headers, new_only="true")["entries"])
    conn.execute(text("UPDATE audit_log SET note = 'edited' WHERE seq = 2"))
    rehash_from(conn, 2)  # every hash after it made to fit, up to the head
    report = verify(client, headers, new_only="true")
    assert not report["ok"] and report["first_bad_seq"] == mark and report["read"] == 0
    assert "verify the whole chain" in str(report["reason"])


def test_tampering_before_the_mark_needs_a_full_verification_which_moves_the_mark_back(
    browser: TestClient, conn: Connection
) -> None:
    small_tree(conn)
    make_user(conn, "wang")
    login(browser, "wang")
    assert "6 entries checked." in browser.get("/audit?lang=en").text  # the first load reads them all
    make_unit(conn, "S3", parent="D1")
    page = browser.get("/audit?lang=en").text
    assert "1 new entries checked after entry 6" in page and "Verify the whole chain" in page
    conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(actor="mallory"))
    assert "Chain intact." in browser.get("/audit?lang=en").text  # before the mark: not read again
    full = browser.get("/audit?full=1&lang=en").text
    assert "Chain broken." in full and "No. 2" in full and "1 entries before it are intact." in full
    after = browser.get("/audit?lang=en").text  # the mark went back to entry 1: found again
    assert "Chain broken." in after and "No. 2" in after and "Checked from entry 1 on." in after
    assert "已于" in browser.get("/audit?lang=zh_CN").text


def test_the_mark_is_kept_in_the_database(conn: Connection) -> None:
    small_tree(conn)
    assert audit.last_verified(conn).seq == 0
    report = audit.verify_since_last(conn)
    audit.remember_verified(conn, report=report)
    assert audit.last_verified(conn).seq == report.entries == 5 and report.read == 5
    assert audit.last_verified(conn).hash == conn.scalar(text("SELECT hash FROM audit_head"))
    stale = audit.verify(conn)  # an older report never moves the mark back
    make_unit(conn, "S3", parent="D1")
    audit.remember_verified(conn, report=audit.verify_since_last(conn))
    audit.remember_verified(conn, report=stale)
    assert audit.last_verified(conn).seq == 6


def test_the_command_line_verifies_the_new_entries_or_the_whole_chain(
    env: dict[str, str], tmp_path: Path  # noqa: F811
) -> None:
    first = jiaowei(env, "audit", "verify", "--new-only").stdout
    assert "3 entries, chain intact" in first and "verified before" not in first
    jiaowei(env, "units", "import", str(tmp_path / "more.csv"))
    second = " ".join(jiaowei(env, "audit", "verify", "--new-only").stdout.split())
    assert "Entries 1 to 3 were verified before; 1 entries after them were read now." in second
    sql(env, "UPDATE audit_log SET note = 'edited' WHERE seq = 2")
    jiaowei(env, "audit", "verify", "--new-only")  # before the mark: not read again
    full = jiaowei(env, "audit", "verify", expect=9)
    assert "entry 2" in " ".join(full.stderr.split())
    jiaowei(env, "audit", "verify", "--new-only", expect=9)  # the mark went back to entry 1


@pytest.mark.parametrize("new_only", ["true", "false"])
def test_only_audit_readers_verify(client: TestClient, conn: Connection, new_only: str) -> None:
    small_tree(conn)
    headers = token_for(conn, make_user(conn, "viewer", role="viewer", capture=["D1"]))
    answer = client.get("/api/audit/verify", headers=headers, params={"new_only": new_only})
    assert answer.status_code == 403
    assert audit.last_verified(conn).seq == 0


def test_a_rewrite_found_by_a_checkpoint_leaves_the_mark_that_still_shows_it(conn: Connection) -> None:
    small_tree(conn)
    first = audit.verify(conn)
    audit.remember_verified(conn, report=first)
    signed = audit.Anchor(first.entries, first.head, label="cp.json")
    conn.execute(text("UPDATE audit_log SET note = 'edited' WHERE seq = 2"))
    rehash_from(conn, 2)
    assert audit.verify(conn).ok  # re-hashed to the end: the chain alone cannot tell
    rewritten = audit.verify(conn, anchors=[signed])
    assert not rewritten.ok
    audit.remember_verified(conn, report=rewritten)
    assert audit.last_verified(conn).hash == first.head  # not moved onto the rewritten chain
    assert audit.verify_since_last(conn).first_bad_seq == first.entries
