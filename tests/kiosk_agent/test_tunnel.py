"""baresip behind stunnel: a switch that cannot prove its identity gets nothing.

Real baresip (TLS to the tunnel's local end), real stunnel (Debian's stunnel4), and a TLS
server made with Python's ssl that stands where the switch should be. With the switch's real
certificate, baresip's REGISTER and INVITE (whose SDP carries the SRTP key) arrive through
the tunnel. With a certificate from
another CA, or from the right CA for another host name, stunnel refuses the handshake and not
one byte of SIP reaches the server: no registration, no call, no SRTP key.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kiosk.conftest import Engine, free_tcp_port, requires_baresip, run, running_engine
from kiosk.registrar import sip_response

from pvp.kiosk.baresip import EventType, MediaEncryption, RegistrationState, SipAccount, Transport
from pvp.kiosk.sipframe import SipStreamDecoder
from pvp.kiosk.tunnel import Tunnel, TunnelConfig, find_stunnel

from .certs import SWITCH_NAME, Identity, Pki

pytestmark = [
    requires_baresip,
    pytest.mark.skipif(find_stunnel() is None, reason="stunnel4 not installed"),
]
DOMAIN = "pvp.auvergne.test"


@dataclass
class TlsSwitch:
    """Terminates TLS, keeps what arrives in clear, accepts REGISTER and busies INVITEs."""

    identity: Identity
    clear: bytearray = field(default_factory=bytearray)
    handshakes: int = 0
    port: int = 0
    invites: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self) -> asyncio.Server:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.identity.cert, self.identity.key)
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=context)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        self.writers.append(writer)
        decoder = SipStreamDecoder()
        try:
            while data := await reader.read(65536):
                self.clear += data
                for frame in decoder.feed(data):
                    if isinstance(frame, bytes) and frame.startswith(b"REGISTER "):
                        writer.write(sip_response(frame, "200 OK", expires=300))
                    elif isinstance(frame, bytes) and frame.startswith(b"INVITE "):
                        self.invites += 1
                        writer.write(sip_response(frame, "486 Busy Here"))
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    def restart(self) -> None:
        """What a switch restart does to the kiosk's connections: they close."""
        for writer in self.writers:
            writer.close()
        self.writers.clear()


def kiosk_account(stunnel_port: int) -> SipAccount:
    return SipAccount(
        "kiosk-vorey-1",
        DOMAIN,
        password="s3cret",
        registrar_host="127.0.0.1",
        registrar_port=stunnel_port,
        transport=Transport.TLS,
        mediaenc=MediaEncryption.SRTP_MANDATORY,
        register_interval=60,
    )


@contextlib.asynccontextmanager
async def tunnelled_kiosk(tmp_path: Path, pki: Pki, switch: TlsSwitch) -> AsyncIterator[Engine]:
    """A kiosk's baresip whose SIP goes through the tunnel to ``switch`` (started here)."""
    server = await switch.start()
    port = free_tcp_port()
    tunnel = Tunnel(
        TunnelConfig(port, "127.0.0.1", switch.port, pki.ca, SWITCH_NAME), tmp_path / "tun"
    )
    await tunnel.start()
    try:
        async with running_engine(tmp_path, "kiosk", account=kiosk_account(port)) as kiosk:
            yield kiosk
    finally:
        await tunnel.stop()
        server.close()


@pytest.mark.parametrize("who", ["switch", "rogue", "wrong_host"])
def test_only_the_true_switch_gets_signalling_and_keys(tmp_path: Path, pki: Pki, who: str) -> None:
    identity: Identity = getattr(pki, who)

    async def body() -> tuple[TlsSwitch, RegistrationState]:
        switch = TlsSwitch(identity)
        async with tunnelled_kiosk(tmp_path, pki, switch) as kiosk:
            closed = kiosk.controller.expect(EventType.CALL_CLOSED)
            await asyncio.sleep(1.0)  # registration had time to succeed or fail
            state = await kiosk.controller.refresh_registration()
            await kiosk.controller.dial(f"sip:anpe@{DOMAIN}")
            if who == "switch":
                await asyncio.wait_for(closed, 10)  # the 486 came back through the tunnel
            else:
                closed.cancel()
                await asyncio.sleep(2.0)  # the INVITE had time to leak, if it could
                await kiosk.controller.hangup()
        return switch, state

    switch, state = run(body(), timeout=40)
    if who == "switch":
        assert state is RegistrationState.REGISTERED
        assert b"REGISTER sip:" in switch.clear
        invite = switch.clear[switch.clear.index(b"INVITE sip:anpe@") :]
        assert b"a=crypto:" in invite, "the SRTP key travels in the INVITE's SDP"
    else:
        assert state is not RegistrationState.REGISTERED
        assert switch.clear == b"", "stunnel let bytes through to an unverified switch"
        assert switch.handshakes == 0


def test_after_a_switch_restart_the_first_press_reaches_the_switch(
    tmp_path: Path, pki: Pki
) -> None:
    # Issue 15: the first press after a restart went into the dead connection; the screen
    # stayed on "calling" 32 s (SIP timer B). stunnel waited up to TIMEOUTclose (60 s) for
    # baresip's close_notify before closing the local connection baresip kept writing to.
    async def body() -> tuple[TlsSwitch, float]:
        switch = TlsSwitch(pki.switch)
        async with tunnelled_kiosk(tmp_path, pki, switch) as kiosk:
            closed = kiosk.controller.expect(EventType.CALL_CLOSED)
            await kiosk.controller.dial(f"sip:anpe@{DOMAIN}")
            await asyncio.wait_for(closed, 10)  # a press before the restart: answered
            switch.restart()
            await asyncio.sleep(1.0)  # the switch is back
            closed = kiosk.controller.expect(EventType.CALL_CLOSED)
            started = asyncio.get_running_loop().time()
            await kiosk.controller.dial(f"sip:anpe@{DOMAIN}")
            await asyncio.wait_for(closed, 40)
            took = asyncio.get_running_loop().time() - started
        return switch, took

    switch, took = run(body(), timeout=60)
    assert switch.invites == 2, "the press after the restart reached the switch"
    assert took < 5, f"the press after the restart was answered after {took:.1f} s"
