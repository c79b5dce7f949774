"""Appointments: the booking rules (pure) and booking / cancelling in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from pvp.calendar import Mode
from pvp.common.errors import PvpError
from pvp.db import bump_revision
from pvp.model import (
    Appointment,
    AppointmentStatus,
    Counsellor,
    ExpertQueue,
    QueueMembership,
    RouteRule,
    Site,
)
from pvp.routing import ACTIVE_APPOINTMENT, RoutingPlan

MIN_MINUTES, MAX_MINUTES = 5, 180


class BookingRefused(PvpError, ValueError, code="booking_refused"):
    """A booking the rules forbid; the message says why, in French, for the person booking."""


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime
    who: str  # what the slot belongs to, named in a refusal


def overlapping(start: datetime, end: datetime, taken: list[Slot]) -> Slot | None:
    return next((s for s in taken if s.start < end and start < s.end), None)


def check_booking(
    plan: RoutingPlan,
    site: str,
    service: str,
    start: datetime,
    minutes: int,
    counsellor_slots: list[Slot],
    site_slots: list[Slot],
) -> None:
    """Raise :class:`BookingRefused` unless the slot may be booked. Pure: no I/O."""
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise BookingRefused(f"durée invalide : entre {MIN_MINUTES} et {MAX_MINUTES} minutes")
    route = plan.routes.get((site, service))
    if route is None:
        raise BookingRefused(f"le service {service} n'est pas proposé sur le site {site}")
    schedule = route.schedule
    start = start.astimezone(UTC)
    end = start + timedelta(minutes=minutes)
    closed = schedule.rules.closed_on(schedule.local_day(start))
    if closed:
        raise BookingRefused(f"fermé ce jour-là : {closed[1]}")
    inside = [
        i for i in schedule.open_intervals_at(start) if i.mode is Mode.APPOINTMENT and end <= i.end
    ]
    if not inside:
        raise BookingRefused(
            "hors des plages de rendez-vous du service sur ce site"
            + _next_hint(plan, site, service, start)
        )
    clash = overlapping(start, end, counsellor_slots)
    if clash:
        raise BookingRefused(f"le conseiller a déjà un rendez-vous à ce moment ({clash.who})")
    clash = overlapping(start, end, site_slots)
    if clash:
        raise BookingRefused(f"la borne du site est déjà réservée à ce moment ({clash.who})")


def _next_hint(plan: RoutingPlan, site: str, service: str, start: datetime) -> str:
    route = plan.routes[(site, service)]
    nxt = route.schedule.next_opening(start, frozenset({Mode.APPOINTMENT}))
    if nxt is None:
        return ""
    return f" ; prochaine plage : {nxt.astimezone(plan.tz):%d/%m/%Y %H:%M}"


def _slots(session: Session, *where: ColumnElement[bool]) -> list[Slot]:
    rows = session.scalars(
        select(Appointment).where(Appointment.status.in_(ACTIVE_APPOINTMENT), *where)
    )
    return [
        Slot(a.start, a.start + timedelta(minutes=a.minutes), f"rendez-vous n°{a.id}") for a in rows
    ]


@dataclass(frozen=True, slots=True)
class Booking:
    """What a person asks to book: where, which service, with whom, when and for how long."""

    site: str
    service: str
    counsellor: str
    start: datetime
    minutes: int = 30
    citizen_ref: str = ""


def book(
    session: Session, plan: RoutingPlan, booking: Booking, now: datetime | None = None
) -> Appointment:
    """Book an appointment; raises :class:`BookingRefused` and writes nothing if refused.

    With ``now`` (a person booking), a start already past is refused.
    """
    site, service, counsellor = booking.site, booking.service, booking.counsellor
    start, minutes, citizen_ref = booking.start, booking.minutes, booking.citizen_ref
    if start.tzinfo is None:
        raise ValueError("the start must carry a time zone")
    if session.get(Site, site) is None:
        raise BookingRefused(f"site inconnu : {site}")
    person = session.get(Counsellor, counsellor)
    if person is None:
        raise BookingRefused(f"conseiller inconnu : {counsellor}")
    if person.agency.service_code != service:
        raise BookingRefused(
            f"{person.display_name} ne travaille pas pour le service {service.upper()}"
        )
    if len(citizen_ref) > 64:
        raise BookingRefused("la référence de l'usager dépasse 64 caractères")
    check_slot(session, plan, site, service, person, start, minutes, now)
    appointment = Appointment(
        site_id=site,
        service_code=service,
        counsellor_id=counsellor,
        start=start.astimezone(UTC),
        minutes=minutes,
        citizen_ref=citizen_ref,
        status=AppointmentStatus.BOOKED.value,
        created_at=datetime.now(UTC),
    )
    session.add(appointment)
    session.flush()
    bump_revision(session)
    return appointment


def serving_agencies(session: Session, site: str, service: str) -> set[str]:
    """The agencies whose counsellors answer ``service`` at ``site``: the agency of the
    route's queue and those of its members."""
    queue = session.scalars(
        select(ExpertQueue)
        .join(RouteRule, RouteRule.queue_id == ExpertQueue.id)
        .where(RouteRule.site_id == site, RouteRule.service_code == service)
    ).first()
    if queue is None:
        return set()
    return {queue.agency_id} | {m.counsellor.agency_id for m in queue.memberships}


