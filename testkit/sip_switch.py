"""A stand-in for FreeSWITCH's messaging side, over TLS: registrar and MESSAGE relay.

It challenges REGISTER (401) and MESSAGE (407) with digest as mod_sofia does, keeps the
kiosk's registration on the connection the kiosk opened (``tls-always-nat``), sends commands
down that connection like ``chat`` (waiting for the final answer) and keeps every MESSAGE the
kiosk sends. The live suites (tests/live/) do the same through the real FreeSWITCH.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiosipua import SipMessage, SipRequest, SipResponse
from aiosipua.headers import parse_auth
from aiosipua.utils import generate_branch, generate_call_id, generate_tag

from pvp.kiosk.messaging import response_to
from pvp.kiosk.sipframe import Ping, SipStreamDecoder
from testkit.certs import Identity


@dataclass
class Received:
    sender: str | None
    to: str | None
    content_type: str
    body: bytes


@dataclass
class SwitchStandIn:
    domain: str
    users: dict[str, str]  # user -> password
    identity: Identity
    register_status: int | None = None  # force an answer to REGISTER (e.g. 403)
    raw: bytearray = field(default_factory=bytearray)  # every byte received in clear
    registers: list[str] = field(default_factory=list)  # Contact of each accepted REGISTER
    messages: list[Received] = field(default_factory=list)
    invites: list[tuple[float, bytes]] = field(default_factory=list)  # (monotonic, INVITE)
    invite_arrivals: list[float] = field(default_factory=list)  # every INVITE, challenged too
    handshakes_failed: int = 0
    _writers: dict[str, asyncio.StreamWriter] = field(default_factory=dict)
    _pending: dict[str, asyncio.Future[SipResponse]] = field(default_factory=dict)
    _server: asyncio.Server | None = None
    _arrived: asyncio.Condition | None = None
    port: int = 0

    async def start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.identity.cert, self.identity.key)
        self._arrived = asyncio.Condition()
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", 0, ssl=context, ssl_handshake_timeout=5
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for writer in list(self._writers.values()):
            writer.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()

    def registered(self, user: str) -> bool:
        return user in self._writers

    def drop(self, user: str) -> None:
        """Cut the kiosk's connection, as a switch restart would."""
        writer = self._writers.pop(user, None)
        if writer is not None:
            writer.close()

    async def wait_for(self, predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
        assert self._arrived is not None
        async with asyncio.timeout(timeout):
            async with self._arrived:
                await self._arrived.wait_for(predicate)

    async def chat(
        self, user: str, body: str | bytes, content_type: str, sender: str = "pvp"
    ) -> int:
        """Like ``chat sip|pvp@d|user@d|body|type``: the kiosk's final answer."""
        writer = self._writers[user]
        branch = generate_branch()
        request = SipRequest(method="MESSAGE", uri=f"sip:{user}@{self.domain}")
        request.headers.append("Via", f"SIP/2.0/TLS 127.0.0.1:{self.port};branch={branch}")
        request.headers.set_single("From", f"<sip:{sender}@{self.domain}>;tag={generate_tag()}")
        request.headers.set_single("To", f"<sip:{user}@{self.domain}>")
        request.headers.set_single("Call-ID", generate_call_id(self.domain))
        request.headers.set_single("CSeq", "1 MESSAGE")
        request.headers.set_single("Content-Type", content_type)
        request.body = body.encode() if isinstance(body, str) else body
        future: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()
        self._pending[branch] = future
        writer.write(bytes(request))
        async with asyncio.timeout(5):
            return (await future).status_code

    # -- server side -------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder, user = SipStreamDecoder(), None
        try:
            while data := await reader.read(65536):
                self.raw += data
                for frame in decoder.feed(data):
                    if isinstance(frame, Ping):
                        writer.write(b"\r\n")
                    elif isinstance(frame, bytes):
                        user = self._handle(SipMessage.parse(frame), writer) or user
                await self._notify()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            if user is not None and self._writers.get(user) is writer:
                del self._writers[user]
            writer.close()

    async def _notify(self) -> None:
        assert self._arrived is not None
        async with self._arrived:
            self._arrived.notify_all()

    def _handle(
        self, message: SipRequest | SipResponse, writer: asyncio.StreamWriter
    ) -> str | None:
        if isinstance(message, SipResponse):
            branch = message.via[0].params.get("branch")
            future = self._pending.pop(str(branch), None)
            if future is not None and not future.done() and message.status_code >= 200:
                future.set_result(message)
            return None
        if message.method == "ACK":
            return None
        if message.method == "REGISTER":
            return self._register(message, writer)
        if message.method == "INVITE":
            self.invite_arrivals.append(time.monotonic())
            # Challenged like FreeSWITCH, then refused: the tests only time and inspect it.
            if self._authenticated(message, writer, proxy=True) is not None:
                self.invites.append((time.monotonic(), bytes(message)))
                writer.write(bytes(response_to(message, 486, "Busy Here")))
            return None
        if message.method == "MESSAGE":
            user = self._authenticated(message, writer, proxy=True)
            if user is not None:
                to = message.to_addr.uri.user if message.to_addr else None
                ctype = message.content_type or ""
                self.messages.append(Received(user, to, ctype, message.body))
                writer.write(bytes(response_to(message, 202, "Accepted")))
            return None
        writer.write(bytes(response_to(message, 405, "Method Not Allowed")))
        return None

    def _register(self, request: SipRequest, writer: asyncio.StreamWriter) -> str | None:
        if self.register_status is not None:
            writer.write(bytes(response_to(request, self.register_status, "Forbidden")))
            return None
        user = self._authenticated(request, writer, proxy=False)
        if user is None:
            return None
        expires = request.get_header("expires") or "300"
        response = response_to(request, 200, "OK")
        contact = request.get_header("contact") or ""
        if expires != "0":
            response.headers.set_single("Contact", f"{contact};expires={expires}")
            self.registers.append(contact)
            self._writers[user] = writer
        elif self._writers.get(user) is writer:
            del self._writers[user]
        writer.write(bytes(response))
        return user

    def _authenticated(
        self, request: SipRequest, writer: asyncio.StreamWriter, *, proxy: bool
    ) -> str | None:
        header = "Proxy-Authorization" if proxy else "Authorization"
        given = request.get_header(header)
        if given is None:
            status, reason = (
                (407, "Proxy Authentication Required") if proxy else (401, "Unauthorized")
            )
            response = response_to(request, status, reason)
            nonce = secrets.token_hex(8)
            challenge = f'Digest realm="{self.domain}", nonce="{nonce}", algorithm=MD5, qop="auth"'
            response.headers.set_single(
                "Proxy-Authenticate" if proxy else "WWW-Authenticate", challenge
            )
            writer.write(bytes(response))
            return None
        params = parse_auth(given).params
        user = params.get("username", "")
        password = self.users.get(user)

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        if password is not None:
            ha1 = md5(f"{user}:{self.domain}:{password}")
            ha2 = md5(f"{request.method}:{params.get('uri')}")
            expected = md5(
                f"{ha1}:{params.get('nonce')}:{params.get('nc')}:{params.get('cnonce')}:auth:{ha2}"
            )
            if secrets.compare_digest(expected, params.get("response", "")):
                return user
        writer.write(bytes(response_to(request, 403, "Forbidden")))
        return None


@contextlib.asynccontextmanager
async def running_switch(
    domain: str, users: dict[str, str], identity: Identity
) -> AsyncIterator[SwitchStandIn]:
    switch = SwitchStandIn(domain, users, identity)
    await switch.start()
    try:
        yield switch
    finally:
        await switch.stop()
