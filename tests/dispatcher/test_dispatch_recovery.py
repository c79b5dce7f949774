# ruff: noqa: F811 (the fixtures are shared with test_dispatch_worker)
"""The dispatcher worker after a switch restart (issue 15), on a scripted Event Socket: offers
that fail on the way, and bridges made only with legs that are ready."""

from __future__ import annotations

import re
import time

from pvp.dispatcher.state import CallState
from pvp.dispatcher.worker import DispatchWorker
from pvp.model import ConsoleStatus
from testkit.fake_esl import FakeSwitch
from testkit.waiting import eventually

from .test_dispatch_worker import (  # noqa: F401
    CALL,
    COUNSELLOR,
    answer_and_park,
    park,
    switch,
    worker,
)


def originated_legs(switch: FakeSwitch) -> list[str]:
    return re.findall(r"bgapi originate \{origination_uuid=([^,}]+)", "\n".join(switch.commands))


def sent(switch: FakeSwitch, prefix: str) -> list[str]:
    return [c for c in switch.commands if c.startswith(prefix)]


def state(worker: DispatchWorker) -> CallState | None:
    call = worker.policy.calls.get(CALL)
    return call.state if call else None


def hang_up(switch: FakeSwitch, channel: str, cause: str) -> None:
    switch.send_event(
        {"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": channel, "Hangup-Cause": cause}
    )


def offered(switch: FakeSwitch, worker: DispatchWorker, count: int = 1) -> str:
    """Make the counsellor available, park the citizen; the leg of the ``count``-th offer."""
    if count == 1:
        worker.set_console_status(COUNSELLOR, ConsoleStatus.AVAILABLE)
        park(switch)
    assert eventually(lambda: len(originated_legs(switch)) >= count)
    return originated_legs(switch)[count - 1]


def test_given_a_stale_tls_registration_when_the_offer_fails_then_offered_again_on_register(
    switch: FakeSwitch, worker: DispatchWorker
) -> None:
    # After a restart the switch still lists the counsellor's dead TLS connection: the offer
    # fails at once. Today's main took that for a refusal and ended the wait as no_counsellor.
    leg = offered(switch, worker)
    hang_up(switch, leg, "NORMAL_TEMPORARY_FAILURE")
    assert eventually(lambda: state(worker) is CallState.WAITING)
    assert COUNSELLOR not in worker.policy.calls[CALL].refused
    # The softphone registers again over a live connection.
    switch.send_event(
        {
            "Event-Name": "CUSTOM",
            "Event-Subclass": "sofia::register",
            "from-user": COUNSELLOR,
            "call-id": "fresh-connection",
        }
    )
    again = offered(switch, worker, count=2)
    assert again != leg
    assert eventually(lambda: state(worker) is CallState.RINGING)


def test_given_an_answered_leg_when_it_is_not_parked_yet_then_it_is_not_bridged(
    switch: FakeSwitch, worker: DispatchWorker
) -> None:
    # The race of issue 15: bridged while the counsellor's leg entered park(), 20 s of black
    # video then DESTINATION_OUT_OF_ORDER. Only a parked leg is bridged.
    leg = offered(switch, worker)
    switch.send_event({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": leg})
    assert eventually(lambda: state(worker) is CallState.TALKING)
    time.sleep(0.3)
    assert sent(switch, "bgapi uuid_bridge") == []
    switch.send_event(
        {"Event-Name": "CHANNEL_PARK", "Unique-ID": leg, "variable_pvp_offer_for": CALL}
    )
    assert eventually(
        lambda: sent(switch, "bgapi uuid_bridge") == [f"bgapi uuid_bridge {CALL} {leg}"]
    )


def test_given_a_bridge_that_fails_then_the_call_is_not_served_and_waits_again(
    switch: FakeSwitch, worker: DispatchWorker
) -> None:
    switch.bgapi_hook = lambda command: (
        "-ERR no such channel\n" if command.startswith("uuid_bridge") else f"+OK {command}\n"
    )
    leg = offered(switch, worker)
    answer_and_park(switch, leg)
    assert eventually(lambda: sent(switch, f"bgapi uuid_kill {leg} ORIGINATOR_CANCEL") != [])
    assert eventually(lambda: state(worker) is CallState.WAITING)
    assert worker.store.record_outcome(CALL) is None
    assert sent(switch, f"bgapi uuid_kill {CALL}") == []  # the citizen still waits


def test_given_an_answered_leg_that_ends_before_the_bridge_then_not_served_nor_hung_up(
    switch: FakeSwitch, worker: DispatchWorker
) -> None:
    leg = offered(switch, worker)
    answer_and_park(switch, leg)
    assert eventually(lambda: sent(switch, "bgapi uuid_bridge") != [])
    hang_up(switch, leg, "DESTINATION_OUT_OF_ORDER")  # no CHANNEL_BRIDGE ever came
    assert eventually(lambda: state(worker) is CallState.WAITING)
    time.sleep(0.2)
    assert worker.store.record_outcome(CALL) is None
    assert sent(switch, f"bgapi uuid_kill {CALL}") == []


def test_given_a_confirmed_bridge_when_the_counsellor_hangs_up_then_served(
    switch: FakeSwitch, worker: DispatchWorker
) -> None:
    leg = offered(switch, worker)
    answer_and_park(switch, leg)
    assert eventually(lambda: sent(switch, "bgapi uuid_bridge") != [])
    switch.send_event({"Event-Name": "CHANNEL_BRIDGE", "Unique-ID": CALL})
    assert eventually(lambda: worker.policy.calls[CALL].bridged)
    hang_up(switch, leg, "NORMAL_CLEARING")
    assert eventually(lambda: worker.store.record_outcome(CALL) == "served")
    assert eventually(lambda: sent(switch, f"bgapi uuid_kill {CALL}") != [])
