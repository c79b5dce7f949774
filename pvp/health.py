"""Kiosk health: the heartbeat a kiosk sends every 30 s, kept (the last one) per kiosk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from pvp.model import KioskHeartbeat

HEARTBEAT_PERIOD = timedelta(seconds=30)
# Three missed heartbeats make a kiosk offline: one lost packet is not an outage.
OFFLINE_AFTER = 3 * HEARTBEAT_PERIOD


class PrinterHealth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: str = Field(max_length=40)  # idle, printing, stopped, absent
    reasons: list[Annotated[str, Field(max_length=80)]] = Field(default_factory=list, max_length=20)
    message: str = Field(default="", max_length=200)


class Heartbeat(BaseModel):
    """What a kiosk reports; unknown fields are refused so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")
    version: str = Field(max_length=40)
    sip_registered: bool
    ua_alive: bool
    printer: PrinterHealth | None = None
    scanner_present: bool | None = None
    camera_present: bool | None = None
    disk_free_mb: int | None = Field(default=None, ge=0, le=2**53)
    screen_state: str | None = Field(default=None, max_length=40)


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
