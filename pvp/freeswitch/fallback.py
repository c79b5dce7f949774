"""The static fallback of the kiosks' dialplan: the routing plan as FreeSWITCH time conditions.

When the control plane does not answer, mod_xml_curl falls through to this context. Time
cannot be precomputed, so the windows become FreeSWITCH conditions evaluated at call time
in the deployment's zone (the kiosk's ``timezone`` variable, from the directory):
``wday`` (1 = Sunday), ``mday`` ranges for "n-th weekday of the month" ("4th Friday" is
``wday="6" mday="22-28"``; ``mweek`` is the calendar row, not that), ``time-of-day`` with an
inclusive end (so one second before the window's end). Holidays, local closures and booked
appointments are dated: listed as ``year``/``mon``/``mday`` for ``static_horizon_days``.
Windows with validity bounds, exception dates or "last of the month" are dated the same way.

The extensions follow :func:`pvp.routing.decide`'s order: no button, no route, holiday,
closure, booked appointment, walk-in window, appointment-only window, closed. What the
fallback cannot know (the next opening) is left out.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta

from pvp.calendar import Mode, Window, french_holidays
from pvp.config import Settings
from pvp.freeswitch.dialplan import Outcome, actions, add_actions
from pvp.freeswitch.directory import KIOSK_CONTEXT
from pvp.routing import DecisionKind, Reason, Route, RoutingPlan
from pvp.wire.channel import RoutedBy, Var

TimeAttrs = dict[str, str]


def fs_wday(weekday: int) -> int:
    """Python's weekday (Monday 0) as FreeSWITCH's ``wday`` (Sunday 1 ... Saturday 7)."""
    return (weekday + 1) % 7 + 1


def _ranges(numbers: Iterable[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3,7"``."""
    values = sorted(set(numbers))
    spans: list[list[int]] = []
    for n in values:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def time_of_day(start: time, end: time) -> str:
    """FreeSWITCH's ``time-of-day`` is inclusive at both ends: stop one second early."""
    last = (datetime.combine(date.min, end) - timedelta(seconds=1)).time()
    return f"{start:%H:%M:%S}-{last:%H:%M:%S}"


def dated(days: Iterable[date], extra: TimeAttrs | None = None) -> list[TimeAttrs]:
    """Days as ``year``/``mon``/``mday`` conditions, one per month they fall in."""
    months: dict[tuple[int, int], list[int]] = defaultdict(list)
    for day in days:
        months[(day.year, day.month)].append(day.day)
    return [
        {"year": str(y), "mon": str(m), "mday": _ranges(mdays), **(extra or {})}
        for (y, m), mdays in sorted(months.items())
    ]


def is_recurring(window: Window) -> bool:
    """Can ``wday``/``mday`` alone say on which days ``window`` applies?"""
    return not (window.valid_from or window.valid_until or window.except_dates or -1 in window.nth)


def window_conditions(window: Window, first: date, last: date) -> list[TimeAttrs]:
    """Alternative condition sets (any one matches) for the instants ``window`` is open."""
    tod = {"time-of-day": time_of_day(window.start, window.end)}
    if is_recurring(window):
        attrs = {"wday": ",".join(str(fs_wday(d)) for d in sorted(window.weekdays))}
        if window.nth:
            attrs["mday"] = ",".join(f"{7 * n - 6}-{min(7 * n, 31)}" for n in sorted(window.nth))
        return [{**attrs, **tod}]
    return dated((d for d in _days(first, last) if window.applies_on(d)), tod)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _field(extension: ET.Element, field: str, values: Iterable[str]) -> None:
    alternatives = "|".join(re.escape(v) for v in sorted(set(values)))
    ET.SubElement(extension, "condition", field=field, expression=f"^(?:{alternatives})$")


class _Context:
    """Appends extensions to the ``pvp-kiosks`` context, each ending in one outcome."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.element = ET.Element("context", name=KIOSK_CONTEXT)

    def add(
        self,
        name: str,
        outcome: Outcome,
        *,
        kiosk: str | None = None,
        site: str | None = None,
        services: Iterable[str] = (),
        when: TimeAttrs | None = None,
    ) -> None:
        extension = ET.SubElement(self.element, "extension", name=name)
        if kiosk:
            _field(extension, f"${{{Var.KIOSK}}}", [kiosk])
        if site:
            _field(extension, f"${{{Var.SITE}}}", [site])
        services = list(services)
        if services:
            _field(extension, "destination_number", services)
        last = ET.SubElement(extension, "condition", when or {})
        add_actions(last, actions(outcome, self.settings, RoutedBy.STATIC))

    def add_route(
        self, route: Route, name: str, outcome: Outcome, when: TimeAttrs | None = None
    ) -> None:
        """An extension for presses of ``route``'s service at its site."""
        self.add(
            f"{route.site}/{route.service}/{name}",
            outcome,
            site=route.site,
            services=[route.service],
            when=when,
        )


