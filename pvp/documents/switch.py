"""Connections to FreeSWITCH for one-shot commands (the CLI): the Event Socket and ``chat``.

The long-running control plane hands its own ESL client's ``api`` to
:class:`pvp.documents.chat.ChatTransport` instead.
"""

from __future__ import annotations

from typing import Any

from pvp.config import Settings
from pvp.documents.chat import ChatTransport

CONNECT_TIMEOUT_S = 5.0


def connect_esl(settings: Settings) -> Any:
    """A started, connected ESL client (pvp.freeswitch.esl), or RuntimeError in French."""
    try:
        from pvp.freeswitch.esl import ESLClient  # type: ignore[import-not-found]
    except ImportError:
        raise RuntimeError("client Event Socket absent de cette installation") from None
    client = ESLClient(
        settings.esl_host,
        settings.esl_port,
        settings.secret("esl_password"),
        events=["CUSTOM spandsp::txfaxresult", "CHANNEL_HANGUP_COMPLETE"],
    )
    client.start()
    if not client.wait_connected(CONNECT_TIMEOUT_S):
        client.stop()
        raise RuntimeError(
            f"FreeSWITCH injoignable sur {settings.esl_host}:{settings.esl_port} (Event Socket)"
        )
    return client


def connect(settings: Settings) -> ChatTransport:
    client = connect_esl(settings)
    return ChatTransport(client.api, settings.sip_domain)
