"""A units import killed with SIGKILL half way leaves the database exactly as it was."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, inspect, select, table, text

from tests.cli.test_cli import cli_env, create_pg_database, drop_pg_database, jiaowei
from tests.conftest import BACKENDS

ROWS = 20_000
SEED = "code,name_zh,name_en,type,parent,valid_from\nSH,教委,Commission,commission,,2000-01-01\n" + "".join(
    f"D{d},{d}区,District {d},district_bureau,SH,2000-01-01\n" for d in range(16))

WRITERS = text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND backend_xid IS NOT NULL")
BACKENDS_LEFT = text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db")


def big_file(path: Path) -> Path:
    lines = ["code,name_zh,name_en,type,parent,valid_from,attributes"]
    lines += [f'S{i:05d},学校{i},School {i},primary_school,D{i % 16},2010-09-01,"{{""n"": {i}}}"'
              for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def snapshot(url: str) -> dict[str, Any]:
    """Row counts of every table, and the audit head."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            names = inspect(conn).get_table_names()
            counts = {name: conn.scalar(select(func.count()).select_from(table(name))) for name in names}
            head = conn.execute(text("SELECT seq, hash FROM audit_head")).all()
            return {"counts": counts, "head": [tuple(r) for r in head]}
    finally:
        engine.dispose()


def kill_when(process: subprocess.Popen[bytes], writing: Callable[[], bool], timeout: float = 240) -> None:
    """SIGKILL the process once ``writing()`` says its transaction is writing."""
    deadline = time.monotonic() + timeout
    while not writing():
        assert process.poll() is None, "the import ended before it could be killed"
        assert time.monotonic() < deadline, "the import never started writing"
        time.sleep(0.02)
    time.sleep(0.2)
    assert process.poll() is None, "the import finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def start_import(env: dict[str, str], path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "jiaowei", "units", "import", str(path)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def seed(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "seed.csv").write_text(SEED, encoding="utf-8")
    jiaowei(env, "init")
    jiaowei(env, "units", "import", str(tmp_path / "seed.csv"))


@pytest.mark.slow
def test_killed_import_leaves_sqlite_unchanged(tmp_path):
    database = tmp_path / "kill.sqlite3"
    url = f"sqlite:///{database}"
    env = cli_env(tmp_path, url)
    seed(env, tmp_path)
    before = snapshot(url)
    wal = Path(f"{database}-wal")
    process = start_import(env, big_file(tmp_path / "big.csv"))
    kill_when(process, lambda: wal.exists() and wal.stat().st_size > 512 * 1024)
    assert snapshot(url) == before
    assert "17 entries, chain intact" in jiaowei(env, "audit", "verify").stdout


@pytest.mark.slow
@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not selected")
def test_killed_import_leaves_postgresql_unchanged(pg_cluster, tmp_path):
    name = "jiaowei_import_kill"
    url = create_pg_database(pg_cluster.url, name)
    try:
        env = cli_env(tmp_path, url)
        seed(env, tmp_path)
        before = snapshot(url)
        watcher = create_engine(pg_cluster.url, isolation_level="AUTOCOMMIT")
        with watcher.connect() as conn:
            process = start_import(env, big_file(tmp_path / "big.csv"))
            kill_when(process, lambda: bool(conn.scalar(WRITERS, {"db": name})))
            deadline = time.monotonic() + 60
            while conn.scalar(BACKENDS_LEFT, {"db": name}) and time.monotonic() < deadline:
                time.sleep(0.1)
        watcher.dispose()
        assert snapshot(url) == before
        assert "17 entries, chain intact" in jiaowei(env, "audit", "verify").stdout
    finally:
        drop_pg_database(pg_cluster.url, name)


