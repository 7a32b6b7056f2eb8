"""stamps for accounts, audit, appraisals, plans, campaigns, periods, imports, approvals, dashboards

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 00:20:00

Ten more rows of ``metadata_stamps`` (migrations 0018 and 0020), whose ``stamp`` the database sets to
a new random value in the same transaction as every write to the area's tables. A process keeps what
it read of an area under the stamp it read with (``jiaowei.db.kept``; issue 17, decision 0023):

- ``accounts``: every insert, update and delete of ``users`` and ``user_scopes``; an insert or delete
  of ``api_tokens`` and ``sessions``, and an update of their owner, hash, expiry, revocation or CSRF
  token. A token's ``last_used_at`` (written after responses, ``jiaowei.auth.token_use``), its label
  and its creation time change nothing a request's principal holds, and not the stamp. What is kept:
  the principal of each token and session used (``jiaowei.auth.service``).
- ``audit``: every write to ``audit_log``. What is kept: the number of entries in the whole log, and
  for read-only requests its newest entries (``jiaowei.audit.queries.list_entries``). Every write
  that appends to the log already waits for the one before it (``audit_head`` is read FOR UPDATE), so
  the stamp's row adds no wait of its own.
- ``appraisals``: every write to the appraisal tables. What is kept: what a read-only request read of
  them (``jiaowei.plans.appraisals.queries``).
- ``plans``: every write to the plans, their items (key tasks), the items' units, milestones, links,
  checkpoints and progress reports, and to the risks. What is kept: every item with what hangs from
  it, and the risks, for read-only requests (``jiaowei.plans.tasks.queries``, ``plans.risks.queries``).
- ``admissions``: every write to ``campaigns`` (an application changes its campaign's count). What is
  kept: the list of campaigns, for read-only requests (``jiaowei.admissions.queries``).
- ``periods``: every write to ``periods`` (a period is stored with the first value of it). What is
  kept: every stored period, for read-only requests (``jiaowei.indicators.values.checking``).
- ``imports``: every write to ``data_imports`` (each save or import of values writes one, and values
  change only with one) and to ``indicator_facts``. What is kept: the newest import, the analytics
  engine's change-feed marker (``jiaowei.analytics.cube``), whether a unit's values in a period are
  synthetic, and the range of periods with values or facts (the pickers' defaults).
- ``approvals``: every write to ``approvals`` and ``lock_exceptions``. What is kept: a period's
  approvals and lock exceptions, for the data entry form (``jiaowei.indicators.values.checking``).
- ``dashboards``: every write to ``dashboards``. What is kept: each user's list of dashboards, for
  read-only requests (``jiaowei.analytics.dashboards``).

A write made outside jiaowei (psql) changes the stamps as the services' writes do.

PostgreSQL: one function per area and a statement-level trigger per table (TRUNCATE too). SQLite: row
triggers. A later migration that copies one of these tables on SQLite (batch mode) drops its triggers
with it and must create them again (tests/auth/test_principal_kept.py, tests/audit/test_list_statements.py
and tests/plans/test_appraisals_kept.py check that every table has them).
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_ALL = ""  # every update; otherwise the columns whose update changes the stamp
AREAS: dict[str, dict[str, str]] = {
    "accounts": {"users": _ALL, "user_scopes": _ALL,
                 "api_tokens": "user_id, token_hash, revoked, expires_at",
                 "sessions": "user_id, token_hash, csrf_token, expires_at"},
    "audit": {"audit_log": _ALL},
    "appraisals": {table: _ALL for table in (
        "appraisal_templates", "appraisal_criteria", "appraisal_rounds", "appraisal_subjects",
        "appraisal_assignments", "appraisal_scores")},
    "plans": {table: _ALL for table in (
        "plans", "plan_items", "plan_item_units", "plan_milestones", "plan_links", "plan_checkpoints",
        "plan_reports", "risks")},
    "admissions": {"campaigns": _ALL},
    "periods": {"periods": _ALL},
    "imports": {"data_imports": _ALL, "indicator_facts": _ALL},
    "approvals": {"approvals": _ALL, "lock_exceptions": _ALL},
    "dashboards": {"dashboards": _ALL},
}


def _update(columns: str) -> str:
    return f"UPDATE OF {columns}" if columns else "UPDATE"


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for area, tables in AREAS.items():
        stamp = "gen_random_uuid()::text" if postgresql else "lower(hex(randomblob(16)))"
        op.execute(f"INSERT INTO metadata_stamps (area, stamp) VALUES ('{area}', {stamp})")
        if postgresql:
            op.execute(f"""
                CREATE OR REPLACE FUNCTION metadata_stamp_{area}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    UPDATE metadata_stamps SET stamp = gen_random_uuid()::text WHERE area = '{area}';
                    RETURN NULL;
                END
                $$""")
            for table, columns in tables.items():
                op.execute(f"CREATE TRIGGER {table}_stamp AFTER INSERT OR {_update(columns)} OR DELETE"
                           f" OR TRUNCATE ON {table} FOR EACH STATEMENT"
                           f" EXECUTE FUNCTION metadata_stamp_{area}()")
            continue
        for table, columns in tables.items():
            for event in ("insert", "update", "delete"):
                clause = _update(columns) if event == "update" else event.upper()
                op.execute(f"CREATE TRIGGER {table}_stamp_{event} AFTER {clause} ON {table} FOR EACH ROW "
                           "BEGIN UPDATE metadata_stamps SET stamp = lower(hex(randomblob(16))) "
                           f"WHERE area = '{area}'; END")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for area, tables in AREAS.items():
        for table in tables:
            if postgresql:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_stamp ON {table}")
            else:
                for event in ("insert", "update", "delete"):
                    op.execute(f"DROP TRIGGER IF EXISTS {table}_stamp_{event}")
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS metadata_stamp_{area}()")
        op.execute(f"DELETE FROM metadata_stamps WHERE area = '{area}'")
