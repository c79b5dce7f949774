"""Staffing per site, service and permanence window, from the call records (Erlang C).

For each walk-in window of a route: the hours it was open in the year (its days up to today,
public holidays left out), the walk-in presses that fell inside it, their mean talk time
(served calls), hence the arrivals per hour; then :mod:`pvp.staffing` gives the counsellors
needed for the target and the expected wait with today's staffing (the members of the
route's queue). Appointment windows are left out: a booked citizen has their own counsellor.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, case, func, select, tuple_, type_coerce
from sqlalchemy.orm import Session, selectinload

from pvp.calendar import Mode, Window, french_holidays
from pvp.model import CallRecord, QueueMembership, RouteRule, Service, Site
from pvp.panel.french import DAY_SHORT, duration
from pvp.panel.stats import Filters
from pvp.plan_view import window_from_row
from pvp.staffing import Estimate, estimate

DEFAULT_TARGET_SECONDS = 120
DEFAULT_SHARE = 0.8


@dataclass(frozen=True)
class WindowStaffing:
    site: str
    site_name: str
    service: str
    service_name: str
    window: str  # "ven (4e) 09:00–12:00"
    open_hours: float
    calls: int
    estimate: Estimate | None  # None: no call measured in the window (nothing to size)


def window_label(row_weekdays: str, nth: str, w: Window) -> str:
    days = ", ".join(DAY_SHORT.get(d, d) for d in row_weekdays.split(",") if d)
    ranks = ",".join("dernier" if n == "-1" else f"{n}e" for n in nth.split(",") if n)
    return f"{days}{f' ({ranks})' if ranks else ''} {w.start:%H:%M}–{w.end:%H:%M}"


def _instant(value: str | datetime) -> datetime:
    """A UTC instant from the database: SQLite's naive text or a driver's datetime."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant


def _open_days(w: Window, first: date, last: date, closed: Container[date]) -> list[date]:
    days = []
    day = first
    while day <= last:
        if w.applies_on(day) and day not in closed:
            days.append(day)
        day += timedelta(days=1)
    return days


def staffing(
    session: Session,
    f: Filters,
    tz: ZoneInfo,
    target_seconds: float = DEFAULT_TARGET_SECONDS,
    share: float = DEFAULT_SHARE,
    now: datetime | None = None,
) -> list[WindowStaffing]:
    now = now or datetime.now(UTC)
    first = date(f.year, 1, 1)
    last = min(date(f.year, 12, 31), now.astimezone(tz).date())
    closed = french_holidays()
    sites = {s.id: s.commune for s in session.scalars(select(Site))}
    services = {s.code: s.name for s in session.scalars(select(Service))}
    staffed: dict[str, int] = {
        queue: n
        for queue, n in session.execute(
            select(QueueMembership.queue_id, func.count()).group_by(QueueMembership.queue_id)
        )
    }
    where = []
    if f.site:
        where.append(RouteRule.site_id == f.site)
    if f.service:
        where.append(RouteRule.service_code == f.service)
    routes = session.scalars(
        select(RouteRule).options(selectinload(RouteRule.windows)).where(*where)
    ).all()
    # Walk-in presses of the year that placed a call, per route, as local wall times.
    walk_in = {
        (r.site_id, r.service_code)
        for r in routes
        if any(w.mode == Mode.WALK_IN.value for w in r.windows)
    }
    presses: dict[tuple[str, str], list[tuple[datetime, float | None]]] = defaultdict(list)
    start = datetime(f.year, 1, 1, tzinfo=UTC) - timedelta(days=1)
    cr = CallRecord
    # The instant as the driver gives it (SQLite: text), not through UTCDateTime: at
    # 100,000 records the column type's per-row conversion was most of the section's time.
    query = select(
        cr.site_id,
        cr.service_code,
        type_coerce(cr.pressed_at, String),
        case((cr.outcome == "served", cr.talk_seconds)),
    ).where(
        cr.decision == "walk_in",
        cr.pressed_at >= start,
        cr.pressed_at < now,
        tuple_(cr.site_id, cr.service_code).in_(sorted(walk_in)),
    )
    if f.site:
        query = query.where(cr.site_id == f.site)
    if f.service:
        query = query.where(cr.service_code == f.service)
    for site, service, pressed, talk in session.execute(query):
        local = _instant(pressed).astimezone(tz)
        if local.year == f.year:
            presses[(site, service)].append((local, talk))
    out = []
    for route in sorted(routes, key=lambda r: (sites.get(r.site_id, ""), r.service_code)):
        for row in route.windows:
            if row.mode != Mode.WALK_IN.value:
                continue
            w = window_from_row(row)
            days = set(_open_days(w, first, last, closed))
            hours = (
                len(days)
                * (
                    datetime.combine(first, w.end) - datetime.combine(first, w.start)
                ).total_seconds()
                / 3600
            )
            inside = [
                (t, talk)
                for t, talk in presses[(route.site_id, route.service_code)]
                if t.date() in days and w.start <= t.time() < w.end
            ]
            talks = [talk for _t, talk in inside if talk is not None]
            est = None
            if hours > 0 and talks:
                est = estimate(
                    len(inside) / hours,
                    sum(talks) / len(talks),
                    staffed.get(route.queue_id, 0),
                    target_seconds,
                    share,
                )
            out.append(
                WindowStaffing(
                    route.site_id,
                    sites.get(route.site_id, route.site_id),
                    route.service_code,
                    services.get(route.service_code, route.service_code),
                    window_label(row.weekdays, row.nth, w),
                    hours,
                    len(inside),
                    est,
                )
            )
    return out


def wait_today(e: Estimate) -> str:
    """The expected mean wait with today's staffing, in French."""
    if e.wait_today is None:
        return "personne pour répondre"
    if math.isinf(e.wait_today):
        return "saturé (plus d'appels que de conseillers)"
    return duration(e.wait_today)


def _fr(value: float | None, digits: int = 1) -> str:
    """A decimal as French spreadsheets read it (comma), empty when unknown."""
    if value is None:
        return ""
    if math.isinf(value):
        return "saturé"
    return f"{value:.{digits}f}".replace(".", ",")


CSV_HEADER = (
    "site",
    "service",
    "plage",
    "heures_ouvertes",
    "appels",
    "appels_par_heure",
    "conversation_moyenne_s",
    "charge_erlangs",
    "conseillers_aujourd_hui",
    "conseillers_nécessaires",
    "attente_moyenne_aujourd_hui_s",
    "part_répondue_dans_la_cible",
)


def to_csv(rows: list[WindowStaffing]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(CSV_HEADER)
    for r in rows:
        e = r.estimate
        writer.writerow(
            [
                r.site_name,
                r.service_name,
                r.window,
                _fr(r.open_hours),
                r.calls,
                _fr(e.calls_per_hour, 2) if e else "",
                _fr(e.talk_seconds, 0) if e else "",
                _fr(e.load, 2) if e else "",
                e.staffed if e else "",
                e.needed if e else "",
                _fr(e.wait_today, 0) if e else "",
                _fr(100 * e.within_today, 0) if e and e.within_today is not None else "",
            ]
        )
    return "\ufeff" + out.getvalue()
