"""A client of baresip's ctrl_tcp module: JSON commands and events in netstrings.

Built on asyncio rather than threads: the kiosk agent waits on many slow things at once
(this socket, the child process, the buttons through python-evdev's asyncio reader, HTTPS
heartbeats), and one event loop lets the per-request futures, the reconnection loop and
the event handlers share state without locks. Handlers run on the loop, one after another.

What baresip 1.0 does on this socket, and how this client copes:
- one client only, a new connection replaces the old one: the controller reconnects by
  itself, so never point two controllers at one baresip;
- malformed JSON gets no reply at all: every request has a timeout;
- ``ok: true`` may still carry "failed ..." in ``data``: :meth:`command` treats it as failure;
- command and parameters are cut at 1023 bytes: longer ones are refused before sending;
- ``accept`` and ``hangup`` act on the current call (the kiosk has one call at most).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pvp.kiosk.baresip.config import MediaDevice
from pvp.kiosk.baresip.errors import (
    BaresipCommandError,
    BaresipNotConnected,
    BaresipTimeout,
)
from pvp.kiosk.baresip.events import BaresipEvent, EventType
from pvp.kiosk.netstring import NetstringDecoder, NetstringError, encode

log = logging.getLogger(__name__)

# ctrl_tcp formats "command params" into a 1024-byte buffer (with its NUL).
MAX_COMMAND_BYTES = 1023
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Answers that say "ok" but report a failure (baresip 1.0 menu and core commands).
_FAILURE_MARKERS = ("failed", "format should be", "no such", "not found", "could not")

EventHandler = Callable[[BaresipEvent], None]
ConnectionListener = Callable[[bool], None]


class RegistrationState(enum.StrEnum):
    UNKNOWN = "unknown"  # not connected, or not asked yet
    UNREGISTERED = "unregistered"  # the account does not register, or unregistered
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class CommandResult:
    ok: bool
    data: str

    @property
    def failed(self) -> bool:
        """False only if baresip said ok and its text reports no failure either."""
        text = self.data.lower()
        return not self.ok or any(marker in text for marker in _FAILURE_MARKERS)


class BaresipController:
    """Talks to one baresip over ctrl_tcp; reconnects whenever the connection drops."""

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        *,
        request_timeout: float = 2.0,
        reconnect_min: float = 0.05,
        reconnect_max: float = 2.0,
    ) -> None:
        self.host = host
        self.port = port
        self.request_timeout = request_timeout
        self._reconnect_min = reconnect_min
        self._reconnect_max = reconnect_max
        self._tokens = itertools.count(1)
        self._pending: dict[str, asyncio.Future[CommandResult]] = {}
        self._handlers: list[tuple[frozenset[str] | None, EventHandler]] = []
        self._connection_listeners: list[ConnectionListener] = []
        self._writer: asyncio.StreamWriter | None = None
        self._connected = asyncio.Event()
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._registration = RegistrationState.UNKNOWN
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting (and reconnecting) in the background."""
        if self._closed:
            raise RuntimeError("controller is closed")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="baresip-ctrl")

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            raise BaresipNotConnected(
                f"baresip ctrl_tcp at {self.host}:{self.port} not reachable within {timeout} s"
            ) from None

    def reconnect_now(self) -> None:
        """Skip the current back-off delay (the supervisor just restarted baresip)."""
        self._kick.set()

    # -- events ------------------------------------------------------------------------

    def subscribe(self, handler: EventHandler, *types: str) -> Callable[[], None]:
        """Call ``handler`` for events of ``types`` (all events if none); returns an
        unsubscribe function. A handler that raises is logged and the others still run."""
        entry = (frozenset(types) if types else None, handler)
        self._handlers.append(entry)
        return lambda: self._handlers.remove(entry) if entry in self._handlers else None

    def expect(
        self, type_: str, predicate: Callable[[BaresipEvent], bool] | None = None
    ) -> asyncio.Future[BaresipEvent]:
        """A future for the next event of ``type_`` (matching ``predicate``). Create it
        *before* the action that causes the event."""
        future: asyncio.Future[BaresipEvent] = asyncio.get_running_loop().create_future()

        def handler(event: BaresipEvent) -> None:
            if not future.done() and (predicate is None or predicate(event)):
                future.set_result(event)

        unsubscribe = self.subscribe(handler, type_)
        future.add_done_callback(lambda _: unsubscribe())
        return future

    def add_connection_listener(self, listener: ConnectionListener) -> Callable[[], None]:
        self._connection_listeners.append(listener)
        return lambda: self._connection_listeners.remove(listener)

    @property
    def registration(self) -> RegistrationState:
        return self._registration

    # -- requests ----------------------------------------------------------------------

    async def request(
        self, command: str, params: str | None = None, *, timeout: float | None = None
    ) -> CommandResult:
        """Send one command and return baresip's answer as it is."""
        if not re.fullmatch(r"[a-z0-9_]+", command):
            raise BaresipCommandError(command, "not a baresip command name")
        if params is not None and "\n" in params:
            raise BaresipCommandError(command, "parameters cannot contain a newline")
        size = len(command.encode()) + (len(params.encode()) + 1 if params else 0)
        if size > MAX_COMMAND_BYTES:
            raise BaresipCommandError(
                command, f"{size} bytes with parameters, baresip cuts at {MAX_COMMAND_BYTES}"
            )
        message: dict[str, Any] = {"command": command}
        if params:
            message["params"] = params
        result = await self.request_raw(message, timeout=timeout)
        assert result is not None  # a token was sent
        return result

    async def request_raw(
        self,
        message: dict[str, Any] | bytes,
        *,
        timeout: float | None = None,
        expect_reply: bool = True,
    ) -> CommandResult | None:
        """Send a JSON object (a token is added) or raw bytes as one netstring; for
        diagnostics. Raw bytes carry no token, so their answer cannot be awaited."""
        timeout = self.request_timeout if timeout is None else timeout
        name = message.get("command", "?") if isinstance(message, dict) else "<raw>"
        token = f"pvp{next(self._tokens)}"
        if isinstance(message, dict):
            payload = json.dumps({**message, "token": token}).encode()
        else:
            payload, expect_reply = message, False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self.wait_connected(timeout)
        writer = self._writer
        if writer is None:
            raise BaresipNotConnected("connection to baresip lost")
        future: asyncio.Future[CommandResult] = loop.create_future()
        if expect_reply:
            self._pending[token] = future
        try:
            writer.write(encode(payload))
            if not expect_reply:
                return None
            async with asyncio.timeout_at(deadline):
                return await future
        except TimeoutError:
            raise BaresipTimeout(f"no answer from baresip to {name!r} within {timeout} s") from None
        finally:
            self._pending.pop(token, None)

    async def command(
        self, command: str, params: str | None = None, *, timeout: float | None = None
    ) -> str:
        """Run a command; return its text, raise :class:`BaresipCommandError` on failure."""
        result = await self.request(command, params, timeout=timeout)
        if result.failed:
            raise BaresipCommandError(command, result.data.strip() or "error")
        return result.data

    async def dial(self, uri: str) -> None:
        if not re.fullmatch(r"sips?:[^\s<>\"]+", uri):
            raise BaresipCommandError("dial", f"not a SIP URI: {uri!r}")
        await self.command("dial", uri)

    async def answer(self) -> None:
        """Accept the incoming call (baresip acts on its current call)."""
        await self.command("accept")

    async def hangup(self) -> None:
        await self.command("hangup")

    async def set_audio_source(self, device: MediaDevice) -> None:
        """Switch the microphone, in the current call and for later calls (handset privacy)."""
        data = await self.command("ausrc", str(device))
        if "switch audio device" not in data:
            raise BaresipCommandError("ausrc", data.strip() or "no confirmation")

    async def set_audio_player(self, device: MediaDevice) -> None:
        """Switch the loudspeaker, in the current call and for later calls."""
        data = await self.command("auplay", str(device))
        if "switch audio player" not in data:
            raise BaresipCommandError("auplay", data.strip() or "no confirmation")

    async def set_video_source(self, device: MediaDevice) -> None:
        data = await self.command("vidsrc", str(device))
        if "switch video device" not in data:
            raise BaresipCommandError("vidsrc", data.strip() or "no confirmation")

    async def snapshot_received(self, path: str) -> None:
        """Save the next received video frame as PNG (needs the snapshot module; baresip
        keeps at most 99 bytes of the path and writes the file asynchronously)."""
        if len(path.encode()) > 99:
            raise BaresipCommandError("snapshot_recv", "path longer than 99 bytes")
        await self.command("snapshot_recv", path)

    async def refresh_registration(self) -> RegistrationState:
        """Ask baresip (``reginfo``): events sent before we connected were lost."""
        data = _ANSI.sub("", await self.command("reginfo"))
        statuses = re.findall(r"\s(OK|ERR|zzz)\s", data + " ")
        if not statuses:
            state = RegistrationState.UNREGISTERED
        elif "OK" in statuses:
            state = RegistrationState.REGISTERED
        elif "zzz" in statuses:
            state = RegistrationState.REGISTERING
        else:
            state = RegistrationState.FAILED
        self._set_registration(state)
        return state

    # -- connection --------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self._reconnect_min
        while not self._closed:
            try:
                async with asyncio.timeout(self.request_timeout):
                    reader, writer = await asyncio.open_connection(self.host, self.port)
            except (OSError, TimeoutError):
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._kick.wait()
                self._kick.clear()  # cleared after waking, so no kick is lost
                delay = min(delay * 2, self._reconnect_max)
                continue
            delay = self._reconnect_min
            self._writer = writer
            log.info("connected to baresip ctrl_tcp %s:%s", self.host, self.port)
            self._set_connected(True)
            refresh = asyncio.create_task(self._refresh_quietly())
            try:
                await self._read(reader)
            except OSError as exc:  # a killed baresip often resets rather than closes
                log.warning("baresip ctrl_tcp connection failed: %s", exc)
            finally:
                refresh.cancel()
                self._writer = None
                writer.close()
                self._set_connected(False)
                self._set_registration(RegistrationState.UNKNOWN)
                for future in self._pending.values():
                    if not future.done():
                        future.set_exception(BaresipNotConnected("connection to baresip lost"))
                self._pending.clear()
            log.warning("lost baresip ctrl_tcp %s:%s, reconnecting", self.host, self.port)

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh_registration()
        except Exception as exc:  # the reader notices a dead connection by itself
            log.warning("could not read baresip's registration state: %s", exc)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        decoder = NetstringDecoder()
        while data := await reader.read(65536):
            try:
                frames = decoder.feed(data)
            except NetstringError as exc:
                log.error("baresip ctrl_tcp stream broken (%s); reconnecting", exc)
                return
            for frame in frames:
                self._dispatch(frame)

    def _dispatch(self, frame: bytes) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            log.error("baresip sent a frame that is not JSON: %r", frame[:200])
            return
        if not isinstance(message, dict):
            log.error("baresip sent JSON that is not an object: %r", frame[:200])
        elif message.get("response"):
            future = self._pending.get(str(message.get("token")))
            if future is not None and not future.done():
                future.set_result(
                    CommandResult(bool(message.get("ok")), str(message.get("data", "")))
                )
        elif message.get("event"):
            self._on_event(BaresipEvent.from_json(message))

    def _on_event(self, event: BaresipEvent) -> None:
        match event.type:
            case EventType.REGISTER_OK:
                self._set_registration(RegistrationState.REGISTERED)
            case EventType.REGISTER_FAIL:
                self._set_registration(RegistrationState.FAILED)
            case EventType.REGISTERING if self._registration is not RegistrationState.REGISTERED:
                # A refresh of a live registration is not news for the kiosk screen.
                self._set_registration(RegistrationState.REGISTERING)
            case EventType.UNREGISTERING:
                self._set_registration(RegistrationState.UNREGISTERED)
        for types, handler in list(self._handlers):
            if types is None or event.type in types:
                try:
                    handler(event)
                except Exception:
                    log.exception("baresip event handler failed on %s", event.type)

    def _set_connected(self, connected: bool) -> None:
        if connected == self.connected:
            return
        if connected:
            self._connected.set()
        else:
            self._connected.clear()
        for listener in list(self._connection_listeners):
            try:
                listener(connected)
            except Exception:
                log.exception("baresip connection listener failed")

    def _set_registration(self, state: RegistrationState) -> None:
        if state is not self._registration:
            log.info("registration %s -> %s", self._registration, state)
            self._registration = state
