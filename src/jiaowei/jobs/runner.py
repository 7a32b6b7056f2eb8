"""The job runner: a job's work runs in a worker thread with its own connection and transaction.

The request that starts a job writes its row (queued) and hands the work to :meth:`JobRunner.start`
once the request's transaction has committed (a background task of the response). The worker reads
the file outside any transaction, then imports it in one write transaction of its own: all rows or
none, exactly as the synchronous import. Progress (stage, rows done of total) is kept in this
process's memory, where the job's page polls it; the row gets the outcome when the job ends.

A database bound to one connection (the tests' rolled-back transaction, ``BoundDatabase``) cannot
give a thread a connection of its own: there the runner runs each job inline, in the background
task, on that connection. Decision 0017 says why jobs work this way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from jiaowei import clock, counters
from jiaowei.db.engine import BoundDatabase, Database
from jiaowei.errors import JiaoweiError, ServiceUnavailable
from jiaowei.jobs import service
from jiaowei.jobs.model import Failure, Job, Outcome, Progress, Status, failure_of
from jiaowei.settings import Settings, using

log = logging.getLogger(__name__)

UNEXPECTED = Failure("Error", 500, "The job stopped because of an error in the server; nothing was "
                                   "written. The error is in the server's log.")


class JobContext:
    """What a job's work is handed: a way to report progress, and its one write transaction."""

    def __init__(self, runner: JobRunner, job_id: str) -> None:
        self._runner = runner
        self.job_id = job_id

    def report(self, stage: str, done: int = 0, total: int = 0) -> None:
        """Record how far the job is (``stage``: an English phrase the job's page translates)."""
        self._runner.set_progress(self.job_id, Progress(stage, done, total))

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Connection]:
        """The job's transaction (a write one unless ``write=False``, as a job that only reads asks):
        committed when the block ends, rolled back if it raises."""
        with self._runner.database.transaction(write=write) as conn:
            yield conn


Work = Callable[[JobContext], Outcome]
"""A job's work: read the file, import it in ``context.transaction()``, return what it did."""


class JobRunner:
    """Runs jobs one at a time per worker thread (``workers``), or inline on a one-connection database."""

    def __init__(self, database: Database, settings: Settings, *, inline: bool | None = None,
                 workers: int = 1) -> None:
        self.database = database
        self.settings = settings
        self.inline = isinstance(database, BoundDatabase) if inline is None else inline
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._guard = threading.Lock()
        self._running: dict[str, tuple[Status, Progress]] = {}

    def start(self, job_id: str, work: Work, *, kind: str, dry_run: bool = False) -> None:
        """Run ``work`` as job ``job_id`` (whose row is committed): in a worker thread, or here if inline.
        ``kind`` and ``dry_run`` label the job in the metrics (``jiaowei_jobs_total``)."""
        self._set(job_id, Status.QUEUED, Progress("waiting"))
        if self.inline:
            self._run(job_id, work, (kind, dry_run))
            return
        with self._guard:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="jiaowei-job")
            executor = self._executor
        executor.submit(self._run, job_id, work, (kind, dry_run))

    def current(self, job: Job) -> Job:
        """``job`` as it stands now: a job this process runs has its live status and progress."""
        live = None if job.status.finished else self.progress(job.id)
        return job if live is None else replace(job, status=live[0], progress=live[1])

    def progress(self, job_id: str) -> tuple[Status, Progress] | None:
        """Where a job this process runs stands now, or None (not here, or ended)."""
        with self._guard:
            return self._running.get(job_id)

    def set_progress(self, job_id: str, progress: Progress) -> None:
        self._set(job_id, Status.RUNNING, progress)

    def shutdown(self) -> None:
        """Stop taking jobs; jobs not started yet stay queued (and are failed at the next start)."""
        with self._guard:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _set(self, job_id: str, status: Status, progress: Progress) -> None:
        with self._guard:
            self._running[job_id] = (status, progress)

    def _run(self, job_id: str, work: Work, labels: tuple[str, bool]) -> None:
        with using(self.settings):
            try:
                self._write(lambda conn: service.mark_running(conn, job_id=job_id, now=clock.now()))
                self.set_progress(job_id, Progress("reading the file"))
                outcome = work(JobContext(self, job_id))
            except JiaoweiError as error:
                self._end(job_id, labels, failure=failure_of(error))
            except Exception:
                log.exception("job %s failed", job_id)
                self._end(job_id, labels, failure=UNEXPECTED)
            else:
                self._end(job_id, labels, outcome=outcome)

    def _end(self, job_id: str, labels: tuple[str, bool], *, outcome: Outcome | None = None,
             failure: Failure | None = None) -> None:
        found = self.progress(job_id)
        progress = found[1] if found else Progress("")
        if outcome is not None:
            progress = Progress("done", progress.total or progress.done, progress.total or progress.done)
        try:
            if failure is not None:
                self._write(lambda conn: service.mark_failed(conn, job_id=job_id, failure=failure,
                                                             progress=progress, now=clock.now()))
            elif outcome is not None:
                self._write(lambda conn: service.mark_succeeded(conn, job_id=job_id, outcome=outcome,
                                                                progress=progress, now=clock.now()))
        except Exception:
            log.exception("job %s: its end could not be recorded", job_id)
        finally:
            kind, dry_run = labels
            counters.JOBS.labels(kind, "failed" if failure is not None else "succeeded",
                                 "true" if dry_run else "false").inc()
            with self._guard:
                self._running.pop(job_id, None)

    def _write(self, change: Callable[[Connection], Any], tries: int = 3) -> None:
        """One short write transaction of the job's row, tried again while the database is busy."""
        for attempt in range(tries):
            try:
                with self.database.transaction(write=True) as conn:
                    change(conn)
                return
            except ServiceUnavailable:
                if attempt == tries - 1:
                    raise


_MADE = threading.Lock()


def runner_for(state: Any) -> JobRunner:
    """The app's job runner (``app.state.jobs``), made on first use from its database and settings."""
    with _MADE:
        runner = getattr(state, "jobs", None)
        if runner is None:
            runner = state.jobs = JobRunner(state.db, state.settings)
    assert isinstance(runner, JobRunner)
    return runner
