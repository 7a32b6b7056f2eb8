"""``jiaowei audit keygen | checkpoint | verify --checkpoint`` as operators run them, on both databases.

The tamperings are direct SQL on the command's own database. Each is shown passing ``jiaowei audit
verify`` without a checkpoint first, then failing with exit code 9 given one signed before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from jiaowei.errors import ConfigurationError, Conflict, IntegrityError, ValidationError
from tests.audit.tampering import cut_after, rehash_from
from tests.cli.test_cli import MORE, UNITS, cli_env, create_pg_database, drop_pg_database, jiaowei
from tests.conftest import BACKENDS


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh database with three units (three entries), and a key file path that is not there yet."""
    name = "jiaowei_cli_checkpoint"
    if request.param == "postgresql":
        cluster = request.getfixturevalue("pg_cluster").url
        url = create_pg_database(cluster, name)
    else:
        url = f"sqlite:///{tmp_path / 'home' / 'cli.sqlite3'}"
    environment = cli_env(tmp_path / "home", url)
    for variable in ("LC_ALL", "LC_MESSAGES"):
        environment.pop(variable, None)
    environment.update(LANG="C.UTF-8", JIAOWEI_AUDIT_KEY_FILE=str(tmp_path / "audit.key"))
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    (tmp_path / "more.csv").write_text(MORE, encoding="utf-8")
    jiaowei(environment, "init")
    jiaowei(environment, "units", "import", str(tmp_path / "units.csv"))
    yield environment
    if request.param == "postgresql":
        drop_pg_database(cluster, name)


def sql(env: dict[str, str], *statements: str) -> None:
    engine = create_engine(env["JIAOWEI_DATABASE_URL"])
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def tamper(env: dict[str, str], change: str, *args: int) -> None:
    engine = create_engine(env["JIAOWEI_DATABASE_URL"])
    try:
        with engine.begin() as conn:
            {"rehash": rehash_from, "cut": cut_after}[change](conn, *args)
    finally:
        engine.dispose()


def test_keygen_checkpoint_and_verify(env: dict[str, str], tmp_path: Path) -> None:
    no_key = jiaowei(env, "audit", "checkpoint", expect=ConfigurationError.exit_code)
    assert "jiaowei audit keygen" in no_key.stderr
    made = jiaowei(env, "audit", "keygen")
    assert made.stdout.startswith("-----BEGIN PUBLIC KEY-----") and "sha256:" in made.stderr
    key = Path(env["JIAOWEI_AUDIT_KEY_FILE"])
    assert key.stat().st_mode & 0o777 == 0o600
    before = key.read_bytes()
    assert "never overwritten" in jiaowei(env, "audit", "keygen", expect=Conflict.exit_code).stderr
    assert key.read_bytes() == before
    (tmp_path / "public.pem").write_text(made.stdout, encoding="ascii")

    first = tmp_path / "first.json"
    assert "entry 3" in jiaowei(env, "audit", "checkpoint", "--out", str(first)).stderr
    assert json.loads(first.read_text(encoding="utf-8"))["seq"] == 3
    jiaowei(env, "audit", "checkpoint", "--out", str(first), expect=Conflict.exit_code)
    jiaowei(env, "units", "import", str(tmp_path / "more.csv"))
    printed = jiaowei(env, "audit", "checkpoint").stdout
    assert json.loads(printed)["seq"] == 4
    (tmp_path / "second.json").write_text(printed, encoding="utf-8")

    held = jiaowei(env, "audit", "verify", "--checkpoint", str(first),
                   "--checkpoint", str(tmp_path / "second.json"))
    assert "4 entries, chain intact" in held.stdout and "first.json, second.json" in held.stdout
    without_private_key = {**env, "JIAOWEI_AUDIT_KEY_FILE": str(tmp_path / "elsewhere.key")}
    jiaowei(without_private_key, "audit", "verify", "--checkpoint", str(first),
            "--public-key", str(tmp_path / "public.pem"))


