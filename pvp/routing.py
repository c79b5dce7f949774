"""The routing decision: what a press of service S at kiosk K at instant T leads to.

One pure function, :func:`decide`, used by the dialplan handler, the kiosk screen and the
panel's preview alike. It reads an immutable :class:`RoutingPlan` (built from the database
by :mod:`pvp.plan_view`) and never does I/O.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pvp.calendar import ClosureKind, Mode, Schedule
from pvp.common.errors import PvpError

APPOINTMENT_ONLY = frozenset({Mode.APPOINTMENT})
ANY_MODE = None
ACTIVE_APPOINTMENT = frozenset({"booked", "checked_in"})


class DecisionKind(enum.StrEnum):
    CLOSED = "closed"
    APPOINTMENT = "appointment"
    WALK_IN = "walk_in"
    APPOINTMENT_REQUIRED = "appointment_required"
    NO_SUCH_SERVICE = "no_such_service"


class Reason(enum.StrEnum):
    OUTSIDE_WINDOWS = "outside_windows"
    PUBLIC_HOLIDAY = "public_holiday"
    LOCAL_CLOSURE = "local_closure"
    APPOINTMENT_ONLY = "appointment_only"
    NO_BUTTON = "no_button"
    NO_ROUTE = "no_route"


class RoutingError(PvpError, LookupError, code="unknown_route", summary="borne ou service inconnu"):
    """A press that cannot even be evaluated: unknown kiosk or service code."""


@dataclass(frozen=True, slots=True)
class KioskInfo:
    id: str
    site: str
    services: frozenset[str]


@dataclass(frozen=True, slots=True)
class Booking:
    id: int
    counsellor: str
    start: datetime  # UTC
    minutes: int


@dataclass(frozen=True)
class Route:
    site: str
    service: str
    queue: str
    schedule: Schedule


@dataclass(frozen=True)
class RoutingPlan:
    """Everything a decision needs, indexed for constant-time look-ups."""

    tz: ZoneInfo
    services: frozenset[str]
    kiosks: Mapping[str, KioskInfo]
    routes: Mapping[tuple[str, str], Route]
    # Active bookings per (site, service), sorted by start.
    bookings: Mapping[tuple[str, str], tuple[Booking, ...]] = field(default_factory=dict)
    checkin_before: timedelta = timedelta(minutes=15)
    checkin_after: timedelta = timedelta(minutes=20)


@dataclass(frozen=True, slots=True)
class Decision:
    decision: DecisionKind
    kiosk: str
    site: str
    service: str
    queue: str | None = None
    counsellor: str | None = None
    appointment: int | None = None
    next_opening: datetime | None = None
    open_until: datetime | None = None
    reason: Reason | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "decision": self.decision.value,
            "kiosk": self.kiosk,
            "site": self.site,
            "service": self.service,
            "queue": self.queue,
            "counsellor": self.counsellor,
            "appointment": self.appointment,
            "next_opening": iso(self.next_opening),
            "open_until": iso(self.open_until),
            "reason": self.reason.value if self.reason else None,
            "detail": self.detail,
        }


def _start(booking: Booking) -> datetime:
    return booking.start


def booking_in_checkin(plan: RoutingPlan, site: str, service: str, at: datetime) -> Booking | None:
    """The booking whose check-in window holds ``at``; the nearest start wins."""
    bookings = plan.bookings.get((site, service), ())
    if not bookings:
        return None
    # Only starts within [at - after, at + before] can match: bisect that slice.
    lo = bisect.bisect_left(bookings, at - plan.checkin_after, key=_start)
    hi = bisect.bisect_right(bookings, at + plan.checkin_before, key=_start)
    candidates = bookings[lo:hi]
    return min(candidates, key=lambda b: abs(b.start - at), default=None)


def decide(plan: RoutingPlan, kiosk_id: str, service: str, at: datetime) -> Decision:
    """The routing decision for a press; ``at`` must be timezone-aware."""
    if at.tzinfo is None:
        raise ValueError("the instant must carry a time zone")
    kiosk = plan.kiosks.get(kiosk_id)
    if kiosk is None:
        raise RoutingError(f"unknown kiosk {kiosk_id!r}")
    if service not in plan.services:
        raise RoutingError(f"unknown service code {service!r}")
    at = at.astimezone(UTC)

    def made(kind: DecisionKind, **kw: Any) -> Decision:
        # Instants are computed in UTC and shown in the deployment's zone.
        for key in ("next_opening", "open_until"):
            if kw.get(key) is not None:
                kw[key] = kw[key].astimezone(plan.tz)
        return Decision(kind, kiosk.id, kiosk.site, service, **kw)

    if service not in kiosk.services:
        return made(DecisionKind.NO_SUCH_SERVICE, reason=Reason.NO_BUTTON)
    route = plan.routes.get((kiosk.site, service))
    if route is None:
        return made(DecisionKind.NO_SUCH_SERVICE, reason=Reason.NO_ROUTE)
    schedule = route.schedule

    closed = schedule.rules.closed_on(schedule.local_day(at))
    if closed:
        kind, label = closed
        reason = (
            Reason.PUBLIC_HOLIDAY if kind is ClosureKind.PUBLIC_HOLIDAY else Reason.LOCAL_CLOSURE
        )
        return made(
            DecisionKind.CLOSED,
            queue=route.queue,
            reason=reason,
            detail=label,
            next_opening=schedule.next_opening(at, ANY_MODE),
        )

    booking = booking_in_checkin(plan, kiosk.site, service, at)
    if booking is not None:
        return made(
            DecisionKind.APPOINTMENT,
            queue=route.queue,
            counsellor=booking.counsellor,
            appointment=booking.id,
            open_until=booking.start + timedelta(minutes=booking.minutes),
        )

    open_now = schedule.open_intervals_at(at)
    walk_in = [i for i in open_now if i.mode is Mode.WALK_IN]
    if walk_in:
        return made(DecisionKind.WALK_IN, queue=route.queue, open_until=max(i.end for i in walk_in))
    if open_now:
        return made(
            DecisionKind.APPOINTMENT_REQUIRED,
            queue=route.queue,
            reason=Reason.APPOINTMENT_ONLY,
            open_until=max(i.end for i in open_now),
            next_opening=schedule.next_interval_start(at, APPOINTMENT_ONLY),
        )
    return made(
        DecisionKind.CLOSED,
        queue=route.queue,
        reason=Reason.OUTSIDE_WINDOWS,
        next_opening=schedule.next_opening(at, ANY_MODE),
    )
