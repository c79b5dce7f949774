"""Kiosk requests cannot be replayed: each Digest nonce count is accepted once, so a request
captured on the wire fails when sent again, with its own body or another."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from requests.auth import HTTPDigestAuth
from sqlalchemy import select

from pvp.config import Settings
from pvp.db import Database
from pvp.model import KioskHeartbeat
from pvp.provisioning import rotate_secret
from pvp.web.app import create_app

BEAT = {"version": "1.0", "sip_registered": True, "ua_alive": True}


@pytest.fixture
def kiosk(db: Database, settings: Settings, serve: Any) -> tuple[str, HTTPDigestAuth]:
    with db.session() as session:
        secret = rotate_secret(session, "kiosk-vorey-1", settings.sip_domain)
    app = create_app(settings, db, {"TESTING": True})
    return serve(app) + "/api/v1/kiosks/kiosk-vorey-1/heartbeat", HTTPDigestAuth(
        "kiosk-vorey-1", secret
    )


def _stored_version(db: Database) -> str:
    with db.sessions() as session:
        return str(session.scalars(select(KioskHeartbeat)).one().payload["version"])


def test_a_captured_request_replayed_with_another_body_is_refused(
    kiosk: tuple[str, HTTPDigestAuth], db: Database
) -> None:
    url, auth = kiosk
    sent = requests.post(url, json=BEAT, auth=auth, timeout=10)
    assert sent.status_code == 200
    captured = sent.request.headers["Authorization"]
    forged = {**BEAT, "version": "forged", "sip_registered": False}
    replay = requests.post(url, json=forged, headers={"Authorization": captured}, timeout=10)
    assert replay.status_code == 401
    assert "Digest" in replay.headers["WWW-Authenticate"]
    again = requests.post(url, json=BEAT, headers={"Authorization": captured}, timeout=10)
    assert again.status_code == 401
    assert _stored_version(db) == "1.0"


def test_the_honest_kiosk_goes_on_with_the_next_counts(
    kiosk: tuple[str, HTTPDigestAuth], db: Database
) -> None:
    url, auth = kiosk
    with requests.Session() as session:
        session.auth = auth
        for n in range(5):
            assert session.post(url, json={**BEAT, "version": f"1.{n}"}, timeout=10).ok
    assert _stored_version(db) == "1.4"


def test_nonce_counts_are_single_use_and_forgotten_when_expired() -> None:
    from pvp.web.device_auth import NonceCounts, make_nonce

    assert make_nonce(now=1000) != make_nonce(now=1000)  # two kiosks in the same second
    counts = NonceCounts(lifetime=300)
    nonce = make_nonce(now=1000)
    assert counts.first_use(nonce, 1, now=1000)
    assert counts.first_use(nonce, 2, now=1001)
    assert not counts.first_use(nonce, 1, now=1002)
    for i in range(1001):
        counts.first_use(make_nonce(now=2000 + i), 1, now=2000 + i)
    assert nonce not in counts._seen  # expired nonces are dropped, the table stays bounded