def check_slot(
    session: Session,
    plan: RoutingPlan,
    site: str,
    service: str,
    person: Counsellor,
    start: datetime,
    minutes: int,
    now: datetime | None = None,
    moving: int | None = None,
) -> None:
    """Raise :class:`BookingRefused` unless ``person`` may be booked at ``site`` then;
    ``moving``: the appointment being moved, whose own slot does not count."""
    start = start.astimezone(UTC)
    if now is not None and start < now:
        raise BookingRefused(f"ce moment est passé ({start.astimezone(plan.tz):%d/%m/%Y %H:%M})")
    if person.agency_id not in serving_agencies(session, site, service):
        raise BookingRefused(
            f"{person.display_name} n'appartient pas à une agence qui sert ce site"
        )
    day_span = (start - timedelta(days=1), start + timedelta(days=1))
    near = [Appointment.start > day_span[0], Appointment.start < day_span[1]]
    if moving is not None:
        near.append(Appointment.id != moving)
    check_booking(
        plan,
        site,
        service,
        start,
        minutes,
        _slots(session, Appointment.counsellor_id == person.id, *near),
        _slots(session, Appointment.site_id == site, *near),
    )


def _existing(session: Session, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise LookupError(f"rendez-vous inconnu : {appointment_id}")
    return appointment


def _check_again(
    session: Session,
    plan: RoutingPlan,
    appointment: Appointment,
    start: datetime,
    minutes: int,
    now: datetime | None,
) -> None:
    """The booking rules for an existing appointment at ``start``, its own slot left out."""
    person = session.get(Counsellor, appointment.counsellor_id)
    assert person is not None  # a foreign key
    check_slot(
        session,
        plan,
        appointment.site_id,
        appointment.service_code,
        person,
        start,
        minutes,
        now,
        moving=appointment.id,
    )


def move(
    session: Session,
    plan: RoutingPlan,
    appointment_id: int,
    start: datetime,
    minutes: int,
    now: datetime | None = None,
) -> Appointment:
    """Move an appointment in place: same number, new start and length, same rules."""
    appointment = _existing(session, appointment_id)
    if appointment.status not in ACTIVE_APPOINTMENT:
        raise BookingRefused(f"le rendez-vous n°{appointment_id} n'est plus actif")
    _check_again(session, plan, appointment, start, minutes, now)
    appointment.start = start.astimezone(UTC)
    appointment.minutes = minutes
    bump_revision(session)
    return appointment


def restore(
    session: Session, plan: RoutingPlan, appointment_id: int, now: datetime | None = None
) -> Appointment:
    """Undo a cancellation, if the slot is still free and to come."""
    appointment = _existing(session, appointment_id)
    if appointment.status != AppointmentStatus.CANCELLED.value:
        raise BookingRefused(f"le rendez-vous n°{appointment_id} n'est pas annulé")
    _check_again(session, plan, appointment, appointment.start, appointment.minutes, now)
    appointment.status = AppointmentStatus.BOOKED.value
    bump_revision(session)
    return appointment


def set_status(session: Session, appointment_id: int, status: AppointmentStatus) -> Appointment:
    appointment = _existing(session, appointment_id)
    if appointment.status == AppointmentStatus.CANCELLED.value:
        raise BookingRefused(f"le rendez-vous n°{appointment_id} est déjà annulé")
    appointment.status = status.value
    bump_revision(session)
    return appointment


def counsellor_queues(session: Session, counsellor: str) -> list[str]:
    return list(
        session.scalars(
            select(QueueMembership.queue_id).where(QueueMembership.counsellor_id == counsellor)
        )
    )
