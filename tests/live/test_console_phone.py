"""Live, end to end: the counsellor's console in Debian's Chromium is their video phone.

The counsellor signs in to the panel; the console registers over WSS with the short-lived
credential issued for the page; a kiosk (baresip over TLS + SRTP, fake colour bars, 440 Hz)
presses MSA at Vorey's permanence; the console rings (banner, screen-reader announcement),
the counsellor answers in the page, each side decodes the other's picture and hears the other's
sound, and the counsellor hangs up from the page. Then the credential: it registers (baresip
given it), and signing out revokes it. Skipped, saying why, without FreeSWITCH, baresip,
Chromium or certutil.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from pvp.model import Role
from pvp.panel.security import create_user
from testkit import webrtc
from testkit.audio import read_mono, rms, segment
from testkit.calls import eventually, press, registered, sees_far_camera
from testkit.live_switch import Switch

pytestmark = [pytest.mark.live, pytest.mark.browser]

C1 = "msa-43-c1"
LOGIN, PASSWORD = "conseiller-msa", "console-secret-1"
PERMANENCE = "2006-11-24T10:00"  # Vorey, the 4th Friday: MSA walk-in 09:00-12:00
BARESIP_VIDEO = (352, 288)  # testkit/ua.py's fake camera


@pytest.fixture(scope="module")
def browser(
    tmp_path_factory: pytest.TempPathFactory, switch: Switch, chromium: Any
) -> Iterator[Any]:
    why = webrtc.missing()
    if why:
        pytest.skip(why)
    where = tmp_path_factory.mktemp("console-browser")
    with switch.db.session() as session:
        create_user(session, LOGIN, PASSWORD, Role.COUNSELLOR, C1)
    media = webrtc.write_media(where / "media")
    phone = webrtc.launch(chromium.browser_type, where / "home", switch.ca, media)
    yield phone
    phone.close()


@pytest.fixture
def console(browser: Any, fresh: Switch) -> Iterator[Any]:
    """The counsellor's console, signed in, its phone registered, status available."""
    app = fresh.control_plane.app
    app.config["SESSION_COOKIE_SECURE"] = False  # plain http on 127.0.0.1 in tests
    base = f"http://127.0.0.1:{fresh.settings.http_port}"
    fresh.travel_to(PERMANENCE)
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.fill("#login", LOGIN)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/console/")
    page.wait_for_selector("body[data-phone=registered]")
    assert page.text_content("#phone-state") == "Visiophone prêt : les appels sonnent ici."
    page.click("#status-available")
    page.wait_for_load_state()
    page.wait_for_selector("body[data-phone=registered]")
    assert eventually(lambda: fresh.worker.policy.counsellors[C1].registered)
    yield page
    context.close()


def test_the_console_rings_answers_sees_and_hears_the_kiosk_and_hangs_up(
    console: Any, fresh: Switch
) -> None:
    page, sw = console, fresh
    # Camera and microphone are chosen in the page (the browser's devices), and remembered.
    cameras = page.eval_on_selector_all("#camera option", "os => os.map(o => o.textContent)")
    microphones = page.eval_on_selector_all("#microphone option", "os => os.map(o => o.value)")
    assert cameras and len(microphones) >= 2, (cameras, microphones)
    page.select_option("#microphone", microphones[1])
    remembered = page.evaluate("() => JSON.parse(localStorage.getItem('pvp-console-devices'))")
    assert remembered["microphone"] == microphones[1]

    kiosk = registered(sw.agent("kiosk-vorey-1"))
    press(kiosk, "msa")

    page.wait_for_selector("#ring", state="visible")
    assert page.get_attribute("body", "data-call") == "ringing"
    assert page.get_attribute("#ring-announce", "aria-live") == "assertive"
    assert page.text_content("#ring-announce").startswith("Appel entrant : ")
    assert page.text_content("#ring-caller") == "kiosk-vorey-1"
    assert page.evaluate("() => document.activeElement.id") == "answer"

    page.click("#answer")
    page.wait_for_selector("body[data-call=talking]")
    assert page.is_hidden("#ring") and page.is_enabled("#hangup")

    def console_receives() -> bool:
        got = webrtc.inbound(page, "pvpConsolePhone")
        video, audio = got["video"] or {}, got["audio"] or {}
        return (
            video.get("frames", 0) > 20
            and (video["width"], video["height"]) == BARESIP_VIDEO
            and audio.get("energy", 0) > 0.01
        )

    assert eventually(console_receives, timeout=10), webrtc.inbound(page, "pvpConsolePhone")
    # The call took the chosen microphone, with the browser's echo/noise/gain processing.
    used = page.evaluate(
        "() => { const t = window.pvpConsolePhone.stream.getAudioTracks()[0];"
        " const s = t.getSettings(); return [s.deviceId, s.echoCancellation,"
        " s.noiseSuppression, s.autoGainControl]; }"
    )
    assert used == [microphones[1], True, True, True], used
    # The self-view shows the counsellor's own camera.
    assert page.evaluate("() => document.getElementById('self').videoWidth") > 0
    first = [e for e in page.evaluate("() => window.pvpPhoneEvents") if e["type"] == "first_frame"]
    assert first and first[0]["ms"] < 5000, first

    # The kiosk sees the counsellor's camera and hears their (speech-like) microphone.
    sees_far_camera(kiosk, timeout=8)
    time.sleep(2)
    page.click("#hangup")
    kiosk.wait_event("CALL_CLOSED", timeout=5)
    samples, rate = read_mono(kiosk.recording("dec"))
    assert rms(segment(samples, rate, -3.0, -0.5)) > 300, "the kiosk heard silence"
    page.wait_for_selector("body[data-call=none]")
    assert page.text_content("#ring-announce") == "Appel terminé."


def test_the_short_lived_credential_registers_until_sign_out(console: Any, fresh: Switch) -> None:
    page, sw = console, fresh
    options = page.evaluate(
        "() => ({user: window.pvpConsolePhone.options.authorizationUser,"
        " password: window.pvpConsolePhone.options.password})"
    )
    assert options["user"] == f"{C1}_console"
    with sw.db.sessions() as session:
        from pvp.model import Counsellor

        counsellor = session.get(Counsellor, C1)
        assert counsellor is not None
    # Another client given the console's credential may register with it...
    same = sw.agent(options["user"], "udp", password=options["password"])
    registered(same)
    same.close()
    page.click("header button:has-text('Se déconnecter')")
    page.wait_for_url("**/login")
    # ... not after sign-out: the directory no longer serves it.
    again = sw.agent(options["user"], "udp", password=options["password"])
    event = again.wait_event("REGISTER_OK", "REGISTER_FAIL", timeout=10)
    assert event["type"] == "REGISTER_FAIL", event
    # And the console's own registration went with the page.
    assert eventually(lambda: not sw.worker.policy.counsellors[C1].registered)
