"""Offer and motive lead their queue indexes; their single-column indexes go

The queue filtered by motive read its "Nouveau" half by intersecting the caisse's "Nouveau" with
ix_request_motive_id, every caisse's requests of that motive (2 ms at 1 M requests, growing with
the table). With (motive_id, caisse_id, deposited_at, id) and (service_offer_id, caisse_id,
deposited_at, id) the filters read only the caisse's rows, and the same indexes serve the foreign
keys' checks, so the single-column ones are dropped.

Revision ID: e7a3b4c5d6f8
Revises: d5f2e3a4b6c7
Create Date: 2026-11-23 17:45:00

"""
from alembic import op

revision = 'e7a3b4c5d6f8'
down_revision = 'd5f2e3a4b6c7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('request', schema=None) as batch_op:
        batch_op.create_index('ix_request_offer_caisse_deposited',
                              ['service_offer_id', 'caisse_id', 'deposited_at', 'id'], unique=False)
        batch_op.create_index('ix_request_motive_caisse_deposited',
                              ['motive_id', 'caisse_id', 'deposited_at', 'id'], unique=False)
        batch_op.drop_index('ix_request_queue_offer')
        batch_op.drop_index('ix_request_queue_motive')
        batch_op.drop_index(batch_op.f('ix_request_service_offer_id'))
        batch_op.drop_index(batch_op.f('ix_request_motive_id'))


def downgrade():
    with op.batch_alter_table('request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_motive_id'), ['motive_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_request_service_offer_id'), ['service_offer_id'], unique=False)
        batch_op.create_index('ix_request_queue_motive', ['caisse_id', 'motive_id', 'deposited_at', 'id'], unique=False)
        batch_op.create_index('ix_request_queue_offer', ['caisse_id', 'service_offer_id', 'deposited_at', 'id'],
                              unique=False)
        batch_op.drop_index('ix_request_motive_caisse_deposited')
        batch_op.drop_index('ix_request_offer_caisse_deposited')
