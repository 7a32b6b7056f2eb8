"""How a job is told to a person: its stage and progress in their language."""

from __future__ import annotations

from jiaowei.domains import N_
from jiaowei.errors import M_
from jiaowei.i18n import translate
from jiaowei.jobs.model import Job, Status

STAGES = (
    # the runner's and the imports' stages (transfer.py, workbook.py, the pages' work functions)
    N_("waiting"), N_("reading the file"), N_("checking rows"), N_("opening new units"), N_("changing units"),
    N_("closing units"), N_("writing"), N_("tasks"), N_("findings"), N_("registering applicants"), N_("done"),
)
REFUSED = {  # what a failed job's page says first, by kind (default: nothing was imported)
    "admissions.applicants.import": N_("Nobody was registered."),
    "reports.render": N_("No report was made."),
}
BACK = {  # the job page's link back to where the job was started, by kind (default: the import page)
    "reports.render": N_("Back to the reports"),
}
STATUSES = {Status.QUEUED: N_("Waiting to start"), Status.RUNNING: N_("Running"),
            Status.SUCCEEDED: N_("Finished"), Status.FAILED: N_("Failed")}


def progress_line(lang: str, job: Job) -> str:
    """E.g. "checking rows: 1,200 of 3,181" (or without counts while they are unknown), in ``lang``."""
    stage = translate(lang, job.progress.stage or STATUSES[job.status])
    if job.progress.total:
        line = M_("{stage}: {done} of {total}", stage=stage, done=f"{job.progress.done:,}",
                  total=f"{job.progress.total:,}")
    elif job.progress.done:
        line = M_("{stage}: {done}", stage=stage, done=f"{job.progress.done:,}")
    else:
        return stage
    return translate(lang, line)


def percent(job: Job) -> int | None:
    """How much of the job is done, 0–100, or None while the total is unknown."""
    if job.status.finished:
        return 100
    if not job.progress.total:
        return None
    return min(100, round(100 * job.progress.done / job.progress.total))
