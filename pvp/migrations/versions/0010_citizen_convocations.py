"""citizens convoked to appointments: minimal contact details and the notices sent

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-05 03:35:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "citizen_contacts",
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("bring", sa.String(length=600), nullable=False),
        sa.Column("notified_status", sa.String(length=16), nullable=False),
        sa.Column("notified_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_citizen_contacts_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("appointment_id", name=op.f("pk_citizen_contacts")),
    )
    op.create_table(
        "citizen_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_citizen_notices_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_citizen_notices_key")),
    )
    with op.batch_alter_table("citizen_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_citizen_notices_appointment_id"), ["appointment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("citizen_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_citizen_notices_appointment_id"))
    op.drop_table("citizen_notices")
    op.drop_table("citizen_contacts")
