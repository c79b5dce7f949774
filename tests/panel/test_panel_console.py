"""The counsellor's console: status for the dispatcher, calls, queues, appointments, SSE."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from panel_helpers import page

from pvp.db import Database
from pvp.model import Appointment, CallRecord, CounsellorState, Kiosk, QueueEntry


def _state(pdb: Database) -> CounsellorState | None:
    with pdb.sessions() as session:
        return session.get(CounsellorState, "anpe-le-puy-c1")


def test_status_buttons_write_the_state_the_dispatcher_reads(as_role: Any, pdb: Database) -> None:
    c = as_role("conseillere")
    assert _state(pdb) is None
    for wanted in ("available", "paused", "offline", "available"):
        r = c.post("/console/status", {"status": wanted})
        assert r.status_code == 303
        state = _state(pdb)
        assert state is not None and state.console_status == wanted
    assert state.updated_at is not None and state.registered is False
    assert "Statut : disponible." in page(c.get("/console/"))


def test_an_unknown_status_is_refused_and_changes_nothing(as_role: Any, pdb: Database) -> None:
    c = as_role("conseillere")
    r = c.post("/console/status", {"status": "en vacances"})
    assert "« Statut » : valeur inconnue" in page(c.get(r.headers["Location"]))
    assert _state(pdb) is None


def _call(pdb: Database, ident: str, answered: bool, appointment: int | None = None) -> None:
    now = datetime.now(UTC)
    with pdb.session() as session:
        session.add(
            CallRecord(
                id=ident,
                kiosk_id="kiosk-vorey-1",
                site_id="vorey",
                service_code="anpe",
                queue_id="anpe-le-puy",
                counsellor_id="anpe-le-puy-c1",
                appointment_id=appointment,
                mode="appointment" if appointment else "walk_in",
                decision="appointment",
                pressed_at=now - timedelta(minutes=3),
                offered_at=now - timedelta(minutes=2),
                answered_at=now - timedelta(minutes=1) if answered else None,
                reason="",
            )
        )


def test_incoming_and_current_calls_with_their_appointment(as_role: Any, pdb: Database) -> None:
    now = datetime.now(UTC)
    with pdb.session() as session:
        a = Appointment(
            site_id="vorey",
            service_code="anpe",
            counsellor_id="anpe-le-puy-c1",
            start=now,
            minutes=30,
            citizen_ref="DE-7",
            status="checked_in",
            created_at=now,
        )
        session.add(a)
        session.flush()
        ident = a.id
    _call(pdb, "call-current", answered=True, appointment=ident)
    _call(pdb, "call-incoming", answered=False)
    data = as_role("conseillere").get("/console/state.json").get_json()
    assert data["current"]["id"] == "call-current" and data["current"]["commune"] == "Vorey"
    assert data["current"]["appointment"]["citizen_ref"] == "DE-7"
    assert data["incoming"]["id"] == "call-incoming" and data["incoming"]["appointment"] is None
    assert [a["citizen_ref"] for a in data["appointments"]] == ["DE-7"]
    assert data["current"]["private"] is False
    with pdb.session() as session:
        session.get(CallRecord, "call-current").private = True  # the handset was lifted
    assert as_role("conseillere").get("/console/state.json").get_json()["current"]["private"]
    # Another counsellor sees none of it.
    with pdb.session() as session:
        session.get(CallRecord, "call-current").counsellor_id = "anpe-le-puy-c2"
    data = as_role("conseillere").get("/console/state.json").get_json()
    assert data["current"] is None


def test_queues_show_who_waits_in_the_dispatchers_order(as_role: Any, pdb: Database) -> None:
    now = datetime.now(UTC)
    with pdb.session() as session:
        for n, (queue, kiosk, state, ago) in enumerate(
            [
                ("anpe-le-puy", "kiosk-saugues-1", "waiting", 95),
                ("anpe-le-puy", "kiosk-vorey-1", "ringing", 30),
                ("anpe-le-puy", "kiosk-giat-1", "talking", 300),  # served: not waiting
                ("msa-43", "kiosk-langeac-1", "waiting", 60),  # another queue
            ]
        ):
            kiosk_row = session.get(Kiosk, kiosk)
            session.add(
                QueueEntry(
                    call_id=f"call-{n}",
                    queue_id=queue,
                    kiosk_id=kiosk,
                    site_id=kiosk_row.site_id,
                    service_code="anpe" if queue.startswith("anpe") else "msa",
                    mode="walk_in",
                    arrived_at=now - timedelta(seconds=ago),
                    seq=n,
                    state=state,
                    counsellor_id="anpe-le-puy-c2" if state == "ringing" else None,
                )
            )
    data = as_role("conseillere").get("/console/state.json").get_json()
    (queue,) = data["queues"]
    assert [w["who"] for w in queue["waiting"]] == ["kiosk-saugues-1", "kiosk-vorey-1"]
    assert 94 <= queue["waiting"][0]["wait_seconds"] <= 110
    assert queue["waiting"][1]["ringing"] == "anpe-le-puy-c2"


def test_server_sent_events_carry_the_state(as_role: Any, pdb: Database) -> None:
    c = as_role("conseillere")
    c.post("/console/status", {"status": "paused"})
    r = c.http.get("/console/events")
    assert r.mimetype == "text/event-stream"
    body = r.get_data(as_text=True)  # the stream ends after PANEL_SSE_SECONDS (1.5 s here)
    assert body.startswith("retry: 1000")
    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    assert events and events[0]["status"] == "paused"
    assert ": keep-alive" in body  # unchanged state is not sent twice


def test_the_console_page_keeps_a_place_for_documents(as_role: Any) -> None:
    text_ = page(as_role("conseillere").get("/console/"))
    assert 'id="documents"' in text_ and "EventSource" in text_
