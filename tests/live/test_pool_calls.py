"""Calls end to end through Kamailio in front of two FreeSWITCH (issue 13).

Kamailio (on 127.0.0.2, so the switches can tell it from devices on 127.0.0.1) registers
kiosks and counsellors with PVP's credentials from PostgreSQL and replicates each REGISTER
to both switches; both switches are rendered ``--behind-proxy`` and one control plane's
dispatcher holds an event socket to each. A kiosk's press lands on the switch its Call-ID
hashes to; the counsellor is rung from that switch, through Kamailio, and they talk; a
stopped switch sends the next press to the other; the waiting kiosk is told its place
whatever switch it is on.

Skips, saying why, where Kamailio, FreeSWITCH, baresip or PostgreSQL is absent.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pvp.freeswitch.pool import IDENTITY_HEADER
from testkit.calls import (
    answer,
    assert_hears_tone,
    call_of,
    ended_record,
    eventually,
    hang_up,
    press,
    registered,
    rings,
    waiting_calls,
)
from testkit.live_switch import WRAP_UP_SECONDS, Switch
from testkit.pool import (
    KAMAILIO_HOST,
    Pool,
    behind_kamailio,
    fresh_database,
    hang_up_everything,
    skip_without_kamailio,
)
from testkit.sip_inbox_udp import SipInbox, digest
from testkit.ua import UserAgent

from .test_dispatch import C1, PERMANENCE, talking

pytestmark = pytest.mark.live


def _invite(
    to: tuple[str, int], domain: str, claimed: str, auth: tuple[str, str] | None = None
) -> str:
    """A press of MSA claiming, in Kamailio's identity header, to come from kiosk
    ``claimed``; with ``auth``, it answers the digest challenge as that (other) device.
    Returns the final answer's status line (the call is left to the test to hang up)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(10)
        here = s.getsockname()[1]
        sender = auth[0] if auth else claimed
        key = base64.b64encode(secrets.token_bytes(30)).decode()
        sdp = (
            f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {here + 2} RTP/SAVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
            f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\na=sendrecv\r\n"
        )
        call_id, tag = f"{secrets.token_hex(8)}@127.0.0.1", secrets.token_hex(4)

        def send(cseq: int, authorization: str = "") -> str:
            lines = [
                f"INVITE sip:msa@{domain} SIP/2.0",
                f"Via: SIP/2.0/UDP 127.0.0.1:{here};rport;branch=z9hG4bK{secrets.token_hex(6)}",
                "Max-Forwards: 70",
                f"From: <sip:{sender}@{domain}>;tag={tag}",
                f"To: <sip:msa@{domain}>",
                f"Call-ID: {call_id}",
                f"CSeq: {cseq} INVITE",
                f"Contact: <sip:{sender}@127.0.0.1:{here}>",
                f"{IDENTITY_HEADER}: {claimed}@{domain}",
                *([f"Proxy-Authorization: {authorization}"] if authorization else []),
                "Content-Type: application/sdp",
                f"Content-Length: {len(sdp)}",
            ]
            s.sendto(("\r\n".join(lines) + "\r\n\r\n" + sdp).encode(), to)
            while True:
                reply = s.recv(65536).decode(errors="replace")
                status = reply.split("\r\n", 1)[0]
                if not status.split()[1].startswith("1"):
                    return reply

        reply = send(1)
        if auth and reply.split()[1] == "407":
            challenge = re.search(r"(?im)^Proxy-Authenticate:\s*(.*)$", reply)
            assert challenge, reply
            uri = f"sip:msa@{domain}"
            reply = send(2, digest(auth[0], auth[1], challenge.group(1), "INVITE", uri))
        return reply.split("\r\n", 1)[0]


@pytest.fixture
def pool(
    make_switch: Callable[..., Switch],
    postgres_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    freeswitch_bin: Path,
    tmp_path: Path,
) -> Iterator[Pool]:
    skip_without_kamailio()
    monkeypatch.setenv("PVP_DATABASE_URL", fresh_database(postgres_url))
    with behind_kamailio(make_switch(None), tmp_path) as pool:
        yield pool


