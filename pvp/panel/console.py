"""The counsellor's console: their status, the incoming and current call, their queues with
who waits, today's appointments; updated live by server-sent events.

The status is written to ``CounsellorState.console_status``, which the dispatcher reads
before offering a call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from pvp.documents.store import transfers_json
from pvp.model import (
    Appointment,
    AppointmentStatus,
    CallRecord,
    ConsoleStatus,
    Counsellor,
    CounsellorState,
    DocumentTransfer,
    ExpertQueue,
    QueueEntry,
    QueueMembership,
    Role,
    Service,
    Site,
)
from pvp.panel.french import CONSOLE_STATUS, fr_time
from pvp.panel.security import db, me, panel_blueprint, session_alive, settings
from pvp.services import console_status

bp = panel_blueprint("console", "/console", roles=(Role.COUNSELLOR,))


def waiting(
    session: Session, queue_ids: list[str], now: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Who waits in each queue, in the dispatcher's order, and for how long.

    Read from the dispatcher's persisted entries, so the console shows the queues whether or
    not the dispatcher runs in this process.
    """
    rows = session.scalars(
        select(QueueEntry)
        .where(QueueEntry.queue_id.in_(queue_ids), QueueEntry.state != "talking")
        .order_by(QueueEntry.arrived_at, QueueEntry.seq)
    )
    out: dict[str, list[dict[str, Any]]] = {q: [] for q in queue_ids}
    for row in rows:
        out[row.queue_id].append(
            {
                "who": row.kiosk_id,
                "mode": row.mode,
                "booked": row.booked_counsellor_id,
                "ringing": row.counsellor_id if row.state == "ringing" else None,
                "wait_seconds": int((now - row.arrived_at).total_seconds()),
            }
        )
    return out


def snapshot(session: Session, counsellor_id: str, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """Everything the console shows, as JSON: the page and the event stream share it."""
    state = session.get(CounsellorState, counsellor_id)
    sites = {s.id: s for s in session.scalars(select(Site))}
    services = {s.code: s.name for s in session.scalars(select(Service))}
    calls = session.scalars(
        select(CallRecord)
        .where(CallRecord.counsellor_id == counsellor_id, CallRecord.ended_at.is_(None))
        .order_by(CallRecord.pressed_at.desc())
    ).all()

    def call_json(c: CallRecord) -> dict[str, Any]:
        appt = session.get(Appointment, c.appointment_id) if c.appointment_id else None
        site = sites.get(c.site_id)
        return {
            "id": c.id,
            "kiosk": c.kiosk_id,
            "site": c.site_id,
            "commune": site.commune if site else c.site_id,
            "service": services.get(c.service_code, c.service_code),
            "mode": c.mode,
            "answered": c.answered_at is not None,
            "private": c.private,
            "since": fr_time(c.answered_at or c.offered_at or c.pressed_at),
            "appointment": (
                {
                    "id": appt.id,
                    "citizen_ref": appt.citizen_ref,
                    "start": f"{appt.start.astimezone(tz):%H:%M}",
                }
                if appt
                else None
            ),
        }

    current = next((call_json(c) for c in calls if c.answered_at is not None), None)
    incoming = next((call_json(c) for c in calls if c.answered_at is None), None)
    memberships = session.scalars(
        select(QueueMembership)
        .where(QueueMembership.counsellor_id == counsellor_id)
        .order_by(QueueMembership.priority)
    ).all()
    queue_names = {q.id: q.name for q in session.scalars(select(ExpertQueue))}
    queue_ids = [m.queue_id for m in memberships]
    who_waits = waiting(session, queue_ids, now)
    day = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    today = session.scalars(
        select(Appointment)
        .where(
            Appointment.counsellor_id == counsellor_id,
            Appointment.start >= day.astimezone(UTC),
            Appointment.start < (day + timedelta(days=1)).astimezone(UTC),
            Appointment.status != AppointmentStatus.CANCELLED.value,
        )
        .order_by(Appointment.start)
    ).all()
    status = state.console_status if state else ConsoleStatus.OFFLINE.value
    documents = (
        transfers_json(
            session.scalars(
                select(DocumentTransfer)
                .where(DocumentTransfer.call_id == current["id"])
                .order_by(DocumentTransfer.id)
            )
        )
        if current
        else []
    )
    return {
        "documents": documents,
        "status": status,
        "status_label": CONSOLE_STATUS.get(status, status),
        "registered": bool(state and state.registered),
        "incoming": incoming,
        "current": current,
        "queues_available": True,
        "queues": [
            {
                "id": m.queue_id,
                "name": queue_names.get(m.queue_id, m.queue_id),
                "priority": m.priority,
                "waiting": who_waits.get(m.queue_id, []),
            }
            for m in memberships
        ],
        "appointments": [
            {
                "id": a.id,
                "start": f"{a.start.astimezone(tz):%H:%M}",
                "minutes": a.minutes,
                "site": sites[a.site_id].commune if a.site_id in sites else a.site_id,
                "citizen_ref": a.citizen_ref,
                "status": a.status,
            }
            for a in today
        ],
    }


def _mine() -> tuple[str, ZoneInfo]:
    return me().scope or "", ZoneInfo(settings().timezone)


@bp.get("/")
def index() -> Any:
    counsellor_id, tz = _mine()
    with db().sessions() as session:
        person = session.get(Counsellor, counsellor_id)
        data = snapshot(session, counsellor_id, datetime.now(UTC), tz)
    return render_template(
        "console.html", person=person, data=data, statuses=list(CONSOLE_STATUS.items())
    )


@bp.get("/state.json")
def state_json() -> Any:
    counsellor_id, tz = _mine()
    with db().sessions() as session:
        return snapshot(session, counsellor_id, datetime.now(UTC), tz)


@bp.post("/status")
def set_status() -> Any:
    counsellor_id, _tz = _mine()
    wanted = request.form.get("status", "")
    if wanted not in CONSOLE_STATUS:
        flash("« Statut » : valeur inconnue (disponible, en pause ou hors ligne).", "error")
        return redirect(url_for("console.index"), 303)
    with db().session() as session:
        console_status.set_status(
            session, counsellor_id, ConsoleStatus(wanted), datetime.now(UTC), actor=me().login
        )
    flash(f"Statut : {CONSOLE_STATUS[wanted]}.", "success")
    return redirect(url_for("console.index"), 303)


@bp.get("/events")
def events() -> Any:
    """Server-sent events: the console's snapshot whenever it changes, checked each second."""
    counsellor_id, tz = _mine()
    database = db()
    lifetime = float(current_app.config["PANEL_SSE_SECONDS"])
    person = me()

    def stream() -> Iterator[str]:
        # The browser reconnects by itself after the stream ends: a thread is never held long.
        yield "retry: 1000\n\n"
        last = None
        deadline = time.monotonic() + lifetime
        while time.monotonic() < deadline:
            with database.sessions() as session:
                if not session_alive(session, person):
                    return  # signed out (here or elsewhere): the stream ends with the session
                data = json.dumps(
                    snapshot(session, counsellor_id, datetime.now(UTC), tz), ensure_ascii=False
                )
            if data != last:
                yield f"event: state\ndata: {data}\n\n"
                last = data
            else:
                yield ": keep-alive\n\n"
            time.sleep(1)

    return Response(
        stream_with_context(stream()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
