"""The heartbeat a kiosk sends every 30 s (POST /api/kiosks/<id>/heartbeat): its schema."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


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
