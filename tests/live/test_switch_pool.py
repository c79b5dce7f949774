"""The dispatcher's view of a FreeSWITCH pool (pvp.freeswitch.pool) on two real switches:
each command reaches the switch holding its channel, an offer leg is born on its caller's
switch, and the pool's channel and registration lists are both switches' together.

Skips where FreeSWITCH is absent.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvp.freeswitch.esl import ESLClient
from pvp.freeswitch.eslframe import Event
from pvp.freeswitch.pool import SwitchPool
from testkit.calls import eventually
from testkit.minimal_switch import MinimalSwitch

from .test_esl import alive, client_for, park_caller

pytestmark = pytest.mark.live


@pytest.fixture
def two(
    freeswitch: MinimalSwitch, freeswitch_bin: Path, tmp_path: Path
) -> Iterator[list[tuple[MinimalSwitch, ESLClient]]]:
    """Two switches, each with a client of its own (what a test checks the pool against)."""
    other = MinimalSwitch(str(freeswitch_bin), tmp_path / "other")
    other.start()
    direct = [client_for(freeswitch), client_for(other)]
    for client in direct:
        client.start()
        assert client.wait_connected(10)
    try:
        yield [(freeswitch, direct[0]), (other, direct[1])]
    finally:
        for client in direct:
            client.stop()
        other.stop()


def test_commands_follow_their_channel_and_offers_are_born_on_the_callers_switch(
    two: list[tuple[MinimalSwitch, ESLClient]],
) -> None:
    (_, a), (_, b) = two
    before = park_caller(a, "kiosk-vorey-2")  # parked before the pool connected: no event
    pool = SwitchPool([client_for(switch, ("CHANNEL_PARK",)) for switch, _ in two])
    parks: list[str] = []
    pool.on("CHANNEL_PARK", lambda event: parks.append(event.uuid))
    pool.start()
    try:
        assert eventually(lambda: pool.connected and all(c.connected for c in pool.clients))
        call = park_caller(b)  # Kamailio handed this kiosk's INVITE to the second switch
        assert eventually(lambda: call in parks)

        leg = str(uuid.uuid4())
        offer = f"{{origination_uuid={leg},pvp_offer_for={call}}}loopback/ring/pvp-test &park()"
        pool.bgapi(f"originate {offer}")
        assert eventually(lambda: alive(b, leg))
        assert not alive(a, leg)

        # A channel known from the database only (a restart) is found on its switch.
        assert pool.api(f"uuid_exists {before}").strip() == "true"
        assert pool.api(f"uuid_exists {uuid.uuid4()}").strip() == "false"

        def listed() -> set[str]:  # FreeSWITCH's core database lags a little
            return {r["uuid"] for r in json.loads(pool.api("show channels as json"))["rows"]}

        assert eventually(lambda: {before, call, leg} <= listed())

        pool.api(f"uuid_kill {leg} ORIGINATOR_CANCEL")
        assert eventually(lambda: not alive(b, leg))
        pool.api(f"uuid_kill {before} NORMAL_CLEARING")
        assert eventually(lambda: not alive(a, before))
        assert alive(b, call)
    finally:
        pool.stop()


def test_every_switchs_events_reach_the_same_handler(
    two: list[tuple[MinimalSwitch, ESLClient]],
) -> None:
    pool = SwitchPool([client_for(switch, ("CHANNEL_PARK",)) for switch, _ in two])
    seen: list[Event] = []
    pool.on("CHANNEL_PARK", seen.append)
    pool.start()
    try:
        assert eventually(lambda: all(c.connected for c in pool.clients))
        calls = {park_caller(client) for _, client in two}
        assert eventually(lambda: calls <= {e.uuid for e in seen})
    finally:
        pool.stop()


def test_a_stopped_switchs_channels_are_gone_and_the_other_still_answers(
    two: list[tuple[MinimalSwitch, ESLClient]],
) -> None:
    (_, a), (other, b) = two
    pool = SwitchPool([client_for(switch, ("CHANNEL_PARK",)) for switch, _ in two])
    pool.on("CHANNEL_PARK", lambda event: None)
    pool.start()
    try:
        assert eventually(lambda: all(c.connected for c in pool.clients))
        call, kept = park_caller(b), park_caller(a, "kiosk-vorey-2")
        assert eventually(lambda: pool.switch_of(call) is pool.clients[1])
        other.stop()
        assert eventually(lambda: not pool.clients[1].connected)
        # What the dispatcher's reconciliation asks: no error, the call is gone.
        assert pool.api(f"uuid_exists {call}").strip() == "false"
        assert pool.api(f"uuid_exists {kept}").strip() == "true"
    finally:
        pool.stop()
