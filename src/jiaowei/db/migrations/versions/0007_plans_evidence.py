"""plans: evidence files (content-addressed) and their attachments

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 02:30:00

See ``jiaowei.plans.evidence.store``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_files")),
        sa.UniqueConstraint("sha256", name=op.f("uq_evidence_files_sha256")),
    )
    op.create_table(
        "evidence_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=11), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("owner_kind", sa.String(length=24), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["evidence_files.id"],
                                name=op.f("fk_evidence_attachments_file_id_evidence_files")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"],
                                name=op.f("fk_evidence_attachments_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_attachments")),
        sa.UniqueConstraint("uid", name=op.f("uq_evidence_attachments_uid")),
    )
    op.create_index("ix_evidence_attachments_owner", "evidence_attachments", ["owner_kind", "owner_id"])


def downgrade() -> None:
    op.drop_index("ix_evidence_attachments_owner", table_name="evidence_attachments")
    op.drop_table("evidence_attachments")
    op.drop_table("evidence_files")