def test_a_deleted_last_entry_with_the_head_moved_back_is_caught(
    env: dict[str, str], tmp_path: Path
) -> None:
    jiaowei(env, "audit", "keygen")
    jiaowei(env, "units", "import", str(tmp_path / "more.csv"))
    jiaowei(env, "audit", "checkpoint", "--out", str(tmp_path / "cp.json"))
    # undo the opening of S2 everywhere: its rows, its audit entry (the last), the head
    unit = "(SELECT id FROM units WHERE code = 'S2')"
    sql(env, *(f"DELETE FROM {table} WHERE unit_id = {unit}" for table in ("unit_paths", "unit_events",
                                                                           "unit_versions")),
        "DELETE FROM units WHERE code = 'S2'")
    tamper(env, "cut", 3)
    assert "3 entries, chain intact" in jiaowei(env, "audit", "verify").stdout
    caught = jiaowei(env, "audit", "verify", "--checkpoint", str(tmp_path / "cp.json"),
                     expect=IntegrityError.exit_code)
    assert "ends at entry 3" in caught.stderr and "entry 4" in caught.stderr and "removed" in caught.stderr


def test_an_edited_and_re_hashed_chain_and_a_truncated_one_are_caught(
    env: dict[str, str], tmp_path: Path
) -> None:
    jiaowei(env, "audit", "keygen")
    jiaowei(env, "audit", "checkpoint", "--out", str(tmp_path / "cp.json"))
    sql(env, "UPDATE audit_log SET actor = 'nobody', note = 'rewritten' WHERE seq = 2")
    tamper(env, "rehash", 2)
    assert "3 entries, chain intact" in jiaowei(env, "audit", "verify").stdout
    rewritten = jiaowei(env, "audit", "verify", "--checkpoint", str(tmp_path / "cp.json"),
                        expect=IntegrityError.exit_code)
    assert "entry 3" in rewritten.stderr and "rewritten" in rewritten.stderr
    sql(env, "DELETE FROM audit_log", "DELETE FROM audit_head")  # the whole log, gone
    truncated = jiaowei(env, "audit", "verify", "--checkpoint", str(tmp_path / "cp.json"),
                        expect=IntegrityError.exit_code)
    assert "ends at entry 0" in truncated.stderr


def test_forged_checkpoints_wrong_keys_and_malformed_files_are_refused(
    env: dict[str, str], tmp_path: Path
) -> None:
    real = jiaowei(env, "audit", "keygen").stdout
    (tmp_path / "real.pem").write_text(real, encoding="ascii")
    cp = tmp_path / "cp.json"
    jiaowei(env, "audit", "checkpoint", "--out", str(cp))
    other = {**env, "JIAOWEI_AUDIT_KEY_FILE": str(tmp_path / "other.key")}
    (tmp_path / "other.pem").write_text(jiaowei(other, "audit", "keygen").stdout, encoding="ascii")
    jiaowei(other, "audit", "checkpoint", "--out", str(tmp_path / "theirs.json"))

    def verify(*args: str, expect: int, language: str = "C.UTF-8") -> str:
        return jiaowei({**env, "LANG": language}, "audit", "verify", *args, expect=expect).stderr

    assert "signed by the key" in verify("--checkpoint", str(tmp_path / "theirs.json"),
                                         expect=IntegrityError.exit_code)
    assert "signed by the key" in verify("--checkpoint", str(cp), "--public-key",
                                         str(tmp_path / "other.pem"), expect=IntegrityError.exit_code)
    document = json.loads(cp.read_text(encoding="utf-8"))
    (tmp_path / "moved.json").write_text(json.dumps({**document, "seq": 2}), encoding="utf-8")
    assert "does not verify" in verify("--checkpoint", str(tmp_path / "moved.json"),
                                       expect=IntegrityError.exit_code)
    assert "签名验证失败" in verify("--checkpoint", str(tmp_path / "moved.json"), language="zh_CN.UTF-8",
                                  expect=IntegrityError.exit_code)
    assert "not a checkpoint" in verify("--checkpoint", str(tmp_path / "units.csv"),
                                        expect=ValidationError.exit_code)
    assert "Ed25519 public key" in verify("--checkpoint", str(cp), "--public-key",
                                          str(tmp_path / "units.csv"), expect=ValidationError.exit_code)
    assert "Cannot read" in verify("--checkpoint", str(tmp_path / "missing.json"),
                                   expect=ValidationError.exit_code)
    (tmp_path / "other.key").chmod(0o644)
    shared = jiaowei(other, "audit", "checkpoint", expect=ConfigurationError.exit_code).stderr
    assert "chmod 600" in shared
