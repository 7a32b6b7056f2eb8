"""Backup, restore and reset of the whole database (``archive.py`` puts the dump in a backup archive).

SQLite uses the online backup API (safe while the server runs) in both directions.
PostgreSQL uses ``pg_dump -Fc`` and ``pg_restore --clean --if-exists`` in one
transaction, then ``VACUUM (ANALYZE)`` (:func:`vacuum_analyze`); the binaries come from PATH or
``/usr/lib/postgresql/*/bin`` (newest first).
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import URL, Engine, make_url

from jiaowei.errors import ConfigurationError, JiaoweiError, NotFound, Problem, ValidationError

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupFailed(JiaoweiError):
    code = "backup-failed"
    title = "Backup or restore failed"
    status = 500
    exit_code = 1


def backup(url: str, out: Path) -> Path:
    """Write a copy of the database at ``url`` to ``out``."""
    parsed = make_url(url)
    out.parent.mkdir(parents=True, exist_ok=True)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_copy(_sqlite_file(parsed, must_exist=True), out)
    else:
        _run(parsed, "pg_dump", "--format=custom", "--no-owner", f"--file={out}")
    return out


def expect_database(url: str) -> None:
    """Refuse early when the SQLite file to back up does not exist (connecting would create it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_file(parsed, must_exist=True)


def restore(url: str, source: Path) -> None:
    """Replace the database at ``url`` with the backup ``source``."""
    parsed = make_url(url)
    if not source.is_file():
        raise NotFound(f"No backup file {str(source)!r}.")
    head = source.read_bytes()[:16]
    if parsed.get_backend_name() == "sqlite":
        _expect(head, SQLITE_MAGIC, source, "a SQLite backup made by jiaowei backup")
        _sqlite_copy(source, _sqlite_file(parsed, must_exist=False))
    else:
        _expect(head, PGDUMP_MAGIC, source, "a pg_dump custom-format file made by jiaowei backup")
        _run(parsed, "pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
             f"--dbname={parsed.database}", str(source))
        engine = create_engine(parsed)
        try:
            vacuum_analyze(engine)
        finally:
            engine.dispose()


def vacuum_analyze(engine: Engine) -> None:
    """``VACUUM (ANALYZE)`` the PostgreSQL database, after a restore or a bulk load; SQLite: nothing.

    Both leave PostgreSQL without what its plans need: pg_restore writes no planner statistics, and
    rows loaded in bulk count as visible to every transaction only once VACUUM has seen them, so
    until autovacuum comes by, a count or a look-up reads each row's table page and not the index
    alone (no index-only scan). VACUUM cannot run inside a transaction: the connection autocommits.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM (ANALYZE)")


def reset(engine: Engine) -> None:
    """Remove everything: the SQLite file, or every table of the PostgreSQL database."""
    parsed = engine.url
    engine.dispose()
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed, must_exist=False)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    with engine.begin() as conn:
        tables = MetaData()
        tables.reflect(conn)
        tables.drop_all(conn)


def _expect(head: bytes, magic: bytes, source: Path, expected: str) -> None:
    if not head.startswith(magic):
        raise ValidationError(f"{source} is not a backup for this database.", [
            Problem("not a backup file of this kind", field="file", value=str(source), expected=expected)])


def _sqlite_file(url: URL, *, must_exist: bool) -> Path:
    if not url.database or url.database == ":memory:":
        raise ConfigurationError("An in-memory SQLite database cannot be backed up or restored.")
    path = Path(url.database)
    if must_exist and not path.is_file():
        raise NotFound(f"No database file {str(path)!r}; run `jiaowei init` first.")
    return path


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy page by page with SQLite's backup API (readers and writers may be running)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target, timeout=30)) as dst:
        src.backup(dst)


def pg_binary(name: str) -> str:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit()
                        else 0, reverse=True)
    found = candidates[0] if candidates else shutil.which(name)
    if not found:
        raise ConfigurationError(f"{name} was not found on PATH or under /usr/lib/postgresql/*/bin; "
                                 "install the PostgreSQL client (Debian: postgresql-client).")
    return found


def _libpq_env(url: URL) -> dict[str, str]:
    """Connection settings for the PostgreSQL tools, password included, kept off the command line."""
    env = dict(os.environ)
    values = {"PGHOST": url.host or url.query.get("host"), "PGPORT": url.port, "PGUSER": url.username,
              "PGPASSWORD": url.password, "PGDATABASE": url.database}
    env.update({k: str(v) for k, v in values.items() if v})
    return env


def _run(url: URL, tool: str, *args: str) -> None:
    command = [pg_binary(tool), *args]
    result = subprocess.run(command, env=_libpq_env(url), capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupFailed(f"{tool} failed (exit {result.returncode}): {result.stderr.strip()}")
