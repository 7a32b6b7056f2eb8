"""A job's page: a progress bar that polls ``/api/jobs/{id}`` (``static/jobs.js``), then the result.

Import pages start a job with :func:`start_job`: it writes the job's row in the request's
transaction and hands the work to the runner once that transaction has committed (a background task
of the response), then sends the browser to the job's page. A job that failed answers its page with
the status the import itself would have answered (422, 403, 409…), with every problem listed. A job
that produced a file (a report: ``jobs/files.py``) offers it to its owner at ``/jobs/{id}/file``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, BackgroundTasks, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from jiaowei import clock
from jiaowei.auth.model import Principal
from jiaowei.errors import M_, JiaoweiError, NotFound, Problem
from jiaowei.jobs import files, queries, service
from jiaowei.jobs.api import JobId
from jiaowei.jobs.runner import Work, runner_for
from jiaowei.jobs.texts import BACK, REFUSED, STATUSES, percent, progress_line
from jiaowei.settings import using
from jiaowei.web.deps import Conn, User, language
from jiaowei.web.forms import in_language, local_path, see_other
from jiaowei.web.render import page


def _tidy(app: FastAPI) -> None:
    """Fail the jobs a stopped process left queued or running (their work is gone with it), and
    forget jobs that ended more than ``service.KEEP_DAYS`` days ago."""
    try:
        with using(app.state.settings), app.state.db.transaction(write=True) as conn:
            service.mark_interrupted(conn, now=clock.now())
            service.forget_old(conn, now=clock.now())
    except (SQLAlchemyError, JiaoweiError, OSError) as error:  # down, not initialised, busy: start anyway
        log.warning("the jobs a stopped server left queued or running could not be marked failed "
                    "(%s: %s); the next start tries again", type(error).__name__, _first_line(error))


def _first_line(error: Exception) -> str:
    """An error's reason on one line: the driver's message, without SQLAlchemy's SQL and links."""
    reason = getattr(error, "orig", None) or getattr(error, "detail", None) or error
    lines = str(reason).strip().splitlines()
    return lines[0].strip() if lines else "no reason given"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await anyio.to_thread.run_sync(_tidy, app)
    yield
    runner = getattr(app.state, "jobs", None)
    if runner is not None:
        runner.shutdown()


router = APIRouter(include_in_schema=False, lifespan=lifespan)
log = logging.getLogger(__name__)


def start_job(request: Request, conn: Connection, background: BackgroundTasks, *, principal: Principal,
              kind: str, title: str, back: str, filename: str, dry_run: bool, work: Work) -> RedirectResponse:
    """Queue ``work`` as a job of ``principal``'s and send the browser to its page (303)."""
    job_id = service.create_job(conn, principal=principal, kind=kind, title=title, back=local_path(back),
                                filename=filename, dry_run=dry_run, now=clock.now())
    background.add_task(runner_for(request.app.state).start, job_id, work, kind=kind,
                        dry_run=dry_run)
    return see_other(f"/jobs/{job_id}")


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, conn: Conn, user: User) -> HTMLResponse:
    """Your latest jobs, newest first, each with its status and a link to its page."""
    runner = runner_for(request.app.state)
    jobs = [runner.current(job) for job in queries.recent_jobs(conn, principal=user, limit=50)]
    return page(request, "jobs.html", {"jobs": jobs, "statuses": STATUSES, "keep_days": service.KEEP_DAYS})


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, conn: Conn, user: User, job_id: JobId) -> HTMLResponse:
    """The job's progress while it runs, then what it did or why it did nothing."""
    job = runner_for(request.app.state).current(queries.get_job(conn, principal=user, job_id=job_id))
    lang = language(request)
    failure, outcome = job.failure, job.outcome
    context: dict[str, Any] = {
        "job": job, "progress_line": progress_line(lang, job), "percent": percent(job),
        "status_label": STATUSES[job.status], "refused": REFUSED.get(job.kind, "Nothing was imported."),
        "back_label": BACK.get(job.kind, "Back to the import page"),
        "download": files.produced(job.id) if outcome else None,
        "error": _shown(failure.title, failure.detail, failure.problems, lang) if failure else None,
        "warnings": _shown("Warnings", "", outcome.warnings, lang) if outcome and outcome.warnings else None,
    }
    status = job.failure.status if job.failure else 200
    return page(request, "job.html", context, status)


@router.get("/jobs/{job_id}/file")
def job_file(conn: Conn, user: User, job_id: JobId) -> Response:
    """The file the job produced (a report), to the job's owner alone, as a download."""
    job = queries.get_job(conn, principal=user, job_id=job_id)
    found = files.produced(job.id) if job.outcome else None
    if found is None:
        raise NotFound(M_("Job {id} has no file.", id=job_id))
    return as_download(found.path.read_bytes(), filename=found.filename, media_type=found.media_type)


def as_download(data: bytes, *, filename: str, media_type: str) -> Response:
    """A file as a download, never shown inline: its type, its name in UTF-8 (RFC 6266)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    })


def _shown(title: str, detail: str, problems: tuple[Problem, ...], lang: str) -> JiaoweiError:
    """Problems as the problem summary (``_macros.html``) shows an error's, in ``lang``."""
    shown = in_language(JiaoweiError(detail, list(problems)), lang)
    shown.title = title  # type: ignore[misc]
    return shown
