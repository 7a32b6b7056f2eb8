"""Key tasks tables: plans by year, their items (sections, tasks, sub-tasks), supporting units,
milestones, linked indicators, the three checkpoints and the progress reports made at them.

An item's ``lead_unit_id`` decides who reports on it (the lead unit's capture scope) and, with its
supporting units, who sees it (their view scope). ``version`` counts its edits. A linked indicator
(``plan_links``) names where it is measured (``unit_id``, default the lead unit), the period and the
target (None: the Indicators module's target for that unit and period).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from jiaowei.db.base import metadata

plans = Table(
    "plans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("year", Integer, nullable=False, unique=True),
    Column("title_zh", String(230), nullable=False),
    Column("title_en", String(230), nullable=False, default=""),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

plan_items = Table(
    "plan_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("plan_id", ForeignKey("plans.id", ondelete="CASCADE"), nullable=False),
    Column("parent_id", ForeignKey("plan_items.id"), nullable=True),
    Column("kind", String(16), nullable=False),  # section | task | subtask
    Column("number", String(16), nullable=False, default=""),  # as printed: 一, 1, (1)
    Column("position", Integer, nullable=False),
    Column("title_zh", String(500), nullable=False),
    Column("title_en", String(500), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("lead_unit_id", ForeignKey("units.id"), nullable=True),
    Column("owner", String(100), nullable=False, default=""),  # a person's name
    Column("deadline", Date, nullable=True),
    Column("outcome", Text, nullable=False, default=""),
    Column("status_override", String(16), nullable=True),
    Column("override_reason", Text, nullable=True),
    Column("override_by", String(64), nullable=True),
    Column("override_at", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_plan_items_plan_id_parent_id_position", "plan_id", "parent_id", "position"),
    Index("ix_plan_items_lead_unit_id", "lead_unit_id"),
)

plan_item_units = Table(
    "plan_item_units",
    metadata,
    Column("item_id", ForeignKey("plan_items.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
)

plan_milestones = Table(
    "plan_milestones",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("plan_items.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("title", String(500), nullable=False),
    Column("due", Date, nullable=True),
    Column("done_on", Date, nullable=True),
    Index("ix_plan_milestones_item_id", "item_id"),
)

plan_links = Table(
    "plan_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("plan_items.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("indicator_id", ForeignKey("indicators.id"), nullable=False),
    Column("unit_id", ForeignKey("units.id"), nullable=True),  # None: the lead unit
    Column("period", String(16), nullable=False),
    Column("target", Float, nullable=True),  # None: the Indicators module's target
    Index("ix_plan_links_item_id", "item_id"),
)

plan_checkpoints = Table(
    "plan_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("plan_items.id", ondelete="CASCADE"), nullable=False),
    Column("stage", String(16), nullable=False),  # deploy | advance | assess
    Column("due", Date, nullable=False),
    UniqueConstraint("item_id", "stage"),
)

plan_reports = Table(
    "plan_reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("checkpoint_id", ForeignKey("plan_checkpoints.id", ondelete="CASCADE"), nullable=False),
    Column("percent", Integer, nullable=False),
    Column("narrative", Text, nullable=False, default=""),
    Column("reported_by", String(64), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("reported_on", Date, nullable=False),  # the day it counts as made (the injectable today)
    Column("review", String(16), nullable=False, default="submitted"),  # submitted | accepted | returned
    Column("review_comment", Text, nullable=False, default=""),
    Column("reviewed_by", String(64), nullable=True),
    Column("reviewed_at", DateTime(timezone=True), nullable=True),
    Index("ix_plan_reports_checkpoint_id", "checkpoint_id"),
)
