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
from sqlalchemy import MetaData, Table, inspect, select
from sqlalchemy.orm import Session

from pvp.model import (
    Appointment,
    AppointmentStatus,
    CallRecord,
    ConsoleStatus,
    Counsellor,
    CounsellorState,
    ExpertQueue,
    QueueMembership,
    Role,
    Service,
    Site,
)
from pvp.panel import audit
from pvp.panel.french import CONSOLE_STATUS, fr_time
from pvp.panel.security import db, me, panel_blueprint, settings

bp = panel_blueprint("console", "/console", roles=(Role.COUNSELLOR,))

# The dispatcher's waiting callers; its table lands with the dispatcher, so it is read by
# reflection and its absence only hides the list.
QUEUE_TABLE = "queue_entries"
TIME_COLUMNS = ("enqueued_at", "joined_at", "entered_at", "created_at", "since", "pressed_at")
DONE_COLUMNS = ("left_at", "dequeued_at", "ended_at", "answered_at", "bridged_at")
WHO_COLUMNS = ("kiosk_id", "site_id", "call_id", "id")


def _queue_table() -> Table | None:
    engine = db().engine
    if not inspect(engine).has_table(QUEUE_TABLE):
        return None
    cached = current_app.extensions.get("pvp.panel.queue_entries")
    if cached is None:
        cached = Table(QUEUE_TABLE, MetaData(), autoload_with=engine)
        current_app.extensions["pvp.panel.queue_entries"] = cached
    return cached


def _as_utc(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def waiting(
    session: Session, queue_ids: list[str], now: datetime
) -> dict[str, list[dict[str, Any]]] | None:
    """Who waits in each queue and for how long; ``None`` if the dispatcher's table is absent."""
    table = _queue_table()
    if table is None or "queue_id" not in table.c:
        return None
    query = select(table).where(table.c.queue_id.in_(queue_ids))
    for name in DONE_COLUMNS:
        if name in table.c:
            query = query.where(table.c[name].is_(None))
    since_col = next((n for n in TIME_COLUMNS if n in table.c), None)
    who_col = next((n for n in WHO_COLUMNS if n in table.c), None)
    out: dict[str, list[dict[str, Any]]] = {q: [] for q in queue_ids}
    for row in session.execute(query).mappings():
        since = _as_utc(row[since_col]) if since_col else None
        out[row["queue_id"]].append(
            {
                "who": str(row[who_col]) if who_col else "?",
                "wait_seconds": int((now - since).total_seconds()) if since else None,
            }
        )
    for entries in out.values():
        entries.sort(key=lambda e: -(e["wait_seconds"] or 0))
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
    return {
        "status": status,
        "status_label": CONSOLE_STATUS.get(status, status),
        "registered": bool(state and state.registered),
        "incoming": incoming,
        "current": current,
        "queues_available": who_waits is not None,
        "queues": [
            {
                "id": m.queue_id,
                "name": queue_names.get(m.queue_id, m.queue_id),
                "priority": m.priority,
                "waiting": (who_waits or {}).get(m.queue_id, []),
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
        state = session.get(CounsellorState, counsellor_id)
        before = audit.snapshot(state)
        if state is None:
            state = CounsellorState(counsellor_id=counsellor_id, registered=False)
            session.add(state)
        state.console_status = wanted
        state.updated_at = datetime.now(UTC)
        session.flush()
        audit.record(
            session,
            me().login,
            "status",
            "counsellor_states",
            counsellor_id,
            before,
            audit.snapshot(state),
        )
    flash(f"Statut : {CONSOLE_STATUS[wanted]}.", "success")
    return redirect(url_for("console.index"), 303)


@bp.get("/events")
def events() -> Any:
    """Server-sent events: the console's snapshot whenever it changes, checked each second."""
    counsellor_id, tz = _mine()
    database = db()
    lifetime = float(current_app.config["PANEL_SSE_SECONDS"])

    def stream() -> Iterator[str]:
        # The browser reconnects by itself after the stream ends: a thread is never held long.
        yield "retry: 1000\n\n"
        last = None
        deadline = time.monotonic() + lifetime
        while time.monotonic() < deadline:
            with database.sessions() as session:
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
