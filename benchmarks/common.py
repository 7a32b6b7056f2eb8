"""What the benchmarks share: the demo built in a fresh home, an API token of its administrator, p95."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM
from jiaowei.db.engine import Database, make_engine


def build_demo(home: Path, url: str = "", **environment: str) -> None:
    """``jiaowei demo`` into ``home`` (SQLite there, or the database at ``url``), with ``environment``."""
    env = {**os.environ, "JIAOWEI_HOME": str(home), **environment}
    env.pop("JIAOWEI_DATABASE_URL", None)
    if url:
        env["JIAOWEI_DATABASE_URL"] = url
    subprocess.run([sys.executable, "-m", "jiaowei", "demo"], env=env, check=True, stdout=subprocess.DEVNULL)


def admin_token(database_url: str, label: str) -> str:
    """A new API token of the demo's administrator."""
    db = Database(make_engine(database_url))
    with db.transaction(write=True) as conn:
        made = auth.create_token(conn, principal=SYSTEM, username="admin", label=label)
    db.engine.dispose()
    return made


def p95(times: Sequence[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
