"""Chromium as a WebRTC SIP endpoint for the live tests and benchmarks: Debian's browser
driven by Playwright, fake camera and a speech-like microphone, trusting the test switch's
CA through an NSS database in its own home (never by turning certificate checks off)."""

from __future__ import annotations

import math
import os
import shutil
import struct
import wave
from pathlib import Path
from typing import Any

from pvp.kiosk.browser import trust_ca

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    # Loopback-only hosts: ICE gathering never ends without it (NOTES.md).
    "--allow-loopback-in-peer-connection",
]


def missing() -> str | None:
    """Why a WebRTC browser cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"Debian's chromium is not at {CHROMIUM} (apt-get install chromium)"
    if shutil.which("certutil") is None:
        return "certutil is missing (apt-get install libnss3-tools)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


def speech_wav(path: Path, seconds: float = 10.0, rate: int = 48000) -> Path:
    """Syllable-like bursts of a voiced sound (Chromium's echo canceller and gain control
    flatten a steady tone within seconds; NOTES.md)."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        envelope = max(0.0, math.sin(2 * math.pi * 3.0 * t)) ** 2  # 6 syllables a second
        pitch = 140 + 30 * math.sin(2 * math.pi * 0.5 * t)
        voice = sum(math.sin(2 * math.pi * pitch * k * t) / k for k in range(1, 6))
        frames += struct.pack("<h", int(9000 * envelope * voice))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


def launch(playwright: Any, home: Path, ca_file: Path, wav: Path) -> Any:
    """A Chromium whose user (``home``) trusts ``ca_file``, with fake devices."""
    trust_ca(home, ca_file)
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[*ARGS, f"--use-file-for-fake-audio-capture={wav}"],
        env={**os.environ, "HOME": str(home)},
    )


# What a page receives, from its RTCPeerConnection's statistics.
INBOUND_JS = """(pc) => pc.getStats().then((report) => {
  const out = {video: null, audio: null};
  report.forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    if (s.kind === "video") out.video = {frames: s.framesDecoded || 0, width: s.frameWidth || 0,
                                         height: s.frameHeight || 0, codec: s.codecId};
    if (s.kind === "audio") out.audio = {energy: s.totalAudioEnergy || 0,
                                         samples: s.totalSamplesReceived || 0};
  });
  return out;
})"""


def inbound(page: Any, phone: str) -> dict[str, Any]:
    """Decoded video frames (and their size) and audio energy received by ``window[phone]``."""
    handle = page.evaluate_handle(
        f"() => window.{phone}.session && window.{phone}.session.connection"
    )
    result: dict[str, Any] = page.evaluate(INBOUND_JS, handle)
    return result
