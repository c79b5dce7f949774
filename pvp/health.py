"""Kiosk health at the control plane: the last heartbeat kept per kiosk, online or not.

The heartbeat's schema is the wire's (:mod:`pvp.wire.heartbeat`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from pvp.model import KioskHeartbeat
from pvp.wire.heartbeat import Heartbeat

HEARTBEAT_PERIOD = timedelta(seconds=30)
# Three missed heartbeats make a kiosk offline: one lost packet is not an outage.
OFFLINE_AFTER = 3 * HEARTBEAT_PERIOD


def record(session: Session, kiosk_id: str, beat: Heartbeat, now: datetime) -> None:
    row = session.get(KioskHeartbeat, kiosk_id)
    payload = beat.model_dump(mode="json")
    if row is None:
        session.add(KioskHeartbeat(kiosk_id=kiosk_id, received_at=now, payload=payload))
    else:
        row.received_at, row.payload = now, payload


def status(row: KioskHeartbeat | None, now: datetime) -> dict[str, Any]:
    """Online or not, and the devices as last reported."""
    if row is None:
        return {"online": False, "last_heartbeat": None, "devices": None}
    return {
        "online": now - row.received_at <= OFFLINE_AFTER,
        "last_heartbeat": row.received_at.astimezone(UTC).isoformat(),
        "devices": row.payload,
    }
