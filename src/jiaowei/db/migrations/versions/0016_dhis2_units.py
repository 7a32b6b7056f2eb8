"""registry: DHIS2 uids of units, groups and group sets; organisation unit levels

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 08:10:00

Every existing unit, group and group set gets a fresh DHIS2-style uid (a letter then ten
letters or digits). Plain ADD COLUMN, never a batch copy: on SQLite, dropping the old ``units``
table would cascade (foreign keys are on) and empty the versions, paths and events. The column
comes with an empty server default so that SQLite accepts NOT NULL on existing rows; PostgreSQL
drops that default once the rows are filled (SQLite keeps it: the tables' own default, a fresh
uid, is what every insert uses).
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLES = ("units", "unit_groups", "unit_group_sets")
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _uid() -> str:
    return secrets.choice(ALPHABET[:52]) + "".join(secrets.choice(ALPHABET) for _ in range(10))


def upgrade() -> None:
    conn = op.get_bind()
    for name in TABLES:
        op.add_column(name, sa.Column("uid", sa.String(length=11), nullable=False, server_default=""))
        table = sa.table(name, sa.column("id", sa.Integer()), sa.column("uid", sa.String()))
        ids = list(conn.scalars(sa.select(table.c.id)))
        given: set[str] = set()
        for row_id in ids:
            uid = _uid()
            while uid in given:
                uid = _uid()
            given.add(uid)
            conn.execute(sa.update(table).where(table.c.id == row_id).values(uid=uid))
        op.create_index(f"ix_{name}_uid", name, ["uid"], unique=True)
        if conn.dialect.name != "sqlite":
            op.alter_column(name, "uid", server_default=None, existing_type=sa.String(length=11),
                            existing_nullable=False)
    op.create_table(
        "unit_levels",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("uid", sa.String(length=11), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=True),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("level", name=op.f("pk_unit_levels")),
        sa.UniqueConstraint("code", name=op.f("uq_unit_levels_code")),
        sa.UniqueConstraint("uid", name=op.f("uq_unit_levels_uid")),
    )


def downgrade() -> None:
    op.drop_table("unit_levels")
    for name in reversed(TABLES):
        op.drop_index(f"ix_{name}_uid", table_name=name)
        op.drop_column(name, "uid")  # SQLite 3.35+ drops a column in place (no copy, no cascade)
