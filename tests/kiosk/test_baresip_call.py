"""Two real baresip instances call each other on 127.0.0.1 with no server in between."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import pytest
from PIL import Image, ImageStat

from pvp.kiosk.baresip import EventType, MediaDevice, MediaEncryption, SipAccount, Transport

from .audio import read_mono, rms, segment, zero_crossing_frequency
from .conftest import Engine, requires_baresip, run, running_engine

pytestmark = requires_baresip


async def establish(caller: Engine, callee: Engine) -> None:
    """caller dials, callee answers on CALL_INCOMING, both see CALL_ESTABLISHED."""
    incoming = callee.controller.expect(EventType.CALL_INCOMING)
    established = [
        engine.controller.expect(EventType.CALL_ESTABLISHED) for engine in (caller, callee)
    ]
    await caller.controller.dial(callee.uri)
    event = await asyncio.wait_for(incoming, 5)
    assert event.direction == "incoming"
    assert event.peer_uri == f"sip:{caller.name}@127.0.0.1"
    await callee.controller.answer()
    out, into = await asyncio.wait_for(asyncio.gather(*established), 5)
    assert out.call_id == into.call_id
    assert out.direction == "outgoing"


async def hang_up(caller: Engine, callee: Engine) -> None:
    """Hang up and wait until both sides closed the call, so the WAV files are complete."""
    closed = [engine.controller.expect(EventType.CALL_CLOSED) for engine in (caller, callee)]
    await caller.controller.hangup()
    await asyncio.wait_for(asyncio.gather(*closed), 5)


async def wait_for_file(path: Path, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not path.exists() or path.stat().st_size == 0:
            await asyncio.sleep(0.05)


def account(name: str, mediaenc: MediaEncryption) -> SipAccount:
    return SipAccount(name, "127.0.0.1", transport=Transport.UDP, mediaenc=mediaenc)


@pytest.mark.parametrize("mediaenc", [MediaEncryption.NONE, MediaEncryption.SRTP_MANDATORY])
def test_direct_call_carries_a_tone_and_video(tmp_path: Path, mediaenc: MediaEncryption) -> None:
    async def body() -> tuple[Engine, Engine]:
        async with (
            running_engine(
                tmp_path, "alice", audio_source="ausine,440", account=account("alice", mediaenc)
            ) as alice,
            running_engine(
                tmp_path, "bob", audio_source="aubridge,mic", account=account("bob", mediaenc)
            ) as bob,
        ):
            secured = bob.controller.expect(EventType.CALL_MENC, lambda e: ",audio," in e.param)
            await establish(alice, bob)
            if mediaenc is MediaEncryption.SRTP_MANDATORY:
                # "0" is MENC_EVENT_SECURE: the audio stream runs SRTP.
                event = await asyncio.wait_for(secured, 3)
                assert event.param == "0,audio,AES_CM_128_HMAC_SHA1_80"
            else:
                secured.cancel()
            await asyncio.sleep(1.5)  # enough sound and frames to judge
            await bob.controller.snapshot_received("recv.png")
            await wait_for_file(bob.directory / "recv.png")
            await hang_up(alice, bob)
            return alice, bob

    alice, bob = run(body())

    samples, rate = read_mono(bob.recording("dec"))
    assert len(samples) > rate, "bob received less than a second of audio"
    tone = segment(samples, rate, 0.3, -0.2)
    assert rms(tone) > 3000, "bob's recording is (near) silence"
    assert 400 < zero_crossing_frequency(tone, rate) < 480

    with Image.open(bob.directory / "recv.png") as image:
        assert image.size == (352, 288)
        spread = ImageStat.Stat(image.convert("L")).stddev[0]
        assert spread > 10, "received video frame is a uniform image"
        rgb = image.convert("RGB")
        red, green, blue = (
            cast(tuple[int, int, int], rgb.getpixel((x, 144))) for x in (50, 175, 300)
        )
    # fakevideo paints three vertical bars: red, green, blue.
    assert red[0] > 200 and green[1] > 200 and blue[2] > 200


def test_handset_privacy_switches_devices_mid_call(tmp_path: Path) -> None:
    """Lifting the handset moves the kiosk's player and microphone mid-call.

    Bob's microphone is the aubridge device "handset", fed only by a player of the same
    name: until bob switches his player there, he sends nothing. Then alice's tone comes
    back to her. Then alice switches her microphone to another tone, which bob receives.
    """

    async def body() -> tuple[Engine, Engine]:
        async with (
            running_engine(tmp_path, "alice", audio_source="ausine,440") as alice,
            running_engine(tmp_path, "bob", audio_source="aubridge,handset") as bob,
        ):
            await establish(alice, bob)
            await asyncio.sleep(1.0)
            await bob.controller.set_audio_player(MediaDevice("aubridge", "handset"))
            await asyncio.sleep(1.0)
            await alice.controller.set_audio_source(MediaDevice("ausine", "1000"))
            await asyncio.sleep(1.0)
            await hang_up(alice, bob)
            return alice, bob

    alice, bob = run(body())

    heard, rate = read_mono(bob.recording("dec"))
    before = segment(heard, rate, 0.3, 0.8)
    after = segment(heard, rate, -0.6, -0.1)
    assert 400 < zero_crossing_frequency(before, rate) < 480
    assert 950 < zero_crossing_frequency(after, rate) < 1050
    assert rms(after) > 3000

    echo, rate = read_mono(alice.recording("dec"))
    # Nothing came back during the first second: bob's handset had no player yet.
    assert 1.2 < len(echo) / rate < 2.6
    early = segment(echo, rate, 0.2, 0.7)
    assert rms(early) > 3000
    assert 400 < zero_crossing_frequency(early, rate) < 480
    assert 950 < zero_crossing_frequency(segment(echo, rate, -0.6, -0.1), rate) < 1050
