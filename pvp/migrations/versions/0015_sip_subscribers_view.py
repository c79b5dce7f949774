"""a view of every device's SIP digest, for Kamailio's auth_db

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Kamailio (auth_db, calculate_ha1 off) reads username and ha1: FreeSWITCH's a1-hash is
# the same MD5(user:realm:secret), so kiosks and counsellors keep their credentials.
VIEW = """
CREATE VIEW sip_subscribers AS
    SELECT id AS username, a1_hash AS ha1 FROM kiosks
    UNION ALL
    SELECT id AS username, a1_hash AS ha1 FROM counsellors
"""


def upgrade() -> None:
    op.execute(VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW sip_subscribers")
