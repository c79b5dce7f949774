"""Live, end to end: a kiosk's press through the project's FreeSWITCH configuration, the PVP
dialplan and the expert-queue dispatcher of the control plane, to a counsellor's softphone.

Kiosks are baresip over TLS with mandatory SRTP, counsellors baresip over UDP (SRTP too);
each sends a sine tone (kiosks 440 Hz, counsellors 880 Hz) and a fake camera's colour bars.
The control plane's clock is moved to the 2006 plan's windows: the 4th Friday of November
2006 for the MSA 43 permanence at Vorey, a Thursday morning for ANPE appointments. The
queues ring a counsellor NO_ANSWER_SECONDS and wrap up WRAP_UP_SECONDS (conftest.live_plan).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest

from pvp import appointments
from pvp.plan_view import load_routing_plan
from testkit.calls import (
    answer,
    assert_hears_tone,
    assert_never_rang,
    call_of,
    ended_record,
    eventually,
    hang_up,
    press,
    record,
    registered,
    rings,
    sees_far_camera,
    waiting_calls,
)
from testkit.live_switch import NO_ANSWER_SECONDS, PARIS, WRAP_UP_SECONDS, Switch
from testkit.sip_inbox_udp import SipInbox
from testkit.ua import UserAgent

pytestmark = pytest.mark.live

C1, C2 = "msa-43-c1", "msa-43-c2"  # MSA 43 permanence, priority 1 and 2
PERMANENCE = "2006-11-24T10:00"  # Vorey, the 4th Friday: MSA walk-in 09:00-12:00


def counsellor(sw: Switch, user: str, status: str = "available") -> UserAgent:
    """A counsellor's softphone registered, and their console set to ``status``."""
    phone = registered(sw.agent(user, "udp", tone=880))
    sw.control_plane.set_status(user, status)
    assert eventually(lambda: sw.worker.policy.counsellors[user].registered)
    return phone


def kiosk(sw: Switch, user: str = "kiosk-vorey-1") -> UserAgent:
    return registered(sw.agent(user))


def activity(sw: Switch, counsellor_id: str) -> str:
    return str(sw.worker.policy.counsellors[counsellor_id].activity)


def talking(sw: Switch, kiosk_id: str) -> bool:
    """The kiosk's call is answered and bridged (only then is it served)."""
    return any(
        c["kiosk"] == kiosk_id and c["connected"]
        for q in sw.worker.overview()["queues"]
        for c in q["talking"]
    )


def next_served(
    sw: Switch, counsellor: UserAgent, current: UserAgent, waiting: UserAgent, kiosk_id: str
) -> None:
    """The current caller hangs up; after the wrap-up the counsellor rings for the waiting
    one, answers, talks, and that caller hangs up too."""
    hang_up(current)
    counsellor.wait_event("CALL_CLOSED", timeout=5)
    rings(counsellor, kiosk_id, timeout=WRAP_UP_SECONDS + 5)
    answer(counsellor)
    assert eventually(lambda: talking(sw, kiosk_id))
    hang_up(waiting)


def test_a_walk_in_press_rings_the_queue_and_sound_and_picture_flow_both_ways(
    fresh: Switch,
) -> None:
    fresh.travel_to(PERMANENCE)
    msa = counsellor(fresh, C1)
    other_queue = counsellor(fresh, "anpe-le-puy-c1")  # available, but not MSA's
    citizen = kiosk(fresh)

    assert press(citizen, "msa")["type"] == "CALL_ESTABLISHED"  # answered, parked
    rings(msa, "kiosk-vorey-1")
    answer(msa)
    assert eventually(lambda: talking(fresh, "kiosk-vorey-1"))
    call = call_of(fresh, "kiosk-vorey-1")
    kept = record(fresh, call)
    assert (kept.queue_id, kept.site_id, kept.mode) == ("msa-43", "vorey", "walk_in")
    assert kept.counsellor_id == C1 and kept.offered_at and kept.answered_at
    assert fresh.esl.getvar(call, "rtp_has_crypto")  # the kiosk leg is SRTP

    # Each side shows the other's camera, not park's black picture nor a grey half-frame.
    sees_far_camera(citizen)
    sees_far_camera(msa)
    time.sleep(2.5)  # two seconds and more of talk: the pictures now start within a second
    hang_up(citizen)
    msa.wait_event("CALL_CLOSED", timeout=5)

    # What each side received: the other's tone, at full level.
    assert_hears_tone(citizen.recording("dec"), 830, 930)
    assert_hears_tone(msa.recording("dec"), 400, 480)
    served = ended_record(fresh, call)
    assert served.outcome == "served" and served.talk_seconds and served.talk_seconds > 2
    assert fresh.control_plane.offers == [C1]
    assert_never_rang(other_queue, within=0.2)


