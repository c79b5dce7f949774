"""The Event Socket wire format: a pure, incremental frame parser and event decoding.

A frame is a block of ``Name: value`` header lines ended by an empty line, followed by
``Content-Length`` bytes of body when that header is present. Reads from a socket split
frames anywhere, so :class:`FrameParser` keeps what it has not yet understood and hands out
whole frames only. No I/O here: the tests feed it byte streams cut at every offset.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from pvp.common.errors import PvpError

MAX_HEADER_BYTES = 64 * 1024  # a header block this long is a broken stream, not a frame


class FrameError(
    PvpError, ValueError, code="bad_switch_frame", summary="trame du commutateur illisible"
):
    """The stream is not the Event Socket protocol (or is corrupted)."""


@dataclass(frozen=True, slots=True)
class Frame:
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def reply_text(self) -> str:
        return self.headers.get("Reply-Text", "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def parse_headers(block: str, decode: bool = False) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split("\n"):
        line = line.rstrip("\r")
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise FrameError(f"header line without colon: {line[:80]!r}")
        value = value.strip()
        headers[name.strip()] = unquote(value) if decode else value
    return headers


class FrameParser:
    """Feed it bytes as they come; it returns the frames completed so far."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._headers: dict[str, str] | None = None  # parsed, waiting for their body
        self._length = 0

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while True:
            if self._headers is None:
                end = self._header_end()
                if end < 0:
                    if len(self._buffer) > MAX_HEADER_BYTES:
                        raise FrameError("header block too long")
                    return frames
                block = self._buffer[:end].decode("utf-8", errors="replace")
                del self._buffer[: end + self._separator_length(end)]
                if not block.strip("\r\n"):
                    continue  # stray blank lines between frames
                self._headers = parse_headers(block)
                try:
                    self._length = int(self._headers.get("Content-Length", "0"))
                except ValueError:
                    raise FrameError("bad Content-Length") from None
            if len(self._buffer) < self._length:
                return frames
            body = bytes(self._buffer[: self._length])
            del self._buffer[: self._length]
            frames.append(Frame(self._headers, body))
            self._headers, self._length = None, 0

    def _header_end(self) -> int:
        lf = self._buffer.find(b"\n\n")
        crlf = self._buffer.find(b"\r\n\r\n")
        candidates = [i for i in (lf, crlf) if i >= 0]
        return min(candidates) if candidates else -1

    def _separator_length(self, end: int) -> int:
        return 4 if self._buffer[end : end + 4] == b"\r\n\r\n" else 2


@dataclass(frozen=True, slots=True)
class Event:
    """A FreeSWITCH event, whichever format (plain or json) it came in."""

    headers: Mapping[str, str]
    body: str = ""
    raw: Mapping[str, object] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.headers.get("Event-Name", "")

    @property
    def subclass(self) -> str:
        return self.headers.get("Event-Subclass", "")

    @property
    def uuid(self) -> str:
        return self.headers.get("Unique-ID", "")

    def get(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    def variable(self, name: str, default: str = "") -> str:
        return self.headers.get(f"variable_{name}", default)


def decode_event(frame: Frame) -> Event:
    """The event carried by a ``text/event-plain`` or ``text/event-json`` frame."""
    if frame.content_type == "text/event-json":
        try:
            data = json.loads(frame.body)
        except json.JSONDecodeError as exc:
            raise FrameError(f"bad event json: {exc}") from None
        body = str(data.pop("_body", ""))
        headers = {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
        return Event(headers, body, data)
    if frame.content_type == "text/event-plain":
        text = frame.text
        block, _, rest = text.partition("\n\n")
        headers = parse_headers(block, decode=True)
        length = int(headers.get("Content-Length", "0") or 0)
        body = rest.encode()[:length].decode("utf-8", errors="replace") if length else ""
        return Event(headers, body)
    raise FrameError(f"not an event frame: {frame.content_type!r}")
