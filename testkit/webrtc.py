"""Chromium as a WebRTC SIP endpoint for the live tests and benchmarks: Debian's browser
driven by Playwright, fake camera and a speech-like microphone, trusting the test switch's
CA through an NSS database in its own home (never by turning certificate checks off)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from pvp.kiosk.browser import trust_ca
from testkit.chromium_flags import CHROMIUM_ARGS
from testkit.fake_media import write_camera, write_speech

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    *CHROMIUM_ARGS,
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


def write_media(directory: Path) -> Path:
    """The fake camera (colour bars, y4m) and speech-like microphone of testkit/fake_media.py."""
    directory.mkdir(parents=True, exist_ok=True)
    write_camera(directory / "camera.y4m")
    write_speech(directory / "speech.wav")
    return directory


def launch(browser_type: Any, home: Path, ca_file: Path, media: Path) -> Any:
    """A Chromium whose user (``home``) trusts ``ca_file``, with the fake devices of ``media``
    (see :func:`write_media`). ``browser_type``: Playwright's ``chromium`` (one Playwright per
    process: tests pass the session browser's ``browser_type``)."""
    trust_ca(home, ca_file)
    return browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *ARGS,
            f"--use-file-for-fake-video-capture={media / 'camera.y4m'}",
            f"--use-file-for-fake-audio-capture={media / 'speech.wav'}",
        ],
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


def wait_js(page: Any, expression: str, timeout: float = 10.0, poll: float = 0.05) -> None:
    """Wait until ``expression`` is truthy in ``page``. Not ``wait_for_function``: the pages'
    content security policy refuses the string evaluation it relies on."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {timeout} s: {expression}")
        time.sleep(poll)
