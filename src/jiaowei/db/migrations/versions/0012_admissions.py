"""admissions: priority tiers and age limits in campaigns

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 05:30:00

(Placeholder written by the lead of issue 12; filled in by the part that needs it.)
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
