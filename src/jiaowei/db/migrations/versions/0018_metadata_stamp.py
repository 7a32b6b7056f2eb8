"""indicators: a stamp that changes with every write to the metadata catalog's tables

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 20:00:00

``metadata_stamps`` holds one row, ``catalog``, whose ``stamp`` the database sets to a new random
value whenever a row of the catalog's tables (``jiaowei.indicators.metadata.catalog``: combos,
categories, option combos, data elements, data sets with their elements and units, indicators) is
inserted, updated or deleted, in the same transaction as the change. A process keeps the catalog it
read under the stamp it read with, and only reads the stamp on the next request (one statement, not
six; issue 17). Random, never a counter: a transaction that writes and rolls back (every test) must
not leave a value that a later, different write could produce again.

PostgreSQL: one function and a statement-level trigger per table (TRUNCATE too). SQLite has no
statement triggers: three row triggers per table. A later migration that copies one of these tables on
SQLite (batch mode: a new table, then DROP of the old one) drops its triggers with it and must create
them again (tests/indicators/metadata/test_catalog_stamp.py checks that every table has them).
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TABLES = (
    "categories",
    "category_combos",
    "category_combo_categories",
    "category_option_combos",
    "data_elements",
    "data_sets",
    "data_set_elements",
    "data_set_units",
    "indicators",
)
FUNCTION = "metadata_stamp_catalog"
_SQLITE_EVENTS = ("insert", "update", "delete")


def upgrade() -> None:
    op.create_table(
        "metadata_stamps",
        sa.Column("area", sa.String(length=32), nullable=False),
        sa.Column("stamp", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("area", name=op.f("pk_metadata_stamps")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("INSERT INTO metadata_stamps (area, stamp) VALUES ('catalog', gen_random_uuid()::text)")
        op.execute(f"""
            CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE metadata_stamps SET stamp = gen_random_uuid()::text WHERE area = 'catalog';
                RETURN NULL;
            END
            $$""")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")
        return
    op.execute("INSERT INTO metadata_stamps (area, stamp) VALUES ('catalog', lower(hex(randomblob(16))))")
    for table in TABLES:
        for event in _SQLITE_EVENTS:
            op.execute(f"CREATE TRIGGER {table}_stamp_{event} AFTER {event.upper()} ON {table} FOR EACH ROW "
                       "BEGIN UPDATE metadata_stamps SET stamp = lower(hex(randomblob(16))) "
                       "WHERE area = 'catalog'; END")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_stamp ON {table}")
        else:
            for event in _SQLITE_EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_stamp_{event}")
    if postgresql:
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    op.drop_table("metadata_stamps")
