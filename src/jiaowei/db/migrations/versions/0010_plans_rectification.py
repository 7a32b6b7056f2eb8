"""plans: findings, rectification measures and their transitions

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 02:30:00

The rectification ledger (整改台账): findings of inspections, audits and reviews, each with its
measures, and every change of a measure's state. See ``jiaowei.plans.ledger.store``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rectification_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=11), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("found_on", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"],
                                name=op.f("fk_rectification_findings_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification_findings")),
        sa.UniqueConstraint("uid", name=op.f("uq_rectification_findings_uid")),
    )
    op.create_index("ix_rectification_findings_unit_id", "rectification_findings", ["unit_id"])
    op.create_index("ix_rectification_findings_source", "rectification_findings", ["source"])
    op.create_table(
        "rectification_measures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=11), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["rectification_findings.id"],
                                name=op.f("fk_rectification_measures_finding_id_rectification_findings"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification_measures")),
        sa.UniqueConstraint("uid", name=op.f("uq_rectification_measures_uid")),
    )
    op.create_index("ix_rectification_measures_finding_id", "rectification_measures", ["finding_id"])
    op.create_index("ix_rectification_measures_state_deadline", "rectification_measures",
                    ["state", "deadline"])
    op.create_table(
        "rectification_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("on_day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["measure_id"], ["rectification_measures.id"],
                                name=op.f("fk_rectification_transitions_measure_id_rectification_measures"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification_transitions")),
    )
    op.create_index("ix_rectification_transitions_measure_id", "rectification_transitions", ["measure_id"])


def downgrade() -> None:
    op.drop_index("ix_rectification_transitions_measure_id", table_name="rectification_transitions")
    op.drop_table("rectification_transitions")
    op.drop_index("ix_rectification_measures_state_deadline", table_name="rectification_measures")
    op.drop_index("ix_rectification_measures_finding_id", table_name="rectification_measures")
    op.drop_table("rectification_measures")
    op.drop_index("ix_rectification_findings_source", table_name="rectification_findings")
    op.drop_index("ix_rectification_findings_unit_id", table_name="rectification_findings")
    op.drop_table("rectification_findings")
