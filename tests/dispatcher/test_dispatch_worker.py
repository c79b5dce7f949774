"""The dispatcher worker against a scripted Event Socket: orderings a real FreeSWITCH produces
only now and then, made to happen every time."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator

import pytest

from pvp.db import Database
from pvp.dispatcher.notifier import RecordingNotifier, SipMessageNotifier
from pvp.dispatcher.state import CallState
from pvp.dispatcher.worker import EVENTS, DispatchWorker
from pvp.freeswitch.esl import Backoff, ESLClient
from pvp.model import ConsoleStatus
from testkit.fake_esl import FakeSwitch
from testkit.waiting import eventually

CALL = "c0ffee00-0000-4000-8000-000000000001"
COUNSELLOR = "msa-43-c1"


@pytest.fixture
def switch() -> Iterator[FakeSwitch]:
    server = FakeSwitch()
    server.api_answers = {
        "show registrations": '{"row_count": 1, "rows": [{"reg_user": "msa-43-c1", "token": "t"}]}',
        "show channels": '{"row_count": 0}',
        "uuid_exists": "true\n",
    }
    yield server
    server.close()


@pytest.fixture
def worker(switch: FakeSwitch, db: Database) -> Iterator[DispatchWorker]:
    esl = ESLClient(
        "127.0.0.1", switch.port, "ClueCon", events=EVENTS, backoff=Backoff(0.05, 0.2), timeout=3
    )
    dispatcher = DispatchWorker(
        db, esl, domain="pvp.test", notifier=RecordingNotifier(), tick_seconds=0.05
    )
    dispatcher.start()
    assert dispatcher.reconciled.wait(5)
    yield dispatcher
    dispatcher.stop()


def park(switch: FakeSwitch, **extra: str) -> None:
    """What the PVP dialplan's park of a press of MSA at Vorey looks like on the socket."""
    variables = {
        "pvp_queue": "msa-43",
        "pvp_mode": "walk_in",
        "pvp_kiosk": "kiosk-vorey-1",
        "pvp_site": "vorey",
        "pvp_service": "msa",
        **extra,
    }
    switch.send_event(
        {
            "Event-Name": "CHANNEL_PARK",
            "Unique-ID": CALL,
            **{f"variable_{k}": v for k, v in variables.items()},
        }
    )


