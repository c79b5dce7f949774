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

from pvp.messages import ANSWER_TYPE, Answer, MessageError, decode_answer

log = logging.getLogger(__name__)

CONTROL_PLANE_USER = "pvp"


def answer_from_event(event: Mapping[str, str], domain: str) -> tuple[str, Answer] | None:
    """``(kiosk, answer)`` from a MESSAGE event, or None for any other event or message.

    ``event`` is the event's headers with its body under ``_body`` (ESL json format) or
    ``body``.
    """
    if event.get("Event-Name") != "MESSAGE" or event.get("type") != ANSWER_TYPE:
        return None
    if event.get("to_user") != CONTROL_PLANE_USER or event.get("from_host") != domain:
        return None
    kiosk = event.get("from_user") or ""
    body = event.get("_body") or event.get("body") or ""
    try:
        answer = decode_answer(body)
    except MessageError as exc:
        log.warning("unreadable answer from %s: %s", kiosk, exc.reason)
        return None
    return kiosk, answer
