"""Commands to kiosks as SIP MESSAGE through FreeSWITCH's ``chat`` API (sip/messages.md).

``chat`` waits for the kiosk's final SIP answer and says ``Sent`` or an error, over the
connection the kiosk registered with (TCP/TLS included) — unlike ``sendevent SEND_MESSAGE``,
which answers at once and silently loses messages to TCP/TLS registrations (NOTES.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pvp.documents.service import TransportError
from pvp.freeswitch.esl import NotConnected
from pvp.wire.chat import ChatError, chat_command
from pvp.wire.messages import COMMAND_TYPE, Sealer

log = logging.getLogger(__name__)


def switch_unreachable(exc: BaseException) -> str:
    """The reason a person reads when the switch could not be asked (the ESL client's
    English error goes to the log)."""
    log.warning("switch unreachable: %s", exc)
    if isinstance(exc, NotConnected):
        return "commutateur injoignable (pas de connexion à FreeSWITCH)"
    if isinstance(exc, TimeoutError):
        return "commutateur injoignable (FreeSWITCH n'a pas répondu à temps)"
    return "commutateur injoignable (liaison avec FreeSWITCH en erreur)"


class ChatTransport:
    """``api`` runs one FreeSWITCH API command and returns its reply (an ESL client's)."""

    def __init__(
        self,
        api: Callable[[str], str],
        domain: str,
        sealer: Sealer,
        sender: str = "pvp",
        proxy: str = "",  # Kamailio's address, in front of a pool of switches
    ) -> None:
        self._api = api
        self.domain, self.proxy = domain, proxy
        self.sealer = sealer  # the kiosk checks the seal before it runs anything
        self.sender = sender

    def send(self, kiosk_id: str, body: str) -> None:
        # The codec never writes "|" nor a line break, but a hand-made body might.
        try:
            command = chat_command(
                kiosk_id,
                self.sealer(kiosk_id, body),
                COMMAND_TYPE,
                self.domain,
                self.sender,
                self.proxy,
            )
        except ChatError:
            raise TransportError(
                "message non transmissible (caractère | ou saut de ligne)"
            ) from None
        try:
            reply = self._api(command)
        except Exception as exc:  # the ESL client's errors: switch down, not connected…
            raise TransportError(switch_unreachable(exc)) from exc
        # Success is exactly "Sent"; a failure says "Error! Message Not Sent", which also
        # contains the word.
        if reply.strip() != "Sent":
            raise TransportError(f"message refusé par le commutateur : {reply.strip()[:120]}")
