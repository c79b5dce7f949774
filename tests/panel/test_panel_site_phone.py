"""A site's help number edited in the panel reaches the kiosk screen through the kiosk's
availability answer: no new bundle, so the kiosk's SIP secret is not rotated."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from panel_helpers import VOREY_SITE
from requests.auth import HTTPDigestAuth

from pvp.config import Settings
from pvp.db import Database
from pvp.kiosk.availability import AvailabilityCache
from pvp.kiosk.screen import Screen, View
from pvp.kiosk.screen.app import create_screen_app
from pvp.model import Kiosk
from pvp.provisioning import rotate_secret


def test_a_phone_change_reaches_the_kiosk_screen_without_a_new_secret(
    app: Flask,
    as_role: Any,
    pdb: Database,
    settings: Settings,
    serve: Callable[[Any], str],
    tmp_path: Path,
) -> None:
    with pdb.session() as session:
        secret = rotate_secret(session, "kiosk-vorey-1", settings.sip_domain)
    with pdb.sessions() as session:
        digest = session.get(Kiosk, "kiosk-vorey-1").a1_hash
    base = serve(app)
    http = requests.Session()
    http.auth = HTTPDigestAuth("kiosk-vorey-1", secret)
    cache = AvailabilityCache(base, "kiosk-vorey-1", tmp_path / "availability.json", http)
    assert cache.site_agent_phone() is None  # nothing fetched yet: the bundle's number stays

    r = as_role("admin").post(
        "/admin/sites/vorey/edit", VOREY_SITE | {"agent_phone": "04-71-00-00-00"}
    )
    assert r.status_code == 302
    assert cache.refresh()
    assert cache.site_agent_phone() == "04 71 00 00 00"
    with pdb.sessions() as session:
        assert session.get(Kiosk, "kiosk-vorey-1").a1_hash == digest  # same secret

    # The screen renders the kiosk description it was given on each request: the agent
    # updates that description from the cache after each refresh (KioskAgent._follow_site_phone).
    screen = Screen()
    kiosk = {"id": "kiosk-vorey-1", "buttons": [], "site_agent_phone": "04 71 99 99 99"}
    screen_app = create_screen_app(screen, kiosk)
    screen.show(View.OUT_OF_ORDER)
    kiosk["site_agent_phone"] = cache.site_agent_phone()
    shown = screen_app.test_client().get("/view").get_data(as_text=True)
    assert "04 71 00 00 00" in shown and "04 71 99 99 99" not in shown
