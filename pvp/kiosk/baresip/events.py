"""Events baresip reports on ctrl_tcp, as typed values."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class EventType(enum.StrEnum):
    """The event types of baresip 1.0.0 (``uag_event_str``) that the kiosk cares about."""

    REGISTERING = "REGISTERING"
    REGISTER_OK = "REGISTER_OK"
    REGISTER_FAIL = "REGISTER_FAIL"
    UNREGISTERING = "UNREGISTERING"
    CALL_INCOMING = "CALL_INCOMING"
    CALL_RINGING = "CALL_RINGING"
    CALL_PROGRESS = "CALL_PROGRESS"
    CALL_ESTABLISHED = "CALL_ESTABLISHED"
    CALL_CLOSED = "CALL_CLOSED"
    CALL_RTPESTAB = "CALL_RTPESTAB"
    CALL_RTCP = "CALL_RTCP"
    CALL_MENC = "CALL_MENC"
    CALL_DTMF_START = "CALL_DTMF_START"
    CALL_DTMF_END = "CALL_DTMF_END"
    AUDIO_ERROR = "AUDIO_ERROR"
    SHUTDOWN = "SHUTDOWN"
    EXIT = "EXIT"


@dataclass(frozen=True, slots=True)
class BaresipEvent:
    """One event; ``type`` stays a plain string so that unknown types pass through."""

    type: str
    event_class: str = ""
    param: str = ""
    call_id: str | None = None
    direction: str | None = None
    peer_uri: str | None = None
    account_aor: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, message: Mapping[str, Any]) -> BaresipEvent:
        return cls(
            type=str(message.get("type", "")),
            event_class=str(message.get("class", "")),
            param=str(message.get("param", "")),
            call_id=message.get("id"),
            direction=message.get("direction"),
            peer_uri=message.get("peeruri"),
            account_aor=message.get("accountaor"),
            raw=dict(message),
        )
