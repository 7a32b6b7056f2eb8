"""Appraisal tables: templates and their criteria, rounds, subjects, reviewers' assignments, scores.

A template (``appraisal_templates``) holds the grade thresholds and its criteria
(``appraisal_criteria``: weight, scale). A round (``appraisal_rounds``) appraises subjects
(``appraisal_subjects``: a unit, or a named leader of a unit) with one template in one year; each
reviewer (a username) is assigned to subjects (``appraisal_assignments``) and scores each criterion
of each (``appraisal_scores``, with a comment). ``element`` names the data element a closed round's
weighted totals are written to. Results are not stored: they are computed from the scores
(``model.aggregate``) and shown once the round is closed.
"""

from __future__ import annotations

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
    false,
)

from jiaowei.db.base import metadata

appraisal_templates = Table(
    "appraisal_templates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("name_zh", String(230), nullable=False),
    Column("name_en", String(230), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("excellent", Float, nullable=False),  # the lowest total graded 优秀
    Column("good", Float, nullable=False),  # 良好
    Column("fair", Float, nullable=False),  # 一般; below it: 较差
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

appraisal_criteria = Table(
    "appraisal_criteria",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("template_id", ForeignKey("appraisal_templates.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("name_zh", String(230), nullable=False),
    Column("name_en", String(230), nullable=False),
    Column("weight", Float, nullable=False),
    Column("min_score", Float, nullable=False),
    Column("max_score", Float, nullable=False),
)

appraisal_rounds = Table(
    "appraisal_rounds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("template_id", ForeignKey("appraisal_templates.id"), nullable=False),
    Column("year", Integer, nullable=False),
    Column("title_zh", String(230), nullable=False),
    Column("title_en", String(230), nullable=False),
    Column("deadline", Date, nullable=False),
    Column("trimmed", Boolean, nullable=False, default=False, server_default=false()),
    Column("element", String(50), nullable=True),  # data element code the totals are written to on close
    Column("closed_at", DateTime(timezone=True), nullable=True),  # None: open
    Column("closed_by", String(64), nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

appraisal_subjects = Table(
    "appraisal_subjects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("round_id", ForeignKey("appraisal_rounds.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("leader", String(100), nullable=False, default=""),  # "": the unit itself is appraised
    UniqueConstraint("round_id", "unit_id", "leader"),
)

appraisal_assignments = Table(
    "appraisal_assignments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subject_id", ForeignKey("appraisal_subjects.id", ondelete="CASCADE"), nullable=False),
    Column("reviewer", String(64), nullable=False),  # a username
    UniqueConstraint("subject_id", "reviewer"),
    Index("ix_appraisal_assignments_reviewer", "reviewer"),
)

appraisal_scores = Table(
    "appraisal_scores",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("assignment_id", ForeignKey("appraisal_assignments.id", ondelete="CASCADE"), nullable=False),
    Column("criterion_id", ForeignKey("appraisal_criteria.id"), nullable=False),
    Column("score", Float, nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("scored_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("assignment_id", "criterion_id"),
)