def test_a_booked_citizen_reaches_their_own_counsellor_while_another_is_idle(
    fresh: Switch,
) -> None:
    start = datetime(2006, 11, 9, 10, 0, tzinfo=PARIS)  # a Thursday: ANPE appointments
    with fresh.db.session() as session:
        plan = load_routing_plan(session, fresh.settings, since=start - timedelta(days=1))
        booked = appointments.book(
            session, plan, appointments.Booking("vorey", "anpe", "anpe-le-puy-c2", start)
        ).id
    fresh.travel_to("2006-11-09T09:58")
    first_in_line = counsellor(fresh, "anpe-le-puy-c1")  # priority 1, idle, available
    theirs = counsellor(fresh, "anpe-le-puy-c2")
    citizen = kiosk(fresh)

    assert press(citizen, "anpe")["type"] == "CALL_ESTABLISHED"
    rings(theirs, "kiosk-vorey-1")
    answer(theirs)
    assert eventually(lambda: talking(fresh, "kiosk-vorey-1"))
    call = call_of(fresh, "kiosk-vorey-1")
    kept = record(fresh, call)
    assert (kept.mode, kept.counsellor_id, kept.appointment_id) == (
        "appointment",
        "anpe-le-puy-c2",
        booked,
    )
    assert fresh.esl.getvar(call, "pvp_counsellor") == "anpe-le-puy-c2"
    assert_never_rang(first_in_line, within=0.5)
    assert fresh.control_plane.offers == ["anpe-le-puy-c2"]
    hang_up(citizen)
    assert ended_record(fresh, call).outcome == "served"


def test_two_kiosks_one_counsellor_the_second_is_told_position_1_then_served_after_wrap_up(
    fresh: Switch,
) -> None:
    fresh.travel_to(PERMANENCE)
    msa = counsellor(fresh, C1)
    first, second = kiosk(fresh, "kiosk-vorey-1"), kiosk(fresh, "kiosk-vorey-2")
    # The second kiosk's message channel: the same AOR, a contact that shows MESSAGE bodies.
    # Registered after baresip: FreeSWITCH's chat sends to the latest contact only. Over UDP:
    # with the test kit's TCP inbox FreeSWITCH's chat to it held the first call's bridge
    # until the citizen hung up (3 runs in 4), never with UDP or a real kiosk.
    inbox = SipInbox(
        "kiosk-vorey-2",
        fresh.passwords["kiosk-vorey-2"],
        fresh.settings.sip_domain,
        (fresh.settings.sip_host, fresh.settings.sip_port),
    )
    try:
        inbox.register()
        press(first, "msa")
        rings(msa, "kiosk-vorey-1")
        answer(msa)
        one = call_of(fresh, "kiosk-vorey-1")

        assert press(second, "msa")["type"] == "CALL_ESTABLISHED"
        two = call_of(fresh, "kiosk-vorey-2")
        told = inbox.messages.get(timeout=10)
        assert told.content_type == "application/json"
        payload = json.loads(told.body)
        assert (payload["type"], payload["call"], payload["position"]) == ("queue", two, 1)
        assert payload["wait"] > 0  # an estimate while nobody is ringing for it
        assert waiting_calls(fresh) == ["kiosk-vorey-2"]

        next_served(fresh, msa, first, second, "kiosk-vorey-2")
    finally:
        inbox.register(expires=0)  # the next test's messages to this kiosk go to baresip
        inbox.close()
    before, after = ended_record(fresh, one), ended_record(fresh, two)
    assert (before.outcome, after.outcome) == ("served", "served")
    assert before.ended_at and after.offered_at
    # Offered only once the counsellor's wrap-up after the first call had passed.
    assert (after.offered_at - before.ended_at).total_seconds() >= WRAP_UP_SECONDS - 0.05
    assert after.wait_seconds and after.wait_seconds >= WRAP_UP_SECONDS
    assert fresh.control_plane.offers == [C1, C1]


