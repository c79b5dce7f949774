"""Kiosk health from the heartbeats, and the alerts raised to a site's agent.

A kiosk is online while its last heartbeat is younger than ``heartbeat_offline_seconds``.
A problem (kiosk offline, printer out of paper) opens an :class:`Alert` when first seen; it is
*raised* — and mailed to the site's agent through the configured SMTP server — once it has
lasted the configured minutes, and cleared when it ends. A kiosk that never sent a heartbeat
is shown as never seen, without an alert: it is not installed yet.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvp.config import Settings
from pvp.db import Database
from pvp.model import Alert, AlertKind, Kiosk, KioskHeartbeat, Role, Site, User

log = logging.getLogger("pvp.alerts")
NO_PAPER = ("media-empty", "media-needed")  # CUPS printer-state-reasons prefixes
KIND_LABELS = {
    AlertKind.KIOSK_OFFLINE.value: "borne hors ligne",
    AlertKind.PRINTER_NO_PAPER.value: "imprimante sans papier",
}


@dataclass(frozen=True)
class Health:
    kiosk: str
    site: str
    seen: bool
    online: bool
    last_seen: datetime | None
    registered: bool
    ua_alive: bool
    printer_state: str
    printer_reasons: tuple[str, ...]
    no_paper: bool
    scanner: bool
    camera: bool
    disk_free_mb: int | None
    version: str


def health(kiosk: Kiosk, beat: KioskHeartbeat | None, now: datetime, cfg: Settings) -> Health:
    payload: dict[str, Any] = beat.payload if beat and isinstance(beat.payload, dict) else {}
    raw_printer = payload.get("printer")
    printer: dict[str, Any] = raw_printer if isinstance(raw_printer, dict) else {}
    reasons = tuple(str(r) for r in (printer.get("reasons") or []))
    online = beat is not None and (now - beat.received_at) <= timedelta(
        seconds=cfg.heartbeat_offline_seconds
    )
    disk = payload.get("disk_free_mb")
    return Health(
        kiosk=kiosk.id,
        site=kiosk.site_id,
        seen=beat is not None,
        online=online,
        last_seen=beat.received_at if beat else None,
        registered=online and bool(payload.get("sip_registered")),
        ua_alive=online and bool(payload.get("ua_alive")),
        printer_state=str(printer.get("state", "")),
        printer_reasons=reasons,
        no_paper=any(r.startswith(NO_PAPER) for r in reasons),
        scanner=bool(payload.get("scanner_present")),
        camera=bool(payload.get("camera_present")),
        disk_free_mb=int(disk) if isinstance(disk, int | float) else None,
        version=str(payload.get("version", "")),
    )


def fleet(session: Session, cfg: Settings, now: datetime, site: str | None = None) -> list[Health]:
    query = select(Kiosk).order_by(Kiosk.id)
    if site is not None:
        query = query.where(Kiosk.site_id == site)
    beats = {b.kiosk_id: b for b in session.scalars(select(KioskHeartbeat))}
    return [health(k, beats.get(k.id), now, cfg) for k in session.scalars(query)]


def recipients(session: Session, site_id: str) -> list[str]:
    site = session.get(Site, site_id)
    found = [site.agent_email] if site and site.agent_email else []
    agents = session.scalars(
        select(User).where(
            User.role == Role.SITE_AGENT.value,
            User.scope == site_id,
            User.active.is_(True),
            User.email != "",
        )
    )
    found += [u.email for u in agents]
    return sorted(set(found))


def send_mail(
    cfg: Settings,
    to: list[str],
    subject: str,
    body: str,
    attachments: Sequence[tuple[str, str, bytes]] = (),
) -> None:
    """Send one message; ``attachments`` are (file name, MIME type, content)."""
    message = EmailMessage()
    message["From"] = cfg.smtp_from
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    for filename, mimetype, data in attachments:
        maintype, _slash, subtype = mimetype.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout_seconds) as smtp:
        if cfg.smtp_starttls:
            smtp.starttls()
        if cfg.smtp_user:
            smtp.login(cfg.smtp_user, cfg.smtp_password)
        smtp.send_message(message)


def _notify(session: Session, cfg: Settings, alert: Alert, site_id: str) -> None:
    site = session.get(Site, site_id)
    to = recipients(session, site_id)
    alert.notified_to = ", ".join(to)
    if not cfg.smtp_host:
        alert.notify_error = "aucun serveur SMTP configuré"
        return
    if not to:
        alert.notify_error = "aucune adresse d'agent pour ce site"
        return
    where = (
        f"{site.commune} ({site.host_place})"
        if site and site.host_place
        else (site.commune if site else alert.kiosk_id)
    )
    subject = f"[PVP] {where} : {KIND_LABELS[alert.kind]} ({alert.kiosk_id})"
    body = (
        f"Bonjour,\n\nLa borne {alert.kiosk_id} à {where} signale : "
        f"{KIND_LABELS[alert.kind]}, depuis {alert.since:%d/%m/%Y %H:%M} UTC.\n"
        f"{alert.detail}\n\nMerci de vérifier la borne.\n-- Point Visio Public\n"
    )
    try:
        send_mail(cfg, to, subject, body)
    except (OSError, smtplib.SMTPException) as exc:
        alert.notify_error = f"envoi impossible : {exc}"[:400]
        log.warning("alert %s: mail failed: %s", alert.id, exc)


def check_alerts(session: Session, cfg: Settings, now: datetime | None = None) -> list[Alert]:
    """Open, raise and clear alerts from the heartbeats; the alerts raised now are returned."""
    now = now or datetime.now(UTC)
    delays = {
        AlertKind.KIOSK_OFFLINE.value: timedelta(minutes=cfg.alert_offline_minutes),
        AlertKind.PRINTER_NO_PAPER.value: timedelta(minutes=cfg.alert_paper_minutes),
    }
    open_alerts = {
        (a.kiosk_id, a.kind): a
        for a in session.scalars(select(Alert).where(Alert.cleared_at.is_(None)))
    }
    raised = []
    for h in fleet(session, cfg, now):
        offline_since = None
        if h.seen and not h.online and h.last_seen is not None:
            offline_since = h.last_seen
        active = {
            AlertKind.KIOSK_OFFLINE.value: (offline_since, "dernier signal reçu"),
            # Paper seen missing in the last report; the alert row remembers since when.
            AlertKind.PRINTER_NO_PAPER.value: (
                now if h.online and h.no_paper else None,
                ", ".join(h.printer_reasons),
            ),
        }
        for kind, (since, detail) in active.items():
            alert = open_alerts.get((h.kiosk, kind))
            if since is None:
                if alert is not None:
                    alert.cleared_at = now
                continue
            if alert is None:
                alert = Alert(kiosk_id=h.kiosk, kind=kind, since=since, detail=detail)
                session.add(alert)
            if alert.raised_at is None and now - alert.since >= delays[kind]:
                alert.raised_at = now
                session.flush()
                _notify(session, cfg, alert, h.site)
                raised.append(alert)
    session.flush()
    return raised


def start_watcher(cfg: Settings, db: Database) -> threading.Thread:
    """Check the alerts every ``alert_check_seconds`` in a daemon thread of ``pvp serve``."""

    def loop() -> None:
        while True:
            try:
                with db.session() as session:
                    check_alerts(session, cfg)
            except Exception:  # noqa: BLE001 - one bad round must not stop supervision
                log.exception("alert check failed")
            threading.Event().wait(cfg.alert_check_seconds)

    thread = threading.Thread(target=loop, name="pvp-alerts", daemon=True)
    thread.start()
    return thread
