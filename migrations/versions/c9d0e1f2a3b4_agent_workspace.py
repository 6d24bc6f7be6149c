"""The agent workspace: notes and reassignments, reply templates, digests, folded search columns

- request_note: internal notes and reassignments of a request (never shown to the partner).
- reply_template: a caisse's "Modèles de réponse".
- agent_digest: one row per agent and Paris day whose digest was queued (at most one a day).
- agent.digest_enabled: the agent may turn the digest off.
- request.person_search and structure.search_name: the folded (lowercase, unaccented) names the
  queue's search matches, filled here for existing rows; on PostgreSQL the trigram indexes and the
  caisse's search keys move onto them.
- ix_request_owner: "Mes demandes" and the "Pris en charge par" filter.

Revision ID: c9d0e1f2a3b4
Revises: b2d3f4a5c6e7
Create Date: 2026-12-01 12:00:00

"""
import sqlalchemy as sa
from alembic import op

from backoffice.folding import fold, person_search

revision = "c9d0e1f2a3b4"
down_revision = "b2d3f4a5c6e7"
branch_labels = None
depends_on = None

BATCH = 5000


def _backfill(table: str, columns: tuple[str, ...], target: str, compute) -> None:
    """Fill `target` from `columns` by primary key ranges (bounded memory, any table size)."""
    bind = op.get_bind()
    meta = sa.table(table, sa.column("id"), *(sa.column(c) for c in columns), sa.column(target))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(meta.c.id, *(meta.c[c] for c in columns)).where(meta.c.id > last).order_by(meta.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            sa.update(meta).where(meta.c.id == sa.bindparam("row_id")).values({target: sa.bindparam("value")}),
            [{"row_id": row[0], "value": compute(*row[1:])} for row in rows],
        )
        last = rows[-1][0]


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest_enabled", sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table("structure", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_name", sa.String(length=120), server_default="", nullable=False))
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_search", sa.String(length=60), nullable=True))
        batch_op.create_index(
            "ix_request_owner", ["taken_by_agent_id", "status", "deposited_at", "id"], unique=False
        )
    _backfill("structure", ("name",), "search_name", fold)
    _backfill("request", ("person_last_name", "person_first_name"), "person_search", person_search)
    if postgresql:
        op.drop_index("ix_structure_name_trgm", table_name="structure")
        op.create_index(
            "ix_structure_search_trgm", "structure", ["search_name"], unique=False,
            postgresql_using="gin", postgresql_ops={"search_name": "gin_trgm_ops"},
        )
        op.drop_index("ix_request_search_keys", table_name="request")
        op.drop_index("ix_request_search", table_name="request")
        op.create_index(
            "ix_request_search", "request", ["caisse_id", "number", "person_search"], unique=False,
            postgresql_using="gin", postgresql_ops={"number": "gin_trgm_ops", "person_search": "gin_trgm_ops"},
        )
        op.execute(
            "CREATE INDEX ix_request_search_keys ON request USING gin (ep_search_keys(caisse_id, number, person_search))"
        )

    op.create_table(
        "request_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=80), nullable=False),
        sa.Column("from_agent_id", sa.Integer(), nullable=True),
        sa.Column("to_agent_id", sa.Integer(), nullable=True),
        sa.Column("from_name", sa.String(length=80), nullable=True),
        sa.Column("to_name", sa.String(length=80), nullable=True),
        sa.CheckConstraint("kind IN ('note', 'reassignment')", name=op.f("ck_request_note_kind_known")),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agent.id"], name=op.f("fk_request_note_agent_id_agent"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["from_agent_id"], ["agent.id"], name=op.f("fk_request_note_from_agent_id_agent"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["to_agent_id"], ["agent.id"], name=op.f("fk_request_note_to_agent_id_agent"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["request.id"], name=op.f("fk_request_note_request_id_request"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_note")),
    )
    with op.batch_alter_table("request_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_request_note_request_id"), ["request_id"], unique=False)

    op.create_table(
        "reply_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caisse_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("service_offer_id", sa.Integer(), nullable=True),
        sa.Column("motive_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["caisse_id"], ["caisse.id"], name=op.f("fk_reply_template_caisse_id_caisse"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["motive_id"], ["motive.id"], name=op.f("fk_reply_template_motive_id_motive")),
        sa.ForeignKeyConstraint(
            ["service_offer_id"], ["service_offer.id"], name=op.f("fk_reply_template_service_offer_id_service_offer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_template")),
    )
    with op.batch_alter_table("reply_template", schema=None) as batch_op:
        batch_op.create_index("ix_reply_template_caisse_offer", ["caisse_id", "service_offer_id"], unique=False)

    op.create_table(
        "agent_digest",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agent.id"], name=op.f("fk_agent_digest_agent_id_agent"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", "day", name=op.f("pk_agent_digest")),
    )


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.drop_table("agent_digest")
    with op.batch_alter_table("reply_template", schema=None) as batch_op:
        batch_op.drop_index("ix_reply_template_caisse_offer")
    op.drop_table("reply_template")
    with op.batch_alter_table("request_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_note_request_id"))
    op.drop_table("request_note")
    if postgresql:
        op.drop_index("ix_request_search_keys", table_name="request")
        op.drop_index("ix_request_search", table_name="request")
        op.create_index(
            "ix_request_search", "request", ["caisse_id", "number", "person_last_name"], unique=False,
            postgresql_using="gin", postgresql_ops={"number": "gin_trgm_ops", "person_last_name": "gin_trgm_ops"},
        )
        op.execute(
            "CREATE INDEX ix_request_search_keys ON request USING gin "
            "(ep_search_keys(caisse_id, number, person_last_name))"
        )
        op.drop_index("ix_structure_search_trgm", table_name="structure")
        op.create_index(
            "ix_structure_name_trgm", "structure", ["name"], unique=False,
            postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"},
        )
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.drop_index("ix_request_owner")
        batch_op.drop_column("person_search")
    with op.batch_alter_table("structure", schema=None) as batch_op:
        batch_op.drop_column("search_name")
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.drop_column("digest_enabled")