def test_a_caller_who_hangs_up_while_waiting_is_recorded_and_nobody_rings(
    fresh: Switch,
) -> None:
    fresh.travel_to(PERMANENCE)
    msa = counsellor(fresh, C1, "paused")  # present, not taking calls: the caller waits
    citizen = kiosk(fresh)
    press(citizen, "msa")
    assert eventually(lambda: waiting_calls(fresh) == ["kiosk-vorey-1"])
    call = call_of(fresh, "kiosk-vorey-1")
    time.sleep(0.5)
    hang_up(citizen)

    kept = ended_record(fresh, call)
    assert (kept.outcome, kept.reason) == ("abandoned", "hung_up_while_waiting")
    assert kept.wait_seconds and kept.wait_seconds >= 0.5
    assert kept.offered_at is None and kept.answered_at is None
    fresh.control_plane.set_status(C1, "available")
    assert_never_rang(msa, within=1.5)
    assert fresh.control_plane.offers == []


def test_a_caller_who_hangs_up_while_a_counsellor_rings_leaves_nobody_ringing(
    fresh: Switch,
) -> None:
    fresh.travel_to(PERMANENCE)
    msa = counsellor(fresh, C1)
    citizen = kiosk(fresh)
    press(citizen, "msa")
    rings(msa, "kiosk-vorey-1")
    call = call_of(fresh, "kiosk-vorey-1")
    hang_up(citizen)

    msa.wait_event("CALL_CLOSED", timeout=3)  # the phone stopped ringing
    kept = ended_record(fresh, call)
    assert (kept.outcome, kept.reason) == ("abandoned", "hung_up_while_ringing")
    assert kept.counsellor_id == C1 and kept.offered_at and kept.answered_at is None
    assert eventually(lambda: not fresh.esl.channels(), 3)
    assert eventually(lambda: activity(fresh, C1) == "idle", 3)


def test_no_answer_moves_the_offer_to_the_next_counsellor(fresh: Switch) -> None:
    fresh.travel_to(PERMANENCE)
    silent, backup = counsellor(fresh, C1), counsellor(fresh, C2)
    citizen = kiosk(fresh)
    press(citizen, "msa")
    rings(silent, "kiosk-vorey-1")
    rang_at = time.monotonic()
    call = call_of(fresh, "kiosk-vorey-1")

    rings(backup, "kiosk-vorey-1", timeout=NO_ANSWER_SECONDS + 3)
    assert time.monotonic() - rang_at >= NO_ANSWER_SECONDS - 0.5
    silent.wait_event("CALL_CLOSED", timeout=2)  # no longer ringing
    answer(backup)
    assert eventually(lambda: talking(fresh, "kiosk-vorey-1"))
    assert record(fresh, call).counsellor_id == C2
    assert fresh.control_plane.offers == [C1, C2]
    hang_up(citizen)
    assert ended_record(fresh, call).outcome == "served"


def test_an_unregistered_counsellor_is_never_offered_a_call(fresh: Switch) -> None:
    fresh.travel_to(PERMANENCE)
    gone = counsellor(fresh, C1)  # priority 1 and available in the console...
    gone.close()  # ...but the softphone leaves (unregisters)
    assert eventually(lambda: not fresh.worker.policy.counsellors[C1].registered)
    backup = counsellor(fresh, C2)
    citizen = kiosk(fresh)
    press(citizen, "msa")
    rings(backup, "kiosk-vorey-1")
    assert fresh.control_plane.offers == [C2]
    hang_up(citizen)
    backup.wait_event("CALL_CLOSED", timeout=3)
    assert fresh.control_plane.offers == [C2]


def test_callers_keep_their_places_across_a_control_plane_restart_and_are_served(
    fresh: Switch,
) -> None:
    fresh.travel_to(PERMANENCE)
    msa = counsellor(fresh, C1, "paused")
    first, second = kiosk(fresh, "kiosk-vorey-1"), kiosk(fresh, "kiosk-vorey-2")
    press(first, "msa")
    assert eventually(lambda: waiting_calls(fresh) == ["kiosk-vorey-1"])
    press(second, "msa")
    assert eventually(lambda: waiting_calls(fresh) == ["kiosk-vorey-1", "kiosk-vorey-2"])
    calls = [call_of(fresh, "kiosk-vorey-1"), call_of(fresh, "kiosk-vorey-2")]

    fresh.control_plane.restart()  # a new dispatcher, rebuilt from the database
    assert waiting_calls(fresh) == ["kiosk-vorey-1", "kiosk-vorey-2"]
    fresh.control_plane.set_status(C1, "available")
    rings(msa, "kiosk-vorey-1")
    answer(msa)
    assert eventually(lambda: talking(fresh, "kiosk-vorey-1"))
    next_served(fresh, msa, first, second, "kiosk-vorey-2")
    assert [ended_record(fresh, c).outcome for c in calls] == ["served", "served"]
