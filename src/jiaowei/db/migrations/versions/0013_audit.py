"""audit: where verification of the chain last stopped

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 05:30:00

(Placeholder written by the lead of issue 12; filled in by the part that needs it.)
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
