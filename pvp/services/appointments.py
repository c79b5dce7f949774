"""Appointment changes, audited: booking, moving, restoring, cancelling, marking absent.

The rules live in :mod:`pvp.appointments`; these are the entry points the panel and
``pvp appointment`` use, each writing its audit entry in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from pvp import appointments as rules
from pvp.appointments import Booking, BookingRefused
from pvp.model import Appointment, AppointmentStatus
from pvp.routing import RoutingPlan
from pvp.services import audit

__all__ = ["Booking", "BookingRefused", "book", "move", "restore", "set_status"]

# The audit log's action for each status a person sets.
STATUS_ACTIONS = {AppointmentStatus.CANCELLED: "cancel", AppointmentStatus.NO_SHOW: "no_show"}


def book(
    session: Session,
    plan: RoutingPlan,
    booking: Booking,
    *,
    actor: str,
    now: datetime | None = None,
) -> Appointment:
    made = rules.book(session, plan, booking, now)
    audit.record(session, actor, "book", "appointments", made.id, None, audit.snapshot(made))
    return made


def move(
    session: Session,
    plan: RoutingPlan,
    appointment_id: int,
    start: datetime,
    minutes: int,
    *,
    actor: str,
    now: datetime | None = None,
) -> Appointment:
    def change() -> Appointment:
        return rules.move(session, plan, appointment_id, start, minutes, now)

    return _audited(session, actor, "move", appointment_id, change)


def restore(
    session: Session,
    plan: RoutingPlan,
    appointment_id: int,
    *,
    actor: str,
    now: datetime | None = None,
) -> Appointment:
    def change() -> Appointment:
        return rules.restore(session, plan, appointment_id, now)

    return _audited(session, actor, "restore", appointment_id, change)


def set_status(
    session: Session, appointment_id: int, status: AppointmentStatus, *, actor: str
) -> Appointment:
    """Cancel or mark absent (:data:`STATUS_ACTIONS`)."""

    def change() -> Appointment:
        return rules.set_status(session, appointment_id, status)

    return _audited(session, actor, STATUS_ACTIONS.get(status, "status"), appointment_id, change)


def _audited(
    session: Session,
    actor: str,
    action: str,
    appointment_id: int,
    change: Callable[[], Appointment],
) -> Appointment:
    """Run ``change`` on an existing appointment and record it, before and after."""
    before = audit.snapshot(session.get(Appointment, appointment_id))
    row = change()
    audit.record(session, actor, action, "appointments", row.id, before, audit.snapshot(row))
    return row
