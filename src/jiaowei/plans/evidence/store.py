"""Evidence tables: each distinct file once (by its SHA-256), and each time it is attached to something.

The content lives on disk, outside the web root, under ``JIAOWEI_EVIDENCE_DIR`` (default
``<home>/evidence``) at ``<first two hex digits>/<sha256>``; the database holds what it is and who
attached it to what. ``owner_kind`` names the kind of object (``task_report``, ``measure``,
``appraisal_score``, ``risk_review``) and ``owner_id`` its id; ``unit_id`` is the unit whose scope
decides who may download it.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Table

from jiaowei.db.base import metadata

evidence_files = Table(
    "evidence_files",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("size", Integer, nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

evidence_attachments = Table(
    "evidence_attachments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(11), nullable=False, unique=True),
    Column("file_id", ForeignKey("evidence_files.id"), nullable=False),
    Column("owner_kind", String(24), nullable=False),
    Column("owner_id", Integer, nullable=False),
    Column("unit_id", ForeignKey("units.id"), nullable=True),
    Column("filename", String(255), nullable=False),
    Column("uploaded_by", String(64), nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    Index("ix_evidence_attachments_owner", "owner_kind", "owner_id"),
)
