"""Queue search indexes: trigrams of the number and the person's name next to the caisse, and of
structure names, on PostgreSQL (issue 6: the search read every row of the caisse)

SQLite has no trigram index: the same search scans there (the embedded default holds little).

Revision ID: d5f2e3a4b6c7
Revises: c4e1d2f3a5b6
Create Date: 2026-11-23 15:45:00

"""
from alembic import op

revision = 'd5f2e3a4b6c7'
down_revision = 'c4e1d2f3a5b6'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.create_index(
        "ix_request_search", "request", ["caisse_id", "number", "person_last_name"], unique=False,
        postgresql_using="gin", postgresql_ops={"number": "gin_trgm_ops", "person_last_name": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_structure_name_trgm", "structure", ["name"], unique=False,
        postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"},
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_structure_name_trgm", table_name="structure")
    op.drop_index("ix_request_search", table_name="request")
