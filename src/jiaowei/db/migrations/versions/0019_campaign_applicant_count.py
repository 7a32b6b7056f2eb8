"""admissions: each campaign's number of applicants on its row

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 20:10:00

The campaign list used to count every campaign's applicants in a correlated subquery, a cost
that grows with the applicants (issue 17, part 3). ``campaigns.applicant_count`` is kept by the
services in the transaction that registers applicants; here it is filled from the rows that exist.
Plain ADD COLUMN, never a batch copy: on SQLite, dropping the old ``campaigns`` table would cascade
(foreign keys are on) and empty its schools and applicants.
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("campaigns",
                  sa.Column("applicant_count", sa.Integer(), nullable=False, server_default="0"))
    campaigns = sa.table("campaigns", sa.column("id", sa.Integer()),
                         sa.column("applicant_count", sa.Integer()))
    applicants = sa.table("applicants", sa.column("campaign_id", sa.Integer()))
    counted = (sa.select(sa.func.count()).select_from(applicants)
               .where(applicants.c.campaign_id == campaigns.c.id).scalar_subquery())
    op.get_bind().execute(sa.update(campaigns).values(applicant_count=counted))


def downgrade() -> None:
    op.drop_column("campaigns", "applicant_count")  # SQLite 3.35+: in place (no copy, no cascade)
