"""plans: appraisal templates, rounds, assignments and scores

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 02:30:00

Templates with their criteria (weight, scale) and grade thresholds; rounds of a template in a year
with their subjects (units or named leaders), the reviewers assigned to each subject and their scores.
See ``jiaowei.plans.appraisals.store``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appraisal_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=11), nullable=False),
        sa.Column("name_zh", sa.String(length=230), nullable=False),
        sa.Column("name_en", sa.String(length=230), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("excellent", sa.Float(), nullable=False),
        sa.Column("good", sa.Float(), nullable=False),
        sa.Column("fair", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appraisal_templates")),
        sa.UniqueConstraint("uid", name=op.f("uq_appraisal_templates_uid")),
    )
    op.create_table(
        "appraisal_criteria",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=11), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name_zh", sa.String(length=230), nullable=False),
        sa.Column("name_en", sa.String(length=230), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("min_score", sa.Float(), nullable=False),
        sa.Column("max_score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["template_id"], ["appraisal_templates.id"],
                                name=op.f("fk_appraisal_criteria_template_id_appraisal_templates"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appraisal_criteria")),
        sa.UniqueConstraint("uid", name=op.f("uq_appraisal_criteria_uid")),
    )
    op.create_table(
        "appraisal_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=11), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("title_zh", sa.String(length=230), nullable=False),
        sa.Column("title_en", sa.String(length=230), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("trimmed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("element", sa.String(length=50), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["template_id"], ["appraisal_templates.id"],
                                name=op.f("fk_appraisal_rounds_template_id_appraisal_templates")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appraisal_rounds")),
        sa.UniqueConstraint("uid", name=op.f("uq_appraisal_rounds_uid")),
    )
    op.create_table(
        "appraisal_subjects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=11), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("leader", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["appraisal_rounds.id"],
                                name=op.f("fk_appraisal_subjects_round_id_appraisal_rounds"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_appraisal_subjects_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appraisal_subjects")),
        sa.UniqueConstraint("round_id", "unit_id", "leader",
                            name=op.f("uq_appraisal_subjects_round_id_unit_id_leader")),
        sa.UniqueConstraint("uid", name=op.f("uq_appraisal_subjects_uid")),
    )
    op.create_table(
        "appraisal_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["subject_id"], ["appraisal_subjects.id"],
                                name=op.f("fk_appraisal_assignments_subject_id_appraisal_subjects"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appraisal_assignments")),
        sa.UniqueConstraint("subject_id", "reviewer",
                            name=op.f("uq_appraisal_assignments_subject_id_reviewer")),
    )
    op.create_index("ix_appraisal_assignments_reviewer", "appraisal_assignments", ["reviewer"])
    op.create_table(
        "appraisal_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=11), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["appraisal_assignments.id"],
                                name=op.f("fk_appraisal_scores_assignment_id_appraisal_assignments"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["criterion_id"], ["appraisal_criteria.id"],
                                name=op.f("fk_appraisal_scores_criterion_id_appraisal_criteria")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appraisal_scores")),
        sa.UniqueConstraint("assignment_id", "criterion_id",
                            name=op.f("uq_appraisal_scores_assignment_id_criterion_id")),
        sa.UniqueConstraint("uid", name=op.f("uq_appraisal_scores_uid")),
    )


def downgrade() -> None:
    op.drop_table("appraisal_scores")
    op.drop_index("ix_appraisal_assignments_reviewer", table_name="appraisal_assignments")
    op.drop_table("appraisal_assignments")
    op.drop_table("appraisal_subjects")
    op.drop_table("appraisal_rounds")
    op.drop_table("appraisal_criteria")
    op.drop_table("appraisal_templates")
