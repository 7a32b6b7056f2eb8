"""The ``jiaowei`` command, run as a subprocess the way operators run it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from jiaowei.settings import Settings
from jiaowei.web.app import create_app
from tests.conftest import BACKENDS

UNITS = """code,name_zh,name_en,type,parent,valid_from
S1,学校一,School 1,primary_school,D1,2001-09-01
D1,一区,District 1,district_bureau,SH,2000-01-01
SH,教委,Commission,commission,,2000-01-01
"""
MORE = "code,name_zh,name_en,type,parent,valid_from\nS2,学校二,School 2,primary_school,D1,2002-09-01\n"
BAD = "code,name_zh,name_en,type,parent\nS3,学校三,School 3,castle,D1\n"


def jiaowei(env: dict[str, str], *args: str, stdin: str = "", expect: int | None = 0,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m jiaowei ARGS``; checks the exit code unless ``expect`` is None."""
    result = subprocess.run([sys.executable, "-m", "jiaowei", *args], input=stdin, env=env, cwd=cwd,
                            capture_output=True, text=True, timeout=300)
    if expect is not None:
        assert result.returncode == expect, f"{args}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def cli_env(home: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIAOWEI_")}
    env.update(JIAOWEI_HOME=str(home), JIAOWEI_DATABASE_URL=url, COLUMNS="200")
    return env


