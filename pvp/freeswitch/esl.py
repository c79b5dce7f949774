"""An inbound Event Socket client: commands, background jobs, events, and reconnection.

PVP's own (see docs/esl.md for why no PyPI client): plain threads, so it sits beside the
Flask/waitress server without an event loop or gevent. One thread owns the socket: it
connects, authenticates, subscribes, reads frames and, when the connection drops, tries again
with a growing delay. Replies (``command/reply``, ``api/response``) come back in the order the
commands were sent, so they are matched first-in-first-out; ``bgapi`` results come later as
``BACKGROUND_JOB`` events and are matched by the Job-UUID PVP chose. Events are handed to
handlers on a second thread, so a handler may itself call :meth:`ESLClient.api` (the reply
is read by the socket thread) and a failing handler is logged and never stops the others.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from pvp.common.errors import PvpError
from pvp.freeswitch.eslframe import Event, Frame, FrameError, FrameParser, decode_event

log = logging.getLogger("pvp.esl")

Handler = Callable[[Event], None]
ANY = "*"


class ESLError(
    PvpError,
    RuntimeError,
    code="switch_link_failed",
    summary="échec de la liaison avec le commutateur",
):
    """FreeSWITCH refused a command, or the Event Socket is not connected."""


class NotConnected(
    ESLError, code="switch_not_connected", summary="liaison avec le commutateur indisponible"
):
    pass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between reconnection attempts: first, doubled each time, capped."""

    first: float = 0.2
    cap: float = 5.0

    def delays(self) -> Iterable[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(self.cap, delay * 2)


def handler_key(name: str, subclass: str = "") -> str:
    """``CHANNEL_PARK`` or ``CUSTOM sofia::register``: how handlers are registered."""
    return f"{name} {subclass}" if subclass else name


class FrameSocket:
    """A blocking Event Socket read frame by frame, and its greeting and password exchange:
    the long-lived client below and the one-shot questions of ``pvp doctor`` share it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._parser = FrameParser()
        self._frames: deque[Frame] = deque()

    def next(self) -> Frame:
        while not self._frames:
            data = self.sock.recv(65536)
            if not data:
                raise ESLError("connection closed by FreeSWITCH")
            self._frames.extend(self._parser.feed(data))
        return self._frames.popleft()

    def authenticate(self, password: str) -> None:
        if self.next().content_type != "auth/request":
            raise ESLError("no auth/request from the Event Socket")
        self.sock.sendall(f"auth {password}\n\n".encode())
        if not self.next().reply_text.startswith("+OK"):
            raise ESLError("Event Socket password refused")


class ESLClient:
    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        events: Iterable[str] = (),
        event_format: str = "json",
        backoff: Backoff | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self._password = host, port, password
        # BACKGROUND_JOB carries bgapi results: always wanted.
        self._events = ["BACKGROUND_JOB", *(e for e in events if e != "BACKGROUND_JOB")]
        self._format = event_format
        self._backoff = backoff or Backoff()
        self.timeout = timeout
        self._handlers: dict[str, list[Handler]] = {}
        self._on_connect: list[Callable[[], None]] = []
        self._lock = threading.Lock()  # guards the socket writes and the pending replies
        self._sock: socket.socket | None = None
        self._pending: deque[Future[Frame]] = deque()
        self._jobs: dict[str, Future[str]] = {}
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._queue: queue.Queue[Event | Callable[[], None] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self.connections = 0  # successful (re)connections so far

    # ------------------------------------------------------------------ wiring

    def on(self, key: str, handler: Handler) -> None:
        """Call ``handler`` for events named ``key`` (see :func:`handler_key`), or ``*``."""
        self._handlers.setdefault(key, []).append(handler)

    def on_connect(self, callback: Callable[[], None]) -> None:
        """Run after every (re)connection, on the event thread: resynchronise state there."""
        self._on_connect.append(callback)

    def start(self) -> None:
        for name, target in (("esl-socket", self._run), ("esl-events", self._dispatch)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        self._close_socket()
        self._queue.put(None)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._threads.clear()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # ---------------------------------------------------------------- commands

    def send(self, command: str, headers: dict[str, str] | None = None) -> Frame:
        """Send one command and wait for its reply frame."""
        lines = [command, *(f"{k}: {v}" for k, v in (headers or {}).items())]
        if any("\n" in line for line in lines):
            raise ValueError("an Event Socket command cannot contain a newline")
        future: Future[Frame] = Future()
        with self._lock:
            if self._sock is None or not self._connected.is_set():
                raise NotConnected(f"not connected to FreeSWITCH at {self.host}:{self.port}")
            self._pending.append(future)
            try:
                self._sock.sendall(("\n".join(lines) + "\n\n").encode())
            except OSError as exc:
                self._pending.remove(future)
                raise NotConnected(str(exc)) from None
        try:
            return future.result(self.timeout)
        except FutureTimeout:
            raise ESLError(f"no reply to {command.split()[0]!r} in {self.timeout} s") from None

    def api(self, command: str) -> str:
        """Run an API command and return its output; ``-ERR`` answers raise ESLError."""
        text = self.send(f"api {command}").text
        if text.startswith("-ERR") or text.startswith("-USAGE"):
            raise ESLError(f"{command.split()[0]}: {text.strip()}")
        return text

    def bgapi(self, command: str) -> Future[str]:
        """Start an API command in the background; the future gets its output."""
        job = str(uuid.uuid4())
        future: Future[str] = Future()
        self._jobs[job] = future  # before sending: the job may finish before the reply
        try:
            reply = self.send(f"bgapi {command}", {"Job-UUID": job})
        except Exception:
            self._jobs.pop(job, None)
            raise
        if not reply.reply_text.startswith("+OK"):
            self._jobs.pop(job, None)
            raise ESLError(f"bgapi {command.split()[0]}: {reply.reply_text}")
        return future

    # --------------------------------------------------------------- internals

    def _run(self) -> None:
        delays = iter(self._backoff.delays())
        while not self._stopping.is_set():
            try:
                self._connect_and_read()
                delays = iter(self._backoff.delays())  # it worked for a while: start over
            except (OSError, FrameError, ESLError) as exc:
                log.warning("ESL %s:%s: %s", self.host, self.port, exc)
            self._lost()
            if self._stopping.wait(next(delays)):
                break

    def _connect_and_read(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.settimeout(None)
        link = FrameSocket(sock)
        with self._lock:
            self._sock = sock
        link.authenticate(self._password)
        sock.sendall(f"event {self._format} {' '.join(self._subscriptions())}\n\n".encode())
        if not link.next().reply_text.startswith("+OK"):
            raise ESLError("event subscription refused")
        self.connections += 1
        log.info("ESL connected to %s:%s", self.host, self.port)
        self._connected.set()
        for callback in self._on_connect:
            self._queue.put(callback)
        while True:
            self._handle(link.next())

    def _subscriptions(self) -> list[str]:
        plain = [e for e in self._events if not e.startswith("CUSTOM")]
        custom = [e.split(" ", 1)[1] for e in self._events if e.startswith("CUSTOM ")]
        return plain + (["CUSTOM", *custom] if custom else [])

    def _handle(self, frame: Frame) -> None:
        kind = frame.content_type
        if kind in ("command/reply", "api/response"):
            with self._lock:
                future = self._pending.popleft() if self._pending else None
            if future is None:
                log.warning("ESL reply with no command waiting: %r", frame.text[:80])
            else:
                future.set_result(frame)
        elif kind.startswith("text/event-"):
            event = decode_event(frame)
            if event.name == "BACKGROUND_JOB":
                job = self._jobs.pop(event.get("Job-UUID"), None)
                if job is not None:
                    job.set_result(event.body)
            self._queue.put(event)
        elif kind == "text/disconnect-notice":
            raise ESLError("FreeSWITCH is closing the Event Socket")
        else:
            log.debug("ESL frame ignored: %s", kind)

    def _lost(self) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        self._close_socket()
        with self._lock:
            pending, self._pending = list(self._pending), deque()
        error = NotConnected("connection to FreeSWITCH lost")
        for future in pending:
            future.set_exception(error)
        jobs, self._jobs = self._jobs, {}
        for job in jobs.values():
            job.set_exception(error)
        if was:
            log.warning("ESL connection to %s:%s lost", self.host, self.port)

    def _close_socket(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _dispatch(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if callable(item) and not isinstance(item, Event):
                self._safely(item)
                continue
            event = item
            keys = (handler_key(event.name, event.subclass), event.name, ANY)
            seen: set[int] = set()
            for key in keys:
                for handler in self._handlers.get(key, ()):
                    if id(handler) not in seen:
                        seen.add(id(handler))
                        self._safely(handler, event)

    @staticmethod
    def _safely(function: Callable[..., None], *args: object) -> None:
        try:
            function(*args)
        except Exception:  # one failing handler never stops the loop
            log.exception("ESL handler %r failed", getattr(function, "__name__", function))
