"""``GET /api/jobs/{id}``: where a job stands, which its page polls; only its owner may read it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from jiaowei.errors import Problem
from jiaowei.i18n import translate
from jiaowei.jobs import queries
from jiaowei.jobs.model import Job
from jiaowei.jobs.runner import runner_for
from jiaowei.jobs.texts import percent, progress_line
from jiaowei.web.deps import Conn, User, asked_language, language

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

JobId = Annotated[str, Path(max_length=32, description="the job's id, from the address of its page")]


class JobProblem(BaseModel):
    row: int | None = None
    field: str | None = None
    value: Any = None
    message: str
    expected: str | None = None


class JobCount(BaseModel):
    label: str = Field(description="what was counted, e.g. Created (a dry run: what would be)")
    value: int


class JobFailure(BaseModel):
    title: str
    status: int = Field(description="the HTTP status the import itself would have answered")
    detail: str
    problems: list[JobProblem]
    problemCount: int = Field(description="how many problems there were (at most 1,000 are listed)")


class JobOut(BaseModel):
    id: str
    kind: str = Field(description="units.import, data.import, plans.import or admissions.applicants.import")
    status: str = Field(description="queued, running, succeeded or failed")
    dryRun: bool
    filename: str
    stage: str
    done: int = Field(description="rows done in this stage")
    total: int = Field(description="rows in this stage; 0 while unknown")
    percent: int | None = Field(description="0-100, or null while the total is unknown")
    message: str = Field(description="the progress in the user's language, e.g. 正在检查行：1,200 / 3,181")
    page: str = Field(description="the job's page")
    createdAt: dt.datetime
    startedAt: dt.datetime | None
    finishedAt: dt.datetime | None
    counts: list[JobCount] | None = Field(description="a job that succeeded: what it did")
    warnings: list[JobProblem] = Field(description="a job that succeeded: rows it imported with a warning")
    note: str | None = Field(description="a job that succeeded: a sentence about it, if the import has one")
    failure: JobFailure | None = Field(description="a job that failed: why; nothing was written")


@router.get("/{job_id}", response_model=JobOut)
def get_job(request: Request, conn: Conn, user: User, job_id: JobId) -> JobOut:
    """A job you started: its status and progress, then its counts or its problems."""
    job = runner_for(request.app.state).current(queries.get_job(conn, principal=user, job_id=job_id))
    return job_out(job, language(request), asked_language(request))


def job_out(job: Job, lang: str, asked: str | None) -> JobOut:
    """The job as JSON: ``message`` in ``lang`` (the page shows it); the failure's detail and the
    problems in the language the request names, else in English, as every API error."""
    say = (lambda text: translate(asked, text)) if asked else str
    return JobOut(
        id=job.id, kind=job.kind, status=job.status.value, dryRun=job.dry_run, filename=job.filename,
        stage=job.progress.stage, done=job.progress.done, total=job.progress.total, percent=percent(job),
        message=progress_line(lang, job), page=f"/jobs/{job.id}", createdAt=job.created_at,
        startedAt=job.started_at, finishedAt=job.finished_at,
        counts=[JobCount(label=label, value=n) for label, n in job.outcome.counts] if job.outcome else None,
        warnings=[_problem(p, say) for p in job.outcome.warnings] if job.outcome else [],
        note=say(job.outcome.note) if job.outcome and job.outcome.note else None,
        failure=JobFailure(title=say(job.failure.title), status=job.failure.status,
                           detail=say(job.failure.detail),
                           problems=[_problem(p, say) for p in job.failure.problems],
                           problemCount=job.failure.problem_count) if job.failure else None,
    )


def _problem(problem: Problem, say: Callable[[str], str]) -> JobProblem:
    return JobProblem(row=problem.row, field=problem.field, value=problem.value, message=say(problem.message),
                      expected=say(problem.expected) if problem.expected is not None else None)
