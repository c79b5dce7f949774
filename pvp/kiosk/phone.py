"""The kiosk page's video phone, seen from the agent: commands down, call events up.

The kiosk screen page (Chromium on 127.0.0.1) places the calls over WSS with WebRTC
(``web/src/kiosk.js``); the agent's state machine still decides when. Commands reach the page
as server-sent events, its reports come back as POSTs. Both carry a token made afresh at each
start of the agent and written into the page it serves: another page open in the browser
cannot read it (same-origin policy) and so can neither dial, nor hang up, nor steal commands.
"""

from __future__ import annotations

import hmac
import json
import logging
import queue
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, request

log = logging.getLogger("pvp.kiosk.phone")
KEEPALIVE_SECONDS = 15.0
TOKEN_HEADER = "X-PVP-Token"
MAX_REPORT_BYTES = 4096


@dataclass(frozen=True)
class AudioDevices:
    """Microphone and speaker by (part of) their label; "" is the system's default device."""

    input: str = ""
    output: str = ""

    @classmethod
    def from_bundle(cls, value: Any, default: AudioDevices) -> AudioDevices:
        if not value:
            return default
        if not isinstance(value, dict) or not all(
            isinstance(value.get(k, ""), str) for k in ("input", "output")
        ):
            raise ValueError(f"audio devices must be {{input, output}} labels, not {value!r}")
        return cls(value.get("input", ""), value.get("output", ""))

    def as_json(self) -> dict[str, str]:
        return {"input": self.input, "output": self.output}


@dataclass(frozen=True)
class PhoneReport:
    """One event from the page: ``type`` is transport, ringing, established, ended, failed,
    audio, keyframe, first_frame or error."""

    type: str
    call: str | None = None
    reason: str = ""
    sip: bool = False  # a SIP answer (or BYE) ended the call, not a local failure
    up: bool | None = None  # transport: the WebSocket to the switch is open
    fields: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def parse(cls, value: Any) -> PhoneReport:
        if not isinstance(value, dict) or not isinstance(value.get("type"), str):
            raise ValueError("a report is an object with a type")
        call, reason = value.get("call"), value.get("reason", "")
        return cls(
            type=value["type"],
            call=call if isinstance(call, str) else None,
            reason=reason[:500] if isinstance(reason, str) else "",
            sip=value.get("sip") is True,
            up=value["up"] if isinstance(value.get("up"), bool) else None,
            fields=tuple(sorted(value.items())),
        )


class PagePhone:
    """The channel to the one page that carries calls; thread-safe."""

    def __init__(self, on_report: Callable[[PhoneReport], None]) -> None:
        self.token = secrets.token_urlsafe(32)
        self._on_report = on_report
        self._lock = threading.Lock()
        self._listener: queue.Queue[dict[str, Any] | None] | None = None

    @property
    def page_connected(self) -> bool:
        with self._lock:
            return self._listener is not None

    def send(self, op: str, **args: Any) -> bool:
        """Give the page a command; False when no page is listening (nothing is queued)."""
        with self._lock:
            listener = self._listener
        if listener is None:
            log.warning("phone command %s: no kiosk page is listening", op)
            return False
        listener.put({"op": op, **args})
        return True

    def close(self) -> None:
        """End the page's command stream (the agent stops)."""
        with self._lock:
            if self._listener is not None:
                self._listener.put(None)

    def allowed(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token, self.token)

    def commands(self) -> Iterator[str]:
        """The server-sent events of the page that connected last (it replaces any other)."""
        mine: queue.Queue[dict[str, Any] | None] = queue.Queue()
        with self._lock:
            if self._listener is not None:
                self._listener.put(None)  # a reloaded page takes over; the old stream ends
            self._listener = mine
        log.info("kiosk page listening for phone commands")
        try:
            yield ": ready\n\n"
            while True:
                try:
                    command = mine.get(timeout=KEEPALIVE_SECONDS)
                except queue.Empty:
                    yield ": keepalive\n\n"
                    continue
                if command is None:
                    return
                yield f"event: command\ndata: {json.dumps(command)}\n\n"
        finally:
            with self._lock:
                if self._listener is mine:
                    self._listener = None

    def report(self, report: PhoneReport) -> None:
        self._on_report(report)


def phone_blueprint(phone: PagePhone) -> Blueprint:
    bp = Blueprint("phone", __name__)

    @bp.get("/phone/commands")
    def commands() -> Response:
        # EventSource cannot send headers: the token comes in the query string.
        if not phone.allowed(request.args.get("token")):
            abort(403)
        return Response(
            phone.commands(),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @bp.post("/phone/report")
    def report() -> Any:
        if not phone.allowed(request.headers.get(TOKEN_HEADER)):
            abort(403)
        if (request.content_length or 0) > MAX_REPORT_BYTES:
            abort(413)
        try:
            parsed = PhoneReport.parse(request.get_json(force=True, silent=True))
        except ValueError as exc:
            return {"error": str(exc)}, 400
        phone.report(parsed)
        return {"ok": True}

    return bp
