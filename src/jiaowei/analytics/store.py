"""Dashboards tables: dashboards and their items (saved pivots, charts and indicator tiles).

A dashboard belongs to one user (``owner``, a username) or is shared: with a role (``role``), with
the users who may view a unit (``unit_id``), or, with neither, with everyone. ``home`` marks a
user's own home dashboard, created the first time they save an item to it. Items keep what they
show as the pivot page's query string (pivot and chart items) or as codes (indicator tiles), never
as data: they are computed afresh each time they are shown.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
)

from jiaowei.db.base import metadata

dashboards = Table(
    "dashboards",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("code", String(50), nullable=False, unique=True),
    Column("name_zh", String(230), nullable=False),
    Column("name_en", String(230), nullable=False),
    Column("owner", String(64), nullable=True),  # username; None: a shared dashboard
    Column("role", String(32), nullable=True),  # shared with the users of this role
    Column("unit_id", ForeignKey("units.id"), nullable=True),  # shared with whoever may view the unit
    Column("home", Boolean, nullable=False, default=False, server_default=false()),  # the owner's home
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_dashboards_owner_home", "owner", "home"),
)

dashboard_items = Table(
    "dashboard_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("dashboard_id", ForeignKey("dashboards.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(16), nullable=False),  # pivot | chart | indicator
    Column("title", String(230), nullable=False, default=""),
    Column("query", Text, nullable=False, default=""),  # pivot and chart: the pivot page's query string
    Column("chart_type", String(16), nullable=True),  # chart: line, bar, stacked, pie, yoy
    Column("indicator", String(50), nullable=True),  # indicator tile: indicator, unit and period codes
    Column("unit", String(64), nullable=True),
    Column("period", String(16), nullable=True),
    Column("width", String(8), nullable=False, default="half"),  # half | full
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_dashboard_items_dashboard_position", "dashboard_id", "position"),
)