def answer_and_park(switch: FakeSwitch, leg: str) -> None:
    """A counsellor's offer leg answers, then runs the originate's ``&park()``."""
    switch.send_event({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": leg})
    switch.send_event(
        {"Event-Name": "CHANNEL_PARK", "Unique-ID": leg, "variable_pvp_offer_for": CALL}
    )


def test_given_a_leg_bridged_before_its_originate_returned_when_it_says_err_then_the_call_goes_on(
    switch: FakeSwitch, worker: DispatchWorker
) -> None:
    # The worker bridges on CHANNEL_ANSWER; when that bridge wins the race against the end
    # of `originate`, FreeSWITCH answers the job "-ERR ORIGINATOR_CANCEL" for a leg that is
    # talking. Taking that for the leg's end hung the citizen up as soon as they were served.
    def originate(command: str) -> str:
        found = re.search(r"origination_uuid=([^,}]+)", command)
        if not command.startswith("originate ") or found is None:
            return f"+OK {command}\n"
        answer_and_park(switch, found.group(1))
        time.sleep(0.2)  # the worker answers with uuid_bridge meanwhile
        return "-ERR ORIGINATOR_CANCEL\n"

    switch.bgapi_hook = originate
    worker.set_console_status(COUNSELLOR, ConsoleStatus.AVAILABLE)
    park(switch)

    def state() -> CallState | None:
        call = worker.policy.calls.get(CALL)
        return call.state if call else None

    assert eventually(lambda: state() is CallState.TALKING)
    assert eventually(lambda: any(c.startswith("bgapi uuid_bridge") for c in switch.commands))
    assert eventually(lambda: any(c.startswith("api uuid_exists") for c in switch.commands))
    time.sleep(0.3)
    assert state() is CallState.TALKING
    assert not [c for c in switch.commands if c.startswith(f"bgapi uuid_kill {CALL}")]


def test_given_the_dialplan_names_a_waiting_sound_when_parked_then_the_caller_hears_it(
    switch: FakeSwitch, worker: DispatchWorker
) -> None:
    sound = "tone_stream://%(250,4750,523);loops=-1"  # the wait_media setting's default
    park(switch, pvp_wait_media=sound)
    expected = f"bgapi uuid_broadcast {CALL} endless_playback::{sound} aleg"
    assert eventually(lambda: expected in switch.commands)


@pytest.mark.parametrize(
    ("answer", "logged"), [("Sent", "sent"), ("Error! Message Not Sent", "not sent")]
)
def test_given_a_kiosk_told_its_place_when_chat_answers_then_the_log_says_what_happened(
    switch: FakeSwitch, caplog: pytest.LogCaptureFixture, answer: str, logged: str
) -> None:
    esl = ESLClient("127.0.0.1", switch.port, "ClueCon", backoff=Backoff(0.05, 0.2))
    switch.bgapi_hook = lambda command: f"{answer}\n"
    esl.start()
    try:
        assert esl.wait_connected(5)
        with caplog.at_level(logging.INFO, logger="pvp.dispatcher.notifier"):
            SipMessageNotifier(esl, "pvp.test", None).position("kiosk-vorey-1", CALL, 1, 360)
            assert eventually(lambda: "MESSAGE" in caplog.text)
    finally:
        esl.stop()
    assert f"kiosk kiosk-vorey-1: queue MESSAGE {logged}" in caplog.text


def test_given_a_call_bridged_then_both_legs_are_asked_for_a_keyframe_by_info_within_a_second(
    switch: FakeSwitch, worker: DispatchWorker
) -> None:
    # FreeSWITCH holds a young leg's RTCP keyframe requests up to 4 s (pvp.freeswitch.keyframes):
    # without these INFOs a softphone counsellor's picture stayed grey ~4 s on the kiosk.
    worker.set_console_status(COUNSELLOR, ConsoleStatus.AVAILABLE)
    park(switch)
    assert eventually(lambda: any(c.startswith("bgapi originate") for c in switch.commands))
    leg = re.search(
        r"origination_uuid=([^,}]+)", next(c for c in switch.commands if "originate" in c)
    )
    assert leg is not None
    switch.send_event({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": leg.group(1)})
    assert eventually(lambda: worker.policy.calls[CALL].state is CallState.TALKING)
    bridged = time.monotonic()
    switch.send_event(
        {"Event-Name": "CHANNEL_BRIDGE", "Unique-ID": CALL, "Other-Leg-Unique-ID": leg.group(1)}
    )
    for uuid in (CALL, leg.group(1)):
        assert eventually(
            lambda u=uuid: f"api uuid_setvar {u} fs_send_unsupported_info true" in switch.commands
        )

    def infos(uuid: str) -> list[str]:
        prefix = f"bgapi uuid_send_info {uuid} application media_control+xml "
        return [c for c in switch.commands if c.startswith(prefix) and "picture_fast_update" in c]

    assert eventually(lambda: len(infos(CALL)) == len(infos(leg.group(1))) == 3, timeout=3)
    assert time.monotonic() - bridged < 1.5


@pytest.mark.parametrize("mode", ["appointement", ""])
def test_given_the_dialplan_sets_an_unknown_mode_when_parked_then_the_call_is_refused_loudly(
    switch: FakeSwitch, worker: DispatchWorker, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    # Read as a walk-in, a booked citizen would wait in the walk-in queue, their counsellor lost.
    with caplog.at_level(logging.ERROR, logger="pvp.dispatcher.worker"):
        park(switch, pvp_mode=mode, pvp_counsellor=COUNSELLOR)
        kill = f"bgapi uuid_kill {CALL} NORMAL_TEMPORARY_FAILURE"
        assert eventually(lambda: kill in switch.commands)
    assert f"pvp_mode={mode!r}: not one of appointment, walk_in" in caplog.text
    assert CALL not in worker.policy.calls
    assert not [c for c in switch.commands if c.startswith(f"bgapi uuid_broadcast {CALL}")]
