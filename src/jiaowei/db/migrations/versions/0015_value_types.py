"""indicators: room for DHIS2's longer value type names

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 08:10:00

data_elements.value_type grows from 16 to 32 characters, so that all of DHIS2's aggregate value
types fit (INTEGER_ZERO_OR_POSITIVE has 24).

PostgreSQL alters the column in place. SQLite does not enforce a VARCHAR's length, so the longer
names already fit there, but the declared type should still say 32 (so that the schema is the
metadata's). Rebuilding the table (Alembic's batch mode) drops ``data_elements``, which fails with
"FOREIGN KEY constraint failed" wherever data sets, values or rules refer to an element, and the
foreign keys cannot be switched off inside the migration's transaction. So the declared type is
rewritten in the stored ``CREATE TABLE`` text, SQLite's documented way for a change that leaves the
stored rows as they are (https://www.sqlite.org/lang_altertable.html, "making other kinds of table
schema changes"), and the schema version is raised so every connection reloads it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _resize(old: int, new: int) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
        bind.exec_driver_sql("PRAGMA writable_schema = ON")
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = replace(sql, ?, ?)"
            " WHERE type = 'table' AND name = 'data_elements'",
            (f"value_type VARCHAR({old}) NOT NULL", f"value_type VARCHAR({new}) NOT NULL"),
        )
        bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")
        return
    op.alter_column("data_elements", "value_type", existing_type=sa.String(length=old),
                    type_=sa.String(length=new), existing_nullable=False)


def upgrade() -> None:
    _resize(16, 32)


def downgrade() -> None:
    _resize(32, 16)
