"""Outbox: personal set-password links are issued at send time, never stored

Until now the outbox body held the live `/mot-de-passe/<token>` link until the message was sent,
so anyone reading the outbox could take the account over. A message now records which link it
needs (link_purpose and its owner, at most one of link_partner_account_id and link_agent_id);
its stored bodies show `[lien personnel masqué]`, and the sender issues the token and puts the
real link in the outgoing e-mail only.

Existing rows: every link left in a stored body (pending, failed or already redacted as
"[lien envoyé]") is replaced by the mask. Their tokens are not recoverable and the rows do not
say which account they were for: a pending message from before this revision is sent with the
mask, and its recipient uses « Mot de passe oublié ? ».

Revision ID: a1c2e3f4b5d6
Revises: f8b4c5d6e7a9
Create Date: 2026-11-24 09:00:00

"""
import re

import sqlalchemy as sa
from alembic import op

revision = 'a1c2e3f4b5d6'
down_revision = 'f8b4c5d6e7a9'
branch_labels = None
depends_on = None

MASK = "[lien personnel masqué]"
# The whole link (scheme and host included when present), a live token or the old redaction.
LINK = re.compile(r"(?:https?://[^\s<>\"']*?)?/mot-de-passe/(?:\[lien envoyé\]|[A-Za-z0-9_\-]{16,})")


def _redact_existing_bodies() -> None:
    bind = op.get_bind()
    outbox = sa.table(
        "outbox_message", sa.column("id", sa.Integer), sa.column("body_text", sa.Text),
        sa.column("body_html", sa.Text),
    )
    rows = bind.execute(
        sa.select(outbox.c.id, outbox.c.body_text, outbox.c.body_html).where(
            outbox.c.body_text.like("%/mot-de-passe/%") | outbox.c.body_html.like("%/mot-de-passe/%")
        )
    ).all()
    for row in rows:
        bind.execute(
            outbox.update().where(outbox.c.id == row.id).values(
                body_text=LINK.sub(MASK, row.body_text or ""), body_html=LINK.sub(MASK, row.body_html or "")
            )
        )


def upgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_purpose', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('link_partner_account_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('link_agent_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_message_link_partner_account_id'), ['link_partner_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_message_link_agent_id'), ['link_agent_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_outbox_message_link_partner_account_id_partner_account'), 'partner_account',
            ['link_partner_account_id'], ['id'], ondelete='SET NULL',
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_outbox_message_link_agent_id_agent'), 'agent', ['link_agent_id'], ['id'], ondelete='SET NULL',
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_outbox_message_at_most_one_link_owner'),
            'link_partner_account_id IS NULL OR link_agent_id IS NULL',
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_outbox_message_link_owner_has_purpose'),
            'link_purpose IS NOT NULL OR (link_partner_account_id IS NULL AND link_agent_id IS NULL)',
        )
    _redact_existing_bodies()


def downgrade():
    # Bodies stay redacted: the links they held were not recoverable anyway.
    op.execute("UPDATE outbox_message SET status = 'failed' WHERE status = 'cancelled'")
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_outbox_message_link_owner_has_purpose'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_outbox_message_at_most_one_link_owner'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_outbox_message_link_agent_id_agent'), type_='foreignkey')
        batch_op.drop_constraint(
            batch_op.f('fk_outbox_message_link_partner_account_id_partner_account'), type_='foreignkey'
        )
        batch_op.drop_index(batch_op.f('ix_outbox_message_link_agent_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_message_link_partner_account_id'))
        batch_op.drop_column('link_agent_id')
        batch_op.drop_column('link_partner_account_id')
        batch_op.drop_column('link_purpose')