def test_presses_through_kamailio_reach_a_counsellor_from_either_switch(
    pool: Pool, tmp_path: Path
) -> None:
    sw = pool.sw
    sw.travel_to(PERMANENCE)
    # A kiosk authenticated by Kamailio claims another's identity: Kamailio's word wins.
    kamailio = (pool.kamailio.site.listen_host, pool.kamailio.site.listen_port)
    liar = ("kiosk-vorey-2", sw.passwords["kiosk-vorey-2"])
    assert _invite(kamailio, sw.settings.sip_domain, "kiosk-vorey-1", liar).split()[1] == "200"
    assert eventually(lambda: waiting_calls(sw) == ["kiosk-vorey-2"])
    hang_up_everything(pool)
    assert eventually(lambda: waiting_calls(sw) == [])

    msa = pool.device(C1, 880, tmp_path)
    sw.control_plane.set_status(C1, "available")
    assert eventually(lambda: sw.worker.policy.counsellors[C1].registered)

    # A device that bypasses Kamailio is challenged, even claiming Kamailio's identity
    # header, and may not register with a switch at all.
    for port in (sw.settings.sip_port, pool.second_settings.sip_port):
        status = _invite(("127.0.0.1", port), sw.settings.sip_domain, "kiosk-vorey-1")
        assert status.split()[1] in ("401", "407"), status
    bypass = SipInbox(
        "kiosk-vorey-2",
        sw.passwords["kiosk-vorey-2"],
        sw.settings.sip_domain,
        ("127.0.0.1", sw.settings.sip_port),
    )
    try:
        with pytest.raises(RuntimeError, match="403"):
            bypass.register(timeout=3)
    finally:
        bypass.close()

    citizen = pool.device("kiosk-vorey-1", 440, tmp_path)
    ringing = _press_until_ringing(citizen, msa)
    landed = pool.switch_of(call_of(sw, "kiosk-vorey-1"))
    _talk(sw, citizen, msa)
    print(f"call 1 on switch {landed}: press to counsellor ringing {ringing:.2f} s")

    # That switch stops: Kamailio's probes take it out, the next press goes to the other.
    stopped = pool.second if landed == 2 else sw.fs
    stopped.stop()
    uri = f"sip:127.0.0.1:{(pool.second_settings if landed == 2 else sw.settings).sip_port}"
    assert eventually(lambda: pool.kamailio.destinations().get(uri) == "IP", 15)
    sw.travel_to(PERMANENCE)  # the clock moved on while we waited: stay in the window
    busy = pool.device("kiosk-vorey-2", 440, tmp_path)
    # The waiting kiosk's message channel, through Kamailio too (registered after baresip:
    # FreeSWITCH's chat goes to the latest contact).
    inbox = SipInbox(
        "kiosk-vorey-2",
        sw.passwords["kiosk-vorey-2"],
        sw.settings.sip_domain,
        (KAMAILIO_HOST, pool.kamailio.site.listen_port),
    )
    try:
        inbox.register()
        sw.control_plane.set_status(C1, "paused")
        assert press(busy, "msa")["type"] == "CALL_ESTABLISHED"
        second_call = call_of(sw, "kiosk-vorey-2")
        assert pool.switch_of(second_call) != landed
        told = json.loads(inbox.wait_message(timeout=10).body)
        assert (told["type"], told["call"], told["position"]) == ("queue", second_call, 1)
    finally:
        inbox.close()
    sw.control_plane.set_status(C1, "available")
    rings(msa, "kiosk-vorey-2")
    assert _talk(sw, busy, msa) == second_call
    assert ringing < 5


def _talk(sw: Switch, kiosk: UserAgent, counsellor: UserAgent) -> str:
    """The ringing counsellor answers, both talk, the kiosk hangs up: each heard the other
    and the call was served. Returns the call."""
    answer(counsellor)
    assert eventually(lambda: talking(sw, kiosk.account.user))
    call = call_of(sw, kiosk.account.user)
    time.sleep(2.5)
    hang_up(kiosk)
    counsellor.wait_event("CALL_CLOSED", timeout=5)
    assert_hears_tone(kiosk.recording("dec"), 830, 930)
    assert_hears_tone(counsellor.recording("dec"), 400, 480)
    assert ended_record(sw, call).outcome == "served"
    return call


def _press_until_ringing(kiosk: UserAgent, counsellor: UserAgent) -> float:
    """Seconds from the kiosk's press of MSA to its counsellor's phone ringing."""
    pressed = time.monotonic()
    assert press(kiosk, "msa")["type"] == "CALL_ESTABLISHED"
    rings(counsellor, kiosk.account.user)
    return time.monotonic() - pressed


def test_press_to_ringing_with_one_switch_and_no_kamailio(fresh: Switch) -> None:
    """The same press on the shared single switch, the devices over UDP too: the figure the
    pool's is compared with (docs/deployment.md)."""
    fresh.travel_to(PERMANENCE)
    msa = registered(fresh.agent(C1, "udp", tone=880))
    fresh.control_plane.set_status(C1, "available")
    assert eventually(lambda: fresh.worker.policy.counsellors[C1].registered)
    citizen = registered(fresh.agent("kiosk-vorey-1", "udp"))
    ringing = _press_until_ringing(citizen, msa)
    print(f"one switch: press to counsellor ringing {ringing:.2f} s")
    answer(msa)
    hang_up(citizen)
    assert ringing < 5


def test_kiosks_on_both_switches_wait_in_one_queue_served_in_order(
    pool: Pool, tmp_path: Path
) -> None:
    sw = pool.sw
    sw.travel_to(PERMANENCE)
    msa = pool.device(C1, 880, tmp_path)
    sw.control_plane.set_status(C1, "paused")
    assert eventually(lambda: sw.worker.policy.counsellors[C1].registered)
    first, second = (pool.device(k, 440, tmp_path) for k in ("kiosk-vorey-1", "kiosk-vorey-2"))
    assert press(first, "msa")["type"] == "CALL_ESTABLISHED"
    one = call_of(sw, "kiosk-vorey-1")
    # Kamailio hashes each call's Call-ID: press again until the other switch takes it.
    for _ in range(10):
        assert press(second, "msa")["type"] == "CALL_ESTABLISHED"
        two = call_of(sw, "kiosk-vorey-2")
        if pool.switch_of(two) != pool.switch_of(one):
            break
        hang_up(second)
        assert eventually(lambda: waiting_calls(sw) == ["kiosk-vorey-1"])
    assert pool.switch_of(two) != pool.switch_of(one)
    assert waiting_calls(sw) == ["kiosk-vorey-1", "kiosk-vorey-2"]

    sw.control_plane.set_status(C1, "available")
    rings(msa, "kiosk-vorey-1")
    assert _talk(sw, first, msa) == one
    rings(msa, "kiosk-vorey-2", timeout=WRAP_UP_SECONDS + 5)
    assert _talk(sw, second, msa) == two
