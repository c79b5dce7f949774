"""Kiosk answers as FreeSWITCH reports them: the Event Socket's MESSAGE events.

A kiosk sends its answers as SIP MESSAGE to ``sip:pvp@<domain>`` (sip/messages.md).
FreeSWITCH authenticates the MESSAGE (Digest, ``auth-messages``), finds no registered
``pvp`` to relay it to, and fires a ``MESSAGE`` event carrying the sender, the content type
and the body. The ESL side hands each such event to :func:`answer_from_event`; what it
returns goes to :meth:`pvp.documents.service.DocumentService.record_answer`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from pvp.wire.messages import (
    ANSWER_TYPE,
    STATUS_TYPE,
    Answer,
    MessageError,
    decode_answer,
    decode_status,
)

log = logging.getLogger(__name__)

CONTROL_PLANE_USER = "pvp"
T = TypeVar("T")


def _kiosk_message(
    event: Mapping[str, str], domain: str, kind: str, decode: Callable[[str], T]
) -> tuple[str, T] | None:
    """``(kiosk, decoded body)`` of a kiosk's MESSAGE of content type ``kind`` to the control
    plane; None for any other event, and (logged) for a body ``decode`` cannot read."""
    if event.get("Event-Name") != "MESSAGE" or event.get("type") != kind:
        return None
    if event.get("to_user") != CONTROL_PLANE_USER or event.get("from_host") != domain:
        return None
    kiosk = event.get("from_user") or ""
    try:
        return kiosk, decode(event.get("_body") or event.get("body") or "")
    except MessageError as exc:
        log.warning("unreadable %s from %s: %s", kind, kiosk, exc.reason)
        return None


def status_from_event(event: Mapping[str, str], domain: str) -> tuple[str, bool] | None:
    """``(kiosk, private)`` from a kiosk's status MESSAGE (the handset lifted or hung up)."""
    found = _kiosk_message(event, domain, STATUS_TYPE, decode_status)
    if found is None:
        return None
    kiosk, status = found
    if status["kiosk"] != kiosk:
        log.warning("status from %s names another kiosk: %s", kiosk, status["kiosk"])
        return None
    return kiosk, status["state"] == "private"


def answer_from_event(event: Mapping[str, str], domain: str) -> tuple[str, Answer] | None:
    """``(kiosk, answer)`` from a MESSAGE event, or None for any other event or message.

    ``event`` is the event's headers with its body under ``_body`` (ESL json format) or
    ``body``.
    """
    return _kiosk_message(event, domain, ANSWER_TYPE, decode_answer)
