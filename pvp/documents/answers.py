"""Kiosk answers as FreeSWITCH reports them: the Event Socket's MESSAGE events.

A kiosk sends its answers as SIP MESSAGE to ``sip:pvp@<domain>`` (sip/messages.md).
FreeSWITCH authenticates the MESSAGE (Digest, ``auth-messages``), finds no registered
``pvp`` to relay it to, and fires a ``MESSAGE`` event carrying the sender, the content type
and the body. The ESL side hands each such event to :func:`answer_from_event`; what it
returns goes to :meth:`pvp.documents.service.DocumentService.record_answer`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

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


def _kiosk_message(event: Mapping[str, str], domain: str, kind: str) -> tuple[str, str] | None:
    """``(kiosk, body)`` of a kiosk's MESSAGE of content type ``kind`` to the control plane."""
    if event.get("Event-Name") != "MESSAGE" or event.get("type") != kind:
        return None
    if event.get("to_user") != CONTROL_PLANE_USER or event.get("from_host") != domain:
        return None
    return event.get("from_user") or "", event.get("_body") or event.get("body") or ""


def status_from_event(event: Mapping[str, str], domain: str) -> tuple[str, bool] | None:
    """``(kiosk, private)`` from a kiosk's status MESSAGE (the handset lifted or hung up)."""
    found = _kiosk_message(event, domain, STATUS_TYPE)
    if found is None:
        return None
    kiosk, body = found
    try:
        status = decode_status(body)
    except MessageError as exc:
        log.warning("unreadable status from %s: %s", kiosk, exc.reason)
        return None
    if status["kiosk"] != kiosk:
        log.warning("status from %s names another kiosk: %s", kiosk, status["kiosk"])
        return None
    return kiosk, status["state"] == "private"


def answer_from_event(event: Mapping[str, str], domain: str) -> tuple[str, Answer] | None:
    """``(kiosk, answer)`` from a MESSAGE event, or None for any other event or message.

    ``event`` is the event's headers with its body under ``_body`` (ESL json format) or
    ``body``.
    """
    found = _kiosk_message(event, domain, ANSWER_TYPE)
    if found is None:
        return None
    kiosk, body = found
    try:
        answer = decode_answer(body)
    except MessageError as exc:
        log.warning("unreadable answer from %s: %s", kiosk, exc.reason)
        return None
    return kiosk, answer
