"""accounts: server-side session epoch, forced password change; feed tokens kept as hashes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 03:30:00
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    # Feed links already handed out keep working: their tokens are replaced by their digests.
    feeds = sa.table("counsellor_feeds", sa.column("counsellor_id"), sa.column("token"))
    bind = op.get_bind()
    for counsellor_id, token in bind.execute(sa.select(feeds.c.counsellor_id, feeds.c.token)):
        digest = hashlib.sha256(token.encode()).hexdigest()
        bind.execute(
            feeds.update().where(feeds.c.counsellor_id == counsellor_id).values(token=digest)
        )
    with op.batch_alter_table("counsellor_feeds", schema=None) as batch_op:
        batch_op.drop_constraint("uq_counsellor_feeds_token", type_="unique")
        batch_op.alter_column("token", new_column_name="token_sha256")
    with op.batch_alter_table("counsellor_feeds", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_counsellor_feeds_token_sha256"), ["token_sha256"]
        )


def downgrade() -> None:
    # The clear tokens cannot be recovered: the links must be renewed after a downgrade.
    with op.batch_alter_table("counsellor_feeds", schema=None) as batch_op:
        batch_op.drop_constraint("uq_counsellor_feeds_token_sha256", type_="unique")
        batch_op.alter_column("token_sha256", new_column_name="token")
    with op.batch_alter_table("counsellor_feeds", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_counsellor_feeds_token"), ["token"])
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
        batch_op.drop_column("session_epoch")
