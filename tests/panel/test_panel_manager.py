"""The service manager: appointments booked, moved, cancelled, no-shows, ICS feeds, scope."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar
from panel_helpers import local, next_open_day, page
from sqlalchemy import func, select

from pvp.db import Database
from pvp.model import (
    Appointment,
    AuditEntry,
    Counsellor,
    CounsellorFeed,
    OpeningWindow,
    RouteRule,
)


def _book(
    c: Any,
    day: Any,
    hhmm: str = "10:00",
    counsellor: str = "anpe-le-puy-c1",
    minutes: str = "30",
    site: str = "vorey",
) -> Any:
    return c.post(
        "/manager/appointments",
        {
            "site": site,
            "counsellor": counsellor,
            "start": f"{day.isoformat()}T{hhmm}",
            "minutes": minutes,
            "citizen_ref": "DE-0042",
        },
    )


def _appointments(pdb: Database) -> list[Appointment]:
    with pdb.sessions() as session:
        return list(session.scalars(select(Appointment).order_by(Appointment.id)))


def test_a_booking_makes_the_next_press_go_to_that_counsellor(as_role: Any, pdb: Database) -> None:
    c = as_role("gestion-anpe")
    day = next_open_day(2)  # Vorey: ANPE on Wednesdays and Thursdays, 9:00-12:00
    route = c.http.get(
        "/api/v1/route",
        query_string={
            "kiosk": "kiosk-vorey-1",
            "service": "anpe",
            "at": f"{day.isoformat()}T10:05",
        },
    )
    assert route.get_json()["decision"] == "appointment_required"
    r = _book(c, day)
    assert r.status_code == 303
    assert "Rendez-vous n°1 réservé." in page(c.get(r.headers["Location"]))
    (made,) = _appointments(pdb)
    assert made.start == local(day, "10:00").astimezone(UTC) and made.citizen_ref == "DE-0042"
    route = c.http.get(
        "/api/v1/route",
        query_string={
            "kiosk": "kiosk-vorey-1",
            "service": "anpe",
            "at": f"{day.isoformat()}T10:05",
        },
    )
    assert route.get_json()["decision"] == "appointment"
    assert route.get_json()["counsellor"] == "anpe-le-puy-c1"


def test_refusals_are_shown_with_their_reason_and_write_nothing(
    as_role: Any, pdb: Database
) -> None:
    c = as_role("gestion-anpe")
    wednesday = next_open_day(2)
    assert _book(c, wednesday).status_code == 303
    cases = [
        (_book(c, wednesday, "10:15"), "le conseiller a déjà un rendez-vous"),
        (_book(c, wednesday, "14:00", counsellor="anpe-le-puy-c2"), "hors des plages"),
        (_book(c, next_open_day(0), "10:00"), "hors des plages"),
        (_book(c, wednesday, "11:45", counsellor="anpe-le-puy-c2"), "hors des plages"),
        (
            _book(c, wednesday, "10:15", counsellor="anpe-le-puy-c2"),
            "la borne du site est déjà réservée",
        ),
    ]
    for response, reason in cases:
        assert response.status_code == 400
        assert f"« Début » : rendez-vous refusé : {reason}" in page(response)
    assert len(_appointments(pdb)) == 1


def test_a_public_holiday_is_refused_by_name(as_role: Any, pdb: Database) -> None:
    c = as_role("admin")
    r = c.post(
        "/manager/appointments?service=anpe",
        {
            "site": "vorey",
            "counsellor": "anpe-le-puy-c1",
            "start": f"{date.today().year + 1}-11-01T10:00",
            "minutes": "30",
        },
    )
    assert "rendez-vous refusé : fermé ce jour-là : Toussaint" in page(r)
    assert _appointments(pdb) == []


def test_bad_booking_fields_are_named(as_role: Any, pdb: Database) -> None:
    c = as_role("gestion-anpe")
    day = next_open_day(2)
    r = _book(c, day, minutes="500")
    assert r.status_code == 400 and "« Durée (minutes) » : entre 5 et 180 minutes" in page(r)
    r = c.post(
        "/manager/appointments",
        {"site": "vorey", "counsellor": "anpe-le-puy-c1", "start": "demain", "minutes": "30"},
    )
    assert "« Début » :" in page(r)
    r = _book(c, day, counsellor="msa-43-c1")
    assert "« Conseiller » :" in page(r)
    r = _book(c, day, site="maurs")
    assert "« Site » :" in page(r)
    assert _appointments(pdb) == []


def test_move_keeps_the_number_and_cancel_asks_then_can_be_undone(
    as_role: Any, pdb: Database
) -> None:
    c = as_role("gestion-anpe")
    wednesday, thursday = next_open_day(2), next_open_day(3)
    _book(c, wednesday)
    (first,) = _appointments(pdb)
    assert c.get(f"/manager/appointments/{first.id}/move").status_code == 200
    refused = c.post(
        f"/manager/appointments/{first.id}/move",
        {"start": f"{thursday.isoformat()}T15:00", "minutes": "30"},
    )
    assert refused.status_code == 400 and "déplacement refusé : hors des plages" in page(refused)
    assert [a.status for a in _appointments(pdb)] == ["booked"]
    moved = c.post(
        f"/manager/appointments/{first.id}/move",
        {"start": f"{thursday.isoformat()}T09:30", "minutes": "45"},
    )
    assert moved.status_code == 303
    (same,) = _appointments(pdb)  # moved in place: no new number, no cancelled row
    assert (same.id, same.status) == (first.id, "booked")
    assert same.start == local(thursday, "09:30").astimezone(UTC) and same.minutes == 45
    shown = page(c.get(moved.headers["Location"]))
    assert f"Rendez-vous n°{first.id} déplacé au jeudi" in shown and "désormais" not in shown
    # A move onto its own old slot overlaps only itself: accepted.
    again = c.post(
        f"/manager/appointments/{first.id}/move",
        {"start": f"{thursday.isoformat()}T09:45", "minutes": "30"},
    )
    assert again.status_code == 303
    # "Annuler" in the list is a link to a confirmation, not a one-click POST.
    listing = page(c.get("/manager/"))
    assert f"/manager/appointments/{first.id}/cancel" in listing
    assert f'action="/manager/appointments/{first.id}/cancel"' not in listing
    confirm = page(c.get(f"/manager/appointments/{first.id}/cancel"))
    assert f"Annuler le rendez-vous n°{first.id} ?" in confirm and "Vorey" in confirm
    assert _appointments(pdb)[0].status == "booked"
    cancelled = c.post(f"/manager/appointments/{first.id}/cancel")
    assert cancelled.status_code == 303
    assert _appointments(pdb)[0].status == "cancelled"
    shown = page(c.get(cancelled.headers["Location"]))
    assert f"Rétablir le rendez-vous n°{first.id}" in shown
    again = c.post(f"/manager/appointments/{first.id}/cancel")
    assert "est déjà annulé" in page(c.get(again.headers["Location"]))
    restored = c.post(f"/manager/appointments/{first.id}/restore")
    assert f"Rendez-vous n°{first.id} rétabli." in page(c.get(restored.headers["Location"]))
    assert _appointments(pdb)[0].status == "booked"
    with pdb.sessions() as session:
        entries = list(
            session.scalars(select(AuditEntry).where(AuditEntry.entity == "appointments"))
        )
    assert [e.action for e in entries] == ["book", "move", "move", "cancel", "restore"]
    assert entries[1].before["minutes"] == 30 and entries[1].after["minutes"] == 45


def test_an_undo_is_refused_once_the_slot_is_taken(as_role: Any, pdb: Database) -> None:
    c = as_role("gestion-anpe")
    day = next_open_day(2)
    _book(c, day)
    (first,) = _appointments(pdb)
    c.post(f"/manager/appointments/{first.id}/cancel")
    assert _book(c, day, counsellor="anpe-le-puy-c2").status_code == 303
    r = c.post(f"/manager/appointments/{first.id}/restore")
    assert "non rétabli : la borne du site est déjà réservée" in page(c.get(r.headers["Location"]))
    assert _appointments(pdb)[0].status == "cancelled"


def test_a_past_start_is_refused_for_a_booking_and_a_move(as_role: Any, pdb: Database) -> None:
    c = as_role("gestion-anpe")
    past = date.today() - timedelta(days=2)
    r = _book(c, past)
    assert r.status_code == 400 and "rendez-vous refusé : ce moment est passé" in page(r)
    assert _appointments(pdb) == []
    _book(c, next_open_day(2))
    (made,) = _appointments(pdb)
    r = c.post(
        f"/manager/appointments/{made.id}/move",
        {"start": f"{past.isoformat()}T10:00", "minutes": "30"},
    )
    assert r.status_code == 400 and "déplacement refusé : ce moment est passé" in page(r)


def test_only_counsellors_of_an_agency_serving_the_site_can_be_booked(
    as_role: Any, pdb: Database
) -> None:
    c = as_role("gestion-anpe")
    r = _book(c, next_open_day(2), counsellor="anpe-ambert-c1")
    assert r.status_code == 400
    assert "Conseiller ANPE Ambert n'appartient pas à une agence qui sert ce site" in page(r)
    assert _appointments(pdb) == []
    form = page(c.get("/manager/"))
    option = re.search(r'<option data-sites="([^"]*)"[^>]*value="anpe-ambert-c1"', form)
    assert option is not None and "vorey" not in option.group(1).split()
    option = re.search(r'<option data-sites="([^"]*)"[^>]*value="anpe-le-puy-c1"', form)
    assert option is not None and "vorey" in option.group(1).split()


def test_the_list_filters_and_sorts_and_names_sites(as_role: Any, pdb: Database) -> None:
    c = as_role("gestion-anpe")
    day = next_open_day(2)
    _book(c, day, "10:00", counsellor="anpe-le-puy-c2")
    _book(c, day, "09:00", counsellor="anpe-le-puy-c1")
    listing = page(c.get("/manager/"))
    assert "<td>Vorey</td>" in listing and "<td>vorey</td>" not in listing

    def ids(query: dict[str, str]) -> list[str]:
        return re.findall(r'<tr data-id="(\d+)"', page(c.get("/manager/", query_string=query)))

    assert ids({}) == ["2", "1"]  # by date
    assert ids({"sort": "counsellor"}) == ["1", "2"]  # "Conseiller…" before "Conseillère…"
    assert ids({"counsellor": "anpe-le-puy-c2"}) == ["1"]
    assert ids({"site": "saugues"}) == []
    assert ids({"first": (day + timedelta(days=1)).isoformat()}) == []
    c.post("/manager/appointments/1/cancel")
    assert ids({}) == ["2"] and ids({"status": "cancelled"}) == ["1"]


def _past_appointment(pdb: Database, service: str = "anpe") -> int:
    with pdb.session() as session:
        a = Appointment(
            site_id="vorey",
            service_code=service,
            counsellor_id="anpe-le-puy-c1",
            start=datetime.now(UTC) - timedelta(hours=2),
            minutes=30,
            citizen_ref="X",
            status="booked",
            created_at=datetime.now(UTC),
        )
        session.add(a)
        session.flush()
        return a.id


def test_no_show_only_once_the_appointment_began(as_role: Any, pdb: Database) -> None:
    c = as_role("gestion-anpe")
    _book(c, next_open_day(2))
    future = _appointments(pdb)[0].id
    r = c.post(f"/manager/appointments/{future}/no_show")
    assert "n'a pas encore eu lieu" in page(c.get(r.headers["Location"]))
    past = _past_appointment(pdb)
    assert c.post(f"/manager/appointments/{past}/no_show").status_code == 303
    statuses = {a.id: a.status for a in _appointments(pdb)}
    assert statuses == {future: "booked", past: "no_show"}


def test_a_manager_acts_only_on_their_service(as_role: Any, pdb: Database) -> None:
    anpe, msa = as_role("gestion-anpe"), as_role("gestion-msa")
    _book(anpe, next_open_day(2))
    ident = _appointments(pdb)[0].id
    for url in (f"/manager/appointments/{ident}/cancel", f"/manager/appointments/{ident}/move"):
        assert msa.post(url, {"start": "2030-01-01T10:00", "minutes": "30"}).status_code == 403
    assert msa.get(f"/manager/appointments/{ident}/move").status_code == 403
    assert _appointments(pdb)[0].status == "booked"
    assert "DE-0042" not in page(msa.get("/manager/?service=anpe"))
    with pdb.sessions() as session:
        anpe_window = session.scalars(
            select(OpeningWindow).join(RouteRule).where(RouteRule.service_code == "anpe")
        ).first()
    assert msa.get(f"/manager/windows/{anpe_window.id}/edit").status_code == 403
    assert msa.post(f"/manager/windows/{anpe_window.id}/delete").status_code == 403
    listing = page(msa.get("/manager/windows/"))
    assert "sur rendez-vous" not in listing and "permanence" in listing
    assert msa.post("/manager/feeds/anpe-le-puy-c1").status_code == 403


def test_a_manager_edits_a_window_of_their_service(as_role: Any, pdb: Database) -> None:
    c = as_role("gestion-msa")
    with pdb.sessions() as session:
        route = session.scalars(
            select(RouteRule).where(RouteRule.site_id == "vorey", RouteRule.service_code == "msa")
        ).one()
        window = route.windows[0]
    data = {
        "route_id": str(route.id),
        "mode": "walk_in",
        "weekdays": ["fri"],
        "nth": "4",
        "start_time": "13:30",
        "end_time": "16:30",
        "valid_from": "",
        "valid_until": "",
        "except_dates": "",
        "note": "",
    }
    assert c.post(f"/manager/windows/{window.id}/edit", data).status_code == 302
    with pdb.sessions() as session:
        assert session.get(OpeningWindow, window.id).start_time.hour == 13
    # A route of another service is not even offered.
    with pdb.sessions() as session:
        anpe = session.scalars(select(RouteRule).where(RouteRule.service_code == "anpe")).first()
    r = c.post("/manager/windows/new", data | {"route_id": str(anpe.id)})
    assert r.status_code == 400 and "« Règle de routage (site / service) » :" in page(r)


def test_ics_feed_behind_a_secret_link(as_role: Any, pdb: Database) -> None:
    c = as_role("gestion-anpe")
    day = next_open_day(2)
    _book(c, day)
    shown = c.post("/manager/feeds/anpe-le-puy-c1")
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    url = re.search(r"(http://localhost/feeds/anpe-le-puy-c1/[^<\s]+\.ics)", page(shown)).group(1)
    # Shown once: the service page no longer carries it, the database keeps its digest only.
    assert url not in page(c.get("/manager/"))
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    with pdb.sessions() as session:
        (stored,) = session.scalars(select(CounsellorFeed.token_sha256)).all()
        assert stored != token and len(stored) == 64
    anonymous = as_role(None)
    r = anonymous.http.get(url)
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    cal = Calendar.from_ical(r.data)
    (event,) = cal.walk("VEVENT")
    assert str(event["summary"]) == "ANPE – Vorey (visio)"
    assert event.decoded("dtstart") == local(day, "10:00")
    assert "DE-0042" in str(event["description"])
    assert anonymous.http.get(url.replace(".ics", "x.ics")).status_code == 404
    # A new link revokes the old one.
    c.post("/manager/feeds/anpe-le-puy-c1")
    assert anonymous.http.get(url).status_code == 404
    with pdb.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CounsellorFeed)) == 1


def test_a_manager_adds_a_counsellor_and_a_membership_of_their_service(
    as_role: Any, pdb: Database
) -> None:
    c = as_role("gestion-msa")
    r = c.post(
        "/manager/counsellors/new",
        {"id": "msa-43-c3", "display_name": "Renfort MSA", "agency_id": "msa-43", "station_id": ""},
    )
    assert r.status_code == 200 and "Secret SIP de msa-43-c3" in page(r)
    r = c.post(
        "/manager/memberships/new",
        {"counsellor_id": "msa-43-c3", "queue_id": "msa-43", "priority": "2"},
    )
    assert r.status_code == 302
    # Another service's agency and queue are not offered.
    r = c.post(
        "/manager/counsellors/new",
        {"id": "anpe-x", "display_name": "X", "agency_id": "anpe-le-puy", "station_id": ""},
    )
    assert r.status_code == 400 and "« Agence » :" in page(r)
    r = c.post(
        "/manager/memberships/new",
        {"counsellor_id": "msa-43-c3", "queue_id": "anpe-le-puy", "priority": "1"},
    )
    assert r.status_code == 400 and "« File d'experts » :" in page(r)
    listing = page(c.get("/manager/counsellors/"))
    assert "Renfort MSA" in listing and "anpe-le-puy-c1" not in listing


@pytest.mark.parametrize("ident", ["pvp", "cli", "msa", "kiosk-vorey-2"])
def test_a_manager_cannot_give_a_counsellor_a_name_the_system_uses(
    as_role: Any, pdb: Database, ident: str
) -> None:
    c = as_role("gestion-msa")
    r = c.post(
        "/manager/counsellors/new",
        {"id": ident, "display_name": "Pirate", "agency_id": "msa-43", "station_id": ""},
    )
    assert r.status_code == 400 and "réservé" in page(r)
    with pdb.sessions() as session:
        assert session.get(Counsellor, ident) is None
