"""The routing plan read from the database: the bridge from the model to the pure core."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pvp.calendar import Closure, DayRules, Mode, Schedule, Window, french_holidays, weekday_number
from pvp.clock import Clock, SystemClock
from pvp.config import Settings
from pvp.db import Database
from pvp.model import (
    Appointment,
    ClosureDay,
    ExpertQueue,
    Kiosk,
    OpeningWindow,
    RouteRule,
    Service,
)
from pvp.routing import ACTIVE_APPOINTMENT, Booking, KioskInfo, Route, RoutingPlan


def _csv(value: str) -> list[str]:
    return [v for v in (x.strip() for x in value.split(",")) if v]


def window_from_row(row: OpeningWindow) -> Window:
    return Window(
        mode=Mode(row.mode),
        weekdays=frozenset(weekday_number(d) for d in _csv(row.weekdays)),
        start=row.start_time,
        end=row.end_time,
        nth=frozenset(int(n) for n in _csv(row.nth)),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        except_dates=frozenset(date.fromisoformat(d) for d in _csv(row.except_dates)),
    )


def queue_max_waits(session: Session) -> dict[str, int]:
    """Each expert queue's longest wait in seconds, by queue id (the dialplan's park timeout)."""
    rows = session.execute(select(ExpertQueue.id, ExpertQueue.max_wait_seconds))
    return {queue: wait for queue, wait in rows}


def load_routing_plan(
    session: Session, settings: Settings, since: datetime | None = None
) -> RoutingPlan:
    """Read everything a decision needs; active bookings from ``since`` on (all if None)."""
    tz = settings.zone
    holidays = french_holidays()
    services = frozenset(session.scalars(select(Service.code)))
    kiosks = {
        k.id: KioskInfo(k.id, k.site_id, frozenset(k.service_codes))
        for k in session.scalars(select(Kiosk).options(selectinload(Kiosk.buttons)))
    }
    closures: dict[tuple[str | None, str | None], list[Closure]] = defaultdict(list)
    for c in session.scalars(select(ClosureDay)):
        closures[(c.site_id, c.service_code)].append(Closure(c.first_day, c.last_day, c.reason))
    routes = {}
    for r in session.scalars(select(RouteRule).options(selectinload(RouteRule.windows))):
        applicable = tuple(
            closure
            for key in (
                (None, None),
                (r.site_id, None),
                (None, r.service_code),
                (r.site_id, r.service_code),
            )
            for closure in closures.get(key, ())
        )
        schedule = Schedule(
            tuple(window_from_row(w) for w in r.windows), DayRules(holidays, applicable), tz
        )
        routes[(r.site_id, r.service_code)] = Route(r.site_id, r.service_code, r.queue_id, schedule)
    bookings: dict[tuple[str, str], list[Booking]] = defaultdict(list)
    query = select(Appointment).where(Appointment.status.in_(ACTIVE_APPOINTMENT))
    if since is not None:
        query = query.where(Appointment.start >= since)
    rows = session.scalars(query.order_by(Appointment.start))
    for a in rows:
        bookings[(a.site_id, a.service_code)].append(
            Booking(a.id, a.counsellor_id, a.start, a.minutes)
        )
    return RoutingPlan(
        tz=tz,
        services=services,
        kiosks=kiosks,
        routes=routes,
        bookings={k: tuple(v) for k, v in bookings.items()},
        checkin_before=timedelta(minutes=settings.checkin_before_minutes),
        checkin_after=timedelta(minutes=settings.checkin_after_minutes),
    )


class PlanCache:
    """The routing plan, reloaded only when the plan revision moved (any edit bumps it)."""

    def __init__(self, db: Database, settings: Settings, clock: Clock | None = None) -> None:
        self._db = db
        self._settings = settings
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._revision = -1
        self._loaded_on: date | None = None
        self._plan: RoutingPlan | None = None

    def get(self) -> RoutingPlan:
        revision = self._db.revision()
        now = self._clock.now().astimezone(self._settings.zone)
        today = now.date()
        with self._lock:
            # Reload daily too: bookings are read from a day back, and days move on.
            if self._plan is None or revision != self._revision or today != self._loaded_on:
                since = now - timedelta(days=1)
                with self._db.sessions() as session:
                    self._plan = load_routing_plan(session, self._settings, since)
                self._revision = revision
                self._loaded_on = today
            return self._plan


__all__ = ["PlanCache", "load_routing_plan", "window_from_row"]
