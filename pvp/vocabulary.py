"""The words the database stores: statuses, outcomes, kinds and roles.

Pure values (no SQLAlchemy), so the dispatcher's policy and state, which speak of call
outcomes and console statuses, stay in the pure core; ``pvp.model``'s columns hold their
``.value`` strings.
"""

from __future__ import annotations

import enum


class AppointmentStatus(enum.StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    SEEN = "seen"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class NoticeKind(enum.StrEnum):
    CONVOCATION = "convocation"
    REMINDER = "reminder"  # the day before
    CHANGE = "change"  # moved
    CANCELLATION = "cancellation"


class CallOutcome(enum.StrEnum):
    SERVED = "served"
    ABANDONED = "abandoned"
    CLOSED = "closed"
    NO_COUNSELLOR = "no_counsellor"
    TIMED_OUT = "timed_out"
    FAILED = "failed"


class ConsoleStatus(enum.StrEnum):
    AVAILABLE = "available"  # disponible
    PAUSED = "paused"  # en pause
    OFFLINE = "offline"  # hors ligne


class Role(enum.StrEnum):
    REGION_ADMIN = "region_admin"
    SERVICE_MANAGER = "service_manager"  # scope: a service code
    COUNSELLOR = "counsellor"  # scope: a counsellor id
    SITE_AGENT = "site_agent"  # scope: a site id


class AlertKind(enum.StrEnum):
    KIOSK_OFFLINE = "kiosk_offline"
    PRINTER_NO_PAPER = "printer_no_paper"


class DocumentKind(enum.StrEnum):
    """What happened to a document, as the audit trail says it."""

    SHOWN = "shown"  # displayed on the kiosk screen
    PRINTED = "printed"  # printed on the kiosk printer
    SCANNED = "scanned"  # scanned at the kiosk, received by the counsellor
    FAX_IN = "fax_in"  # a fax received for a kiosk or a counsellor
    FAX_OUT = "fax_out"  # a fax sent by a counsellor
    SIGNED = "signed"  # signed by the citizen at the kiosk, sealed (pvp/documents/signatures.py)


class TransferStatus(enum.StrEnum):
    PENDING = "pending"  # stored, command sent or about to be
    ACCEPTED = "accepted"  # the kiosk (or the switch) took it
    DONE = "done"
    FAILED = "failed"
