"""The Event Socket client and the dispatcher against a real FreeSWITCH.

Callers are ``loopback/`` legs parked with the channel variables the PVP dialplan sets;
counsellors' phones are ``loopback/`` legs whose test extension rings forever, answers, or
rejects (the dial string is injectable). SIP registrations are the real ``sofia::register``
custom events, injected into FreeSWITCH with ``sendevent`` (mod_sofia is not loaded here).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from pvp.config import Settings
from pvp.db import Database
from pvp.dispatcher.notifier import RecordingNotifier
from pvp.dispatcher.state import Activity, CallState
from pvp.dispatcher.worker import EVENTS, DispatchWorker, start_dispatcher
from pvp.freeswitch.esl import Backoff, ESLClient
from pvp.freeswitch.eslframe import Event
from pvp.model import CallRecord, ConsoleStatus, ExpertQueue
from testkit.calls import eventually
from testkit.minimal_switch import MinimalSwitch

pytestmark = pytest.mark.live

C1, C2 = "msa-43-c1", "msa-43-c2"  # priority 1 and 2 of the MSA 43 permanence


def client_for(switch: MinimalSwitch, events: tuple[str, ...] = ()) -> ESLClient:
    return ESLClient(
        "127.0.0.1",
        switch.esl_port,
        switch.password,
        events=events,
        backoff=Backoff(0.1, 0.5),
        timeout=10,
    )


@pytest.fixture
def esl(freeswitch: MinimalSwitch) -> Iterator[ESLClient]:
    client = client_for(freeswitch, ("CHANNEL_PARK", "PLAYBACK_START"))
    client.start()
    assert client.wait_connected(10)
    yield client
    client.stop()


def park_caller(esl: ESLClient, kiosk: str = "kiosk-vorey-1", booked: str = "") -> str:
    """What the PVP dialplan does to a kiosk's press of MSA at Vorey: answer and park."""
    call = str(uuid.uuid4())
    mode = f"appointment,pvp_counsellor={booked}" if booked else "walk_in"
    variables = (
        f"origination_uuid={call},pvp_queue=msa-43,pvp_mode={mode},pvp_kiosk={kiosk},"
        "pvp_site=vorey,pvp_service=msa"
    )
    assert esl.bgapi(f"originate {{{variables}}}loopback/citizen/pvp-test &park()").result(10)
    return call


def alive(esl: ESLClient, channel: str) -> bool:
    return esl.api(f"uuid_exists {channel}").strip() == "true"


def register(esl: ESLClient, user: str) -> None:
    esl.send(
        "sendevent CUSTOM",
        {"Event-Subclass": "sofia::register", "from-user": user, "call-id": f"reg-{user}"},
    )


# --------------------------------------------------------------------- ESL client


def test_given_freeswitch_when_connected_then_api_status_answers(esl: ESLClient) -> None:
    assert esl.api("status").startswith("UP ")


def test_given_a_subscription_when_a_call_parks_then_the_event_arrives(esl: ESLClient) -> None:
    parked: list[Event] = []
    esl.on("CHANNEL_PARK", parked.append)
    call = park_caller(esl)
    assert eventually(lambda: any(e.uuid == call for e in parked))
    event = next(e for e in parked if e.uuid == call)
    assert event.variable("pvp_queue") == "msa-43"
    assert event.variable("pvp_kiosk") == "kiosk-vorey-1"


def test_given_a_connection_when_freeswitch_restarts_then_it_reconnects(
    freeswitch: MinimalSwitch, esl: ESLClient
) -> None:
    parked: list[str] = []
    esl.on("CHANNEL_PARK", lambda e: parked.append(e.uuid))
    freeswitch.restart()
    assert eventually(lambda: esl.connections == 2 and esl.connected, 20)
    assert esl.api("status").startswith("UP ")
    call = park_caller(esl)  # the subscription was made again too
    assert eventually(lambda: call in parked)


def test_given_custom_events_when_sent_then_handlers_get_them_by_subclass(
    freeswitch: MinimalSwitch,
) -> None:
    client = client_for(freeswitch, ("CUSTOM sofia::register",))
    users: list[str] = []
    client.on("CUSTOM sofia::register", lambda e: users.append(e.get("from-user")))
    client.start()
    try:
        assert client.wait_connected(10)
        register(client, C1)
        assert eventually(lambda: users == [C1])
    finally:
        client.stop()


