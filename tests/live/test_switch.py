"""Live: kiosks and counsellors through a real FreeSWITCH, the PVP directory and dialplan.

The control plane's clock is moved to instants of the 2006 plan (Vorey: MSA the 4th Friday
09:00-12:00, ANPE by appointment Wednesday and Thursday mornings); FreeSWITCH's is not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from datetime import time as wall

import pytest
from sqlalchemy import select

from pvp.db import Database, bump_revision
from pvp.model import OpeningWindow, RouteRule
from pvp.plan_view import load_routing_plan
from pvp.routing import DecisionKind, decide
from testkit.calls import (
    assert_never_rang,
    call_of,
    no_channel_left,
    parked_channel,
    press,
    registered,
)
from testkit.live_switch import PARIS, Switch

pytestmark = pytest.mark.live


def test_devices_register_with_digest_auth_through_the_pvp_directory(fresh: Switch) -> None:
    kiosk = registered(fresh.agent("kiosk-vorey-1", "tls"))
    counsellor = registered(fresh.agent("msa-43-c1", "udp"))
    assert kiosk and counsellor
    registrations = fresh.esl.api("sofia status profile pvp reg")
    assert "kiosk-vorey-1@pvp.auvergne.local" in registrations
    assert "msa-43-c1@pvp.auvergne.local" in registrations
    assert "TLS" in registrations.upper()


def test_a_wrong_password_is_refused(fresh: Switch) -> None:
    impostor = fresh.agent("kiosk-cunlhat-1", "tls", password="not-the-secret")
    event = impostor.wait_event("REGISTER_OK", "REGISTER_FAIL", timeout=10)
    assert event["type"] == "REGISTER_FAIL"
    assert "kiosk-cunlhat-1@" not in fresh.esl.api("sofia status profile pvp reg")


def test_outside_the_windows_nobody_rings_and_the_kiosk_gets_reason_and_next_opening(
    fresh: Switch,
) -> None:
    fresh.travel_to("2006-11-24T14:00")  # the 4th Friday, after the MSA permanence
    counsellors = [registered(fresh.agent(c, "udp")) for c in ("msa-43-c1", "msa-43-c2")]
    kiosk = registered(fresh.agent("kiosk-vorey-1"))
    event = press(kiosk, "msa")
    assert event["type"] == "CALL_CLOSED"
    assert event["param"] == "480 Closed; reason=outside_windows; next=2006-12-22T09:00:00+01:00"
    for counsellor in counsellors:
        assert_never_rang(counsellor)
    assert no_channel_left(fresh)


def test_on_a_public_holiday_nobody_rings_and_the_kiosk_is_told_why(fresh: Switch) -> None:
    fresh.travel_to("2009-12-25T10:00")  # Noël falls on Vorey's 4th Friday
    counsellor = registered(fresh.agent("msa-43-c1", "udp"))
    kiosk = registered(fresh.agent("kiosk-vorey-1"))
    event = press(kiosk, "msa")
    assert event["type"] == "CALL_CLOSED"
    assert event["param"] == "480 Closed; reason=public_holiday; next=2010-01-22T09:00:00+01:00"
    assert_never_rang(counsellor)
    assert no_channel_left(fresh)


def test_in_a_walk_in_window_the_kiosk_is_answered_and_parked_for_its_queue(
    fresh: Switch,
) -> None:
    fresh.travel_to("2006-11-24T10:00")
    counsellor = registered(fresh.agent("msa-43-c1", "udp"))
    fresh.control_plane.set_status("msa-43-c1", "paused")  # present, not taking calls
    kiosk = registered(fresh.agent("kiosk-vorey-1"))
    assert press(kiosk, "msa")["type"] == "CALL_ESTABLISHED"
    uuid = parked_channel(fresh)["uuid"]
    assert fresh.esl.getvar(uuid, "pvp_queue") == "msa-43"
    assert fresh.esl.getvar(uuid, "pvp_mode") == "walk_in"
    assert fresh.esl.getvar(uuid, "pvp_kiosk") == "kiosk-vorey-1"
    assert fresh.esl.getvar(uuid, "pvp_site") == "vorey"
    assert fresh.esl.getvar(uuid, "pvp_routed_by") == "control-plane"
    assert fresh.esl.getvar(uuid, "rtp_has_crypto")  # the kiosk leg is SRTP
    # The dialplan never calls a counsellor: PVP's dispatcher queues the caller (and offers
    # it when someone is available, tests/live/test_dispatch.py).
    assert call_of(fresh, "kiosk-vorey-1") == uuid
    assert_never_rang(counsellor)


def _window_open_now(db: Database) -> None:
    """A walk-in MSA window at Vorey around the real present: FreeSWITCH's clock is real."""
    now = datetime.now(PARIS)
    if now.hour == 23 and now.minute >= 50 or now.hour == 0 and now.minute < 10:
        pytest.skip("too close to midnight for a window around now")
    start = (now - timedelta(minutes=30)).time() if now.hour else wall(0, 0)
    end = (now + timedelta(minutes=30)).time() if now.hour < 23 else wall(23, 59, 59)
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[now.weekday()]
    with db.session() as session:
        route = session.scalars(
            select(RouteRule).where(RouteRule.site_id == "vorey", RouteRule.service_code == "msa")
        ).one()
        route.windows.append(
            OpeningWindow(mode="walk_in", weekdays=day, start_time=start, end_time=end)
        )
        bump_revision(session)


def test_with_the_control_plane_stopped_kiosks_register_and_calls_route_statically(
    make_switch,  # type: ignore[no-untyped-def]
) -> None:
    sw: Switch = make_switch(_window_open_now)
    first = registered(sw.agent("kiosk-vorey-1"))
    sw.control_plane.stop()

    # A kiosk FreeSWITCH never looked up before: only the static directory knows it.
    registered(sw.agent("kiosk-cunlhat-1", "udp"))
    with sw.db.sessions() as session:
        plan = load_routing_plan(session, sw.settings)
    expected = decide(plan, "kiosk-vorey-1", "msa", datetime.now(UTC))
    event = press(first, "msa")
    if expected.decision is DecisionKind.WALK_IN:
        assert event["type"] == "CALL_ESTABLISHED", event
        uuid = parked_channel(sw)["uuid"]
        assert sw.esl.getvar(uuid, "pvp_queue") == "msa-43"
        assert sw.esl.getvar(uuid, "pvp_routed_by") == "static"
        sw.hangup_all()
        first.wait_event("CALL_CLOSED", timeout=5)
    else:  # today is a public holiday: the fallback must say so too
        assert event["type"] == "CALL_CLOSED"
        assert f"reason={expected.reason}" in str(event["param"])

    event = press(first, "caf")  # no CAF button at Vorey
    assert event["param"] == "404 No such service; reason=no_button"
    assert "Couldn't connect" in sw.fs.log_file.read_text(errors="replace")
