"""call records, counsellor states, kiosk heartbeats

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 19:17:48.775617
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kiosk_heartbeats",
        sa.Column("kiosk_id", sa.String(length=80), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kiosk_id"],
            ["kiosks.id"],
            name=op.f("fk_kiosk_heartbeats_kiosk_id_kiosks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kiosk_id", name=op.f("pk_kiosk_heartbeats")),
    )
    op.create_table(
        "counsellor_states",
        sa.Column("counsellor_id", sa.String(length=64), nullable=False),
        sa.Column("console_status", sa.String(length=16), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("last_call_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["counsellor_id"],
            ["counsellors.id"],
            name=op.f("fk_counsellor_states_counsellor_id_counsellors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("counsellor_id", name=op.f("pk_counsellor_states")),
    )
    op.create_table(
        "call_records",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kiosk_id", sa.String(length=80), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("service_code", sa.String(length=16), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=True),
        sa.Column("counsellor_id", sa.String(length=64), nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=True),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("pressed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("talk_seconds", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_call_records_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["counsellor_id"],
            ["counsellors.id"],
            name=op.f("fk_call_records_counsellor_id_counsellors"),
        ),
        sa.ForeignKeyConstraint(
            ["kiosk_id"], ["kiosks.id"], name=op.f("fk_call_records_kiosk_id_kiosks")
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["expert_queues.id"], name=op.f("fk_call_records_queue_id_expert_queues")
        ),
        sa.ForeignKeyConstraint(
            ["service_code"], ["services.code"], name=op.f("fk_call_records_service_code_services")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_call_records_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_records")),
    )
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_call_records_counsellor_id"), ["counsellor_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_call_records_kiosk_id"), ["kiosk_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_records_outcome"), ["outcome"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_call_records_pressed_at"), ["pressed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_call_records_service_code"), ["service_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_call_records_site_id"), ["site_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_records_site_id"))
        batch_op.drop_index(batch_op.f("ix_call_records_service_code"))
        batch_op.drop_index(batch_op.f("ix_call_records_pressed_at"))
        batch_op.drop_index(batch_op.f("ix_call_records_outcome"))
        batch_op.drop_index(batch_op.f("ix_call_records_kiosk_id"))
        batch_op.drop_index(batch_op.f("ix_call_records_counsellor_id"))

    op.drop_table("call_records")
    op.drop_table("counsellor_states")
    op.drop_table("kiosk_heartbeats")
