"""Admissions tables: campaigns (with their age windows), their schools, applicants, choices, priority
tiers, results, appeals.

Names and ID numbers are stored encrypted (``crypto.py``); the date of birth only as a keyed
digest together with the application number, good for checking a family's lookup and nothing
else. ``applicant_id`` is the pseudonymous id of the published files: random, not derived
from anything about the applicant.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)

from jiaowei.db.base import JSONType, metadata
from jiaowei.db.memo import per_transaction
from jiaowei.errors import NotFound

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("year", Integer, nullable=False),
    Column("stage", String(16), nullable=False),  # primary_1 | junior_6 | childcare | after_school
    Column("title_zh", String(200), nullable=False),
    Column("title_en", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("organiser_id", ForeignKey("units.id"), nullable=False),
    Column("max_choices", Integer, nullable=False),
    Column("mechanism", String(24), nullable=False),
    Column("multiples", String(16), nullable=False),
    Column("fallback", JSONType, nullable=False),  # district code -> ordered public school ids
    Column("synthetic", Boolean, nullable=False, default=False),
    Column("pool_digest", String(64), nullable=True),
    Column("seed_sources", JSONType, nullable=True),
    Column("seed", String(64), nullable=True),
    Column("bundle", String(400), nullable=True),
    Column("placement_digest", String(64), nullable=True),
    Column("placement_sources", JSONType, nullable=True),
    Column("placement_seed", String(64), nullable=True),
    Column("placement_bundle", String(400), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("frozen_at", DateTime(timezone=True), nullable=True),
    Column("drawn_at", DateTime(timezone=True), nullable=True),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("placed_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    # the age window (childcare): born between two dates, and/or whole months of age on a day
    Column("born_from", Date, nullable=True),
    Column("born_to", Date, nullable=True),
    Column("age_on", Date, nullable=True),
    Column("min_age_months", Integer, nullable=True),
    Column("max_age_months", Integer, nullable=True),
    # how many applicants it has: kept by the services when they register applicants, so that the
    # campaign list reads it and counts nothing (issue 17, part 3); ``jiaowei audit verify`` recounts
    Column("applicant_count", Integer, nullable=False, default=0, server_default="0"),
)

campaign_schools = Table(
    "campaign_schools",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("school_id", String(80), nullable=False),  # the id in the case files: unit code[/program]
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("kind", String(8), nullable=False),  # private | public
    Column("capacity", Integer, nullable=False),
    Column("program", String(32), nullable=False, default=""),
    Column("districts", JSONType, nullable=False),  # eligible district codes; empty: any
    UniqueConstraint("campaign_id", "school_id"),
)

applicants = Table(
    "applicants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("number", String(20), nullable=False),  # application number, known to the family
    Column("applicant_id", String(32), nullable=False),  # pseudonymous id of the published files
    Column("name_sealed", Text, nullable=False),
    Column("id_number_sealed", Text, nullable=False),
    Column("birth_check", String(64), nullable=False),  # keyed digest of number + date of birth
    Column("district_id", ForeignKey("units.id"), nullable=False),
    Column("residence_tier", Integer, nullable=False),
    Column("catchment", String(80), nullable=False, default=""),  # public school_id
    Column("group_id", String(32), nullable=False, default=""),
    # registered | applied | admitted | not_admitted | placed | unplaced
    Column("status", String(16), nullable=False),
    Column("synthetic", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("campaign_id", "number"),
    UniqueConstraint("campaign_id", "applicant_id"),
)

choices = Table(
    "applicant_choices",
    metadata,
    Column("applicant_pk", ForeignKey("applicants.id", ondelete="CASCADE"), primary_key=True),
    Column("rank", Integer, primary_key=True),  # 1 = first choice
    Column("school_id", String(80), nullable=False),
)

priorities = Table(
    "applicant_priorities",
    metadata,
    Column("applicant_pk", ForeignKey("applicants.id", ondelete="CASCADE"), primary_key=True),
    Column("school_id", String(80), primary_key=True),
    Column("tier", Integer, nullable=False),
)

results = Table(
    "admission_results",
    metadata,
    Column("applicant_pk", ForeignKey("applicants.id", ondelete="CASCADE"), primary_key=True),
    Column("stage", String(16), primary_key=True),  # lottery | placement
    Column("lottery_rank", Integer, nullable=False),
    Column("lottery_value", String(64), nullable=False),
    Column("school_id", String(80), nullable=True),
    Column("choice_rank", Integer, nullable=True),
)

cutoffs = Table(
    "admission_cutoffs",
    metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("stage", String(16), primary_key=True),
    Column("school_id", String(80), primary_key=True),
    Column("capacity", Integer, nullable=False),
    Column("admitted", Integer, nullable=False),
    Column("last_tier", Integer, nullable=True),
    Column("last_lottery_rank", Integer, nullable=True),
    Column("turned_away", Integer, nullable=False),  # applicants who listed it and did not get it or better
)

appeals = Table(
    "admission_appeals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("applicant_pk", ForeignKey("applicants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("decision", String(16), nullable=True),  # upheld | rejected
    Column("decision_note", Text, nullable=False, default=""),
    Column("recorded_by", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
)

lookup_attempts = Table(
    "admission_lookups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, nullable=False),
    Column("number", String(20), nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_admission_lookups_number_at", "campaign_id", "number", "at"),
)


def campaign_row(conn: Connection, code: str) -> Any:
    """The campaign's row, by its code; NotFound when there is none.

    Read once per transaction until it writes (the campaign page's parts each ask for it).
    """
    row = per_transaction(conn, f"admissions.campaign:{code}",
                          lambda: conn.execute(select(campaigns).where(campaigns.c.code == code)).first())
    if row is None:
        raise NotFound(f"No admissions campaign with code {code!r}.")
    return row


def refresh_pool_statistics(conn: Connection) -> None:
    """Bring PostgreSQL's planner statistics of the applications up to date before a pool is read.

    Applicants arrive in bulk (a CSV import, the demo) and their pool is read as soon as it is
    frozen, often in the same transaction or before autovacuum has looked at the tables. With
    statistics that still say "empty", the planner joins the pool's choices and applicants as
    nested scans, quadratic in the number of applicants (minutes for the demo's 10,000).
    ANALYZE (allowed in a transaction, and seeing its rows) fixes that; SQLite needs nothing.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {applicants.name}, {choices.name}, {priorities.name}")


def campaign_id(conn: Connection, code: str) -> int:
    """The campaign's id, or 0 when there is none (a look-up of an unknown campaign is still recorded)."""
    return int(conn.scalar(select(campaigns.c.id).where(campaigns.c.code == code)) or 0)
