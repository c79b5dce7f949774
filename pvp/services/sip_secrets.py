"""SIP secrets of kiosks and counsellors: issued at random, only their digest kept.

The plain secret is returned to the caller, once, to be shown or put in a bundle; nothing
else holds it (neither the row nor the audit log, which only notes that one was issued).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from pvp.model import Counsellor, Kiosk
from pvp.provisioning import a1_hash, device, new_secret, rotate_secret
from pvp.services import audit


def issue(device: Kiosk | Counsellor, realm: str) -> str:
    """Give a new device its first secret (its creation is what the audit log records)."""
    secret = new_secret()
    device.a1_hash = a1_hash(device.id, realm, secret)
    return secret


def rotate(session: Session, device_id: str, realm: str, *, actor: str) -> str:
    """A new secret for a kiosk or counsellor; the old one stops working at once."""
    secret = rotate_secret(session, device_id, realm)  # LookupError when there is none
    record_rotated(session, device_id, actor=actor)
    return secret


def record_rotated(session: Session, device_id: str, *, actor: str) -> None:
    """The audit entry of a secret rotated elsewhere (a kiosk bundle is written with one)."""
    table = "kiosks" if isinstance(device(session, device_id), Kiosk) else "counsellors"
    audit.record(session, actor, "new_secret", table, device_id)
