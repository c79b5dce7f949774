"""short-lived SIP credentials of the counsellors' browser consoles

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-05 03:55:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_credentials",
        sa.Column("counsellor_id", sa.String(length=64), nullable=False),
        sa.Column("a1_hash", sa.String(length=32), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["counsellor_id"], ["counsellors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("counsellor_id"),
    )


def downgrade() -> None:
    op.drop_table("console_credentials")
