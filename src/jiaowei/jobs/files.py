"""The file a job produced (a report as DOCX or PDF): kept on disk until the job is forgotten.

A job's work keeps its one file with :func:`keep`, under ``<home>/jobs/<job id>/`` (``JIAOWEI_HOME``;
the job id is 24 random hex digits, so the folder names nothing else). The job's page offers it as a
download to the job's owner alone (``GET /jobs/{id}/file``), and :func:`forget` deletes the folder when
the job's row is deleted (``service.forget_old``, 30 days after the job ended).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from jiaowei.disk import write_whole
from jiaowei.settings import active_settings

MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_JOB_ID = re.compile(r"[0-9a-f]{1,32}")
_UNSAFE = re.compile(r"[^\w.\-]+")


@dataclass(frozen=True)
class Produced:
    """A job's file: its path on disk, the name it is downloaded as, and its media type."""

    path: Path
    filename: str
    media_type: str


def folder() -> Path:
    """Where jobs keep their files: ``<home>/jobs``."""
    return active_settings().home / "jobs"


def _job_folder(job_id: str) -> Path:
    if not _JOB_ID.fullmatch(job_id):
        raise ValueError(f"not a job id: {job_id!r}")
    return folder() / job_id


def safe_filename(filename: str) -> str:
    """``filename`` with anything but letters, digits, ``.``, ``_`` and ``-`` made ``_`` (no paths)."""
    name = _UNSAFE.sub("_", filename).strip("._") or "file"
    return name[:200]


def keep(job_id: str, filename: str, data: bytes) -> Produced:
    """Keep ``data`` as job ``job_id``'s file (written whole, then moved into place)."""
    target = _job_folder(job_id) / safe_filename(filename)
    write_whole(target, data)
    return _produced(target)


def produced(job_id: str) -> Produced | None:
    """Job ``job_id``'s file, or None when it kept none (or it is gone)."""
    try:
        found = [p for p in _job_folder(job_id).iterdir() if p.is_file() and not p.name.startswith(".")]
    except (FileNotFoundError, ValueError):
        return None
    return _produced(found[0]) if found else None


def forget(job_ids: list[str]) -> None:
    """Delete the files of these jobs (their rows are being deleted)."""
    for job_id in job_ids:
        try:
            shutil.rmtree(_job_folder(job_id), ignore_errors=True)
        except ValueError:
            continue


def _produced(path: Path) -> Produced:
    return Produced(path, path.name, MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"))
