"""The kiosk's own SIP messaging endpoint: the counsellor's commands arrive here (RFC 3428).

Whole on purpose: one SIP user agent over one TLS connection; the registration, its refresh
and the MESSAGE transactions share that connection's state (reader, CSeq, the registration's
Call-ID).

The agent keeps its own registration of the kiosk's SIP user, so commands reach it whether
or not a call is up. It is the kiosk's *only* registration: the kiosk page places its calls
over WSS without registering. FreeSWITCH's ``chat`` sends to every registered contact of a
user, and without ``multiple-registrations`` each REGISTER deletes the user's other contacts
(mod_sofia, sofia_reg.c) — two registrations of one user would steal each other's messages.

- One TLS connection to the switch, opened by the kiosk and verified with Python's ``ssl``
  against the bundle's CA and the switch's name; the endpoint listens on no port at all, so
  requests can only come from the verified switch on that connection (RFC 5923 style
  connection reuse; the switch's profile has ``tls-always-nat``).
- REGISTER with digest authentication, refreshed before expiry; RFC 5626 CRLF keep-alives;
  on any loss, reconnect with back-off and register again. The back-off starts over after
  every registration and stays short (``reconnect_max``, with jitter so a site's kiosks do
  not all come back in the same instant): after a switch restart the kiosk is registered
  again within seconds of the switch being back (issue 15; it once took ~34 s, the back-off
  having grown over earlier losses and never shrunk).
- MESSAGE in: ``on_message`` decides the status (200, 400, 415…); OPTIONS: 200.
- MESSAGE out (answers to ``sip:pvp@<domain>``), answering 401/407 challenges.

SIP parsing, building and digest come from aiosipua; the transport is this module's own,
since aiosipua's streams have no TLS (see docs/kiosk-agent.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiosipua import SipDigestAuth, SipMessage, SipRequest, SipResponse
from aiosipua.auth import answer_challenge
from aiosipua.utils import generate_branch, generate_call_id, generate_tag

from pvp import __version__
from pvp.common.errors import PvpError
from pvp.kiosk.sipframe import FramingError, Ping, SipStreamDecoder
from pvp.wire.bundle import Bundle
from pvp.wire.messages import ANSWER_TYPE, Answer, encode_answer

log = logging.getLogger("pvp.kiosk.messaging")

ALLOW = "MESSAGE, OPTIONS"
_COPIED = ("via", "from", "call-id", "cseq")


class RegistrationState(enum.StrEnum):
    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILED = "failed"  # refused (403…) or TLS verification failed; retried later


class MessagingError(PvpError, code="kiosk_messaging", summary="messagerie en échec"):
    """A request could not be sent or got no final answer."""


@dataclass(frozen=True)
class MessagingConfig:
    user: str
    domain: str
    password: str
    host: str  # the switch, as connected to
    port: int = 5061
    ca_file: Path | None = None  # None: the system's CAs
    server_name: str | None = None  # the name the switch's certificate must carry (else host)
    expires: int = 300
    keepalive: float = 30.0
    request_timeout: float = 8.0
    reconnect_min: float = 0.5
    reconnect_max: float = 4.0  # kept short: registered again ≤ ~4 s after a switch restart
    control_user: str = "pvp"  # answers and statuses go to sip:pvp@<domain>

    @classmethod
    def from_bundle(cls, bundle: Bundle, bundle_dir: Path) -> MessagingConfig:
        sip = bundle.sip
        return cls(
            user=sip.user,
            domain=sip.domain,
            password=sip.password,
            host=sip.registrar_host,
            port=sip.registrar_port,
            ca_file=bundle.ca_path(bundle_dir),
            server_name=sip.checked_name,
        )

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"


@dataclass(frozen=True)
class IncomingMessage:
    sender: str | None  # the user part of From
    content_type: str
    body: bytes


MessageHandler = Callable[[IncomingMessage], int]
StateListener = Callable[[RegistrationState], None]


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificate and host name checked; TLS 1.2 at least."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def response_to(request: SipRequest, status: int, reason: str) -> SipResponse:
    response = SipResponse(status_code=status, reason_phrase=reason)
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        for value in request.headers.get(name.lower()):
            if name == "To" and ";tag=" not in value:
                value = f"{value};tag={generate_tag()}"
            response.headers.append(name, value)
    return response


class MessagingEndpoint:
    def __init__(
        self,
        config: MessagingConfig,
        on_message: MessageHandler,
        *,
        on_state: StateListener | None = None,
    ) -> None:
        self.config = config
        self.on_message = on_message
        self._listeners: list[StateListener] = [on_state] if on_state else []
        self._auth = SipDigestAuth(config.user, config.password)
        self._ssl = tls_context(config.ca_file)
        self._state = RegistrationState.UNREGISTERED
        self._registered = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._local: tuple[str, int] = ("0.0.0.0", 0)
        self._pending: dict[str, asyncio.Future[SipResponse]] = {}
        self._task: asyncio.Task[None] | None = None
        self._reg_call_id = generate_call_id(self.config.domain)
        self._reg_tag = generate_tag()
        self._reg_cseq = 0
        self._cseq = 0
        self._closing = False
        self.last_error: str | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sip-messaging")

    async def close(self) -> None:
        """Unregister (best effort, 2 s at most) and close the connection."""
        self._closing = True
        if self._state is RegistrationState.REGISTERED and self._writer is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._register(expires=0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._set_state(RegistrationState.UNREGISTERED)

    @property
    def state(self) -> RegistrationState:
        return self._state

    @property
    def registered(self) -> bool:
        return self._state is RegistrationState.REGISTERED

    def add_listener(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    async def wait_registered(self, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            await self._registered.wait()

    # -- sending -----------------------------------------------------------------------

    async def send_message(self, to_user: str, content_type: str, body: str | bytes) -> int:
        """Send a MESSAGE to ``sip:<to_user>@<domain>``; return the final status code."""
        uri = f"sip:{to_user}@{self.config.domain}"
        data = body.encode() if isinstance(body, str) else body
        headers = {
            "From": f"<{self.config.aor}>;tag={generate_tag()}",
            "To": f"<{uri}>",
            "Call-ID": generate_call_id(self.config.domain),
            "Content-Type": content_type,
        }
        response = await self._request("MESSAGE", uri, headers, data)
        return response.status_code

    async def send_answer(self, answer: Answer) -> int:
        return await self.send_message(self.config.control_user, ANSWER_TYPE, encode_answer(answer))

    # -- connection --------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self.config.reconnect_min
        while not self._closing:
            try:
                reader, writer = await self._connect()
            except (OSError, TimeoutError) as exc:
                # ssl.SSLCertVerificationError is an OSError: a switch that cannot prove
                # its identity is never sent a single SIP byte.
                self.last_error = str(exc)
                log.warning(
                    "cannot reach the switch %s:%s: %s", self.config.host, self.config.port, exc
                )
                if isinstance(exc, ssl.SSLError):
                    self._set_state(RegistrationState.FAILED)
                await _pause(delay)
                delay = min(delay * 2, self.config.reconnect_max)
                continue
            self._writer = writer
            sock = writer.get_extra_info("sockname")
            self._local = (str(sock[0]), int(sock[1]))
            tasks = [
                asyncio.create_task(self._read(reader), name="sip-read"),
                asyncio.create_task(self._keep_registered(), name="sip-register"),
                asyncio.create_task(self._keepalive(writer), name="sip-keepalive"),
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                if self.registered:  # the link worked: a loss now is news, start over
                    delay = self.config.reconnect_min
                for task in done:
                    if not task.cancelled() and (error := task.exception()) is not None:
                        log.warning("switch connection ends: %s", error)
                        self.last_error = str(error)
                        if self._state is RegistrationState.FAILED:
                            delay = self.config.reconnect_max
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self._writer = None
                writer.close()
                for future in self._pending.values():
                    if not future.done():
                        future.set_exception(MessagingError("connection to the switch lost"))
                self._pending.clear()
                if self._state is not RegistrationState.FAILED:
                    self._set_state(RegistrationState.UNREGISTERED)
            if self._closing:
                return
            await _pause(delay)
            delay = min(delay * 2, self.config.reconnect_max)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(
            asyncio.open_connection(
                self.config.host,
                self.config.port,
                ssl=self._ssl,
                server_hostname=self.config.server_name or self.config.host,
                ssl_handshake_timeout=self.config.request_timeout,
            ),
            self.config.request_timeout + 1,
        )

    async def _read(self, reader: asyncio.StreamReader) -> None:
        decoder = SipStreamDecoder()
        while data := await reader.read(65536):
            try:
                frames = decoder.feed(data)
            except FramingError as exc:
                raise MessagingError(f"switch stream broken: {exc}") from exc
            for frame in frames:
                if isinstance(frame, Ping):
                    self._write(b"\r\n")  # pong (RFC 5626 §4.4.1)
                elif isinstance(frame, bytes):
                    self._dispatch(frame)
        raise MessagingError("the switch closed the connection")

    async def _keepalive(self, writer: asyncio.StreamWriter) -> None:
        # Keeps NAT and firewall state and makes a dead connection fail a write.
        while True:
            await asyncio.sleep(self.config.keepalive)
            writer.write(b"\r\n\r\n")
            await writer.drain()

    async def _keep_registered(self) -> None:
        while True:
            try:
                granted = await self._register(self.config.expires)
            except RegistrationRefused as exc:
                self.last_error = str(exc)
                self._set_state(RegistrationState.FAILED)
                await asyncio.sleep(self.config.reconnect_max)
                continue
            # Refresh well before expiry; a refresh that gets no answer drops the link.
            await asyncio.sleep(max(granted * 0.8, min(granted - 5, granted / 2), 1))

    async def _register(self, expires: int) -> int:
        if expires:
            self._set_state(
                RegistrationState.REGISTERED if self.registered else RegistrationState.REGISTERING
            )
        host, port = self._local
        contact = f"<sip:{self.config.user}@{host}:{port};transport=tls>"
        headers = {
            "From": f"<{self.config.aor}>;tag={self._reg_tag}",
            "To": f"<{self.config.aor}>",
            "Call-ID": self._reg_call_id,
            "Contact": contact,
            "Expires": str(expires),
        }
        response = await self._request("REGISTER", f"sip:{self.config.domain}", headers, b"")
        if not 200 <= response.status_code < 300:
            raise RegistrationRefused(f"{response.status_code} {response.reason_phrase}")
        if expires == 0:
            self._set_state(RegistrationState.UNREGISTERED)
            return 0
        granted = _granted(response, host, port, expires)
        log.info("registered %s for %s s", self.config.aor, granted)
        self._set_state(RegistrationState.REGISTERED)
        return granted

    # -- transactions ------------------------------------------------------------------

    async def _request(
        self, method: str, uri: str, headers: Mapping[str, str], body: bytes
    ) -> SipResponse:
        """Send a request; answer one digest challenge; return the final response."""
        authorization: tuple[str, str] | None = None
        for _attempt in range(2):
            request = SipRequest(method=method, uri=uri)
            branch = generate_branch()
            host, port = self._local
            request.headers.append("Via", f"SIP/2.0/TLS {host}:{port};branch={branch};rport")
            request.headers.set_single("Max-Forwards", "70")
            for name, value in headers.items():
                request.headers.set_single(name, value)
            request.headers.set_single("CSeq", f"{self._next_cseq(method)} {method}")
            request.headers.set_single("User-Agent", f"PVP-kiosk/{__version__}")
            request.headers.set_single("Allow", ALLOW)
            if authorization is not None:
                request.headers.set_single(*authorization)
            request.body = body
            response = await self._transaction(request, branch)
            if response.status_code not in (401, 407) or authorization is not None:
                return response
            authorization = answer_challenge(
                self._auth, response, response.status_code, method, uri
            )
            if authorization is None:
                return response
        return response

    def _next_cseq(self, method: str) -> int:
        if method == "REGISTER":
            self._reg_cseq += 1
            return self._reg_cseq
        self._cseq += 1
        return self._cseq

    async def _transaction(self, request: SipRequest, branch: str) -> SipResponse:
        if self._writer is None:
            raise MessagingError("not connected to the switch")
        future: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()
        self._pending[branch] = future
        try:
            self._write(bytes(request))
            async with asyncio.timeout(self.config.request_timeout):
                return await future
        except TimeoutError:
            raise MessagingError(
                f"no answer from the switch to {request.method} in {self.config.request_timeout} s"
            ) from None
        finally:
            self._pending.pop(branch, None)

    def _write(self, data: bytes) -> None:
        if self._writer is None:
            raise MessagingError("not connected to the switch")
        self._writer.write(data)

    def _dispatch(self, raw: bytes) -> None:
        try:
            message = SipMessage.parse(raw)
        except ValueError as exc:
            log.warning("unparsable SIP message from the switch dropped: %s", exc)
            return
        if isinstance(message, SipResponse):
            vias = message.via
            branch = vias[0].params.get("branch") if vias else None
            future = self._pending.get(str(branch))
            if future is not None and not future.done() and message.status_code >= 200:
                future.set_result(message)
            return
        self._answer_request(message)

    def _answer_request(self, request: SipRequest) -> None:
        if request.method == "ACK":
            return
        if request.method == "OPTIONS":
            self._respond(request, 200, "OK")
        elif request.method != "MESSAGE":
            response = response_to(request, 405, "Method Not Allowed")
            response.headers.set_single("Allow", ALLOW)
            self._write(bytes(response))
        else:
            sender = request.from_addr.uri.user if request.from_addr else None
            incoming = IncomingMessage(sender, request.content_type or "", request.body)
            try:
                status = self.on_message(incoming)
            except Exception:
                log.exception("MESSAGE handler failed")
                status = 500
            self._respond(request, status, _REASONS.get(status, "Error"))

    def _respond(self, request: SipRequest, status: int, reason: str) -> None:
        response = response_to(request, status, reason)
        if status == 415:
            response.headers.set_single("Accept", _ACCEPTED)
        self._write(bytes(response))

    def _set_state(self, state: RegistrationState) -> None:
        if state is self._state:
            return
        log.info("messaging registration %s -> %s", self._state.value, state.value)
        self._state = state
        if state is RegistrationState.REGISTERED:
            self._registered.set()
        else:
            self._registered.clear()
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:
                log.exception("registration listener failed")


class RegistrationRefused(MessagingError, code="registration_refused", summary="SIP refusé"):
    """The switch answered REGISTER with a failure (403 for a wrong secret…)."""


_REASONS = {
    200: "OK",
    400: "Bad Request",
    415: "Unsupported Media Type",
    480: "Temporarily Unavailable",
    500: "Server Internal Error",
}
_ACCEPTED = "application/vnd.pvp.command+json, application/json"


async def _pause(delay: float) -> None:
    """Wait between half and all of ``delay``: kiosks that lost the switch together spread."""
    await asyncio.sleep(random.uniform(delay / 2, delay))


def _granted(response: SipResponse, host: str, port: int, asked: int) -> int:
    """The interval the registrar granted our contact (RFC 3261 §10.2.4)."""
    for contact in response.contact:
        if contact.uri.host == host and contact.uri.port == port:
            value = contact.params.get("expires")
            if value and value.isdigit():
                return int(value)
    header = response.get_header("expires")
    return int(header) if header and header.isdigit() else asked
