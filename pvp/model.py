"""The deployment model: sites, kiosks, services, agencies, queues, counsellors, windows.

Whole on purpose: the one declarative mapping of the schema, read side by side with the
migrations; its stored words are in :mod:`pvp.vocabulary`.

SQLAlchemy 2 declarative mapping; the schema itself is owned by the Alembic migrations in
``pvp/migrations`` (the tests check that the two agree).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Time,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

# The words the columns hold live in the pure core; re-exported for the model's readers.
from pvp.vocabulary import AlertKind as AlertKind
from pvp.vocabulary import AppointmentStatus as AppointmentStatus
from pvp.vocabulary import CallOutcome as CallOutcome
from pvp.vocabulary import ConsoleStatus as ConsoleStatus
from pvp.vocabulary import DocumentKind as DocumentKind
from pvp.vocabulary import NoticeKind as NoticeKind
from pvp.vocabulary import Role as Role
from pvp.vocabulary import TransferStatus as TransferStatus

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware instant stored as UTC; SQLite hands back naive values, made aware again."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Department(Base):
    __tablename__ = "departments"
    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))


class Service(Base):
    __tablename__ = "services"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    default_mode: Mapped[str] = mapped_column(String(16))


class Site(Base):
    """Where a kiosk stands: a commune of a communauté de communes, in a host place."""

    __tablename__ = "sites"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    community: Mapped[str] = mapped_column(String(120))
    commune: Mapped[str] = mapped_column(String(120))
    host_place: Mapped[str] = mapped_column(String(200), default="")
    agent_phone: Mapped[str] = mapped_column(String(32), default="")
    agent_email: Mapped[str] = mapped_column(String(200), default="")
    pilot: Mapped[bool] = mapped_column(default=False)

    department: Mapped[Department] = relationship()
    kiosks: Mapped[list[Kiosk]] = relationship(back_populates="site", order_by="Kiosk.id")


class Kiosk(Base):
    __tablename__ = "kiosks"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # also its SIP user
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    a1_hash: Mapped[str] = mapped_column(String(32))

    site: Mapped[Site] = relationship(back_populates="kiosks")
    buttons: Mapped[list[KioskButton]] = relationship(
        cascade="all, delete-orphan", order_by="KioskButton.position"
    )

    @property
    def service_codes(self) -> list[str]:
        return [b.service_code for b in self.buttons]


class KioskButton(Base):
    """One hardware service button of a kiosk, left to right."""

    __tablename__ = "kiosk_buttons"
    kiosk_id: Mapped[str] = mapped_column(
        ForeignKey("kiosks.id", ondelete="CASCADE"), primary_key=True
    )
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class Agency(Base):
    """An office of a public service (ANPE Le Puy-en-Velay), home of expert stations."""

    __tablename__ = "agencies"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"))
    name: Mapped[str] = mapped_column(String(160))
    town: Mapped[str] = mapped_column(String(120))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    pilot: Mapped[bool] = mapped_column(default=False)

    stations: Mapped[list[ExpertStation]] = relationship(
        cascade="all, delete-orphan", order_by="ExpertStation.id"
    )
    queues: Mapped[list[ExpertQueue]] = relationship(back_populates="agency")


class ExpertStation(Base):
    __tablename__ = "expert_stations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(160), default="")


class ExpertQueue(Base):
    """A service's queue at an agency, with what the dispatcher needs to run it."""

    __tablename__ = "expert_queues"
    __table_args__ = (
        CheckConstraint("max_wait_seconds > 0", name="max_wait"),
        CheckConstraint("no_answer_timeout_seconds > 0", name="no_answer"),
        CheckConstraint("wrap_up_seconds >= 0", name="wrap_up"),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"))
    name: Mapped[str] = mapped_column(String(160))
    strategy: Mapped[str] = mapped_column(String(32), default="longest_idle")
    max_wait_seconds: Mapped[int] = mapped_column(Integer, default=900)
    no_answer_timeout_seconds: Mapped[int] = mapped_column(Integer, default=20)
    wrap_up_seconds: Mapped[int] = mapped_column(Integer, default=60)

    agency: Mapped[Agency] = relationship(back_populates="queues")
    memberships: Mapped[list[QueueMembership]] = relationship(
        back_populates="queue", cascade="all, delete-orphan"
    )


class Counsellor(Base):
    __tablename__ = "counsellors"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # login and SIP user
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    station_id: Mapped[str | None] = mapped_column(ForeignKey("expert_stations.id"))
    display_name: Mapped[str] = mapped_column(String(160))
    a1_hash: Mapped[str] = mapped_column(String(32))

    agency: Mapped[Agency] = relationship()
    memberships: Mapped[list[QueueMembership]] = relationship(
        back_populates="counsellor", cascade="all, delete-orphan"
    )


class QueueMembership(Base):
    """A counsellor serves a queue at a priority level (1 is offered first)."""

    __tablename__ = "queue_memberships"
    counsellor_id: Mapped[str] = mapped_column(
        ForeignKey("counsellors.id", ondelete="CASCADE"), primary_key=True
    )
    queue_id: Mapped[str] = mapped_column(
        ForeignKey("expert_queues.id", ondelete="CASCADE"), primary_key=True
    )
    priority: Mapped[int] = mapped_column(Integer, default=1)

    counsellor: Mapped[Counsellor] = relationship(back_populates="memberships")
    queue: Mapped[ExpertQueue] = relationship(back_populates="memberships")


class RouteRule(Base):
    """Which expert queue answers a press of a service at a site, and when."""

    __tablename__ = "route_rules"
    __table_args__ = (UniqueConstraint("site_id", "service_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"))
    queue_id: Mapped[str] = mapped_column(ForeignKey("expert_queues.id"))

    windows: Mapped[list[OpeningWindow]] = relationship(
        cascade="all, delete-orphan", order_by="OpeningWindow.id"
    )


class OpeningWindow(Base):
    __tablename__ = "opening_windows"
    id: Mapped[int] = mapped_column(primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("route_rules.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(16))
    weekdays: Mapped[str] = mapped_column(String(40))  # "wed,thu"
    nth: Mapped[str] = mapped_column(String(20), default="")  # "4" or "1,3" or "-1"
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    except_dates: Mapped[str] = mapped_column(String(2000), default="")  # ISO dates, comma
    note: Mapped[str] = mapped_column(String(400), default="")


class ClosureDay(Base):
    """A local closure: every service of a site, one service everywhere, or both."""

    __tablename__ = "closures"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))
    service_code: Mapped[str | None] = mapped_column(ForeignKey("services.code"))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200))


