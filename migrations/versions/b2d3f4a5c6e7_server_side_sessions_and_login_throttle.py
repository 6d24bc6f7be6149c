"""Server-side sessions and login throttling

user_session: one row per login (the SHA-256 of the key the session cookie carries, the account,
creation, last activity, revocation), so logout ends that session on the server and the idle and
absolute lifetimes are checked by every worker and machine. login_throttle: failed-login counters
per (login, client address) and per address, replacing the account lock, whose columns
(failed_logins, locked_until on agent and partner_account) are dropped (ALTER TABLE … DROP
COLUMN, native on PostgreSQL and SQLite ≥ 3.35: no table copy).

Sessions opened before this revision carry no key: their users log in again.

Revision ID: b2d3f4a5c6e7
Revises: a1c2e3f4b5d6
Create Date: 2026-11-24 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "b2d3f4a5c6e7"
down_revision = "a1c2e3f4b5d6"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("partner_account_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "(agent_id IS NULL) <> (partner_account_id IS NULL)", name=op.f("ck_user_session_one_owner")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agent.id"], name=op.f("fk_user_session_agent_id_agent"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["partner_account_id"], ["partner_account.id"],
            name=op.f("fk_user_session_partner_account_id_partner_account"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_user_session_key_hash")),
    )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_session_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_user_session_partner_account_id"), ["partner_account_id"], unique=False)

    op.create_table(
        "login_throttle",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_login_throttle")),
    )
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_throttle_last_failure_at"), ["last_failure_at"], unique=False)


    for table in ("agent", "partner_account"):
        op.drop_column(table, "locked_until")
        op.drop_column(table, "failed_logins")


def downgrade():
    for table in ("agent", "partner_account"):
        op.add_column(table, sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        op.add_column(table, sa.Column("locked_until", sa.DateTime(), nullable=True))
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttle_last_failure_at"))
    op.drop_table("login_throttle")
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_session_partner_account_id"))
        batch_op.drop_index(batch_op.f("ix_user_session_agent_id"))
    op.drop_table("user_session")