# ------------------------------------------------------------------- dispatcher


class Rig:
    """A dispatcher worker on the 2006 plan's database, wired to the test FreeSWITCH."""

    def __init__(self, switch: MinimalSwitch, db: Database, phones: dict[str, str]) -> None:
        self.switch, self.db, self.phones = switch, db, phones
        self.dialled: list[str] = []
        self.notifier = RecordingNotifier()
        self.worker: DispatchWorker | None = None

    def dial(self, counsellor: str) -> str:
        self.dialled.append(counsellor)
        return f"loopback/{self.phones[counsellor]}/pvp-test"

    def start(self) -> DispatchWorker:
        esl = client_for(self.switch, EVENTS)
        self.worker = DispatchWorker(
            self.db,
            esl,
            domain="pvp.test",
            notifier=self.notifier,
            dial_string=self.dial,
            srtp="optional",
            tick_seconds=0.1,
            console_poll_seconds=0.5,
        )
        self.worker.start()
        assert self.worker.reconciled.wait(15)
        return self.worker

    def ready(self, *counsellors: str) -> None:
        assert self.worker is not None
        for counsellor in counsellors:
            register(self.worker.esl, counsellor)
            self.worker.set_console_status(counsellor, ConsoleStatus.AVAILABLE)
        assert eventually(
            lambda: all(self.worker.policy.counsellors[c].available_to_ring for c in counsellors)
        )

    def record(self, call: str) -> CallRecord | None:
        with self.db.sessions() as session:
            return session.get(CallRecord, call)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None


@pytest.fixture
def rig(freeswitch: MinimalSwitch, db: Database) -> Iterator[Rig]:
    with db.session() as session:  # short timers, so the test does not sit waiting
        session.execute(
            update(ExpertQueue)
            .where(ExpertQueue.id == "msa-43")
            .values(no_answer_timeout_seconds=2, wrap_up_seconds=1, max_wait_seconds=120)
        )
    setup = Rig(freeswitch, db, {C1: "ring", C2: "answer"})
    yield setup
    setup.stop()


def test_given_two_counsellors_when_the_first_lets_it_ring_then_the_second_is_bridged(
    rig: Rig, esl: ESLClient
) -> None:
    worker = rig.start()
    rig.ready(C1, C2)
    bridged: list[str] = []
    esl.on("CHANNEL_PARK", lambda e: None)
    worker.esl.on("CHANNEL_BRIDGE", lambda e: bridged.append(e.uuid))
    call = park_caller(esl)
    # Priority 1 first, then, after the 2 s no-answer timeout, priority 2.
    assert eventually(lambda: rig.dialled[:1] == [C1])
    assert eventually(lambda: rig.dialled[:2] == [C1, C2], 10)
    assert eventually(lambda: call in bridged)
    assert eventually(lambda: worker.policy.calls[call].state is CallState.TALKING)
    record = rig.record(call)
    assert record is not None and record.counsellor_id == C2
    assert record.offered_at and record.answered_at and record.wait_seconds >= 2
    assert ("kiosk-vorey-1", {"type": "queue", "call": call, "position": 1, "wait": 0}) in (
        rig.notifier.sent
    )
    # The kiosk is told the wait is over, so its screen leaves "waiting".
    connected = {"type": "connected", "call": call, "counsellor": C2}
    assert ("kiosk-vorey-1", connected) in rig.notifier.sent
    # C1's phone stopped ringing: no leg is left for it.
    assert eventually(lambda: esl.api("show channels count").split()[0] in ("4",))
    time.sleep(1)
    esl.api(f"uuid_kill {call}")
    assert eventually(lambda: (rig.record(call) or record).outcome == "served")
    served = rig.record(call)
    assert served is not None and served.talk_seconds and served.talk_seconds >= 1
    assert eventually(lambda: esl.api("show channels count").split()[0] == "0")


