"""The documents' side of the control plane's Event Socket connection.

:func:`attach` plugs the document service into an ESL client (``pvp.freeswitch.esl``,
duck-typed: ``api``, ``on(key, handler)``, events with ``headers`` and ``body``): commands
go out through ``chat``, kiosks' answer MESSAGEs and fax results come back as events.
:func:`connect_esl` makes such a client for one-shot use (the CLI).

In a pool (``esl_switches``) the connection is a :class:`pvp.freeswitch.pool.SwitchPool`,
as the dispatcher's: a kiosk's answer or a fax lands on whichever switch Kamailio handed
its request to, so every switch's events are heard; a ``chat`` goes out by any switch
(Kamailio finds the kiosk). With one switch, the one ESL client at ``esl_host`` as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from pvp.config import Settings
from pvp.db import Database
from pvp.documents.answers import answer_from_event, status_from_event
from pvp.documents.chat import ChatTransport
from pvp.documents.fax import RX_EVENT, TX_EVENT, FaxService
from pvp.documents.service import DocumentService
from pvp.freeswitch.pool import EventSocket, connect, switch_addresses
from pvp.model import CallRecord
from pvp.wire.messages import Sealer

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
EVENTS = ("MESSAGE", f"CUSTOM {TX_EVENT}", f"CUSTOM {RX_EVENT}")


def _flat(event: Any) -> dict[str, str]:
    """An ESL event as one mapping: its headers, and its body under ``_body``."""
    flat = dict(event.headers)
    flat["_body"] = event.body
    return flat


def record_privacy(db: Database, kiosk: str, private: bool) -> bool:
    """Mark the kiosk's call in progress private (handset lifted) or not; False if none."""
    with db.session() as session:
        call = session.scalars(
            select(CallRecord)
            .where(CallRecord.kiosk_id == kiosk, CallRecord.ended_at.is_(None))
            .order_by(CallRecord.pressed_at.desc())
        ).first()
        if call is None:
            return False
        call.private = private
        return True


def _always() -> bool:
    return True


def attach(
    esl: Any, documents: DocumentService, handles_arrivals: Callable[[], bool] = _always
) -> FaxService:
    """Commands out through ``chat``; answers and fax results in; the fax service.

    Every control plane of a pool sends commands, but FreeSWITCH gives each of them every
    MESSAGE and fax result: only the one ``handles_arrivals`` says (the dispatcher leader)
    records them, or a received fax would be stored and printed once per control plane.
    """
    domain = documents.settings.sip_domain
    sealer = Sealer(documents.settings.secret("kiosk_command_key"))
    proxy = documents.settings.sip_proxy  # behind Kamailio: it finds the kiosk
    documents.transport = ChatTransport(esl.api, domain, sealer, proxy=proxy)
    fax = FaxService(documents, esl)

    def on_message(event: Any) -> None:
        if not handles_arrivals():
            return
        flat = _flat(event)
        found = answer_from_event(flat, domain)
        if found is not None:
            kiosk, answer = found
            documents.record_answer(answer, kiosk)
        status = status_from_event(flat, domain)
        if status is not None:
            record_privacy(documents.db, *status)

    esl.on("MESSAGE", on_message)
    esl.on(f"CUSTOM {TX_EVENT}", lambda event: fax.on_event(_flat(event)))  # its sender waits

    def on_fax_received(event: Any) -> None:
        if handles_arrivals():
            fax.on_event(_flat(event))

    esl.on(f"CUSTOM {RX_EVENT}", on_fax_received)
    return fax


def _client(settings: Settings) -> EventSocket:
    return connect(settings, settings.secret("esl_password"), EVENTS)


def start(
    settings: Settings, documents: DocumentService, handles_arrivals: Callable[[], bool] = _always
) -> tuple[EventSocket, FaxService]:
    """``pvp serve``: the documents' own Event Socket connection, in the background.

    Its own connection, so its subscriptions (MESSAGE, fax results) and its ``chat`` calls,
    which last as long as the kiosk takes to answer, never hold up the dispatcher's.
    The client reconnects by itself; until it is connected, commands answer 502.
    """
    client = _client(settings)
    fax = attach(client, documents, handles_arrivals)
    client.start()
    return client, fax


def connect_esl(settings: Settings) -> EventSocket:
    """A started, connected ESL client for one command (the CLI), or RuntimeError in French."""
    client = _client(settings)
    client.start()
    if not client.wait_connected(CONNECT_TIMEOUT_S):
        client.stop()
        where = ", ".join(f"{host}:{port}" for host, port in switch_addresses(settings))
        raise RuntimeError(f"FreeSWITCH injoignable sur {where} (Event Socket)")
    return client
