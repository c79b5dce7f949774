"""Bounded inputs: body sizes per route (a 100 MB heartbeat is a 413, not stored), heartbeat
field bounds, and 4xx, never 500, for ids past 2⁶³, 400-digit years and deeply nested JSON."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from flask import Flask
from requests.auth import HTTPDigestAuth
from sqlalchemy import select

from pvp.config import Settings
from pvp.db import Database
from pvp.model import KioskHeartbeat
from pvp.provisioning import rotate_secret

SMALL_BODY = 16 * 1024  # the heartbeat route's bound (pvp.web.limits)

HUGE_ID = str(2**64)
YEAR_400 = "9" * 400
BEAT = {"version": "1.0", "sip_registered": True, "ua_alive": True}


@pytest.fixture
def kiosk(app: Flask, serve: Any, pdb: Database, settings: Settings) -> tuple[str, HTTPDigestAuth]:
    with pdb.session() as session:
        secret = rotate_secret(session, "kiosk-vorey-1", settings.sip_domain)
    return serve(app), HTTPDigestAuth("kiosk-vorey-1", secret)


def _beat_stored(pdb: Database) -> bool:
    with pdb.sessions() as session:
        return session.scalars(select(KioskHeartbeat)).first() is not None


def test_a_100_mb_heartbeat_is_refused_with_413_before_it_is_read(
    kiosk: tuple[str, HTTPDigestAuth], pdb: Database
) -> None:
    base, auth = kiosk
    url = f"{base}/api/v1/kiosks/kiosk-vorey-1/heartbeat"
    ok = requests.post(url, json=BEAT, auth=auth, timeout=10)
    assert ok.status_code == 200
    with pdb.session() as session:
        session.query(KioskHeartbeat).delete()
    big = b'{"version": "' + b"x" * (100 * 1024 * 1024) + b'"}'
    got = requests.post(
        url, data=big, auth=auth, headers={"Content-Type": "application/json"}, timeout=60
    )
    assert got.status_code == 413
    assert "trop volumineuse" in got.json()["error"]
    assert not _beat_stored(pdb)


@pytest.mark.parametrize(
    "beat",
    [
        {**BEAT, "printer": {"state": "idle", "reasons": ["x" * 5000]}},
        {**BEAT, "printer": {"state": "idle", "reasons": ["a"] * 21}},
        {**BEAT, "disk_free_mb": 10**400},
        {**BEAT, "version": "v" * 41},
        {**BEAT, "extra": 1},
    ],
    ids=["long-reason", "many-reasons", "huge-number", "long-version", "unknown-field"],
)
def test_heartbeat_fields_are_bounded(
    kiosk: tuple[str, HTTPDigestAuth], pdb: Database, beat: dict[str, Any]
) -> None:
    base, auth = kiosk
    import json

    body = json.dumps(beat)
    assert len(body) < SMALL_BODY
    got = requests.post(
        f"{base}/api/v1/kiosks/kiosk-vorey-1/heartbeat",
        data=body,
        auth=auth,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert got.status_code == 400 and got.json()["field"]
    assert not _beat_stored(pdb)


def test_deeply_nested_json_is_a_400(kiosk: tuple[str, HTTPDigestAuth], as_role: Any) -> None:
    base, auth = kiosk
    nested = "[" * 5000 + "]" * 5000  # 10 KB, within the heartbeat's bound
    got = requests.post(
        f"{base}/api/v1/kiosks/kiosk-vorey-1/heartbeat",
        data=nested,
        auth=auth,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert got.status_code == 400
    c = as_role("conseillere")
    deep = '{"status": ' + "[" * 50 + "]" * 50 + "}"
    answer = c.http.post(
        "/api/v1/counsellors/anpe-le-puy-c1/status",
        data=deep,
        headers={"Content-Type": "application/json", "X-CSRFToken": c.token},
    )
    assert answer.status_code == 400


PANEL_PROBES = [
    ("admin", f"/manager/appointments/{HUGE_ID}/move"),
    ("admin", f"/admin/windows/{HUGE_ID}/edit"),
    ("admin", f"/admin/users/{HUGE_ID}/reset"),
    ("conseillere", f"/console/transfers/{HUGE_ID}.pdf"),
    ("admin", f"/evaluation/?year={YEAR_400}"),
    ("admin", f"/evaluation/export.csv?year={YEAR_400}"),
    ("admin", f"/admin/preview?kiosk=kiosk-vorey-1&service=anpe&at={YEAR_400}-01-01T10:00"),
    ("admin", f"/api/v1/route?kiosk=kiosk-vorey-1&service=anpe&at={YEAR_400}-01-01T10:00"),
    ("admin", f"/api/v1/kiosks/kiosk-vorey-1/availability?at={YEAR_400}-01-01T10:00"),
    ("admin", f"/admin/audit?page={HUGE_ID}"),
]


@pytest.mark.parametrize(("who", "url"), PANEL_PROBES, ids=[u[:50] for _, u in PANEL_PROBES])
def test_out_of_range_numbers_get_a_4xx_not_a_500(as_role: Any, who: str, url: str) -> None:
    c = as_role(who)
    method = "POST" if url.endswith("/reset") else "GET"
    got = c.get(url) if method == "GET" else c.post(url)
    assert 400 <= got.status_code < 500 or got.status_code == 200, got.status_code
    got.close()


def test_out_of_range_numbers_in_forms_get_a_4xx(as_role: Any) -> None:
    c = as_role("gestion-anpe")
    got = c.post(
        "/manager/appointments?service=anpe",
        {
            "site": "vorey",
            "counsellor": "anpe-le-puy-c1",
            "start": f"{YEAR_400}-01-01T10:00",
            "minutes": HUGE_ID,
        },
    )
    assert got.status_code == 400
    admin = as_role("admin")
    got = admin.post(
        "/admin/closures/new",
        {
            "site_id": "",
            "service_code": "",
            "first_day": f"{YEAR_400}-05-02",
            "last_day": f"{YEAR_400}-05-02",
            "reason": "x",
        },
    )
    assert got.status_code == 400


def test_a_chunked_body_without_length_is_bounded_too(
    kiosk: tuple[str, HTTPDigestAuth], pdb: Database
) -> None:
    base, auth = kiosk
    url = f"{base}/api/v1/kiosks/kiosk-vorey-1/heartbeat"
    requests.post(url, json=BEAT, auth=auth, timeout=10)  # the Digest handshake first

    def body() -> Any:
        yield b'{"version": "'
        for _ in range(64):
            yield b"x" * 16384
        yield b'"}'

    with pdb.session() as session:
        session.query(KioskHeartbeat).delete()
    got = requests.post(
        url, data=body(), auth=auth, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert got.status_code == 413, got.text
    assert not _beat_stored(pdb)
