"""The daily digest of key tasks: what is overdue or due soon, by lead unit, as text and as an email.

:func:`build` groups :func:`jiaowei.plans.tasks.queries.reminders` by the lead unit; :func:`as_text` writes
it in a language; :func:`send` mails it through the SMTP settings (``JIAOWEI_SMTP_*``) to
``JIAOWEI_DIGEST_TO``, and says clearly which setting is missing when one is.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import Connection

from jiaowei.auth.model import Principal
from jiaowei.domains import N_
from jiaowei.errors import ConfigurationError, Problem
from jiaowei.plans.tasks import queries
from jiaowei.plans.tasks.model import STAGE_LABELS
from jiaowei.plans.tasks.views import Reminder, UnitRef
from jiaowei.settings import Settings

Gettext = Callable[[str], str]

SUBJECT = N_("Key tasks on {date}: {overdue} overdue, {soon} due within {days} days")
NOTHING = N_("Nothing is overdue or due within {days} days.")
NO_UNIT = N_("(no lead unit)")
OVERDUE = N_("overdue by {days} days")
DUE_TODAY = N_("due today")
DUE_IN = N_("due in {days} days")
KINDS = {"checkpoint": N_("Checkpoint"), "milestone": N_("Milestone"), "deadline": N_("Deadline")}


@dataclass(frozen=True)
class UnitDigest:
    unit: UnitRef | None
    reminders: tuple[Reminder, ...]

    @property
    def overdue(self) -> int:
        return sum(1 for r in self.reminders if r.overdue)


@dataclass(frozen=True)
class Digest:
    today: dt.date
    within_days: int
    units: tuple[UnitDigest, ...]

    @property
    def overdue(self) -> int:
        return sum(u.overdue for u in self.units)

    @property
    def due_soon(self) -> int:
        return sum(len(u.reminders) for u in self.units) - self.overdue


def build(conn: Connection, *, principal: Principal, today: dt.date, within_days: int = 14) -> Digest:
    """What is overdue or due within ``within_days`` of ``today`` on the tasks the principal may see,
    by lead unit (by code)."""
    found = queries.reminders(conn, principal=principal, today=today, within_days=within_days)
    groups: dict[str, list[Reminder]] = defaultdict(list)
    units: dict[str, UnitRef | None] = {}
    for r in found:
        key = r.unit.code if r.unit else ""
        groups[key].append(r)
        units[key] = r.unit
    return Digest(today, within_days, tuple(UnitDigest(units[k], tuple(groups[k])) for k in sorted(groups)))


def unit_name(unit: UnitRef | None, gettext: Gettext, language: str) -> str:
    if unit is None:
        return gettext(NO_UNIT)
    return f"{unit.code} {unit.name_en if language == 'en' else unit.name_zh}"


def what(r: Reminder, gettext: Gettext) -> str:
    """The checkpoint, milestone or deadline a reminder is about."""
    kind = gettext(KINDS[r.kind])
    if r.stage is not None:
        return f"{kind}: {gettext(STAGE_LABELS[r.stage])}"
    return f"{kind}: {r.title}" if r.title else kind


def when(r: Reminder, gettext: Gettext) -> str:
    if r.days < 0:
        return gettext(OVERDUE).format(days=-r.days)
    return gettext(DUE_TODAY) if r.days == 0 else gettext(DUE_IN).format(days=r.days)


def task_title(r: Reminder, language: str) -> str:
    return f"{r.number} {r.title_en if language == 'en' and r.title_en else r.title_zh}".strip()


def subject(digest: Digest, gettext: Gettext) -> str:
    return gettext(SUBJECT).format(
        date=digest.today.isoformat(), overdue=digest.overdue, soon=digest.due_soon, days=digest.within_days
    )


def as_text(digest: Digest, gettext: Gettext, language: str) -> str:
    """The digest as plain text: a heading per unit, a line per reminder."""
    lines = [subject(digest, gettext), ""]
    if not digest.units:
        lines.append(gettext(NOTHING).format(days=digest.within_days))
    for group in digest.units:
        lines.append(unit_name(group.unit, gettext, language))
        for r in group.reminders:
            lines.append(
                f"  - {task_title(r, language)} · {what(r, gettext)} · {r.due.isoformat()} "
                f"({when(r, gettext)})"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def recipients(settings: Settings) -> list[str]:
    return [a.strip() for a in settings.digest_to.split(",") if a.strip()]


def send(digest: Digest, *, settings: Settings, gettext: Gettext, language: str) -> list[str]:
    """Mail the digest to ``JIAOWEI_DIGEST_TO`` through ``JIAOWEI_SMTP_HOST``; the addresses it went to."""
    missing = [
        name
        for name, value in (
            ("JIAOWEI_SMTP_HOST", settings.smtp_host),
            ("JIAOWEI_SMTP_FROM", settings.smtp_from),
            ("JIAOWEI_DIGEST_TO", ",".join(recipients(settings))),
        )
        if not value
    ]
    if missing:
        raise ConfigurationError(
            "Email is not set up: set " + ", ".join(missing) + ".",
            [Problem(N_("not set"), field=name, expected=N_("see docs/operators.md")) for name in missing],
        )
    to = recipients(settings)
    message = EmailMessage()
    message["Subject"] = subject(digest, gettext)
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(to)
    message.set_content(as_text(digest, gettext, language))
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise ConfigurationError(
            f"The digest could not be sent through {settings.smtp_host}:{settings.smtp_port}: {error}"
        ) from error
    return to
