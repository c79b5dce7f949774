"""Live: FreeSWITCH restarted under a running control plane (issue 15).

Each test has a switch of its own (a restart must not disturb the others). Counsellors are
baresip softphones over TLS or UDP, the kiosk baresip over TLS, as in test_dispatch.py. A
restart kills every call and every TCP/TLS connection, while FreeSWITCH keeps the
registrations in its profile's database: the dead TLS ones must never be taken for a
counsellor's refusal, and a press right after the restart must be served.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from pvp.db import Database
from pvp.kiosk.screen import View
from testkit.calls import (
    answer,
    call_of,
    ended_record,
    eventually,
    hang_up,
    press,
    registered,
    rings,
    sees_far_camera,
    waiting_calls,
)
from testkit.live_switch import Switch
from testkit.ua import UserAgent

from .test_dispatch import PERMANENCE, talking

pytestmark = pytest.mark.live
log = logging.getLogger("tests.live.restart")

C1, C2 = "msa-43-c1", "msa-43-c2"  # MSA 43, priority 1 and 2
MakeSwitch = Callable[[Callable[[Database], None] | None], Switch]
# A softphone that registers every 10 s: the counsellor's side of "registered again within
# 10 s of the switch being back" (baresip 1.0 otherwise waits 30-60 s after a lost connection).
QUICK_REREGISTER = 10
CONNECTED = (View.IN_CALL, View.WAITING)  # answered and parked: told its place, or not yet


def softphone(sw: Switch, user: str, transport: str, regint: int = 600) -> UserAgent:
    phone = registered(sw.agent(user, transport, tone=880, regint=regint))
    assert eventually(lambda: sw.worker.policy.counsellors[user].registered)
    return phone


def listed(sw: Switch, user: str) -> bool:
    """FreeSWITCH lists a registration of ``user`` (live or not)."""
    return f"{user}@" in sw.esl.api("show registrations")


def serve(sw: Switch, citizen: UserAgent, phone: UserAgent, ring_timeout: float) -> str:
    """A press answered by ``phone``: talk with pictures both ways, then the citizen leaves."""
    assert press(citizen, "msa")["type"] == "CALL_ESTABLISHED"
    rings(phone, "kiosk-vorey-1", timeout=ring_timeout)
    answer(phone)
    assert eventually(lambda: talking(sw, "kiosk-vorey-1"))
    call = call_of(sw, "kiosk-vorey-1")
    sees_far_camera(citizen)  # bridged for real: not park's black picture
    hang_up(citizen)
    return call


def test_a_stale_tls_registration_is_dropped_soon_after_the_restart(
    make_switch: MakeSwitch,
) -> None:
    sw = make_switch(None)
    softphone(sw, C1, "tls")  # re-registers only after 10 minutes
    back = sw.restart_freeswitch()
    assert eventually(lambda: not listed(sw, C1), timeout=15), "the dead TLS contact stays"
    gone = time.monotonic() - back
    log.info("stale TLS registration dropped %.1f s after the switch was back", gone)
    assert gone < 10
    assert eventually(lambda: not sw.worker.policy.counsellors[C1].registered)


def test_after_a_restart_a_press_at_once_reaches_the_tls_counsellor_and_is_served(
    make_switch: MakeSwitch,
) -> None:
    sw = make_switch(None)
    sw.travel_to(PERMANENCE)
    phone = softphone(sw, C1, "tls", regint=QUICK_REREGISTER)
    sw.control_plane.set_status(C1, "available")
    citizen = registered(sw.agent("kiosk-vorey-1"))

    back = sw.restart_freeswitch()
    # Before main's fix, the offer to the dead TLS registration failed at once, was taken
    # for a refusal, and the wait ended as no_counsellor 30 s later.
    call = serve(sw, citizen, phone, ring_timeout=QUICK_REREGISTER + 10)
    log.info("served a press made %.1f s after the restart", time.monotonic() - back)
    kept = ended_record(sw, call)
    assert (kept.outcome, kept.counsellor_id) == ("served", C1)
    assert kept.talk_seconds and kept.talk_seconds > 0


def test_a_citizen_waiting_through_a_restart_is_served_when_pressing_again(
    make_switch: MakeSwitch,
) -> None:
    sw = make_switch(None)
    sw.travel_to(PERMANENCE)
    softphone(sw, C1, "tls")  # its registration dies with the restart
    udp = softphone(sw, C2, "udp")  # its registration stays good
    for counsellor in (C1, C2):
        sw.control_plane.set_status(counsellor, "paused")  # present, not taking calls
    citizen = registered(sw.agent("kiosk-vorey-1"))
    assert press(citizen, "msa")["type"] == "CALL_ESTABLISHED"
    assert eventually(lambda: waiting_calls(sw) == ["kiosk-vorey-1"])
    waited = call_of(sw, "kiosk-vorey-1")

    sw.restart_freeswitch()
    citizen.wait_event("CALL_CLOSED", timeout=10)  # the switch's restart ended that call
    assert ended_record(sw, waited, timeout=15).outcome != "served"
    for counsellor in (C1, C2):
        sw.control_plane.set_status(counsellor, "available")

    # Whoever the dispatcher tries first, the UDP counsellor is reached; the dead TLS one
    # is no refusal that ends the wait.
    call = serve(sw, citizen, udp, ring_timeout=15)
    kept = ended_record(sw, call)
    assert (kept.outcome, kept.counsellor_id) == ("served", C2)
