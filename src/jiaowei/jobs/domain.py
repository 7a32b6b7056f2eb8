"""Background jobs as a domain: the jobs table, the job page and the JSON route its page polls."""

from __future__ import annotations

from pathlib import Path

from jiaowei.domains import Domain

DOMAIN = Domain(
    name="jobs",
    api=("jiaowei.jobs.api",),
    pages=("jiaowei.jobs.pages",),
    templates=Path(__file__).parent / "templates",
    tables="jiaowei.jobs.store",
)
