"""What the idle buttons say, including from a cached answer once time has moved on."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from pvp.kiosk import french
from pvp.kiosk.availability import AvailabilityCache, describe

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2006, 11, 24, 10, 0, tzinfo=PARIS)  # Friday


def test_walk_in_is_open_until_the_window_ends() -> None:
    d = {"service": "msa", "decision": "walk_in", "open_until": "2006-11-24T12:00:00+01:00"}
    assert describe(d, "MSA", NOW).open
    assert describe(d, "MSA", NOW).text == "Ouvert maintenant"
    # The same cached answer read after noon no longer says open.
    assert not describe(d, "MSA", NOW.replace(hour=12, minute=1)).open


def test_cached_closure_opens_when_its_next_opening_passes() -> None:
    d = {
        "service": "anpe",
        "decision": "closed",
        "next_opening": "2006-11-24T14:00:00+01:00",
        "detail": None,
    }
    assert describe(d, "ANPE", NOW).text == "Fermé — ouvre aujourd'hui à 14\u00a0h\u00a000"
    assert describe(d, "ANPE", NOW + timedelta(hours=4)).open


def test_holiday_reason_and_far_openings_are_spelt_out() -> None:
    d = {
        "service": "anpe",
        "decision": "closed",
        "detail": "Noël",
        "next_opening": "2007-01-02T09:00:00+01:00",
    }
    text = describe(d, "ANPE", datetime(2006, 12, 25, 10, tzinfo=PARIS)).text
    assert text == "Fermé (Noël) — ouvre mardi 2 janvier 2007 à 9\u00a0h\u00a000"
    assert french.opening(NOW + timedelta(days=1), NOW) == "demain à 10\u00a0h\u00a000"
    assert french.minutes(20) == "moins d'une minute"
    assert french.minutes(61) == "environ 1 minute"
    assert french.minutes(330) == "environ 6 minutes"


def test_cache_survives_an_unreachable_control_plane(tmp_path: Path) -> None:
    path = tmp_path / "availability.json"
    path.write_text(json.dumps({"services": [{"service": "msa", "decision": "walk_in"}]}))
    cache = AvailabilityCache(
        "http://127.0.0.1:9", "kiosk-vorey-1", path, requests.Session(), timeout=0.5
    )
    assert cache.refresh() is False
    assert cache.decisions() == [{"service": "msa", "decision": "walk_in"}]
    path.write_text("{broken")
    assert cache.decisions() == []


def test_cache_refreshes_from_the_control_plane_as_the_kiosk(db, settings, serve, tmp_path):
    from requests.auth import HTTPDigestAuth

    from pvp.provisioning import rotate_secret
    from pvp.web.app import create_app

    with db.session() as session:
        secret = rotate_secret(session, "kiosk-vorey-1", settings.sip_domain)
    base = serve(create_app(settings, db))
    session = requests.Session()
    path = tmp_path / "availability.json"
    anonymous = AvailabilityCache(base, "kiosk-vorey-1", path, session)
    assert anonymous.refresh() is False  # 401: nothing cached
    session.auth = HTTPDigestAuth("kiosk-vorey-1", secret)
    cache = AvailabilityCache(base, "kiosk-vorey-1", path, session)
    assert cache.refresh() is True
    assert [d["service"] for d in cache.decisions()] == ["anpe", "urssaf", "cram", "msa"]
