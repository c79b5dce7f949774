"""Telling a waiting kiosk its place in line, and why its wait ended.

A small protocol so the channel can change (a later issue may push this over the kiosk's
HTTPS link); today it is a SIP MESSAGE sent by FreeSWITCH's ``chat`` command.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import Future
from functools import partial
from typing import Any, Protocol

from pvp.freeswitch.chat import chat_command
from pvp.freeswitch.esl import ESLError
from pvp.freeswitch.pool import EventSocket
from pvp.messages import Sealer
from pvp.model import CallOutcome

log = logging.getLogger("pvp.dispatcher.notifier")

CONTENT_TYPE = "application/json"

# What the kiosk screen says when the wait ends without a counsellor (French: citizens read it).
END_MESSAGES = {
    CallOutcome.TIMED_OUT: "Aucun conseiller n'a pu vous répondre dans le délai prévu. "
    "Merci de réessayer un peu plus tard.",
    CallOutcome.NO_COUNSELLOR: "Aucun conseiller n'est disponible pour le moment. "
    "Merci de réessayer un peu plus tard.",
    CallOutcome.FAILED: "L'appel n'a pas pu aboutir. Merci de réessayer.",
}


class KioskNotifier(Protocol):
    def position(self, kiosk: str, call: str, position: int, wait_seconds: int) -> None: ...

    def wait_ended(self, kiosk: str, call: str, outcome: CallOutcome, reason: str) -> None: ...

    def connected(self, kiosk: str, call: str, counsellor: str) -> None: ...


def chat_body(payload: dict[str, Any]) -> str:
    """JSON for ``chat``: one line, and no ``|`` (the command's field separator)."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).replace("|", "\\u007c")


class JsonNotifier:
    """Builds the kiosk's JSON payloads; subclasses say how they travel."""

    def position(self, kiosk: str, call: str, position: int, wait_seconds: int) -> None:
        self._send(
            kiosk, {"type": "queue", "call": call, "position": position, "wait": wait_seconds}
        )

    def wait_ended(self, kiosk: str, call: str, outcome: CallOutcome, reason: str) -> None:
        message = END_MESSAGES.get(outcome, END_MESSAGES[CallOutcome.FAILED])
        payload = {"type": "queue_end", "call": call, "outcome": str(outcome), "reason": reason}
        self._send(kiosk, {**payload, "message": message})

    def connected(self, kiosk: str, call: str, counsellor: str) -> None:
        # The wait is over: the kiosk screen leaves "waiting" for the counsellor's picture.
        self._send(kiosk, {"type": "connected", "call": call, "counsellor": counsellor})

    def _send(self, kiosk: str, payload: dict[str, Any]) -> None:
        raise NotImplementedError


class SipMessageNotifier(JsonNotifier):
    """Sends the payload as a SIP MESSAGE to the kiosk's registration.

    ``chat`` waits for the user agent's answer, so it runs as a background job: a kiosk that
    is slow to answer never holds the dispatcher up.
    """

    def __init__(
        self,
        esl: EventSocket,
        domain: str,
        sealer: Sealer | None,
        sender: str = "pvp",
        proxy: str = "",  # Kamailio's address, in front of a pool of switches
    ) -> None:
        # Without a sealer the messages go unsealed, and kiosks refuse them.
        self.esl, self.domain, self.sender, self.sealer = esl, domain, sender, sealer
        self.proxy = proxy

    def _send(self, kiosk: str, payload: dict[str, Any]) -> None:
        body = chat_body(payload)
        if self.sealer is not None:
            body = self.sealer(kiosk, body)
        command = chat_command(self.sender, kiosk, self.domain, body, CONTENT_TYPE, self.proxy)
        try:
            job = self.esl.bgapi(command)
        except ESLError as exc:
            log.warning("kiosk %s not told %s: %s", kiosk, payload["type"], exc)
            return
        job.add_done_callback(partial(_chat_done, kiosk, payload))


def _chat_done(kiosk: str, payload: dict[str, Any], job: Future[str]) -> None:
    """``chat`` answers ``Sent`` once a contact of the kiosk took the MESSAGE, else e.g.
    ``Error! Message Not Sent`` (a kiosk with only baresip 1.0, which refuses JSON)."""
    try:
        result = job.result().strip()
    except ESLError as exc:
        result = str(exc)
    if result == "Sent":
        log.info("kiosk %s: %s MESSAGE sent (%s)", kiosk, payload["type"], _summary(payload))
    else:
        log.warning("kiosk %s: %s MESSAGE not sent: %s", kiosk, payload["type"], result or "?")


def _summary(payload: dict[str, Any]) -> str:
    keys = ("position", "wait", "outcome", "reason")
    return " ".join(f"{k}={payload[k]}" for k in keys if k in payload)


class RecordingNotifier(JsonNotifier):
    """Keeps what would have been sent: for tests and for a control plane without kiosks."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def _send(self, kiosk: str, payload: dict[str, Any]) -> None:
        self.sent.append((kiosk, payload))
