"""Jobs' rows: created by the request that starts a job, then moved on by the runner.

The runner (``jobs/runner.py``) owns the transactions these run in, as a request or a command
does elsewhere; nothing here commits.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import Connection, delete, insert, select, update

from jiaowei.auth.model import Principal
from jiaowei.errors import PermissionDenied
from jiaowei.jobs import files
from jiaowei.jobs.model import (
    Failure,
    Outcome,
    Progress,
    Status,
    failure_to_json,
    outcome_to_json,
)
from jiaowei.jobs.store import jobs

KEEP_DAYS = 30
"""A job's row (its outcome, its problems) is kept this long after it ended."""
INTERRUPTED = Failure(
    "Error", 500,
    "The server stopped before this job ended; nothing was written. Start the import again.")


def create_job(conn: Connection, *, principal: Principal, kind: str, title: str, back: str, filename: str,
               dry_run: bool, now: dt.datetime) -> str:
    """A queued job owned by ``principal``; returns its id."""
    if principal.user_id is None:
        raise PermissionDenied("Only a user can start a job.")
    job_id = secrets.token_hex(12)
    conn.execute(insert(jobs).values(
        id=job_id, kind=kind, title=title, owner_id=principal.user_id, back=back, filename=filename[:300],
        dry_run=dry_run, status=Status.QUEUED.value, stage="waiting", done=0, total=0, created_at=now))
    return job_id


def mark_running(conn: Connection, *, job_id: str, now: dt.datetime) -> None:
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(
        status=Status.RUNNING.value, stage="reading the file", started_at=now))


def mark_succeeded(conn: Connection, *, job_id: str, outcome: Outcome, progress: Progress,
                   now: dt.datetime) -> None:
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(
        status=Status.SUCCEEDED.value, stage="done", done=progress.done, total=progress.total,
        finished_at=now, outcome=outcome_to_json(outcome)))


def mark_failed(conn: Connection, *, job_id: str, failure: Failure, progress: Progress,
                now: dt.datetime) -> None:
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(
        status=Status.FAILED.value, stage=progress.stage[:60], done=progress.done, total=progress.total,
        finished_at=now, failure=failure_to_json(failure)))


def mark_interrupted(conn: Connection, *, now: dt.datetime) -> int:
    """Fail every job still queued or running: the process that ran it stopped (a restart)."""
    result = conn.execute(update(jobs).where(jobs.c.status.in_([Status.QUEUED.value, Status.RUNNING.value]))
                          .values(status=Status.FAILED.value, finished_at=now,
                                  failure=failure_to_json(INTERRUPTED)))
    return int(result.rowcount or 0)


def forget_old(conn: Connection, *, now: dt.datetime) -> int:
    """Delete the jobs that ended more than :data:`KEEP_DAYS` days ago, and the files they produced
    (the imports' own records stay)."""
    old = jobs.c.finished_at < now - dt.timedelta(days=KEEP_DAYS)
    files.forget(list(conn.execute(select(jobs.c.id).where(old)).scalars()))
    result = conn.execute(delete(jobs).where(old))
    return int(result.rowcount or 0)
