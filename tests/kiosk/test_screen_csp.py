"""The kiosk screen under its content security policy, in Chromium: the page's script runs
(it follows the agent's states), and nothing breaks a rule of the policy."""

from __future__ import annotations

from typing import Any

import pytest

from pvp.kiosk.screen import Screen, View
from pvp.kiosk.screen.app import create_screen_app

pytestmark = pytest.mark.browser

KIOSK = {
    "id": "kiosk-vorey-1",
    "commune": "Vorey",
    "buttons": [{"service": "msa", "label": "MSA"}],
    "site_agent_phone": "04 71 00 00 00",
}


def test_the_screen_works_under_its_csp(serve: Any, page: Any) -> None:
    screen = Screen()
    url = serve(create_screen_app(screen, KIOSK))
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    answer = page.goto(url)
    headers = answer.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    snapshot = screen.show(View.CALLING, service_label="MSA")
    page.wait_for_selector(f"section[data-version='{snapshot.version}']", timeout=5000)
    assert "Appel MSA en cours" in page.inner_text("main")
    assert problems == []
