"""audit: where verification of the chain last stopped; indexes for the audit page's filters

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 05:30:00

``audit_verified`` holds one row: the last entry (``seq`` and ``hash``) that a verification of the
chain found intact, and when (``at``, UTC). The audit page verifies only the entries after it; a
full verification stays available. The row starts at entry 0 (the chain's start), so the first
verification reads the whole chain. The indexes serve the page's filters by person, kind of object
and date.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    verified = op.create_table(
        "audit_verified",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_verified")),
    )
    op.bulk_insert(verified, [{"id": 1, "seq": 0, "hash": GENESIS, "at": ""}])
    for column in ("actor", "entity", "at"):
        op.create_index(op.f(f"ix_audit_log_{column}"), "audit_log", [column], unique=False)


def downgrade() -> None:
    for column in ("at", "entity", "actor"):
        op.drop_index(op.f(f"ix_audit_log_{column}"), table_name="audit_log")
    op.drop_table("audit_verified")
