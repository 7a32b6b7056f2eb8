"""registry: a stamp that changes with every write to the units; validation rules under the catalog's

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 22:20:00

A second row of ``metadata_stamps`` (migration 0018), ``registry``, whose ``stamp`` the database sets
to a new random value whenever a row of ``units``, ``unit_versions`` or ``unit_paths`` is inserted,
updated or deleted, in the same transaction as the change. A process keeps the registry it read under
the stamp it read with (``jiaowei.registry.store.image``), so a read-only request finds its units without a
statement once it has read the stamps (issue 17). And ``validation_rules`` joins the tables of the
``catalog`` stamp: the process keeps the rules with the catalog (``indicators/quality/queries.py``).

PostgreSQL: one function per area and a statement-level trigger per table (TRUNCATE too). SQLite:
three row triggers per table. A later migration that copies one of these tables on SQLite (batch
mode) drops its triggers with it and must create them again (tests/registry/test_image.py and
tests/indicators/metadata/test_catalog_stamp.py check that every table has them).
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

REGISTRY = ("units", "unit_versions", "unit_paths")
FUNCTION = "metadata_stamp_registry"
CATALOG_FUNCTION = "metadata_stamp_catalog"  # migration 0018's
RULES = "validation_rules"
_SQLITE_EVENTS = ("insert", "update", "delete")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("INSERT INTO metadata_stamps (area, stamp) VALUES ('registry', gen_random_uuid()::text)")
        op.execute(f"""
            CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE metadata_stamps SET stamp = gen_random_uuid()::text WHERE area = 'registry';
                RETURN NULL;
            END
            $$""")
        for table, function in [*((t, FUNCTION) for t in REGISTRY), (RULES, CATALOG_FUNCTION)]:
            op.execute(f"CREATE TRIGGER {table}_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
        return
    op.execute("INSERT INTO metadata_stamps (area, stamp) VALUES ('registry', lower(hex(randomblob(16))))")
    for table, area in [*((t, "registry") for t in REGISTRY), (RULES, "catalog")]:
        for event in _SQLITE_EVENTS:
            op.execute(f"CREATE TRIGGER {table}_stamp_{event} AFTER {event.upper()} ON {table} FOR EACH ROW "
                       "BEGIN UPDATE metadata_stamps SET stamp = lower(hex(randomblob(16))) "
                       f"WHERE area = '{area}'; END")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in (*REGISTRY, RULES):
        if postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_stamp ON {table}")
        else:
            for event in _SQLITE_EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_stamp_{event}")
    if postgresql:
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    op.execute("DELETE FROM metadata_stamps WHERE area = 'registry'")
