"""accounts: password change required, disabled since, token expiry and revocation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 20:30:00

Existing tokens expire 90 days (the default of ``JIAOWEI_TOKEN_DAYS``) after they were created;
existing revoked tokens get no revocation time (it was not recorded).
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DEFAULT_TOKEN_DAYS = 90


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch copy of ``users``: on SQLite, dropping the old ``users`` table
    # would cascade (foreign keys are on) and empty user_scopes, api_tokens and sessions.
    op.add_column("users", sa.Column("must_change_password", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column("users", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_tokens", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_tokens", sa.Column("revoked_by", sa.String(length=64), nullable=True))
    tokens = sa.table("api_tokens", sa.column("id", sa.Integer()),
                      sa.column("created_at", sa.DateTime(timezone=True)),
                      sa.column("expires_at", sa.DateTime(timezone=True)))
    conn = op.get_bind()
    for token_id, created_at in conn.execute(sa.select(tokens.c.id, tokens.c.created_at)).all():
        conn.execute(sa.update(tokens).where(tokens.c.id == token_id)
                     .values(expires_at=created_at + dt.timedelta(days=DEFAULT_TOKEN_DAYS)))
    # No table refers to api_tokens, so SQLite's copy of it (to make the column NOT NULL) loses nothing.
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    # Per-address login limits (auth/login.py) count failures by client address.
    op.create_index("ix_login_attempts_remote_at", "login_attempts", ["remote", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_attempts_remote_at", table_name="login_attempts")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("revoked_by")
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("expires_at")
    op.drop_column("users", "disabled_at")
    op.drop_column("users", "must_change_password")
