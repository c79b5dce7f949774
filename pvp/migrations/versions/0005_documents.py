"""documents: store, transfers (audit), single-use links

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 19:39:24.012203
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purge_reason", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_documents")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_documents_last_used_at"), ["last_used_at"], unique=False
        )

    op.create_table(
        "document_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kiosk_id", sa.String(length=80), nullable=False),
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["kiosk_id"],
            ["kiosks.id"],
            name=op.f("fk_document_links_kiosk_id_kiosks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["documents.sha256"], name=op.f("fk_document_links_sha256_documents")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_document_links")),
    )
    with op.batch_alter_table("document_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_links_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "document_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("sender", sa.String(length=80), nullable=False),
        sa.Column("recipient", sa.String(length=80), nullable=False),
        sa.Column("kiosk_id", sa.String(length=80), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("citizen_ref", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["call_records.id"],
            name=op.f("fk_document_transfers_call_id_call_records"),
        ),
        sa.ForeignKeyConstraint(
            ["kiosk_id"], ["kiosks.id"], name=op.f("fk_document_transfers_kiosk_id_kiosks")
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["documents.sha256"], name=op.f("fk_document_transfers_sha256_documents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_transfers")),
        sa.UniqueConstraint("command_id", name=op.f("uq_document_transfers_command_id")),
    )
    with op.batch_alter_table("document_transfers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_transfers_call_id"), ["call_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_document_transfers_citizen_ref"), ["citizen_ref"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_document_transfers_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_document_transfers_kiosk_id"), ["kiosk_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_document_transfers_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("document_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_transfers_sha256"))
        batch_op.drop_index(batch_op.f("ix_document_transfers_kiosk_id"))
        batch_op.drop_index(batch_op.f("ix_document_transfers_created_at"))
        batch_op.drop_index(batch_op.f("ix_document_transfers_citizen_ref"))
        batch_op.drop_index(batch_op.f("ix_document_transfers_call_id"))

    op.drop_table("document_transfers")
    with op.batch_alter_table("document_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_links_expires_at"))

    op.drop_table("document_links")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_last_used_at"))

    op.drop_table("documents")
