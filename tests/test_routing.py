"""Every decision kind, on the seed's own examples, against the 2006 plan in SQLite."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from pvp import appointments
from pvp.config import Settings
from pvp.db import Database
from pvp.model import QueueMembership
from pvp.plan_view import load_routing_plan
from pvp.routing import DecisionKind, Reason, RoutingError, RoutingPlan, decide

PARIS = ZoneInfo("Europe/Paris")
VOREY = "kiosk-vorey-1"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def book(db: Database, settings: Settings, counsellor: str, start: datetime, **kw) -> int:
    with db.session() as session:
        plan = load_routing_plan(session, settings)
        site, service = kw.pop("site", "vorey"), kw.pop("service", "anpe")
        booking = appointments.Booking(site, service, counsellor, start, **kw)
        return appointments.book(session, plan, booking).id


def fresh_plan(db: Database, settings: Settings) -> RoutingPlan:
    with db.sessions() as session:
        return load_routing_plan(session, settings)


def test_vorey_anpe_wednesday_10_without_appointment_requires_one(plan: RoutingPlan) -> None:
    d = decide(plan, VOREY, "anpe", at(2006, 11, 8, 10))
    assert d.decision is DecisionKind.APPOINTMENT_REQUIRED
    assert d.reason is Reason.APPOINTMENT_ONLY
    assert d.queue == "anpe-le-puy"
    assert d.counsellor is None
    # The next bookable window is Thursday's morning.
    assert d.next_opening == at(2006, 11, 9, 9)


def test_vorey_anpe_wednesday_10_with_appointment_reaches_own_counsellor(
    db: Database, settings: Settings
) -> None:
    ident = book(db, settings, "anpe-le-puy-c2", at(2006, 11, 8, 10))
    plan = fresh_plan(db, settings)
    for minute in (0, 5, 19):  # inside the check-in window around 10:00
        d = decide(plan, VOREY, "anpe", at(2006, 11, 8, 10, minute))
        assert d.decision is DecisionKind.APPOINTMENT
        assert (d.counsellor, d.appointment, d.queue) == ("anpe-le-puy-c2", ident, "anpe-le-puy")
    early = decide(plan, VOREY, "anpe", at(2006, 11, 8, 9, 30))
    assert early.decision is DecisionKind.APPOINTMENT_REQUIRED


def test_cancelled_appointment_no_longer_routes(db: Database, settings: Settings) -> None:
    ident = book(db, settings, "anpe-le-puy-c1", at(2006, 11, 8, 10))
    with db.session() as session:
        appointments.set_status(session, ident, appointments.AppointmentStatus.CANCELLED)
    d = decide(fresh_plan(db, settings), VOREY, "anpe", at(2006, 11, 8, 10, 5))
    assert d.decision is DecisionKind.APPOINTMENT_REQUIRED


def test_vorey_anpe_on_toussaint_is_closed_for_the_holiday(plan: RoutingPlan) -> None:
    d = decide(plan, VOREY, "anpe", at(2006, 11, 1, 10))  # Wednesday 1 November 2006
    assert d.decision is DecisionKind.CLOSED
    assert d.reason is Reason.PUBLIC_HOLIDAY
    assert d.detail == "Toussaint"
    assert d.next_opening == at(2006, 11, 2, 9)


def test_vorey_anpe_thursday_1230_is_closed_until_next_wednesday(plan: RoutingPlan) -> None:
    d = decide(plan, VOREY, "anpe", at(2006, 11, 9, 12, 30))
    assert d.decision is DecisionKind.CLOSED
    assert d.reason is Reason.OUTSIDE_WINDOWS
    assert d.next_opening == at(2006, 11, 15, 9)
    assert d.to_json()["next_opening"] == "2006-11-15T09:00:00+01:00"


def test_vorey_msa_on_the_fourth_friday_is_walk_in(plan: RoutingPlan) -> None:
    d = decide(plan, VOREY, "msa", at(2006, 11, 24, 10))  # 4th Friday of November 2006
    assert d.decision is DecisionKind.WALK_IN
    assert d.queue == "msa-43"
    assert d.open_until == at(2006, 11, 24, 12)


def test_vorey_msa_on_the_third_friday_is_closed_until_the_fourth(plan: RoutingPlan) -> None:
    d = decide(plan, VOREY, "msa", at(2006, 11, 17, 10))
    assert d.decision is DecisionKind.CLOSED
    assert d.reason is Reason.OUTSIDE_WINDOWS
    assert d.next_opening == at(2006, 11, 24, 9)


def test_local_closure_closes_with_its_reason(plan: RoutingPlan) -> None:
    # Cunlhat's plan closes the site 26-29 December 2006; its ANPE works Tuesday and Friday.
    d = decide(plan, "kiosk-cunlhat-1", "anpe", at(2006, 12, 29, 10))
    assert d.decision is DecisionKind.CLOSED
    assert d.reason is Reason.LOCAL_CLOSURE
    assert "fin d'année" in (d.detail or "")
    assert d.next_opening == at(2007, 1, 2, 9)


def test_kiosk_without_the_button_has_no_such_service(plan: RoutingPlan) -> None:
    d = decide(plan, "kiosk-huriel-1", "msa", at(2006, 11, 24, 10))
    assert d.decision is DecisionKind.NO_SUCH_SERVICE
    assert d.reason is Reason.NO_BUTTON


def test_unknown_kiosk_or_service_is_an_error(plan: RoutingPlan) -> None:
    with pytest.raises(RoutingError, match="unknown kiosk"):
        decide(plan, "kiosk-nowhere-1", "anpe", at(2006, 11, 8, 10))
    with pytest.raises(RoutingError, match="unknown service"):
        decide(plan, VOREY, "impots", at(2006, 11, 8, 10))
    with pytest.raises(ValueError):
        decide(plan, VOREY, "anpe", datetime(2006, 11, 8, 10))


def test_two_kiosks_of_one_community_are_two_sites(plan: RoutingPlan) -> None:
    assert plan.kiosks["kiosk-bagnols-1"].site != plan.kiosks["kiosk-saint-donat-1"].site


@pytest.mark.parametrize(
    ("start", "minutes", "why"),
    [
        (at(2006, 11, 8, 11, 45), 30, "hors des plages"),  # runs past noon
        (at(2006, 11, 10, 10), 30, "hors des plages"),  # a Friday
        (at(2006, 11, 1, 10), 30, "Toussaint"),  # holiday
        (at(2006, 11, 8, 10), 2, "durée invalide"),
    ],
)
def test_bookings_outside_windows_are_refused_with_the_reason(
    db: Database, settings: Settings, start: datetime, minutes: int, why: str
) -> None:
    with pytest.raises(appointments.BookingRefused, match=why):
        book(db, settings, "anpe-le-puy-c1", start, minutes=minutes)


def test_overlapping_bookings_are_refused(db: Database, settings: Settings) -> None:
    with db.session() as session:  # she also answers at Vic-le-Comte (the Cournon queue)
        session.add(QueueMembership(counsellor_id="anpe-le-puy-c1", queue_id="anpe-cournon"))
    book(db, settings, "anpe-le-puy-c1", at(2006, 11, 8, 10))
    with pytest.raises(appointments.BookingRefused, match="conseiller a déjà"):
        book(db, settings, "anpe-le-puy-c1", at(2006, 11, 8, 10, 15), site="vic-le-comte")
    with pytest.raises(appointments.BookingRefused, match="borne du site"):
        book(db, settings, "anpe-le-puy-c2", at(2006, 11, 8, 10, 29))
    # Back to back is fine.
    assert book(db, settings, "anpe-le-puy-c2", at(2006, 11, 8, 10, 30)) > 0


def test_only_an_agency_serving_the_site_can_be_booked(db: Database, settings: Settings) -> None:
    with pytest.raises(appointments.BookingRefused, match="agence qui sert ce site"):
        book(db, settings, "anpe-ambert-c1", at(2006, 11, 8, 10))


def test_counsellor_of_another_service_cannot_be_booked(db: Database, settings: Settings) -> None:
    with pytest.raises(appointments.BookingRefused, match="ne travaille pas"):
        book(db, settings, "msa-43-c1", at(2006, 11, 8, 10))


def test_decision_across_dst_uses_paris_wall_clock(db: Database, settings: Settings) -> None:
    # Wednesday 25 October 2006 vs Wednesday 1 November 2006 (after the autumn change), 09:05.
    plan = fresh_plan(db, settings)
    before = decide(plan, VOREY, "anpe", at(2006, 10, 25, 9, 5))
    assert before.decision is DecisionKind.APPOINTMENT_REQUIRED
    closed = decide(plan, VOREY, "anpe", at(2006, 10, 26, 12, 0))
    assert closed.next_opening == at(2006, 11, 2, 9)  # Wed 1st is Toussaint
    assert closed.to_json()["next_opening"].endswith("+01:00")
