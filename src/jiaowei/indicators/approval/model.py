"""What the approval and completeness services answer: frozen values, no database, no web.

The JSON routes turn these into the same keys with ``dataclasses.asdict`` (field order is the
order of the keys); the pages read their attributes. DHIS2's own shapes (registrations, import
summaries) stay plain dicts in ``completeness``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LockState:
    """The period lock at a unit: ``open``, ``closes`` (on ``closes``), ``locked`` (since
    ``locked_since``) or ``exception`` (open until ``until``, for ``reason``)."""

    state: str
    expiry_days: int
    closes: str | None = None
    locked_since: str | None = None
    until: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ApprovalEvent:
    """One approve or unapprove, newest first in a status's history."""

    action: str
    reason: str
    actor: str
    at: str


@dataclass(frozen=True)
class ApprovalStatus:
    """Where a unit's data stands, who approved it and when, and what the principal may do."""

    data_set: str
    period: str
    unit: str
    state: str
    approved_unit: str | None
    approved_by: str | None
    approved_at: str | None
    approved_above: str | None
    waiting: list[str]
    may_approve: bool
    may_unapprove: bool
    lock: LockState
    history: list[ApprovalEvent]


@dataclass(frozen=True)
class ChildApproval:
    """The approval of one direct child of a unit, and what the principal may do there."""

    unit: str
    name_zh: str
    name_en: str
    state: str
    reported: bool
    approved_by: str | None
    approved_at: str | None
    waiting: list[str]
    may_approve: bool
    may_unapprove: bool


@dataclass(frozen=True)
class LockException:
    """An exception to a period lock: the unit may write values of the period until ``until``."""

    data_set: str
    period: str
    unit: str
    until: str
    reason: str
    granted_by: str
    granted_at: str


@dataclass(frozen=True)
class CompletenessRow:
    """One row of the completeness report: a period at a unit, counted over the unit's subtree.

    ``parent`` marks the unit the report was asked for (its children follow it); the percentages
    are None when no report is expected.
    """

    period: str
    unit: str
    name_zh: str
    name_en: str
    parent: bool
    due: str
    expected: int
    received: int
    on_time: int
    received_percent: float | None
    on_time_percent: float | None


@dataclass(frozen=True)
class WorkItem:
    """A line of a user's work list ("My forms"): a form to report or units waiting for approval.

    ``kind`` is ``report`` (the form of one of the user's units) or ``approve`` (units below one
    of the user's units reported and wait for the user's approval). ``status`` of a form: ``due``
    (not sent, the due date is ahead), ``late`` (not sent, past its due date), ``returned``
    (approval withdrawn: sent back, ``reason`` says why), ``waiting`` (sent, waiting for approval)
    or ``approved``; of an approval line: ``approve``. ``href`` opens the form or approval page.
    """

    kind: str
    status: str
    data_set: str
    data_set_name_zh: str
    data_set_name_en: str
    period: str
    unit: str
    unit_name_zh: str
    unit_name_en: str
    due: str
    href: str
    reason: str | None = None
    waiting: int = 0


@dataclass(frozen=True)
class WorkList:
    """A user's work list on a day, and how many of its lines have each status."""

    as_of: str
    items: list[WorkItem]
    counts: dict[str, int]
