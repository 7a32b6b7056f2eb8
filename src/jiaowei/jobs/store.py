"""The jobs table: one row per job, its owner, where it stands and how it ended.

A running job's counts live in the memory of the process that runs it (``jobs/runner.py``); the
row holds its status and stage, and its outcome (counts and warnings) or failure (problems) once it
ends, as JSON whose messages keep their templates (``jobs/model.py``).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table

from jiaowei.db.base import JSONType, metadata

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),  # random: a job's address tells nothing of others
    Column("kind", String(40), nullable=False),  # units.import, data.import, plans.import, …
    Column("title", String(200), nullable=False),  # an N_() message, translated where shown
    Column("owner_id", Integer, nullable=False),  # the user who started it; only they see it
    Column("back", String(500), nullable=False),  # the page the job was started from
    Column("filename", String(300), nullable=False, default=""),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("status", String(16), nullable=False),  # queued | running | succeeded | failed
    Column("stage", String(60), nullable=False, default=""),
    Column("done", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("outcome", JSONType, nullable=True),  # succeeded: counts and warnings
    Column("failure", JSONType, nullable=True),  # failed: title, detail, problems
    Index("ix_jobs_owner_id_created_at", "owner_id", "created_at"),
    Index("ix_jobs_status", "status"),
)
