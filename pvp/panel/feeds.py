"""Each counsellor's appointments as an ICS calendar feed, behind a secret link."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, abort
from icalendar import Calendar, Event
from sqlalchemy import select

from pvp.model import Appointment, AppointmentStatus, Counsellor, CounsellorFeed, Service, Site
from pvp.panel.french import APPOINTMENT_STATUS
from pvp.panel.security import db, panel_blueprint, settings
from pvp.services.calendar_feeds import feed_digest

# No sign-in: calendar programs cannot; the random token in the URL is the credential.
bp = panel_blueprint("feeds", "/feeds", roles=None)
HISTORY_DAYS = 60


@bp.get("/<counsellor_id>/<token>.ics")
def ics(counsellor_id: str, token: str) -> Any:
    with db().sessions() as session:
        feed = session.get(CounsellorFeed, counsellor_id)
        if feed is None or not hmac.compare_digest(feed.token_sha256, feed_digest(token)):
            abort(404)
        person = session.get(Counsellor, counsellor_id)
        assert person is not None  # the feed row cascades with the counsellor
        rows = session.scalars(
            select(Appointment)
            .where(
                Appointment.counsellor_id == counsellor_id,
                Appointment.status != AppointmentStatus.CANCELLED.value,
                Appointment.start >= datetime.now(UTC) - timedelta(days=HISTORY_DAYS),
            )
            .order_by(Appointment.start)
        ).all()
        sites = {s.id: s for s in session.scalars(select(Site))}
        services = {s.code: s.name for s in session.scalars(select(Service))}
        cal = Calendar()
        cal.add("prodid", "-//Point Visio Public//panel//FR")
        cal.add("version", "2.0")
        cal.add("x-wr-calname", f"Rendez-vous PVP – {person.display_name}")
        for a in rows:
            site = sites[a.site_id]
            event = Event()
            event.add("uid", f"appointment-{a.id}@{settings().sip_domain}")
            event.add("dtstamp", a.created_at)
            event.add("dtstart", a.start)
            event.add("dtend", a.start + timedelta(minutes=a.minutes))
            event.add(
                "summary",
                f"{services.get(a.service_code, a.service_code)} – {site.commune} (visio)",
            )
            event.add("location", ", ".join(p for p in (site.host_place, site.commune) if p))
            event.add(
                "description",
                f"Rendez-vous n°{a.id} · usager : {a.citizen_ref or '–'} · "
                f"{APPOINTMENT_STATUS.get(a.status, a.status)}",
            )
            cal.add_component(event)
    return Response(
        cal.to_ical(), mimetype="text/calendar", headers={"Cache-Control": "private, max-age=60"}
    )
