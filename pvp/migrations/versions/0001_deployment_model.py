"""deployment model

Revision ID: 0001
Revises:
Create Date: 2026-11-29 19:12:43.949368
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("code", sa.String(length=3), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_departments")),
    )
    op.create_table(
        "plan_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_revision")),
    )
    op.create_table(
        "services",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("default_mode", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_services")),
    )
    op.create_table(
        "agencies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service_code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("town", sa.String(length=120), nullable=False),
        sa.Column("department_code", sa.String(length=3), nullable=False),
        sa.Column("pilot", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_agencies_department_code_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["service_code"], ["services.code"], name=op.f("fk_agencies_service_code_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agencies")),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("department_code", sa.String(length=3), nullable=False),
        sa.Column("community", sa.String(length=120), nullable=False),
        sa.Column("commune", sa.String(length=120), nullable=False),
        sa.Column("host_place", sa.String(length=200), nullable=False),
        sa.Column("agent_phone", sa.String(length=32), nullable=False),
        sa.Column("agent_email", sa.String(length=200), nullable=False),
        sa.Column("pilot", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_sites_department_code_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_table(
        "closures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=True),
        sa.Column("service_code", sa.String(length=16), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_code"], ["services.code"], name=op.f("fk_closures_service_code_services")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_closures_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closures")),
    )
    op.create_table(
        "expert_queues",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("service_code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("max_wait_seconds", sa.Integer(), nullable=False),
        sa.Column("no_answer_timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("wrap_up_seconds", sa.Integer(), nullable=False),
        sa.CheckConstraint("max_wait_seconds > 0", name=op.f("ck_expert_queues_max_wait")),
        sa.CheckConstraint(
            "no_answer_timeout_seconds > 0", name=op.f("ck_expert_queues_no_answer")
        ),
        sa.CheckConstraint("wrap_up_seconds >= 0", name=op.f("ck_expert_queues_wrap_up")),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_expert_queues_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["service_code"], ["services.code"], name=op.f("fk_expert_queues_service_code_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_queues")),
    )
    op.create_table(
        "expert_stations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=160), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_expert_stations_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_stations")),
    )
    op.create_table(
        "kiosks",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("a1_hash", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_kiosks_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosks")),
    )
    op.create_table(
        "counsellors",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("display_name", sa.String(length=160), nullable=False),
        sa.Column("a1_hash", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_counsellors_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["expert_stations.id"],
            name=op.f("fk_counsellors_station_id_expert_stations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counsellors")),
    )
    op.create_table(
        "kiosk_buttons",
        sa.Column("kiosk_id", sa.String(length=80), nullable=False),
        sa.Column("service_code", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kiosk_id"],
            ["kiosks.id"],
            name=op.f("fk_kiosk_buttons_kiosk_id_kiosks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_code"], ["services.code"], name=op.f("fk_kiosk_buttons_service_code_services")
        ),
        sa.PrimaryKeyConstraint("kiosk_id", "service_code", name=op.f("pk_kiosk_buttons")),
    )
    op.create_table(
        "route_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("service_code", sa.String(length=16), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["expert_queues.id"], name=op.f("fk_route_rules_queue_id_expert_queues")
        ),
        sa.ForeignKeyConstraint(
            ["service_code"], ["services.code"], name=op.f("fk_route_rules_service_code_services")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_route_rules_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_rules")),
        sa.UniqueConstraint("site_id", "service_code", name=op.f("uq_route_rules_site_id")),
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("service_code", sa.String(length=16), nullable=False),
        sa.Column("counsellor_id", sa.String(length=64), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("citizen_ref", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["counsellor_id"],
            ["counsellors.id"],
            name=op.f("fk_appointments_counsellor_id_counsellors"),
        ),
        sa.ForeignKeyConstraint(
            ["service_code"], ["services.code"], name=op.f("fk_appointments_service_code_services")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_appointments_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    op.create_table(
        "opening_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("weekdays", sa.String(length=40), nullable=False),
        sa.Column("nth", sa.String(length=20), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("except_dates", sa.String(length=2000), nullable=False),
        sa.Column("note", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["route_rules.id"],
            name=op.f("fk_opening_windows_route_id_route_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_windows")),
    )
    op.create_table(
        "queue_memberships",
        sa.Column("counsellor_id", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["counsellor_id"],
            ["counsellors.id"],
            name=op.f("fk_queue_memberships_counsellor_id_counsellors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["expert_queues.id"],
            name=op.f("fk_queue_memberships_queue_id_expert_queues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("counsellor_id", "queue_id", name=op.f("pk_queue_memberships")),
    )


def downgrade() -> None:
    op.drop_table("queue_memberships")
    op.drop_table("opening_windows")
    op.drop_table("appointments")
    op.drop_table("route_rules")
    op.drop_table("kiosk_buttons")
    op.drop_table("counsellors")
    op.drop_table("kiosks")
    op.drop_table("expert_stations")
    op.drop_table("expert_queues")
    op.drop_table("closures")
    op.drop_table("sites")
    op.drop_table("agencies")
    op.drop_table("services")
    op.drop_table("plan_revision")
    op.drop_table("departments")
