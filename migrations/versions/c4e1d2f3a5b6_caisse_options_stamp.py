"""Caisse options stamp: the work queue's filter options are kept per worker under (caisse, stamp)

Every change to what the queue's filters offer for a caisse (its conventions, its motives, the names
of its structures, the catalogue) replaces the caisse's stamp (services/caisse_cache.py); the stamp
is read with the agent on every page, so a page never shows options older than its own request.
Existing caisses get a random stamp.

Revision ID: c4e1d2f3a5b6
Revises: ac2be41622bf
Create Date: 2026-11-23 15:20:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = 'c4e1d2f3a5b6'
down_revision = 'ac2be41622bf'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('caisse', schema=None) as batch_op:
        batch_op.add_column(sa.Column('options_stamp', sa.String(length=32), nullable=True))
    caisse = sa.table('caisse', sa.column('id', sa.Integer), sa.column('options_stamp', sa.String))
    connection = op.get_bind()
    for (caisse_id,) in connection.execute(sa.select(caisse.c.id)).all():
        connection.execute(caisse.update().where(caisse.c.id == caisse_id).values(options_stamp=secrets.token_hex(16)))
    with op.batch_alter_table('caisse', schema=None) as batch_op:
        batch_op.alter_column('options_stamp', existing_type=sa.String(length=32), nullable=False)


def downgrade():
    with op.batch_alter_table('caisse', schema=None) as batch_op:
        batch_op.drop_column('options_stamp')
