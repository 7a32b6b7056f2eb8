"""Rectification ledger tables: findings, their measures, and every transition of a measure.

A finding (``rectification_findings``) comes from an inspection, audit or review and concerns one
unit; its measures (``rectification_measures``) each have an owner, a deadline and a state of
:class:`jiaowei.plans.ledger.model.State`. Each change of state is a row of
``rectification_transitions`` (who, when, on which day, with what comment); the measure's creation
is the first one (from no state to ``open``). Evidence files are the evidence module's, with
owner kind ``measure`` and the measure's id.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text

from jiaowei.db.base import metadata

findings = Table(
    "rectification_findings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("source_kind", String(16), nullable=False),  # inspection | audit | review
    Column("source", String(200), nullable=False),  # e.g. 2020年市委巡视
    Column("found_on", Date, nullable=False),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("severity", String(16), nullable=False),  # high | medium | low
    Column("text", Text, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_rectification_findings_unit_id", "unit_id"),
    Index("ix_rectification_findings_source", "source"),
)

measures = Table(
    "rectification_measures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("finding_id", ForeignKey("rectification_findings.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("owner", String(200), nullable=False),  # who answers for it: a person or an office, free text
    Column("deadline", Date, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_rectification_measures_finding_id", "finding_id"),
    Index("ix_rectification_measures_state_deadline", "state", "deadline"),
)

transitions = Table(
    "rectification_transitions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("measure_id", ForeignKey("rectification_measures.id", ondelete="CASCADE"), nullable=False),
    Column("from_state", String(16), nullable=True),  # None: the measure was recorded
    Column("to_state", String(16), nullable=False),
    # created | start | rectify | verify | return | close | recheck
    Column("step", String(16), nullable=False),
    Column("comment", Text, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("on_day", Date, nullable=False),  # the day it counts for (the injectable "today")
    Index("ix_rectification_transitions_measure_id", "measure_id"),
)
