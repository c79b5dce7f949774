"""What the live tests do and check with calls: press, ring, records, sound and picture."""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

import pytest
from PIL import Image, ImageStat

from pvp.model import CallRecord
from testkit.audio import read_mono, rms, segment, zero_crossing_frequency
from testkit.live_switch import Switch
from testkit.ua import UserAgent
from testkit.waiting import eventually


def registered(ua: UserAgent) -> UserAgent:
    event = ua.wait_event("REGISTER_OK", "REGISTER_FAIL", timeout=10)
    assert event["type"] == "REGISTER_OK", event
    return ua


def press(kiosk: UserAgent, service: str) -> dict[str, object]:
    """Dial a service code; the first of established / closed."""
    reply = kiosk.dial(service)
    assert reply.get("ok"), reply
    return kiosk.wait_event("CALL_ESTABLISHED", "CALL_CLOSED", timeout=10)


def rings(counsellor: UserAgent, kiosk: str, timeout: float = 10) -> None:
    """The counsellor's phone rings, showing the calling kiosk."""
    event = counsellor.wait_event("CALL_INCOMING", timeout=timeout)
    assert str(event["peeruri"]).startswith(f"sip:{kiosk}@"), event


def answer(counsellor: UserAgent) -> None:
    assert counsellor.command("accept").get("ok")
    counsellor.wait_event("CALL_ESTABLISHED", timeout=5)


def hang_up(ua: UserAgent) -> None:
    assert ua.command("hangup").get("ok")
    ua.wait_event("CALL_CLOSED", timeout=5)


def assert_never_rang(counsellor: UserAgent, within: float = 1.0) -> None:
    with pytest.raises(TimeoutError):
        counsellor.wait_event("CALL_INCOMING", timeout=within)


def no_channel_left(sw: Switch, timeout: float = 3) -> bool:
    """True once FreeSWITCH holds no channel (a refused one lingers a few ms)."""
    return eventually(lambda: not sw.esl.channels(), timeout)


def parked_channel(sw: Switch) -> dict[str, str]:
    """A parked kiosk leg (playing the waiting sound once the dispatcher has it)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rows = [
            r for r in sw.esl.channels() if r.get("application") in ("park", "endless_playback")
        ]
        if rows:
            return rows[0]
        time.sleep(0.1)
    raise AssertionError(f"no parked channel: {sw.esl.channels()}")


def call_of(sw: Switch, kiosk: str, timeout: float = 5) -> str:
    """The call id (the kiosk leg's UUID) of the kiosk's call the dispatcher holds."""
    found: list[str] = []

    def look() -> bool:
        for queue in sw.worker.overview()["queues"]:
            for call in [*queue["waiting"], *queue["talking"]]:
                if call["kiosk"] == kiosk:
                    found.append(call["call"])
                    return True
        return False

    assert eventually(look, timeout), f"the dispatcher holds no call of {kiosk}"
    return found[0]


def record(sw: Switch, call: str) -> CallRecord:
    with sw.db.sessions() as session:
        found = session.get(CallRecord, call)
    assert found is not None, f"no call record {call}"
    return found


def ended_record(sw: Switch, call: str, timeout: float = 10) -> CallRecord:
    """The call's record once it has an outcome."""
    assert eventually(lambda: record(sw, call).outcome, timeout), record(sw, call)
    return record(sw, call)


def waiting_calls(sw: Switch) -> list[str]:
    """The kiosks waiting in MSA 43, in the order the dispatcher serves them."""
    for queue in sw.worker.overview()["queues"]:
        if queue["id"] == "msa-43":
            return [c["kiosk"] for c in queue["waiting"]]
    return []


# ------------------------------------------------------------------------------ media


def assert_hears_tone(recording: Path, low: float, high: float) -> None:
    """The end of a recording (what the agent received) is a tone between low and high Hz."""
    samples, rate = read_mono(recording)
    assert len(samples) > 2 * rate, f"{recording.name}: under two seconds of audio"
    tone = segment(samples, rate, -1.5, -0.2)
    assert rms(tone) > 3000, f"{recording.name} ends in (near) silence"
    assert low < zero_crossing_frequency(tone, rate) < high


def colour_bars(path: Path) -> bool:
    """baresip's fake camera: red, green and blue vertical bars (not park's black picture,
    not the grey of a decoder that lacks a keyframe)."""
    with Image.open(path) as image:
        if ImageStat.Stat(image.convert("L")).stddev[0] < 10:
            return False  # uniform
        rgb = image.convert("RGB")
        width, height = rgb.size
        red, green, blue = (
            cast(tuple[int, int, int], rgb.getpixel((x, height // 2)))
            for x in (width // 7, width // 2, width * 6 // 7)
        )
    return red[0] > 200 and green[1] > 200 and blue[2] > 200


def sees_far_camera(ua: UserAgent, timeout: float = 12) -> Path:
    """A received frame showing the far end's camera. After a bridge each decoder waits for
    a keyframe, asked for with the next RTCP report (NOTES.md: up to ~5 s)."""
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        attempt += 1
        frame = ua.snapshot(f"frame-{attempt}.png")
        if colour_bars(frame):
            return frame
        if time.monotonic() > deadline:
            raise AssertionError(f"{ua.account.user}: no picture of the far camera, see {frame}")
        time.sleep(0.3)
