"""Reading jobs: a job is its owner's alone; to anyone else it does not exist (404)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from jiaowei.auth.model import Principal
from jiaowei.errors import M_, NotFound
from jiaowei.jobs.model import Job, Progress, Status, failure_from_json, outcome_from_json
from jiaowei.jobs.store import jobs


def get_job(conn: Connection, *, principal: Principal, job_id: str) -> Job:
    """The job ``job_id`` if ``principal`` started it; NotFound otherwise (even for an administrator)."""
    row = conn.execute(select(jobs).where(jobs.c.id == job_id[:32])).first()
    if row is None or principal.user_id is None or row.owner_id != principal.user_id:
        raise NotFound(M_("No job {id}.", id=job_id))
    return _job(row)


def recent_jobs(conn: Connection, *, principal: Principal, limit: int = 20) -> list[Job]:
    """The principal's latest jobs, newest first."""
    if principal.user_id is None:
        return []
    rows = conn.execute(select(jobs).where(jobs.c.owner_id == principal.user_id)
                        .order_by(jobs.c.created_at.desc(), jobs.c.id).limit(limit)).all()
    return [_job(row) for row in rows]


def _job(row: Any) -> Job:
    return Job(
        id=row.id, kind=row.kind, title=row.title, owner_id=row.owner_id, back=row.back,
        filename=row.filename, dry_run=bool(row.dry_run), status=Status(row.status),
        progress=Progress(row.stage, row.done, row.total),
        created_at=row.created_at, started_at=row.started_at, finished_at=row.finished_at,
        outcome=outcome_from_json(row.outcome) if row.outcome else None,
        failure=failure_from_json(row.failure) if row.failure else None,
    )
