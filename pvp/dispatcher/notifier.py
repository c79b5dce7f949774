"""Telling a waiting kiosk its place in line, and why its wait ended.

The news itself is the wire's (:mod:`pvp.wire.queue_news`), so the channel can change (a later
issue may push it over the kiosk's HTTPS link); today it is a SIP MESSAGE sent by FreeSWITCH's
``chat`` command.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from functools import partial
from typing import Any, Protocol

from pvp.freeswitch.esl import ESLError
from pvp.freeswitch.pool import EventSocket
from pvp.model import CallOutcome
from pvp.wire import queue_news
from pvp.wire.chat import ChatError, chat_command
from pvp.wire.messages import Sealer

log = logging.getLogger("pvp.dispatcher.notifier")

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


class JsonNotifier:
    """Composes the kiosk's queue news (pvp.wire.queue_news); subclasses say how it travels."""

    def position(self, kiosk: str, call: str, position: int, wait_seconds: int) -> None:
        self._send(kiosk, queue_news.Position(call, position, wait_seconds))

    def wait_ended(self, kiosk: str, call: str, outcome: CallOutcome, reason: str) -> None:
        message = END_MESSAGES.get(outcome, END_MESSAGES[CallOutcome.FAILED])
        self._send(kiosk, queue_news.WaitEnded(call, message, str(outcome), reason))

    def connected(self, kiosk: str, call: str, counsellor: str) -> None:
        # The wait is over: the kiosk screen leaves "waiting" for the counsellor's picture.
        self._send(kiosk, queue_news.Connected(call, counsellor))

    def _send(self, kiosk: str, news: queue_news.News) -> None:
        raise NotImplementedError


class SipMessageNotifier(JsonNotifier):
    """Sends the news as a SIP MESSAGE to the kiosk's registration.

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

    def _send(self, kiosk: str, news: queue_news.News) -> None:
        payload = queue_news.payload(news)
        body = queue_news.encode(news)
        if self.sealer is not None:
            body = self.sealer(kiosk, body)
        try:
            command = chat_command(
                kiosk, body, queue_news.CONTENT_TYPE, self.domain, self.sender, self.proxy
            )
            job = self.esl.bgapi(command)
        except (ChatError, ESLError) as exc:
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

    def _send(self, kiosk: str, news: queue_news.News) -> None:
        self.sent.append((kiosk, queue_news.payload(news)))
