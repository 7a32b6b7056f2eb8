"""``jiaowei backup`` writes one archive (database, kept files, manifest) and ``jiaowei restore`` checks it
first, on both databases, run as operators run them."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from jiaowei.db.migrate import head_revision
from tests.cli.test_cli import MORE, UNITS, cli_env, create_pg_database, drop_pg_database, jiaowei, unit_codes
from tests.conftest import BACKENDS

KEPT = {"lottery/C2020/case/applicants.csv": b"number,choice\n1,P1\n",
        "lottery/C2020/lottery/results.csv": "applicant,school\nA1,民办一校\n".encode(),
        "evidence/ab/ab12": b"%PDF-1.4 evidence",
        "jobs/0123abcd/report.pdf": b"%PDF-1.4 report"}
NEVER = ("jobs/0123abcd/.writing-x1", "backups/old.tar.gz")


def read_archive(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def rewrite(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def files_under(home: Path) -> dict[str, bytes]:
    return {p.relative_to(home).as_posix(): p.read_bytes() for p in sorted(home.rglob("*"))
            if p.is_file() and not p.name.startswith("cli.sqlite3")}


def audit_rows(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                "SELECT action, entity_key FROM audit_log ORDER BY seq"))]
    finally:
        engine.dispose()


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[dict[str, str]]:
    home = tmp_path / "home"
    env = cli_env(home, f"sqlite:///{home / 'cli.sqlite3'}")
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    (tmp_path / "more.csv").write_text(MORE, encoding="utf-8")
    jiaowei(env, "init")
    yield env


def keep_files(home: Path) -> None:
    for name, data in {**KEPT, **{n: b"not kept" for n in NEVER}}.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_bytes(data)


def test_one_archive_holds_the_database_every_kept_file_and_a_manifest(installation, tmp_path):
    home = tmp_path / "home"
    jiaowei(installation, "units", "import", str(tmp_path / "units.csv"))
    keep_files(home)
    out = tmp_path / "backups" / "b.tar.gz"
    made = jiaowei(installation, "backup", "--out", str(out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    members = read_archive(out)
    manifest = json.loads(members["manifest.json"])
    assert manifest["format"] == "jiaowei-backup/1" and manifest["schema_revision"] == head_revision()
    assert manifest["jiaowei_version"] and manifest["created"] and manifest["database"] == "sqlite"
    listed = {m["path"]: m for m in manifest["members"]}
    assert set(listed) == {"database/jiaowei.sqlite3", *(f"home/{n}" for n in KEPT)} == set(members) - {
        "manifest.json"}
    for name, member in listed.items():
        assert member["size"] == len(members[name])
        assert member["sha256"] == hashlib.sha256(members[name]).hexdigest()
    assert members["database/jiaowei.sqlite3"].startswith(b"SQLite format 3\x00")
    assert hashlib.sha256(members["manifest.json"]).hexdigest() in made.stdout


def test_restore_puts_back_the_database_and_the_files_and_is_audited(installation, tmp_path):
    home, url = tmp_path / "home", installation["JIAOWEI_DATABASE_URL"]
    jiaowei(installation, "units", "import", str(tmp_path / "units.csv"))
    keep_files(home)
    out = tmp_path / "b.tar.gz"
    jiaowei(installation, "backup", "--out", str(out))
    digest = hashlib.sha256(read_archive(out)["manifest.json"]).hexdigest()
    before = files_under(home)
    jiaowei(installation, "units", "import", str(tmp_path / "more.csv"))
    (home / "lottery/C2020/lottery/results.csv").write_bytes(b"changed")
    (home / "lottery/C2021/case").mkdir(parents=True)
    (home / "lottery/C2021/case/applicants.csv").write_bytes(b"made after the backup")
    done = jiaowei(installation, "restore", str(out), "--yes")
    assert "4 files" in done.stdout and digest in done.stdout
    assert unit_codes(url) == ["D1", "S1", "SH"]
    del before["jobs/0123abcd/.writing-x1"]  # a file being written is no part of a backup; backups/ stays
    assert files_under(home) == before
    assert audit_rows(url)[-1] == ("backup.restore", digest)
    assert "4 entries, chain intact" in jiaowei(installation, "audit", "verify").stdout
    assert not [p for p in home.iterdir() if p.name.startswith(".jiaowei-")]  # no staging left


@pytest.mark.parametrize("damage", ["changed", "missing", "extra", "no manifest"])
def test_a_damaged_archive_is_refused_by_member_before_anything_is_touched(installation, tmp_path, damage):
    home, url = tmp_path / "home", installation["JIAOWEI_DATABASE_URL"]
    jiaowei(installation, "units", "import", str(tmp_path / "units.csv"))
    keep_files(home)
    out = tmp_path / "b.tar.gz"
    jiaowei(installation, "backup", "--out", str(out))
    members = read_archive(out)
    target = "home/lottery/C2020/lottery/results.csv"
    if damage == "changed":
        members[target] = members[target].replace(b"A1", b"A2")
    elif damage == "missing":
        del members[target]
    elif damage == "extra":
        members["home/lottery/C2020/lottery/forged.csv"] = b"x"
    else:
        del members["manifest.json"]
    rewrite(out, members)
    jiaowei(installation, "units", "import", str(tmp_path / "more.csv"))
    now = files_under(home)
    refused = jiaowei(installation, "restore", str(out), "--yes", expect=9)
    expected = {"changed": target, "missing": target, "extra": "forged.csv", "no manifest": "manifest.json"}
    assert expected[damage] in refused.stderr and "nothing was restored" in refused.stderr
    assert unit_codes(url) == ["D1", "S1", "S2", "SH"] and files_under(home) == now


def test_an_older_database_only_backup_still_restores(installation, tmp_path):
    url = installation["JIAOWEI_DATABASE_URL"]
    jiaowei(installation, "units", "import", str(tmp_path / "units.csv"))
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(url.removeprefix("sqlite:///")) as source, sqlite3.connect(old) as target:
        source.backup(target)  # what `jiaowei backup` wrote before archives
    jiaowei(installation, "units", "import", str(tmp_path / "more.csv"))
    done = jiaowei(installation, "restore", str(old), "--yes")
    assert "older backup of the database only" in done.stdout
    assert unit_codes(url) == ["D1", "S1", "SH"]
    assert audit_rows(url)[-1] == ("backup.restore", hashlib.sha256(old.read_bytes()).hexdigest())


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not selected")
def test_postgresql_archive_round_trip_and_a_sqlite_archive_is_refused(pg_cluster, installation, tmp_path):
    name = "jiaowei_cli_archive"
    url = create_pg_database(pg_cluster.url, name)
    try:
        home = tmp_path / "pg-home"
        env = cli_env(home, url)
        jiaowei(env, "init")
        jiaowei(env, "units", "import", str(tmp_path / "units.csv"))
        keep_files(home)
        out = tmp_path / "pg.tar.gz"
        jiaowei(env, "backup", "--out", str(out))
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        members = read_archive(out)
        assert members["database/jiaowei.dump"].startswith(b"PGDMP")
        assert json.loads(members["manifest.json"])["database"] == "postgresql"
        before = files_under(home)
        jiaowei(env, "units", "import", str(tmp_path / "more.csv"))
        (home / "evidence/ab/ab12").write_bytes(b"changed")
        jiaowei(env, "restore", str(out), "--yes")
        del before["jobs/0123abcd/.writing-x1"]
        assert unit_codes(url) == ["D1", "S1", "SH"] and files_under(home) == before
        digest = hashlib.sha256(members["manifest.json"]).hexdigest()
        assert audit_rows(url)[-1] == ("backup.restore", digest)
        assert "4 entries, chain intact" in jiaowei(env, "audit", "verify").stdout
        sqlite_archive = tmp_path / "sqlite.tar.gz"
        jiaowei(installation, "backup", "--out", str(sqlite_archive))
        refused = jiaowei(env, "restore", str(sqlite_archive), "--yes", expect=2)
        assert "not a backup for this database" in refused.stderr
        assert unit_codes(url) == ["D1", "S1", "SH"] and files_under(home) == before
    finally:
        drop_pg_database(pg_cluster.url, name)
