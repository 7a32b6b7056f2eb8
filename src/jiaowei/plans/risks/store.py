"""Risk register tables: risks, the indicators each is watched by, and their reviews.

A risk belongs to one unit (``unit_id``): who may read it, review it and change it follows from that
unit and the principal's scopes. ``likelihood`` and ``impact`` are the current rating (1 to 5 each);
each review keeps the rating it found and the one before it, so the history reads without the audit
log. ``opened_on`` and ``reviewed_on`` (the last review) date the next review with the cadence.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text

from jiaowei.db.base import metadata

risks = Table(
    "risks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("category", String(32), nullable=False),  # model.Category
    Column("title", String(230), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("likelihood", Integer, nullable=False),  # 1..5
    Column("impact", Integer, nullable=False),  # 1..5
    Column("owner", String(100), nullable=False, default=""),  # a person's name, free text
    Column("mitigation", Text, nullable=False, default=""),
    Column("cadence", String(16), nullable=False),  # model.Cadence
    Column("state", String(8), nullable=False, default="open"),  # model.State
    Column("opened_on", Date, nullable=False),
    Column("reviewed_on", Date, nullable=True),  # the last review
    Column("closed_on", Date, nullable=True),
    Column("close_note", Text, nullable=False, default=""),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_risks_unit_id", "unit_id"),
)

risk_indicators = Table(
    "risk_indicators",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("risk_id", ForeignKey("risks.id", ondelete="CASCADE"), nullable=False),
    Column("indicator_id", ForeignKey("indicators.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Index("ix_risk_indicators_risk_id", "risk_id"),
)

risk_reviews = Table(
    "risk_reviews",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("risk_id", ForeignKey("risks.id", ondelete="CASCADE"), nullable=False),
    Column("reviewed_on", Date, nullable=False),
    Column("likelihood", Integer, nullable=False),
    Column("impact", Integer, nullable=False),
    Column("previous_likelihood", Integer, nullable=False),
    Column("previous_impact", Integer, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("reviewed_by", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_risk_reviews_risk_id", "risk_id"),
)
