"""The kiosk screen in each state, in a real headless Chromium: content, no click needed to
change state, and an axe-core audit with no serious violation. Screenshots are kept in
test-artifacts/kiosk-screen/."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pvp.kiosk.availability import describe
from pvp.kiosk.screen import Screen, View
from pvp.kiosk.screen.app import create_screen_app

PARIS = ZoneInfo("Europe/Paris")
KIOSK = {
    "id": "kiosk-vorey-1",
    "commune": "Vorey",
    "buttons": [{"service": s, "label": s.upper()} for s in ("anpe", "urssaf", "cram", "msa")],
    "site_agent_phone": "04 71 00 00 00",
}
NOW = datetime(2006, 11, 24, 10, 0, tzinfo=PARIS)


def idle_buttons() -> list[dict[str, Any]]:
    decisions = [
        {"service": "anpe", "decision": "closed", "next_opening": "2006-11-29T09:00:00+01:00"},
        {"service": "urssaf", "decision": "closed", "next_opening": "2006-12-04T14:00:00+01:00"},
        {"service": "cram", "decision": "closed", "next_opening": "2006-11-28T09:00:00+01:00"},
        {"service": "msa", "decision": "walk_in", "open_until": "2006-11-24T12:00:00+01:00"},
    ]
    return [describe(d, d["service"].upper(), NOW).__dict__ for d in decisions]


STATES: list[tuple[View, dict[str, Any], list[str]]] = [
    (
        View.IDLE,
        {"buttons": idle_buttons()},
        ["Bonjour", "MSA", "Ouvert maintenant", "ouvre mercredi 29 novembre à 9\u00a0h\u00a000"],
    ),
    (View.CALLING, {"service_label": "MSA"}, ["Appel MSA en cours"]),
    (
        View.WAITING,
        {"service_label": "MSA", "position": 2, "wait_text": "environ 6 minutes"},
        ["n° 2", "environ 6 minutes"],
    ),
    (View.IN_CALL, {"service_label": "MSA"}, ["En communication avec MSA", "combiné"]),
    (
        View.CLOSED,
        {
            "title": "Le service ANPE est fermé",
            "reason_text": "Jour férié : Toussaint",
            "next_text": "Il ouvrira jeudi 2 novembre à 9 h 00.",
        },
        ["ANPE est fermé", "Toussaint", "jeudi 2 novembre"],
    ),
    (
        View.DOCUMENT,
        {"title": "Attestation", "page": 1, "pages": 2},
        ["Attestation", "Page 1 sur 2"],
    ),
    (View.PRINTING, {"pages": 3}, ["Impression en cours", "3 pages"]),
    (View.SCAN, {"pages": 1}, ["Posez votre document sur le scanner"]),
    (View.OUT_OF_ORDER, {}, ["hors service", "04 71 00 00 00"]),
    (View.RESTARTING, {}, ["se reconnecte"]),
]


@pytest.fixture
def served(serve) -> tuple[Screen, str, list[str]]:
    screen = Screen()
    pressed: list[str] = []
    app = create_screen_app(screen, KIOSK, on_press=pressed.append)
    return screen, serve(app), pressed


@pytest.mark.browser
def test_every_state_renders_follows_the_agent_and_passes_axe(
    served: tuple[Screen, str, list[str]], page: Any, axe_serious, artifacts
) -> None:
    screen, url, _ = served
    page.goto(url)
    page.evaluate("window.__sameLoad = true")
    shots = artifacts / "kiosk-screen"
    shots.mkdir(parents=True, exist_ok=True)
    for view, data, texts in STATES:
        snapshot = screen.show(view, **data)
        page.wait_for_selector(f"section[data-version='{snapshot.version}']", timeout=5000)
        body = page.inner_text("main")
        for text in texts:
            assert text in body, (view, text, body)
        assert page.evaluate("window.__sameLoad") is True  # no reload, no click
        assert axe_serious(page) == [], view
        page.screenshot(path=str(shots / f"{view.value}.png"))


@pytest.mark.browser
def test_counsellor_notice_shows_over_the_call(served, page: Any) -> None:
    screen, url, _ = served
    screen.show(View.IN_CALL, service_label="CAF")
    page.goto(url)
    snapshot = screen.set_notice("Je vous envoie le formulaire à imprimer.")
    page.wait_for_selector(f"section[data-version='{snapshot.version}']", timeout=5000)
    assert "Je vous envoie le formulaire" in page.inner_text("main")
    screen.show(View.IDLE)  # the call ended: the notice goes with it
    assert screen.current().notice is None


@pytest.mark.browser
def test_touch_buttons_press_like_hardware_ones(served, page: Any) -> None:
    screen, url, pressed = served
    screen.show(View.IDLE, buttons=idle_buttons())
    page.goto(url)
    page.click("button[data-service='msa']")
    page.wait_for_function("true")
    deadline = datetime.now().timestamp() + 5
    while not pressed and datetime.now().timestamp() < deadline:
        page.wait_for_timeout(50)
    assert pressed == ["msa"]


def test_press_from_another_origin_is_refused(served) -> None:
    import requests

    _, url, pressed = served
    got = requests.post(f"{url}/press/msa", headers={"Origin": "http://evil.example"}, timeout=5)
    assert got.status_code == 403 and pressed == []
    assert requests.post(f"{url}/press/impots", timeout=5).status_code == 404


def test_press_from_a_rebound_name_is_refused_even_with_a_matching_origin(served) -> None:
    """DNS rebinding: evil.example made to resolve to 127.0.0.1; its page posts same-origin."""
    import requests

    _, url, pressed = served
    port = url.rsplit(":", 1)[1]
    rebound = f"evil.example:{port}"
    headers = {"Host": rebound, "Origin": f"http://{rebound}"}
    got = requests.post(f"{url}/press/msa", headers=headers, timeout=5)
    assert got.status_code == 403 and pressed == []
    assert requests.get(f"{url}/state", headers={"Host": rebound}, timeout=5).status_code == 403
    # The kiosk's own page still presses.
    assert requests.post(f"{url}/press/msa", headers={"Origin": url}, timeout=5).ok
    assert pressed == ["msa"]


def test_the_counsellor_text_does_not_stay_over_later_states() -> None:
    screen = Screen()
    screen.show(View.IN_CALL, service_label="CAF")
    screen.set_notice("Je vous envoie le formulaire à imprimer.")
    assert screen.show(View.IN_CALL, service_label="CAF", private=True).notice is not None
    assert screen.show(View.PRINTING, pages=2).notice is None  # the next state is clear
    screen.set_notice("Posez la page suivante.")
    assert screen.show(View.WAITING, position=1).notice is None
