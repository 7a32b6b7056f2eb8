"""One error hierarchy for the whole platform.

Each error has a stable ``code``, a human ``title`` and an HTTP ``status``. The web layer
turns it into ``application/problem+json`` (RFC 9457) or an error page; the CLI turns it
into a message and exit code. Bad input errors carry the row, field and value at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Message(str):
    """A message with named values that reads as its English text and is translated as a whole.

    ``M_("No task with id {id}.", id="x")`` is the string ``"No task with id x."`` wherever text is
    expected (logs, the CLI, tests), and keeps its template and values so that
    :func:`jiaowei.i18n.translate` finds the template in the catalog and puts the values back in the
    translation. Values that are themselves messages are translated too. An f-string would lose the
    template: messages a user can see are built with :func:`M_` instead.
    """

    template: str
    values: dict[str, Any]

    def __new__(cls, template: str, values: dict[str, Any]) -> Message:
        made = super().__new__(cls, template.format(**values) if values else template)
        made.template = template
        made.values = values
        return made

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles keep the template
        return (Message, (self.template, self.values))


def M_(template: str, /, **values: Any) -> Message:
    """A translatable message with named values (extracted like ``N_``; see :class:`Message`)."""
    return Message(template, values)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is, what it was, what would be accepted."""

    message: str
    row: int | None = None
    field: str | None = None
    value: Any = None
    expected: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"column {self.field}")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.value is not None:
            text += f" (value {self.value!r})"
        if self.expected:
            text += f"; expected {self.expected}"
        return text


@dataclass
class JiaoweiError(Exception):
    """Base of every error jiaowei raises on purpose."""

    detail: str = ""
    problems: list[Problem] = field(default_factory=list)

    code = "error"
    title = "Error"
    status = 500
    exit_code = 1

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    def __str__(self) -> str:
        lines = [self.detail or self.title]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class ValidationError(JiaoweiError):
    code = "validation"
    title = "Invalid input"
    status = 422
    exit_code = 2


class NotFound(JiaoweiError):
    code = "not-found"
    title = "Not found"
    status = 404
    exit_code = 3


class Conflict(JiaoweiError):
    code = "conflict"
    title = "Conflict"
    status = 409
    exit_code = 4


class NotAuthenticated(JiaoweiError):
    code = "not-authenticated"
    title = "Login required"
    status = 401
    exit_code = 5


class PermissionDenied(JiaoweiError):
    code = "permission-denied"
    title = "Permission denied"
    status = 403
    exit_code = 6


class TooManyAttempts(JiaoweiError):
    code = "too-many-attempts"
    title = "Too many attempts"
    status = 429
    exit_code = 7


class ContentTooLarge(JiaoweiError):
    code = "content-too-large"
    title = "Request too large"
    status = 413
    exit_code = 2


class RequestTimeout(JiaoweiError):
    code = "request-timeout"
    title = "Request too slow"
    status = 408
    exit_code = 10


@dataclass
class ServiceUnavailable(JiaoweiError):
    """The database stayed busy (a lock or a connection) longer than a request may wait; retry later."""

    retry_after: int = 5

    code = "service-unavailable"
    title = "Busy, try again shortly"
    status = 503
    exit_code = 11


class ConfigurationError(JiaoweiError):
    code = "configuration"
    title = "Configuration error"
    status = 500
    exit_code = 8


class IntegrityError(JiaoweiError):
    code = "integrity"
    title = "Integrity check failed"
    status = 500
    exit_code = 9
