"""A pool of FreeSWITCH behind Kamailio, seen by the dispatcher as one event socket.

Kamailio hands each kiosk call to the switch its Call-ID hashes to, so a caller parks on
either switch and the counsellor's leg must be originated from *that* switch to be bridged
there. :class:`SwitchPool` holds one :class:`ESLClient` per switch and routes each command:

- ``originate`` of an offer goes to the switch of the call it is for (``pvp_offer_for``),
  and the new leg (``origination_uuid``) belongs to that switch from then on;
- ``uuid_*`` commands go to the switch holding the channel: the one whose events named it,
  or, for a channel known only from the database (after a restart), the one answering
  ``uuid_exists``;
- ``show registrations`` / ``show channels`` are every connected switch's rows together;
- ``reloadxml`` and ``xml_flush_cache`` go to every switch;
- anything else (``chat``) goes to the first connected switch: Kamailio replicates every
  REGISTER to each switch of the pool, so each one can reach every device through Kamailio.

Events of every switch reach the same handlers; the dispatcher's queue stays one (one
leader, queues in the database), whatever switch a caller is on.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from functools import partial
from typing import Protocol

from pvp.config import Settings
from pvp.freeswitch.esl import ESLClient, ESLError, Handler, NotConnected
from pvp.freeswitch.eslframe import Event

log = logging.getLogger("pvp.freeswitch.pool")

# Kamailio's word on who a device is (user@domain), which the pool's switches trust.
IDENTITY_HEADER = "X-PVP-Identity"
MERGED = ("show registrations as json", "show channels as json")
# Every switch reads the configuration again / forgets cached users, not just one.
EVERYWHERE = ("reloadxml", "xml_flush_cache")
_OFFER_FOR = re.compile(r"[{,]pvp_offer_for=([^,}]+)")
_LEG = re.compile(r"[{,]origination_uuid=([^,}]+)")


class EventSocket(Protocol):
    """What the dispatcher needs of FreeSWITCH: one switch's ESLClient, or a pool."""

    @property
    def connected(self) -> bool: ...

    def on(self, key: str, handler: Handler) -> None: ...

    def on_connect(self, callback: Callable[[], None]) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def wait_connected(self, timeout: float) -> bool: ...

    def api(self, command: str) -> str: ...

    def bgapi(self, command: str) -> Future[str]: ...


def address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) as a pair; ValueError otherwise."""
    host, _, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a HOST:PORT address: {text!r}")
    return host, int(port)


def proxy_address(settings: Settings) -> tuple[str, int] | None:
    """Kamailio's address (``sip_proxy``), an IP address: the switches' ACL holds it."""
    if not settings.sip_proxy:
        return None
    host, port = address(settings.sip_proxy)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"sip_proxy must be an IP address, not {host!r}") from None
    return host, port


def switch_addresses(settings: Settings) -> list[tuple[str, int]]:
    """Every pool switch's event socket (``esl_switches``), or the one at ``esl_host``."""
    listed = [address(part) for part in settings.esl_switches.split(",") if part.strip()]
    return listed or [(settings.esl_host, settings.esl_port)]


def connect(settings: Settings, password: str, events: Iterable[str]) -> EventSocket:
    """One ESLClient for one switch (exactly as before pools), a SwitchPool for several."""
    wanted = list(events)
    clients = [
        ESLClient(host, port, password, events=wanted) for host, port in switch_addresses(settings)
    ]
    return clients[0] if len(clients) == 1 else SwitchPool(clients)


class SwitchPool:
    def __init__(self, clients: list[ESLClient]) -> None:
        self.clients = clients
        self._owner: dict[str, ESLClient] = {}  # channel uuid -> the switch holding it
        self._lock = threading.Lock()
        # Each client hands events over on a thread of its own: one at a time, as from one
        # switch, since the dispatcher's handlers expect a single event thread.
        self._one_at_a_time = threading.RLock()

    # -------------------------------------------------------- as an ESLClient

    def on(self, key: str, handler: Handler) -> None:
        for client in self.clients:
            client.on(key, partial(self._seen, client, handler))

    def on_connect(self, callback: Callable[[], None]) -> None:
        for client in self.clients:
            client.on_connect(partial(self._serially, callback))

    def start(self) -> None:
        for client in self.clients:
            client.start()

    def stop(self) -> None:
        for client in self.clients:
            client.stop()

    @property
    def connected(self) -> bool:
        return any(c.connected for c in self.clients)

    def wait_connected(self, timeout: float) -> bool:
        """True once any switch is connected (a ``chat`` may go out by it), within timeout."""
        deadline = time.monotonic() + timeout
        while not self.connected:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def api(self, command: str) -> str:
        if command in MERGED:
            return self._merged(command)
        if command in EVERYWHERE:
            return [c.api(command) for c in self._connected_or_none()][0]
        return self._route(command).api(command)

    def bgapi(self, command: str) -> Future[str]:
        if command in EVERYWHERE:
            return [c.bgapi(command) for c in self._connected_or_none()][0]
        return self._route(command).bgapi(command)

    def switch_of(self, channel: str) -> ESLClient | None:
        """The switch holding ``channel``, asking each one when no event said so yet."""
        with self._lock:
            known = self._owner.get(channel)
        if known is not None and known.connected:
            return known
        # A switch that went away took its channels with it: the others are asked.
        for client in self._connected():
            try:
                if client.api(f"uuid_exists {channel}").strip() == "true":
                    self._own(channel, client)
                    return client
            except ESLError:
                continue
        return None

    # -------------------------------------------------------------- internals

    def _seen(self, client: ESLClient, handler: Handler, event: Event) -> None:
        if event.uuid:
            self._own(event.uuid, client)
        try:
            self._serially(handler, event)
        finally:
            if event.name == "CHANNEL_HANGUP_COMPLETE" and event.uuid:
                with self._lock:
                    if self._owner.get(event.uuid) is client:
                        del self._owner[event.uuid]

    def _serially(self, function: Callable[..., None], *args: object) -> None:
        with self._one_at_a_time:
            function(*args)

    def _own(self, channel: str, client: ESLClient) -> None:
        with self._lock:
            self._owner[channel] = client

    def _connected(self) -> list[ESLClient]:
        return [c for c in self.clients if c.connected]

    def _route(self, command: str) -> ESLClient:
        verb, _, rest = command.partition(" ")
        if verb == "originate" and (offer := _OFFER_FOR.search(rest)):
            client = self.switch_of(offer.group(1))
            if client is None:
                raise NotConnected(f"no switch holds call {offer.group(1)}")
            if leg := _LEG.search(rest):
                self._own(leg.group(1), client)
            return client
        if verb.startswith("uuid_") and rest:
            channel = rest.split()[0]
            client = self.switch_of(channel)
            if client is None:
                # uuid_exists must answer "false" for a channel no switch holds.
                return self._any()
            return client
        return self._any()

    def _connected_or_none(self) -> list[ESLClient]:
        connected = self._connected()
        if not connected:
            raise NotConnected("no switch of the pool is connected")
        return connected

    def _any(self) -> ESLClient:
        return self._connected_or_none()[0]

    def _merged(self, command: str) -> str:
        rows: list[object] = []
        for client in self._connected():
            try:
                rows += json.loads(client.api(command) or "{}").get("rows") or []
            except (ESLError, ValueError) as exc:
                log.warning("%s:%d: %s failed: %s", client.host, client.port, command, exc)
        return json.dumps({"row_count": len(rows), "rows": rows})
