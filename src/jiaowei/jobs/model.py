"""What a job is and what it ends with, as plain values (no database, no web).

A job's outcome is kept as JSON and shown later in the reader's language, so its messages are
stored with their templates and values (:func:`text_to_json`), never as translated text.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jiaowei.errors import JiaoweiError, Message, Problem

MAX_PROBLEMS = 1000
"""A failed job keeps at most this many problems (and how many there were)."""


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (Status.SUCCEEDED, Status.FAILED)


@dataclass(frozen=True)
class Progress:
    """How far a job is: its stage (an English phrase, translated where shown) and rows done of total."""

    stage: str
    done: int = 0
    total: int = 0


@dataclass(frozen=True)
class Outcome:
    """What a job that ended well did: counts by label (dry run: would have done), warnings, and a
    sentence to show above the counts (a :class:`Message`, translated where shown)."""

    counts: tuple[tuple[str, int], ...]
    warnings: tuple[Problem, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class Failure:
    """Why a job ended without writing anything: an error's title, detail and problems."""

    title: str
    status: int
    detail: str
    problems: tuple[Problem, ...] = ()
    problem_count: int = 0


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    title: str
    owner_id: int
    back: str
    filename: str
    dry_run: bool
    status: Status
    progress: Progress
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    outcome: Outcome | None = None
    failure: Failure | None = None


def failure_of(error: JiaoweiError) -> Failure:
    """The failure an error means; at most :data:`MAX_PROBLEMS` problems are kept."""
    return Failure(error.title, error.status, error.detail or error.title,
                   tuple(error.problems[:MAX_PROBLEMS]), len(error.problems))


# ---------------------------------------------------------------- to and from JSON


def text_to_json(text: str | None) -> Any:
    """A message as JSON: plain text as itself, a :class:`Message` as its template and values."""
    if isinstance(text, Message):
        return {"template": text.template, "values": {k: text_to_json(v) if isinstance(v, str) else _plain(v)
                                                      for k, v in text.values.items()}}
    return text


def text_from_json(value: Any) -> str | None:
    if isinstance(value, dict):
        values = {k: text_from_json(v) for k, v in value.get("values", {}).items()}
        return Message(str(value.get("template", "")), values)
    return None if value is None else str(value)


def _plain(value: Any) -> Any:
    """A value as JSON can keep it (numbers, text, booleans, lists); anything else as its text."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def problem_to_json(problem: Problem) -> dict[str, Any]:
    return {"message": text_to_json(problem.message), "row": problem.row, "field": problem.field,
            "value": _plain(problem.value), "expected": text_to_json(problem.expected)}


def problem_from_json(value: dict[str, Any]) -> Problem:
    return Problem(text_from_json(value.get("message")) or "", row=value.get("row"), field=value.get("field"),
                   value=value.get("value"), expected=text_from_json(value.get("expected")))


def outcome_to_json(outcome: Outcome) -> dict[str, Any]:
    return {"counts": [[text_to_json(label), n] for label, n in outcome.counts],
            "warnings": [problem_to_json(p) for p in outcome.warnings[:MAX_PROBLEMS]],
            "note": text_to_json(outcome.note)}


def outcome_from_json(value: dict[str, Any]) -> Outcome:
    return Outcome(tuple((text_from_json(label) or "", int(n)) for label, n in value.get("counts", [])),
                   tuple(problem_from_json(p) for p in value.get("warnings", [])),
                   text_from_json(value.get("note")))


def failure_to_json(failure: Failure) -> dict[str, Any]:
    return {"title": failure.title, "status": failure.status, "detail": text_to_json(failure.detail),
            "problems": [problem_to_json(p) for p in failure.problems],
            "problem_count": failure.problem_count}


def failure_from_json(value: dict[str, Any]) -> Failure:
    return Failure(str(value.get("title", "Error")), int(value.get("status", 500)),
                   text_from_json(value.get("detail")) or "",
                   tuple(problem_from_json(p) for p in value.get("problems", [])),
                   int(value.get("problem_count", 0)))