class Appointment(Base):
    __tablename__ = "appointments"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"))
    counsellor_id: Mapped[str] = mapped_column(ForeignKey("counsellors.id"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)  # stored as UTC
    minutes: Mapped[int] = mapped_column(Integer)
    citizen_ref: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default=AppointmentStatus.BOOKED.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CitizenContact(Base):
    """The convoked citizen of an appointment: the least needed to reach them, purged
    ``convocation_retention_days`` after the appointment (docs/convocations.md)."""

    __tablename__ = "citizen_contacts"
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    bring: Mapped[str] = mapped_column(String(600), default="")  # printed on the letter
    # What the citizen was last told: "" until convoked, then the status and start sent.
    notified_status: Mapped[str] = mapped_column(String(16), default="")
    notified_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CitizenNotice(Base):
    """One e-mail to a citizen. ``key`` is unique and the row is committed before the SMTP
    conversation, so a notice is sent at most once, restarts included."""

    __tablename__ = "citizen_notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # NoticeKind
    key: Mapped[str] = mapped_column(String(120), unique=True)
    recipient: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set while a send is under way; a failure clears it (retried), a crash leaves it.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(String(400), default="")


class PlanRevision(Base):
    """A counter bumped by every change, so readers know when their cached plan is stale."""

    __tablename__ = "plan_revision"
    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class CallRecord(Base):
    """One press of a service button and what became of it: the evaluation's raw material."""

    __tablename__ = "call_records"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the kiosk leg's call UUID
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.id"), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"), index=True)
    queue_id: Mapped[str | None] = mapped_column(ForeignKey("expert_queues.id"))
    counsellor_id: Mapped[str | None] = mapped_column(ForeignKey("counsellors.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    mode: Mapped[str | None] = mapped_column(String(16))  # appointment | walk_in
    decision: Mapped[str] = mapped_column(String(32))  # the routing decision kind
    pressed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_seconds: Mapped[float | None] = mapped_column()
    talk_seconds: Mapped[float | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(16), index=True)  # CallOutcome
    reason: Mapped[str] = mapped_column(String(200), default="")
    # The citizen lifted the handset: the counsellor's console says "conversation privée".
    private: Mapped[bool] = mapped_column(default=False, server_default=false())


class CounsellorState(Base):
    """What the dispatcher must know of a counsellor besides the plan."""

    __tablename__ = "counsellor_states"
    counsellor_id: Mapped[str] = mapped_column(
        ForeignKey("counsellors.id", ondelete="CASCADE"), primary_key=True
    )
    console_status: Mapped[str] = mapped_column(String(16), default=ConsoleStatus.OFFLINE.value)
    registered: Mapped[bool] = mapped_column(default=False)  # SIP registration, from ESL
    last_call_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConsoleCredential(Base):
    """The short-lived SIP credential of a counsellor's browser console (one at a time).

    The console registers as ``<counsellor>_console`` with a random password it gets once; only
    the digest (``a1_hash``) is stored, served by the xml_curl directory until ``expires_at``.
    Signing out deletes the row, a new console session replaces it.
    """

    __tablename__ = "console_credentials"
    counsellor_id: Mapped[str] = mapped_column(
        ForeignKey("counsellors.id", ondelete="CASCADE"), primary_key=True
    )
    a1_hash: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KioskHeartbeat(Base):
    """The last health report of each kiosk (SIP, user agent, printer, scanner, camera)."""

    __tablename__ = "kiosk_heartbeats"
    kiosk_id: Mapped[str] = mapped_column(
        ForeignKey("kiosks.id", ondelete="CASCADE"), primary_key=True
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


# --- The panel: accounts, audit log, login throttling, calendar feeds, supervision alerts ---


class User(Base):
    """A person who signs in to the panel; what they may see follows from role and scope."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(24))
    scope: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Part of the session's user id: raising it (sign-out, new password, deactivation)
    # ends every session of the account, copied cookies included.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())


class AuditEntry(Base):
    """One change made through the panel or the CLI: who, when, what, before and after."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # a login, or "cli"
    action: Mapped[str] = mapped_column(String(32))  # create | update | delete | ...
    entity: Mapped[str] = mapped_column(String(64))  # a table name
    entity_id: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class LoginFailure(Base):
    """A failed sign-in; recent rows per login or address throttle further tries."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), index=True)
    remote_addr: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class CounsellorFeed(Base):
    """The digest of the secret token in the URL of a counsellor's ICS calendar feed."""

    __tablename__ = "counsellor_feeds"
    counsellor_id: Mapped[str] = mapped_column(
        ForeignKey("counsellors.id", ondelete="CASCADE"), primary_key=True
    )
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)


class Alert(Base):
    """A kiosk problem: open from ``since``, raised (and mailed) once it lasted long enough."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # AlertKind
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    raised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_to: Mapped[str] = mapped_column(String(400), default="")
    notify_error: Mapped[str] = mapped_column(String(400), default="")
    detail: Mapped[str] = mapped_column(String(400), default="")


class QueueEntry(Base):
    """A caller in an expert queue, kept so that a restart of the control plane keeps places.

    The dispatcher writes its state here after every change; on start it rebuilds from these
    rows and then checks each against FreeSWITCH's live channels.
    """

    __tablename__ = "queue_entries"
    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the kiosk leg's UUID
    queue_id: Mapped[str] = mapped_column(ForeignKey("expert_queues.id"), index=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.id"))
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"))
    mode: Mapped[str] = mapped_column(String(16))  # appointment | walk_in
    booked_counsellor_id: Mapped[str | None] = mapped_column(ForeignKey("counsellors.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seq: Mapped[int] = mapped_column(Integer)  # arrival order among equal instants
    state: Mapped[str] = mapped_column(String(16))  # waiting | ringing | talking
    counsellor_id: Mapped[str | None] = mapped_column(ForeignKey("counsellors.id"))
    leg_uuid: Mapped[str | None] = mapped_column(String(64))  # the counsellor's leg
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refused: Mapped[list[str]] = mapped_column(JSON, default=list)  # rejected or failed
    unanswered: Mapped[list[str]] = mapped_column(JSON, default=list)  # let it ring, in order
    walk_in_fallback: Mapped[bool] = mapped_column(default=False)


class Document(Base):
    """One PDF, stored once under its SHA-256; the file goes at purge, the row stays."""

    __tablename__ = "documents"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(64), default="application/pdf")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purge_reason: Mapped[str] = mapped_column(String(16), default="")  # retention | forgotten


class DocumentTransfer(Base):
    """Who sent which document to whom, when, for which call: the audit trail.

    A scan's row exists from the command on, before its document: ``sha256`` is set when
    the kiosk uploads. ``command_id`` ties the row to the SIP MESSAGE command and its answers.
    """

    __tablename__ = "document_transfers"
    id: Mapped[int] = mapped_column(primary_key=True)
    command_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # DocumentKind
    sha256: Mapped[str | None] = mapped_column(ForeignKey("documents.sha256"), index=True)
    sender: Mapped[str] = mapped_column(String(80))  # counsellor, kiosk or fax number
    recipient: Mapped[str] = mapped_column(String(80))
    kiosk_id: Mapped[str | None] = mapped_column(ForeignKey("kiosks.id"), index=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("call_records.id"), index=True)
    citizen_ref: Mapped[str] = mapped_column(String(64), default="", index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default=TransferStatus.PENDING.value)
    reason: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DocumentLink(Base):
    """A single-use download link (RFC 4483 by reference); only the token's hash is kept."""

    __tablename__ = "document_links"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("documents.sha256"))
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.id", ondelete="CASCADE"))
    command_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
