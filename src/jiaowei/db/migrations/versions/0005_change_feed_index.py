"""analytics: an index on data_value_history(import_id), the analytics engine's change feed

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 23:40:00

The analytics engine keeps its copy current by reading the history rows written after the last
import it applied (``import_id > watermark``): a range scan with this index.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_data_value_history_import", "data_value_history", ["import_id"])


def downgrade() -> None:
    op.drop_index("ix_data_value_history_import", table_name="data_value_history")
