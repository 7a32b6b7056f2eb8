"""Signed checkpoints on both databases: the tamperings a key-less chain check cannot see, caught.

Each attack is direct SQL, as someone with write access to the database (and the source code, so
the hash algorithm) would do it. Each test first shows that the chain check alone passes (the
attack succeeds without a checkpoint), then that a checkpoint signed before it catches it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest
from babel.messages.extract import extract
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, text

from jiaowei.audit import checkpoint
from jiaowei.audit import service as audit
from jiaowei.audit.checkpoint import Checkpoint
from jiaowei.errors import ConfigurationError, Conflict, IntegrityError, ValidationError
from jiaowei.i18n import catalog
from tests.audit.tampering import cut_after, rehash_from
from tests.factories import make_unit, small_tree

KEY = Ed25519PrivateKey.generate()


def signed(conn: Connection, key: Ed25519PrivateKey = KEY) -> tuple[Checkpoint, audit.Anchor]:
    """A checkpoint of the current head, and the anchor a verified file of it gives."""
    found = audit.sign_head(conn, key=key)
    checkpoint.check_signature(found, key.public_key(), source="test")
    return found, audit.Anchor(found.seq, found.hash, label="cp.json")


def test_an_untouched_chain_holds_every_checkpoint_taken_along_the_way(conn: Connection) -> None:
    small_tree(conn)
    _, first = signed(conn)
    make_unit(conn, "S3", parent="D1")
    _, second = signed(conn)
    report = audit.verify(conn, anchors=[second, first])
    assert report.ok and report.entries == second.seq == first.seq + 1


def test_an_edited_entry_with_the_rest_re_hashed_is_caught_by_a_checkpoint(conn: Connection) -> None:
    small_tree(conn)
    _, anchor = signed(conn)
    conn.execute(text("""UPDATE audit_log SET "after" = :a WHERE seq = 2"""),
                 {"a": '{"code":"D1","name_zh":"forged"}'})
    rehash_from(conn, 2)
    assert audit.verify(conn).ok  # without a key the rewrite is invisible
    report = audit.verify(conn, anchors=[anchor])
    assert (report.ok, report.first_bad_seq, report.entries) == (False, anchor.seq, 0)
    assert "rewritten" in report.reason and "cp.json" in report.reason


def test_deleting_the_last_entry_and_moving_the_head_back_is_caught_by_a_checkpoint(conn: Connection) -> None:
    small_tree(conn)
    _, anchor = signed(conn)
    cut_after(conn, anchor.seq - 1)
    assert audit.verify(conn).ok
    report = audit.verify(conn, anchors=[anchor])
    assert (report.ok, report.first_bad_seq) == (False, anchor.seq)
    assert f"ends at entry {anchor.seq - 1}" in report.reason and "removed" in report.reason


@pytest.mark.parametrize("keep", [0, 2])
def test_truncating_the_log_is_caught_by_a_checkpoint(conn: Connection, keep: int) -> None:
    small_tree(conn)
    _, anchor = signed(conn)
    cut_after(conn, keep)
    if keep == 0:
        conn.execute(text("DELETE FROM audit_head"))
    assert audit.verify(conn).ok
    report = audit.verify(conn, anchors=[anchor])
    assert (report.ok, report.first_bad_seq, report.entries) == (False, keep + 1, keep)


def test_a_rewrite_below_an_older_checkpoint_is_caught_and_placed_between_checkpoints(
    conn: Connection,
) -> None:
    small_tree(conn)
    _, old = signed(conn)
    make_unit(conn, "S3", parent="D1")
    make_unit(conn, "S4", parent="D1")
    _, new = signed(conn)
    conn.execute(text("UPDATE audit_log SET actor = 'nobody' WHERE seq = :s"), {"s": old.seq + 1})
    rehash_from(conn, old.seq + 1)
    report = audit.verify(conn, anchors=[old, new])
    assert (report.first_bad_seq, report.entries) == (new.seq, old.seq)  # entries up to `old` proven


def test_a_checkpoint_forged_by_another_key_or_edited_is_refused() -> None:
    mine = checkpoint.sign(KEY, seq=5, hash="a" * 64, at="2026-12-05T10:00:00Z")
    theirs = checkpoint.sign(Ed25519PrivateKey.generate(), seq=5, hash="b" * 64, at="2026-12-05T10:00:00Z")
    with pytest.raises(IntegrityError, match="signed by the key"):
        checkpoint.check_signature(theirs, KEY.public_key(), source="theirs.json")
    moved = replace(mine, seq=4)  # same key named, the signed bytes differ
    with pytest.raises(IntegrityError, match="does not verify"):
        checkpoint.check_signature(moved, KEY.public_key(), source="moved.json")
    bad_base64 = replace(mine, signature="!" * 88)
    with pytest.raises(IntegrityError, match="does not verify"):
        checkpoint.check_signature(bad_base64, KEY.public_key(), source="x.json")
    checkpoint.check_signature(mine, KEY.public_key(), source="mine.json")


def test_a_forged_checkpoint_of_a_rewritten_chain_cannot_stand_in_for_the_real_one(conn: Connection) -> None:
    small_tree(conn)
    real, _ = signed(conn)
    conn.execute(text("UPDATE audit_log SET note = 'hidden' WHERE seq = 1"))
    rehash_from(conn, 1)
    forged = audit.sign_head(conn, key=Ed25519PrivateKey.generate())  # the attacker's own key
    with pytest.raises(IntegrityError, match="signed by the key"):
        checkpoint.check_signature(forged, KEY.public_key(), source="forged.json")
    with pytest.raises(IntegrityError, match="does not verify"):  # the real key's name on the fake head
        checkpoint.check_signature(replace(forged, key=real.key), KEY.public_key(), source="forged.json")


def test_a_re_hashed_entry_whose_values_are_not_json_is_caught_without_a_key(conn: Connection) -> None:
    small_tree(conn)
    conn.execute(text("""UPDATE audit_log SET "before" = '{not json' WHERE seq = 3"""))
    rehash_from(conn, 3)
    report = audit.verify(conn)
    assert (report.ok, report.first_bad_seq, report.entries) == (False, 3, 2)
    assert "not JSON" in report.reason


def test_a_gap_and_a_broken_link_are_caught_without_a_key(conn: Connection) -> None:
    small_tree(conn)
    conn.execute(text("UPDATE audit_log SET seq = seq + 1 WHERE seq = 5"))
    conn.execute(text("UPDATE audit_head SET seq = 6 WHERE id = 1"))
    assert audit.verify(conn).reason == "entry 5 is missing"
    conn.execute(text("UPDATE audit_log SET seq = 5 WHERE seq = 6"))
    conn.execute(text("UPDATE audit_log SET prev_hash = :h WHERE seq = 5"), {"h": "0" * 64})
    assert audit.verify(conn).reason == "the link to the previous entry is broken"


def test_no_checkpoint_is_signed_for_a_broken_chain(conn: Connection) -> None:
    small_tree(conn)
    conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    with pytest.raises(IntegrityError, match="broken at entry 2") as caught:
        audit.sign_head(conn, key=KEY)
    text_ = checkpoint.text_of(caught.value)
    assert text_ is not None and "第 2 条" in text_.said_in("zh_CN") and "改动" in text_.said_in("zh_CN")


def test_a_checkpoint_survives_its_json_file(tmp_path: Path) -> None:
    made = checkpoint.sign(KEY, seq=7, hash="c" * 64, at="2026-12-05T10:00:00.123456Z")
    path = tmp_path / "cp.json"
    path.write_text(made.as_json(), encoding="utf-8")
    assert checkpoint.read_checkpoint(path) == made
    assert len(base64.b64decode(made.signature)) == 64
    assert made.key == checkpoint.fingerprint(KEY.public_key())


@pytest.mark.parametrize(("content", "says"), [
    (b"\xff\xfe not utf-8", "JSON object"),
    (b"[1, 2]", "JSON object"),
    (b"{}", "its fields are none"),
    (b" " * (70 * 1024), "64 KiB"),
])
def test_a_malformed_checkpoint_file_is_a_validation_error(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ValidationError, match=says):
        checkpoint.read_checkpoint(path)


@pytest.mark.parametrize(("field", "value", "says"), [
    ("seq", "5", "seq has the wrong type"),
    ("seq", True, "seq has the wrong type"),
    ("seq", -1, "seq is malformed"),
    ("hash", "A" * 64, "hash is malformed"),
    ("at", "yesterday", "at is malformed"),
    ("at", "٢٠٢٦-12-05T10:00:00Z", "at is malformed"),
    ("key", "md5:00", "key is malformed"),
    ("format", "jiaowei-audit-checkpoint/9", "this version reads"),
])
def test_a_checkpoint_with_a_bad_field_names_it(tmp_path: Path, field: str, value: object, says: str) -> None:
    document = json.loads(checkpoint.sign(KEY, seq=1, hash="d" * 64, at="2026-12-05T10:00:00Z").as_json())
    document[field] = value
    with pytest.raises(ValidationError, match=says):
        checkpoint.parse(document, source="cp.json")


def test_keys_are_written_once_owner_only_and_checked_when_read(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    public = checkpoint.generate_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = checkpoint.load_private_key(path).public_key()
    assert checkpoint.fingerprint(loaded) == checkpoint.fingerprint(public)
    with pytest.raises(Conflict, match="exists already"):
        checkpoint.generate_key(path)
    path.chmod(0o640)
    with pytest.raises(ConfigurationError, match="other users"):
        checkpoint.load_private_key(path)
    with pytest.raises(ConfigurationError, match="JIAOWEI_AUDIT_KEY_FILE"):
        checkpoint.load_private_key(None)
    with pytest.raises(ConfigurationError, match="does not exist"):
        checkpoint.load_private_key(tmp_path / "missing.key")
    pem = tmp_path / "public.pem"
    pem.write_text(checkpoint.public_pem(public), encoding="ascii")
    assert checkpoint.fingerprint(checkpoint.load_public_key(pem)) == checkpoint.fingerprint(public)
    with pytest.raises(ValidationError, match="Ed25519 public key"):
        checkpoint.load_public_key(path)  # a private key is not a public key file


def test_every_checkpoint_and_chain_message_has_a_chinese_translation() -> None:
    source = Path(checkpoint.__file__).resolve().parents[1]
    keywords = {"error": (2,), "_broken": (3,), "say": (1,)}
    files = [source / "audit" / "checkpoint.py", source / "audit" / "service.py", source / "cli" / "audit.py"]
    found = set()
    for path in files:
        with path.open("rb") as handle:
            found |= {message for _, message, _, _ in extract("python", handle, keywords=keywords)
                      if isinstance(message, str)}
    zh = catalog("zh_CN")
    assert len(found) >= 25 and sorted(m for m in found if not zh.get(m)) == []
