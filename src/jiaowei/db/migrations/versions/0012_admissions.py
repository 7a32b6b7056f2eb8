"""admissions: priority tiers and age limits in campaigns

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 05:30:00

A campaign's age window (childcare, 托育): applicants born between ``born_from`` and ``born_to``,
and/or ``min_age_months`` to ``max_age_months`` whole months old on ``age_on``. All nullable: a
campaign without them takes any date of birth. Priority tiers use the existing
``applicant_priorities`` table (0002).
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = (("born_from", sa.Date), ("born_to", sa.Date), ("age_on", sa.Date),
           ("min_age_months", sa.Integer), ("max_age_months", sa.Integer))


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        for name, _kind in reversed(COLUMNS):
            batch.drop_column(name)
