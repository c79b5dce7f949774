"""The dispatcher's view of a FreeSWITCH pool (pvp.freeswitch.pool) on two real switches:
each command reaches the switch holding its channel, an offer leg is born on its caller's
switch, and the pool's channel and registration lists are both switches' together; the
document service hears a fax received on either switch, and the fallback refresher tells
each switch to read the configuration again.

Skips where FreeSWITCH is absent.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from pvp.clock import ShiftedClock
from pvp.common.pdf import pdf_to_fax_tiff
from pvp.config import Settings
from pvp.db import Database
from pvp.documents import switch as documents_switch
from pvp.documents.service import DocumentService
from pvp.freeswitch.esl import ESLClient
from pvp.freeswitch.eslframe import Event
from pvp.freeswitch.pool import SwitchPool
from pvp.freeswitch.refresh import FallbackRefresher
from testkit.calls import eventually
from testkit.documents import COUNSELLOR, fax_received, text_pdf
from testkit.minimal_switch import MinimalSwitch

from .test_control_plane_pool import _faxes_in
from .test_esl import alive, client_for, park_caller

pytestmark = pytest.mark.live


@pytest.fixture
def two(
    freeswitch: MinimalSwitch, freeswitch_bin: Path, tmp_path: Path
) -> Iterator[list[tuple[MinimalSwitch, ESLClient]]]:
    """Two switches, each with a client of its own (what a test checks the pool against)."""
    # One event socket password for the pool, as `esl_password` is one setting.
    other = MinimalSwitch(str(freeswitch_bin), tmp_path / "other", password=freeswitch.password)
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


def test_the_documents_hear_a_fax_received_on_the_second_switch(
    two: list[tuple[MinimalSwitch, ESLClient]], db: Database, settings: Settings, tmp_path: Path
) -> None:
    """Kamailio hands a fax call (or a kiosk's answer) to either switch: the documents' own
    event socket is one per switch of ``esl_switches``, like the dispatcher's."""

    (first, _), (_, second) = two
    tiff = tmp_path / "fax.tiff"
    tiff.write_bytes(pdf_to_fax_tiff(text_pdf("FAX reçu par le second commutateur")))
    pooled = settings.model_copy(
        update={
            "esl_password": first.password,
            "esl_switches": ",".join(f"127.0.0.1:{s.esl_port}" for s, _ in two),
        }
    )
    esl, _ = documents_switch.start(pooled, DocumentService.create(db, pooled))
    try:
        assert esl.wait_connected(10)
        assert eventually(lambda: all(c.connected for c in getattr(esl, "clients", [esl])))
        second.send(
            "sendevent CUSTOM",
            fax_received(tiff),
        )
        assert eventually(lambda: _faxes_in(db) == [(COUNSELLOR, "done")])
    finally:
        esl.stop()


def _heard(heard: list[int], number: int, event: Event) -> None:
    heard.append(number)


def test_the_fallback_refresher_tells_every_switch_of_the_pool(
    two: list[tuple[MinimalSwitch, ESLClient]], db: Database, settings: Settings, tmp_path: Path
) -> None:
    reloaded: list[int] = []
    watchers = [client_for(switch, ("RELOADXML",)) for switch, _ in two]
    for number, watcher in enumerate(watchers, start=1):
        watcher.on("RELOADXML", partial(_heard, reloaded, number))
        watcher.start()
    pool = SwitchPool([client_for(switch) for switch, _ in two])
    pool.start()
    clock = ShiftedClock(datetime(2006, 11, 24, 9, 0, tzinfo=UTC))
    refresher = FallbackRefresher(settings, db, tmp_path / "conf", clock, esl=pool)
    try:
        assert all(c.wait_connected(10) for c in [*watchers, *pool.clients])
        assert refresher.check()
        assert refresher.up_to_date()
        assert eventually(lambda: sorted(reloaded) == [1, 2])
    finally:
        pool.stop()
        for watcher in watchers:
            watcher.stop()
