"""Kiosk heartbeats over real HTTP: Digest authentication with the kiosk's own SIP secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from click.testing import CliRunner
from requests.auth import HTTPDigestAuth

from pvp.cli import main
from pvp.config import Settings
from pvp.db import Database
from pvp.model import KioskHeartbeat
from pvp.provisioning import rotate_secret
from pvp.web.app import create_app

BEAT = {
    "version": "0.1.0",
    "sip_registered": True,
    "ua_alive": True,
    "printer": {"state": "stopped", "reasons": ["media-empty-error"], "message": "plus de papier"},
    "scanner_present": True,
    "camera_present": False,
    "disk_free_mb": 12000,
}


@pytest.fixture
def server(db: Database, settings: Settings, serve) -> str:
    return serve(create_app(settings, db))


@pytest.fixture
def secret(db: Database, settings: Settings) -> str:
    with db.session() as session:
        return rotate_secret(session, "kiosk-vorey-1", settings.sip_domain)


def url(base: str, kiosk: str = "kiosk-vorey-1") -> str:
    return f"{base}/api/v1/kiosks/{kiosk}/heartbeat"


def test_heartbeat_is_kept_and_shown_by_pvp_kiosks(
    server: str, secret: str, db: Database, settings: Settings
) -> None:
    got = requests.post(
        url(server), json=BEAT, auth=HTTPDigestAuth("kiosk-vorey-1", secret), timeout=5
    )
    assert got.status_code == 200, got.text
    listed = CliRunner().invoke(
        main, ["kiosks", "--json"], env={"PVP_DATA_DIR": str(settings.data_dir)}
    )
    kiosks = {k["id"]: k for k in json.loads(listed.output)}
    assert kiosks["kiosk-vorey-1"]["online"] is True
    assert kiosks["kiosk-vorey-1"]["devices"]["printer"]["reasons"] == ["media-empty-error"]
    assert kiosks["kiosk-cunlhat-1"]["online"] is False
    assert kiosks["kiosk-cunlhat-1"]["devices"] is None


def test_kiosk_is_offline_after_three_missed_heartbeats(
    server: str, secret: str, db: Database, settings: Settings
) -> None:
    requests.post(url(server), json=BEAT, auth=HTTPDigestAuth("kiosk-vorey-1", secret), timeout=5)
    with db.session() as session:
        session.get(KioskHeartbeat, "kiosk-vorey-1").received_at -= timedelta(seconds=91)
    listed = CliRunner().invoke(
        main, ["kiosks", "--json"], env={"PVP_DATA_DIR": str(settings.data_dir)}
    )
    kiosks = json.loads(listed.output)
    assert next(k for k in kiosks if k["id"] == "kiosk-vorey-1")["online"] is False


@pytest.mark.parametrize(
    ("user", "password_ok", "kiosk"),
    [
        ("kiosk-vorey-1", False, "kiosk-vorey-1"),  # wrong secret
        ("kiosk-nowhere-1", True, "kiosk-vorey-1"),  # unknown device
    ],
)
def test_bad_credentials_are_refused_and_store_nothing(
    server: str, secret: str, db: Database, user: str, password_ok: bool, kiosk: str
) -> None:
    password = secret if password_ok else secret + "x"
    got = requests.post(
        url(server, kiosk), json=BEAT, auth=HTTPDigestAuth(user, password), timeout=5
    )
    assert got.status_code == 401
    assert "Digest" in got.headers["WWW-Authenticate"]
    with db.sessions() as session:
        assert session.get(KioskHeartbeat, "kiosk-vorey-1") is None


def test_a_kiosk_cannot_report_for_another(server: str, secret: str, db: Database) -> None:
    got = requests.post(
        url(server, "kiosk-cunlhat-1"),
        json=BEAT,
        auth=HTTPDigestAuth("kiosk-vorey-1", secret),
        timeout=5,
    )
    assert got.status_code == 403
    with db.sessions() as session:
        assert session.get(KioskHeartbeat, "kiosk-cunlhat-1") is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BEAT, "sip_registered": "peut-être"}, "sip_registered"),
        ({**BEAT, "disk_free_mb": -1}, "disk_free_mb"),
        ({**BEAT, "temperature": 40}, "temperature"),
        ({k: v for k, v in BEAT.items() if k != "version"}, "version"),
    ],
)
def test_malformed_heartbeats_get_400_and_change_nothing(
    server: str, secret: str, db: Database, body: dict, field: str
) -> None:
    got = requests.post(
        url(server), json=body, auth=HTTPDigestAuth("kiosk-vorey-1", secret), timeout=5
    )
    assert got.status_code == 400
    assert got.json()["field"] == field
    with db.sessions() as session:
        assert session.get(KioskHeartbeat, "kiosk-vorey-1") is None
    not_json = requests.post(
        url(server), data=b"\x00garbage", timeout=5, auth=HTTPDigestAuth("kiosk-vorey-1", secret)
    )
    assert not_json.status_code == 400


def test_stale_nonce_is_refused() -> None:
    from pvp.web.device_auth import make_nonce, nonce_fresh

    now = datetime.now(UTC).timestamp()
    assert nonce_fresh(make_nonce(now), now)
    assert not nonce_fresh(make_nonce(now - 600), now)
    good = make_nonce(now)
    assert not nonce_fresh(good[:-1] + ("1" if good[-1] == "0" else "0"), now)
    assert not nonce_fresh("garbage", now)
