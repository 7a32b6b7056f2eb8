"""Audit tables. ``audit_head`` holds the chain's tip and serialises writers; ``audit_verified`` where
the last verification of the chain stopped, so that the next one reads only the entries after it."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from jiaowei.db.base import metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),
    Column("at", String(32), nullable=False, index=True),  # ISO 8601, UTC: hashed as written
    Column("actor", String(64), nullable=False, index=True),
    Column("action", String(64), nullable=False),
    Column("entity", String(32), nullable=False, index=True),
    Column("entity_key", String(128), nullable=False, index=True),
    Column("before", Text, nullable=False),  # canonical JSON text, hashed as stored
    Column("after", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("note", Text, nullable=False, default=""),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_verified = Table(  # one row (id 1): the last entry a verification found intact, and when
    "audit_verified",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("at", String(32), nullable=False),  # ISO 8601, UTC; empty before the first verification
)