def test_given_a_ringing_offer_when_the_caller_hangs_up_then_nobody_is_left_ringing(
    rig: Rig, esl: ESLClient
) -> None:
    worker = rig.start()
    rig.ready(C1)
    sounds: list[Event] = []
    esl.on("PLAYBACK_START", sounds.append)
    call = park_caller(esl)
    # While parked the caller hears the waiting chime.
    assert eventually(
        lambda: any(e.uuid == call and "tone_stream" in e.get("Playback-File-Path") for e in sounds)
    )
    assert eventually(lambda: worker._offer_legs.get(call))
    leg = worker._offer_legs[call]
    assert eventually(lambda: alive(esl, leg))
    esl.api(f"uuid_kill {call}")
    assert eventually(lambda: not alive(esl, leg))
    assert eventually(lambda: (rig.record(call) or CallRecord()).outcome == "abandoned")
    record = rig.record(call)
    assert record is not None and record.reason == "hung_up_while_ringing"
    assert worker.policy.counsellors[C1].activity is Activity.IDLE
    assert eventually(lambda: esl.api("show channels count").split()[0] == "0")


def test_given_a_waiting_caller_when_the_control_plane_restarts_then_it_keeps_its_place(
    rig: Rig, esl: ESLClient
) -> None:
    worker = rig.start()
    register(worker.esl, C1)
    worker.set_console_status(C1, ConsoleStatus.PAUSED)  # present, but not taking calls
    first, second = park_caller(esl), park_caller(esl, kiosk="kiosk-vorey-1")
    assert eventually(lambda: [c.id for c in worker.policy.waiting()] == [first, second])
    places = {c.id: (c.seq, c.arrival.arrived_at) for c in worker.policy.waiting()}
    rig.stop()

    esl.api(f"uuid_kill {second}")  # hangs up while nobody watches
    assert eventually(lambda: not alive(esl, second))
    rig.phones[C1] = "answer"
    worker = rig.start()
    assert [c.id for c in worker.policy.waiting()] == [first]
    kept = worker.policy.calls[first]
    assert (kept.seq, kept.arrival.arrived_at) == places[first]
    assert eventually(lambda: (rig.record(second) or CallRecord()).outcome == "abandoned")
    rig.ready(C1)
    assert eventually(
        lambda: (
            first in worker.policy.calls and worker.policy.calls[first].state is CallState.TALKING
        )
    )
    assert rig.dialled == [C1]


def test_given_a_counsellor_paused_when_another_process_makes_them_available_then_offered(
    rig: Rig, esl: ESLClient
) -> None:
    from pvp.dispatcher.worker import utc_now
    from pvp.services import console_status

    worker = rig.start()
    rig.phones[C2] = "ring"
    register(worker.esl, C2)
    call = park_caller(esl)
    assert eventually(lambda: call in worker.policy.calls)
    assert rig.dialled == []
    with rig.db.session() as session:  # the CLI's way
        console_status.set_status(session, C2, ConsoleStatus.AVAILABLE, utc_now(), actor="test")
    assert eventually(lambda: rig.dialled == [C2])
    done = threading.Event()
    worker.esl.on("CHANNEL_HANGUP_COMPLETE", lambda e: e.uuid == call and done.set())
    esl.api(f"uuid_kill {call}")
    assert done.wait(10)


def test_given_a_booked_citizen_when_another_counsellor_is_idle_then_theirs_is_rung(
    rig: Rig, esl: ESLClient
) -> None:
    rig.phones[C1] = "answer"
    worker = rig.start()
    rig.ready(C1, C2)
    call = park_caller(esl, booked=C2)
    assert eventually(
        lambda: call in worker.policy.calls and worker.policy.calls[call].state is CallState.TALKING
    )
    assert rig.dialled == [C2]
    assert worker.policy.counsellors[C1].activity is Activity.IDLE
    record = rig.record(call)
    assert record is not None and (record.mode, record.counsellor_id) == ("appointment", C2)
    assert eventually(lambda: worker.policy.calls[call].bridged)  # served once bridged
    esl.api(f"uuid_kill {call}")
    assert eventually(lambda: (rig.record(call) or record).outcome == "served")


def test_the_served_control_plane_connects_with_its_configuration(
    freeswitch: MinimalSwitch, db: Database, settings: Settings
) -> None:
    configured = settings.model_copy(
        update={"esl_port": freeswitch.esl_port, "esl_password": freeswitch.password}
    )
    worker = start_dispatcher(configured, db)
    try:
        assert worker.reconciled.wait(15)
        assert worker.esl.connected and worker.esl.api("status").startswith("UP ")
    finally:
        worker.stop()
