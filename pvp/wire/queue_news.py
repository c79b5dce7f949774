"""The queue news a waiting kiosk gets from the dispatcher: its place in line, the end of its
wait without a counsellor, or the counsellor who took the call.

One JSON object per SIP MESSAGE (``application/json``, sealed like the commands); encoded by
the control plane's notifier, decoded by the kiosk agent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeGuard

from pvp.common.errors import PvpError
from pvp.wire.messages import one_line

CONTENT_TYPE = "application/json"


class NewsError(PvpError, ValueError, code="bad_queue_news", summary="nouvelle de file illisible"):
    """A body that is not queue news."""


@dataclass(frozen=True)
class Position:
    call: str | None
    position: int
    wait_seconds: int | None  # the estimate, None when there is none


@dataclass(frozen=True)
class WaitEnded:
    call: str | None
    message: str  # French: what the kiosk screen says
    outcome: str = ""  # pvp.vocabulary.CallOutcome's value, for the logs
    reason: str = ""


@dataclass(frozen=True)
class Connected:
    call: str | None
    counsellor: str = ""


News = Position | WaitEnded | Connected


def payload(news: News) -> dict[str, Any]:
    match news:
        case Position(call, position, wait):
            return {"type": "queue", "call": call, "position": position, "wait": wait}
        case WaitEnded(call, message, outcome, reason):
            return {
                "type": "queue_end",
                "call": call,
                "outcome": outcome,
                "reason": reason,
                "message": message,
            }
        case Connected(call, counsellor):
            return {"type": "connected", "call": call, "counsellor": counsellor}


def encode(news: News) -> str:
    return one_line(payload(news))


def decode(body: str | bytes) -> News:
    """The news in ``body`` (its seal's fields ignored); NewsError if it is none."""
    try:
        value = json.loads(body)
    except ValueError:
        raise NewsError("not JSON") from None
    if not isinstance(value, dict):
        raise NewsError("not an object")
    call = value.get("call")
    call = call if isinstance(call, str) else None
    match value.get("type"):
        case "queue":
            position, wait = value.get("position"), value.get("wait")
            if not _integer(position) or not (wait is None or _integer(wait)):
                raise NewsError("queue position and wait must be integers")
            return Position(call, position, wait)
        case "queue_end":
            return WaitEnded(
                call, _text(value, "message"), _text(value, "outcome"), _text(value, "reason")
            )
        case "connected":
            return Connected(call, _text(value, "counsellor"))
    raise NewsError(f"unknown queue news type {value.get('type')!r}")


def _integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: dict[str, Any], key: str) -> str:
    text = value.get(key)
    return text if isinstance(text, str) else ""
