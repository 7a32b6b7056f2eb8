"""analytics: dashboards and their items (saved pivots, charts and indicator tiles)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 23:13:18

A dashboard belongs to a user (``owner``) or is shared with a role, with the viewers of a unit or
with everyone; ``home`` marks a user's home dashboard. See ``jiaowei.analytics.store``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=11), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name_zh", sa.String(length=230), nullable=False),
        sa.Column("name_en", sa.String(length=230), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("home", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_dashboards_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboards")),
        sa.UniqueConstraint("code", name=op.f("uq_dashboards_code")),
        sa.UniqueConstraint("uid", name=op.f("uq_dashboards_uid")),
    )
    op.create_index("ix_dashboards_owner_home", "dashboards", ["owner", "home"])
    op.create_table(
        "dashboard_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=11), nullable=False),
        sa.Column("dashboard_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=230), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("chart_type", sa.String(length=16), nullable=True),
        sa.Column("indicator", sa.String(length=50), nullable=True),
        sa.Column("unit", sa.String(length=64), nullable=True),
        sa.Column("period", sa.String(length=16), nullable=True),
        sa.Column("width", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dashboard_id"], ["dashboards.id"],
                                name=op.f("fk_dashboard_items_dashboard_id_dashboards"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_items")),
        sa.UniqueConstraint("uid", name=op.f("uq_dashboard_items_uid")),
    )
    op.create_index("ix_dashboard_items_dashboard_position", "dashboard_items", ["dashboard_id", "position"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_items_dashboard_position", table_name="dashboard_items")
    op.drop_table("dashboard_items")
    op.drop_index("ix_dashboards_owner_home", table_name="dashboards")
    op.drop_table("dashboards")
