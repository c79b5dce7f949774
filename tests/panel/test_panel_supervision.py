"""Supervision: kiosk health from heartbeats; alerts raised and mailed via a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from panel_helpers import Inbox, page
from sqlalchemy import select

from pvp.config import Settings
from pvp.db import Database
from pvp.model import Alert, KioskHeartbeat, Site
from pvp.panel.alerts import check_alerts
from testkit.ports import free_port

HEALTHY = {
    "sip_registered": True,
    "ua_alive": True,
    "printer": {"state": "idle", "reasons": ["none"]},
    "scanner_present": True,
    "camera_present": True,
    "disk_free_mb": 5120,
    "version": "1.0.3",
}
NO_PAPER = HEALTHY | {"printer": {"state": "stopped", "reasons": ["media-empty-error"]}}


def _beat(
    pdb: Database, kiosk: str, payload: dict[str, Any], age_seconds: float, now: datetime
) -> None:
    with pdb.session() as session:
        row = session.get(KioskHeartbeat, kiosk)
        if row is None:
            row = KioskHeartbeat(kiosk_id=kiosk)
            session.add(row)
        row.received_at = now - timedelta(seconds=age_seconds)
        row.payload = payload


def _check(pdb: Database, settings: Settings, now: datetime) -> list[Alert]:
    with pdb.session() as session:
        return check_alerts(session, settings, now)


def test_the_supervision_page_shows_each_kiosk_and_its_devices(as_role: Any, pdb: Database) -> None:
    now = datetime.now(UTC)
    _beat(pdb, "kiosk-vorey-1", HEALTHY, 10, now)
    _beat(pdb, "kiosk-cunlhat-1", NO_PAPER, 20, now)
    _beat(pdb, "kiosk-giat-1", HEALTHY, 91, now)
    text = page(as_role("admin").get("/supervision/"))
    row = {
        line.split('data-kiosk="')[1].split('"')[0]: line
        for line in text.split("<tr ")[1:]
        if 'data-kiosk="' in line
    }
    assert len(row) == 20
    assert 'data-online="yes"' in row["kiosk-vorey-1"] and "enregistrée" in row["kiosk-vorey-1"]
    assert "5120 Mo" in row["kiosk-vorey-1"] and "1.0.3" in row["kiosk-vorey-1"]
    assert "plus de papier" in row["kiosk-cunlhat-1"]
    assert 'data-online="no"' in row["kiosk-giat-1"] and "hors ligne" in row["kiosk-giat-1"]
    assert "jamais vue" in row["kiosk-saugues-1"]


def test_a_site_agent_sees_only_their_site(as_role: Any) -> None:
    text = page(as_role("agent-vorey").get("/supervision/"))
    assert "kiosk-vorey-1" in text and "kiosk-cunlhat-1" not in text


def test_an_offline_kiosk_alerts_its_agent_by_mail_after_the_delay(
    pdb: Database, settings: Settings, smtp: Inbox, as_role: Any
) -> None:
    with pdb.session() as session:
        session.get(Site, "vorey").agent_email = "accueil@vorey.example"
    now = datetime.now(UTC)
    _beat(pdb, "kiosk-vorey-1", HEALTHY, 60, now)
    assert _check(pdb, settings, now) == []
    # 100 s without a heartbeat: offline, but not yet for alert_offline_minutes (5).
    later = now + timedelta(seconds=40)
    assert _check(pdb, settings, later) == []
    assert smtp.messages == []
    much_later = now + timedelta(minutes=6)
    (raised,) = _check(pdb, settings, much_later)
    assert raised.kind == "kiosk_offline" and raised.notify_error == ""
    ((to, mail),) = smtp.messages
    assert sorted(to) == ["accueil@vorey.example", "agent@vorey.example"]
    assert "borne hors ligne" in mail["Subject"] and "Vorey" in mail["Subject"]
    assert mail["From"] == "supervision@pvp.example"
    # Raised once: no second mail while it lasts.
    assert _check(pdb, settings, much_later + timedelta(minutes=5)) == []
    assert len(smtp.messages) == 1
    text = page(as_role("agent-vorey").get("/supervision/"))
    assert "borne hors ligne" in text and "envoyé à accueil@vorey.example" in text
    # Back online: cleared.
    _beat(pdb, "kiosk-vorey-1", HEALTHY, 0, much_later + timedelta(minutes=6))
    _check(pdb, settings, much_later + timedelta(minutes=6))
    with pdb.sessions() as session:
        assert session.scalars(select(Alert)).one().cleared_at is not None


def test_a_printer_without_paper_alerts_after_its_own_delay(
    pdb: Database, settings: Settings, smtp: Inbox
) -> None:
    now = datetime.now(UTC)
    _beat(pdb, "kiosk-cunlhat-1", NO_PAPER, 0, now)
    assert _check(pdb, settings, now) == []
    _beat(pdb, "kiosk-cunlhat-1", NO_PAPER, 0, now + timedelta(minutes=9))
    assert _check(pdb, settings, now + timedelta(minutes=9)) == []
    _beat(pdb, "kiosk-cunlhat-1", NO_PAPER, 0, now + timedelta(minutes=11))
    (raised,) = _check(pdb, settings, now + timedelta(minutes=11))
    assert raised.kind == "printer_no_paper" and "media-empty-error" in raised.detail
    # No address for Cunlhat's agent: the alert is listed, the reason the mail did not go too.
    assert raised.notify_error == "aucune adresse d'agent pour ce site"
    assert smtp.messages == []


def test_without_smtp_server_the_alert_is_listed_with_the_reason(
    pdb: Database, settings: Settings, as_role: Any
) -> None:
    now = datetime.now(UTC)
    _beat(pdb, "kiosk-vorey-1", HEALTHY, 600, now)
    (raised,) = _check(pdb, settings, now)
    assert raised.notify_error == "aucun serveur SMTP configuré"
    assert "aucun serveur SMTP configuré" in page(as_role("admin").get("/supervision/"))


def test_an_unreachable_smtp_server_is_reported_not_fatal(
    pdb: Database, settings: Settings
) -> None:
    settings.smtp_host, settings.smtp_port = "127.0.0.1", free_port()
    now = datetime.now(UTC)
    _beat(pdb, "kiosk-vorey-1", HEALTHY, 600, now)
    (raised,) = _check(pdb, settings, now)
    assert raised.notify_error.startswith("envoi impossible")


def test_a_blocked_sip_address_is_shown_to_the_region_only(app: Any, as_role: Any) -> None:
    guard = app.extensions["pvp.sip_guard"]
    for _ in range(guard.threshold):
        guard.failed("203.0.113.9", "msa-43-c1")
    text = page(as_role("admin").get("/supervision/"))
    assert "Adresses SIP bloquées" in text and "203.0.113.9" in text and "msa-43-c1" in text
    assert "203.0.113.9" not in page(as_role("agent-vorey").get("/supervision/"))
