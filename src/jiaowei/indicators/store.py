"""Indicators tables: metadata (DHIS2's aggregate model), periods, data values and their history,
completeness, approvals and locks, min-max bounds, indicators and targets.

Data values are clustered on (period, unit, element, option combo, attribute combo): WITHOUT
ROWID on SQLite, so a form (one period and unit) and a period's aggregation are range scans.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
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

from jiaowei.db.base import JSONType, metadata


def _named(name: str, *columns: Column[Any], **kwargs: Any) -> Table:
    """A metadata table: id, DHIS2-style uid, unique code, names in zh and en, then ``columns``."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("uid", String(11), nullable=False, unique=True),
        Column("code", String(50), nullable=False, unique=True),
        Column("name_zh", String(230), nullable=False),
        Column("name_en", String(230), nullable=False),
        *columns,
        **kwargs,
    )


categories = _named("categories")

category_options = Table(
    "category_options",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("category_id", ForeignKey("categories.id", ondelete="CASCADE"), nullable=False),
    Column("code", String(50), nullable=False),
    Column("name_zh", String(230), nullable=False),
    Column("name_en", String(230), nullable=False),
    Column("position", Integer, nullable=False),
    UniqueConstraint("category_id", "code"),
)

category_combos = _named("category_combos")

category_combo_categories = Table(
    "category_combo_categories",
    metadata,
    Column("combo_id", ForeignKey("category_combos.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("category_id", ForeignKey("categories.id"), nullable=False),
)

# One row per cell of a combo's disaggregation; its code joins the option codes with "_".
category_option_combos = Table(
    "category_option_combos",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("combo_id", ForeignKey("category_combos.id", ondelete="CASCADE"), nullable=False),
    Column("code", String(260), nullable=False),
    Column("name_zh", String(600), nullable=False),
    Column("name_en", String(600), nullable=False),
    Column("options", JSONType, nullable=False),  # option codes in category order
    Column("position", Integer, nullable=False),
    UniqueConstraint("combo_id", "code"),
)

data_elements = _named(
    "data_elements",
    Column("short_name", String(100), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("value_type", String(32), nullable=False),  # INTEGER_ZERO_OR_POSITIVE is 24 long
    Column("aggregation_type", String(24), nullable=False),
    Column("combo_id", ForeignKey("category_combos.id"), nullable=False),
    Column("zero_is_significant", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

data_sets = _named(
    "data_sets",
    Column("period_type", String(16), nullable=False),
    Column("due_days", Integer, nullable=False, default=15),  # DHIS2 timelyDays
    Column("expiry_days", Integer, nullable=False, default=0),  # 0: never locks
    Column("unit_types", JSONType, nullable=False),  # unit types that report it
    Column("description", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

data_set_elements = Table(
    "data_set_elements",
    metadata,
    Column("data_set_id", ForeignKey("data_sets.id", ondelete="CASCADE"), primary_key=True),
    Column("data_element_id", ForeignKey("data_elements.id"), primary_key=True),
    Column("position", Integer, nullable=False),
)

data_set_units = Table(
    "data_set_units",
    metadata,
    Column("data_set_id", ForeignKey("data_sets.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
)

periods = Table(
    "periods",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(16), nullable=False, unique=True),
    Column("type", String(16), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Index("ix_periods_dates", "start_date", "end_date"),
)

# One row per write that changed values (an import, a saved cell, a deletion): its summary and
# the SHA-256 of its changes, which the hash-chained audit log records.
data_imports = Table(
    "data_imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("source", String(32), nullable=False),  # form | dhis2-json | dhis2-csv | adx | xlsx | demo
    Column("file_digest", String(64), nullable=True),
    Column("changes_digest", String(64), nullable=False),
    Column("summary", JSONType, nullable=False),
)

data_values = Table(
    "data_values",
    metadata,
    Column("period_id", ForeignKey("periods.id"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
    Column("data_element_id", ForeignKey("data_elements.id"), primary_key=True),
    Column("coc_id", ForeignKey("category_option_combos.id"), primary_key=True),
    Column("aoc_id", ForeignKey("category_option_combos.id"), primary_key=True),
    Column("value", Text, nullable=False),
    Column("stored_by", String(100), nullable=True),  # as the file said; NULL: the import's actor
    Column("comment", Text, nullable=True),
    Column("followup", Boolean, nullable=False, default=False),
    Column("synthetic", Boolean, nullable=False, default=False),
    Column("import_id", ForeignKey("data_imports.id"), nullable=False),  # the last change: who and when
    sqlite_with_rowid=False,
)

# Every change of a data value: what it was and became, through which import (who and when).
# Clustered by the value's key, so one value's history is one range scan.
data_value_history = Table(
    "data_value_history",
    metadata,
    Column("period_id", Integer, primary_key=True),
    Column("unit_id", Integer, primary_key=True),
    Column("data_element_id", Integer, primary_key=True),
    Column("coc_id", Integer, primary_key=True),
    Column("aoc_id", Integer, primary_key=True),
    Column("import_id", ForeignKey("data_imports.id"), primary_key=True),
    Column("change", String(8), nullable=False),  # CREATE | UPDATE | DELETE
    Column("value_before", Text, nullable=True),
    Column("value_after", Text, nullable=True),
    Column("comment", Text, nullable=True),
    Column("followup", Boolean, nullable=True),
    Index("ix_data_value_history_import", "import_id"),  # the analytics engine's change feed
    sqlite_with_rowid=False,
)

completions = Table(
    "completions",
    metadata,
    Column("data_set_id", ForeignKey("data_sets.id", ondelete="CASCADE"), primary_key=True),
    Column("period_id", ForeignKey("periods.id"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
    Column("completed_by", String(100), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=False),
)

# An approval of a unit's data for a data set and period; approved data (and the data of every
# unit below it) is locked. Districts approve their schools, the commission approves districts.
approvals = Table(
    "approvals",
    metadata,
    Column("data_set_id", ForeignKey("data_sets.id", ondelete="CASCADE"), primary_key=True),
    Column("period_id", ForeignKey("periods.id"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
    Column("approved_by", String(100), nullable=False),
    Column("approved_at", DateTime(timezone=True), nullable=False),
)

approval_events = Table(
    "approval_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("data_set_id", ForeignKey("data_sets.id", ondelete="CASCADE"), nullable=False),
    Column("period_id", ForeignKey("periods.id"), nullable=False),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("action", String(12), nullable=False),  # approve | unapprove
    Column("reason", Text, nullable=False, default=""),
    Column("actor", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_approval_events_key", "data_set_id", "period_id", "unit_id"),
)

# An administrator's exception to a period lock (after the data set's expiry days).
lock_exceptions = Table(
    "lock_exceptions",
    metadata,
    Column("data_set_id", ForeignKey("data_sets.id", ondelete="CASCADE"), primary_key=True),
    Column("period_id", ForeignKey("periods.id"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
    Column("until", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("granted_by", String(100), nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
)

min_max = Table(
    "min_max",
    metadata,
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
    Column("data_element_id", ForeignKey("data_elements.id", ondelete="CASCADE"), primary_key=True),
    Column("coc_id", ForeignKey("category_option_combos.id"), primary_key=True),
    Column("min_value", Float, nullable=False),
    Column("max_value", Float, nullable=False),
    Column("generated", Boolean, nullable=False, default=False),
)

validation_rules = _named(
    "validation_rules",
    Column("description", Text, nullable=False, default=""),
    Column("instruction", Text, nullable=False, default=""),
    Column("left_expression", Text, nullable=False),
    Column("left_missing", String(32), nullable=False),
    Column("operator", String(32), nullable=False),
    Column("right_expression", Text, nullable=False),
    Column("right_missing", String(32), nullable=False),
    Column("importance", String(8), nullable=False),
    Column("period_type", String(16), nullable=False),
)

indicators = _named(
    "indicators",
    Column("description", Text, nullable=False, default=""),
    Column("numerator", Text, nullable=False),
    Column("numerator_description", String(230), nullable=False, default=""),
    Column("denominator", Text, nullable=False),
    Column("denominator_description", String(230), nullable=False, default=""),
    Column("display", String(16), nullable=False),  # percent | per_mille | ratio | number
    Column("decimals", Integer, nullable=False, default=1),
    Column("higher_is_better", Boolean, nullable=False, default=True),
)

# A fact published for a unit and period that is not collected as data (the seed's city-level
# figures): it stands for the indicator's value there, and computed values are checked against it.
indicator_facts = Table(
    "indicator_facts",
    metadata,
    Column("indicator_id", ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
    Column("period_id", ForeignKey("periods.id"), primary_key=True),
    Column("value", Float, nullable=False),
    Column("source", Text, nullable=False),
)

targets = Table(
    "targets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("indicator_id", ForeignKey("indicators.id", ondelete="CASCADE"), nullable=False),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("period_id", ForeignKey("periods.id"), nullable=False),
    Column("value", Float, nullable=False),
    Column("at_risk_margin", Float, nullable=False, default=0.0),  # within this of the target: at risk
    Column("benchmark", Float, nullable=True),  # e.g. the national standard of 80%
    Column("benchmark_label", String(230), nullable=False, default=""),
    Column("cascaded_from", ForeignKey("targets.id", ondelete="SET NULL"), nullable=True),
    Column("note", Text, nullable=False, default=""),
    Column("set_by", String(100), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("indicator_id", "unit_id", "period_id"),
)

# One row per area: ``catalog`` (migration 0018), ``registry`` (0020). Triggers replace an area's random
# value whenever a row of its tables changes, so a process may keep what it read across requests
# (jiaowei.db.kept, which reads these rows through a table clause of its own: db comes before the domains).
metadata_stamps = Table(
    "metadata_stamps",
    metadata,
    Column("area", String(32), primary_key=True),
    Column("stamp", String(40), nullable=False),
)