def kiosk_context(
    plan: RoutingPlan,
    settings: Settings,
    today: date,
    closures: Iterable[tuple[str | None, str | None, date, date, str]],
    max_waits: dict[str, int],
) -> ET.Element:
    """The ``pvp-kiosks`` context as of ``today``.

    ``closures`` are ``(site or None, service or None, first day, last day, reason)``.
    """
    horizon = today + timedelta(days=settings.static_horizon_days)
    ctx = _Context(settings)
    services = sorted(plan.services)
    refuse = DecisionKind.NO_SUCH_SERVICE
    for kiosk in sorted(plan.kiosks.values(), key=lambda k: k.id):
        missing = set(services) - kiosk.services
        if missing:
            outcome = Outcome(refuse, "${destination_number}", reason=Reason.NO_BUTTON.value)
            ctx.add(f"{kiosk.id}/no-button", outcome, kiosk=kiosk.id, services=missing)
    sites = sorted({k.site for k in plan.kiosks.values()})
    for site in sites:
        unrouted = {s for s in services if (site, s) not in plan.routes}
        if unrouted:
            outcome = Outcome(refuse, "${destination_number}", reason=Reason.NO_ROUTE.value)
            ctx.add(f"{site}/no-route", outcome, site=site, services=unrouted)

    holidays = french_holidays()
    for day in _days(today, horizon):
        name = holidays.get(day)
        if name:
            outcome = Outcome(
                DecisionKind.CLOSED,
                "${destination_number}",
                reason=Reason.PUBLIC_HOLIDAY.value,
                detail=str(name),
            )
            for when in dated([day]):
                ctx.add(f"holiday/{day}", outcome, services=services, when=when)
    for only_site, only_service, first_day, last_day, text in closures:  # None: all
        if last_day < today or first_day > horizon:
            continue
        outcome = Outcome(
            DecisionKind.CLOSED,
            only_service or "${destination_number}",
            reason=Reason.LOCAL_CLOSURE.value,
            detail=text,
        )
        days = _days(max(first_day, today), min(last_day, horizon))
        for when in dated(days):
            ctx.add(
                f"closure/{only_site or '*'}/{only_service or '*'}/{first_day}",
                outcome,
                site=only_site,
                services=[only_service] if only_service else services,
                when=when,
            )

    routes = sorted(plan.routes.values(), key=lambda r: (r.site, r.service))
    for route in routes:
        _bookings(ctx, plan, route, today, horizon, max_waits)
    for mode, kind in (
        (Mode.WALK_IN, DecisionKind.WALK_IN),
        (Mode.APPOINTMENT, DecisionKind.APPOINTMENT_REQUIRED),
    ):
        for route in routes:
            for i, window in enumerate(route.schedule.windows):
                if window.mode is not mode:
                    continue
                outcome = Outcome(
                    kind,
                    route.service,
                    queue=route.queue,
                    reason=Reason.APPOINTMENT_ONLY.value if mode is Mode.APPOINTMENT else None,
                    max_wait=max_waits.get(route.queue),
                )
                for j, when in enumerate(window_conditions(window, today, horizon)):
                    ctx.add_route(route, f"{mode.value}/{i}.{j}", outcome, when)
    for route in routes:
        outcome = Outcome(
            DecisionKind.CLOSED,
            route.service,
            queue=route.queue,
            reason=Reason.OUTSIDE_WINDOWS.value,
        )
        ctx.add_route(route, "closed", outcome)
    ctx.add("unknown", Outcome(refuse, "${destination_number}"))
    return ctx.element


def _bookings(
    ctx: _Context,
    plan: RoutingPlan,
    route: Route,
    today: date,
    horizon: date,
    max_waits: dict[str, int],
) -> None:
    """Each booked appointment: its check-in span routes to its counsellor."""
    for booking in plan.bookings.get((route.site, route.service), ()):
        start = (booking.start - plan.checkin_before).astimezone(plan.tz)
        end = (booking.start + plan.checkin_after).astimezone(plan.tz)
        if end.date() < today or start.date() > horizon:
            continue
        outcome = Outcome(
            DecisionKind.APPOINTMENT,
            route.service,
            queue=route.queue,
            counsellor=booking.counsellor,
            appointment=booking.id,
            max_wait=max_waits.get(route.queue),
        )
        # Split a span that crosses midnight: one dated condition per local day.
        day = start.date()
        while day <= end.date():
            lo = start.time() if day == start.date() else time(0, 0)
            hi = end.time() if day == end.date() else time(23, 59, 59)
            when = dated([day], {"time-of-day": f"{lo:%H:%M:%S}-{hi:%H:%M:%S}"})[0]
            ctx.add_route(route, f"appointment/{booking.id}/{day}", outcome, when)
            day += timedelta(days=1)