def create_pg_database(cluster_url: str, name: str) -> str:
    """A new, empty database on the test cluster; returns its URL."""
    url = make_url(cluster_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database,
                         autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def drop_pg_database(cluster_url: str, name: str) -> None:
    url = make_url(cluster_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database,
                         autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def unit_codes(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(text("SELECT code FROM units ORDER BY code")))
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = cli_env(tmp_path / "home", f"sqlite:///{tmp_path / 'home' / 'cli.sqlite3'}")
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    (tmp_path / "more.csv").write_text(MORE, encoding="utf-8")
    (tmp_path / "bad.csv").write_text(BAD, encoding="utf-8")
    jiaowei(env, "init", cwd=tmp_path)
    yield env


def db_file(env: dict[str, str]) -> str:
    return env["JIAOWEI_DATABASE_URL"].removeprefix("sqlite:///")


def test_help_lists_every_command():
    result = jiaowei(os.environ.copy(), "--help")
    for command in ("init", "demo", "serve", "user", "token", "units", "audit", "backup", "restore"):
        assert command in result.stdout


def test_init_reports_the_revision(sqlite_env):
    assert "revision" in jiaowei(sqlite_env, "init").stdout


def test_user_and_token_work_against_the_api(sqlite_env, tmp_path):
    jiaowei(sqlite_env, "units", "import", str(tmp_path / "units.csv"))
    jiaowei(sqlite_env, "user", "create", "--username", "ops", "--role", "district_staff",
            "--scope", "D1", "--password-stdin", stdin="a long password\n")
    created = jiaowei(sqlite_env, "token", "create", "--user", "ops", "--label", "ci")
    token = created.stdout.strip().splitlines()[-1]
    settings = Settings(home=tmp_path, database_url=sqlite_env["JIAOWEI_DATABASE_URL"],
                        secret_key="test-secret-" + "x" * 32)
    app = create_app(settings)
    with TestClient(app) as client:
        response = client.get("/api/units", headers={"Authorization": f"Bearer {token}"})
    app.state.db.engine.dispose()
    assert response.status_code == 200, response.text
    assert [u["code"] for u in response.json()["items"]] == ["D1", "S1"]


def test_user_create_without_a_password_source_fails_clearly(sqlite_env):
    result = jiaowei(sqlite_env, "user", "create", "--username", "x1", "--role", "viewer", expect=2)
    assert "--password-stdin" in result.stderr
    result = jiaowei(sqlite_env, "user", "create", "--username", "x1", "--role", "king",
                     "--password-stdin", stdin="a long password\n", expect=2)
    assert "unknown role" in result.stderr and "king" in result.stderr


def test_user_create_refuses_a_weak_password_without_echoing_it(sqlite_env):
    for weak in ("short1!", "password123", "x1-is-me-x1", "            "):
        result = jiaowei(sqlite_env, "user", "create", "--username", "x1", "--role", "viewer",
                         "--password-stdin", stdin=weak + "\n", expect=2)
        assert "password" in result.stderr and "at least 10 characters" in result.stderr
        assert not weak.strip() or weak not in result.stderr


def test_units_import_good_bad_and_dry_run(sqlite_env, tmp_path):
    dry = jiaowei(sqlite_env, "units", "import", str(tmp_path / "units.csv"), "--dry-run")
    assert "created 3" in dry.stdout and unit_codes(sqlite_env["JIAOWEI_DATABASE_URL"]) == []
    assert "created 3" in jiaowei(sqlite_env, "units", "import", str(tmp_path / "units.csv")).stdout
    bad = jiaowei(sqlite_env, "units", "import", str(tmp_path / "bad.csv"), expect=2)
    assert "castle" in bad.stderr and "type" in bad.stderr and "primary_school" in bad.stderr
    assert " 2 " in bad.stderr  # the row number, header = row 1
    assert unit_codes(sqlite_env["JIAOWEI_DATABASE_URL"]) == ["D1", "S1", "SH"]
    missing = jiaowei(sqlite_env, "units", "import", str(tmp_path / "nope.csv"), expect=3)
    assert "nope.csv" in missing.stderr


def test_units_export_csv_and_xlsx_reimport_unchanged(sqlite_env, tmp_path):
    jiaowei(sqlite_env, "units", "import", str(tmp_path / "units.csv"))
    for fmt in ("csv", "xlsx"):
        target = tmp_path / f"export.{fmt}"
        jiaowei(sqlite_env, "units", "export", "--format", fmt, "--out", str(target), "--as-of", "2020-01-01")
        assert target.stat().st_size > 0
        again = jiaowei(sqlite_env, "units", "import", str(target))
        assert "3 unchanged" in again.stdout and "created 0" in again.stdout
    lines = (tmp_path / "export.csv").read_text(encoding="utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["SH", "D1", "S1"]
    jiaowei(sqlite_env, "units", "export", "--out", str(tmp_path / "x.csv"), "--as-of", "2020-99", expect=2)


def test_audit_verify_detects_an_edited_and_a_deleted_entry(sqlite_env, tmp_path):
    jiaowei(sqlite_env, "units", "import", str(tmp_path / "units.csv"))
    assert "3 entries, chain intact" in jiaowei(sqlite_env, "audit", "verify").stdout
    with sqlite3.connect(db_file(sqlite_env)) as db:
        db.execute("""UPDATE audit_log SET "after" = '{"name_zh": "forged"}' WHERE seq = 2""")
    edited = jiaowei(sqlite_env, "audit", "verify", expect=9)
    assert "entry 2" in edited.stderr
    with sqlite3.connect(db_file(sqlite_env)) as db:
        db.execute("DELETE FROM audit_log WHERE seq = 2")
    deleted = jiaowei(sqlite_env, "audit", "verify", expect=9)
    assert "entry 2" in deleted.stderr and "missing" in deleted.stderr


def test_sqlite_backup_and_restore(sqlite_env, tmp_path):
    jiaowei(sqlite_env, "units", "import", str(tmp_path / "units.csv"))
    backup = tmp_path / "backups" / "b.sqlite3"
    jiaowei(sqlite_env, "backup", "--out", str(backup))
    jiaowei(sqlite_env, "units", "import", str(tmp_path / "more.csv"))
    assert unit_codes(sqlite_env["JIAOWEI_DATABASE_URL"]) == ["D1", "S1", "S2", "SH"]
    refused = jiaowei(sqlite_env, "restore", str(backup), expect=2)
    assert "--yes" in refused.stderr
    jiaowei(sqlite_env, "restore", str(backup), "--yes")
    assert unit_codes(sqlite_env["JIAOWEI_DATABASE_URL"]) == ["D1", "S1", "SH"]
    assert "4 entries, chain intact" in jiaowei(sqlite_env, "audit", "verify").stdout  # 3 + the restore
    jiaowei(sqlite_env, "restore", str(tmp_path / "units.csv"), "--yes", expect=2)


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not selected")
def test_postgresql_backup_and_restore(pg_cluster, tmp_path):
    name = "jiaowei_cli_backup"
    url = create_pg_database(pg_cluster.url, name)
    try:
        env = cli_env(tmp_path / "home", url)
        (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
        (tmp_path / "more.csv").write_text(MORE, encoding="utf-8")
        jiaowei(env, "init")
        jiaowei(env, "units", "import", str(tmp_path / "units.csv"))
        jiaowei(env, "backup", "--out", str(tmp_path / "b.dump"))
        assert (tmp_path / "b.dump").read_bytes().startswith(b"\x1f\x8b")  # a gzip archive
        jiaowei(env, "units", "import", str(tmp_path / "more.csv"))
        assert unit_codes(url) == ["D1", "S1", "S2", "SH"]
        jiaowei(env, "restore", str(tmp_path / "b.dump"), "--yes")
        assert unit_codes(url) == ["D1", "S1", "SH"]
        assert vacuumed_and_analysed(url, "units")  # the restore ran VACUUM (ANALYZE) itself
        assert "4 entries, chain intact" in jiaowei(env, "audit", "verify").stdout  # 3 + the restore
    finally:
        drop_pg_database(pg_cluster.url, name)


def vacuumed_and_analysed(url: str, table: str) -> bool:
    """Whether a VACUUM and an ANALYZE were run on the table by hand (autovacuum sets other columns).
    Not its all-visible pages: VACUUM cannot mark them while another test's transaction is open."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(text(
                "SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE relname = :t"), {"t": table}))
    finally:
        engine.dispose()


