"""SIP message framing on a stream transport (RFC 3261 §18.3) with RFC 5626 keep-alives.

Pure and incremental: feed it bytes as they arrive, get back whole messages (headers and
body, to be parsed by aiosipua) and keep-alive pings/pongs. A peer that sends oversized
headers or a body over the cap, or no Content-Length, breaks the stream: the caller drops
the connection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pvp.common.errors import PvpError

MAX_HEADER_BYTES = 64 * 1024
# A command carries a document of up to 2 MiB of JSON (pvp.wire.messages.MAX_BODY).
MAX_BODY_BYTES = 2 * 1024 * 1024 + 4096
_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*\r?$", re.I | re.M)


class FramingError(PvpError, ValueError, code="bad_sip_frame", summary="message SIP illisible"):
    """The stream cannot be read as SIP any more."""


@dataclass(frozen=True)
class Ping:
    """A keep-alive double CRLF; the receiver answers with a single CRLF (pong)."""


@dataclass(frozen=True)
class Pong:
    pass


Frame = bytes | Ping | Pong


class SipStreamDecoder:
    def __init__(self, max_header: int = MAX_HEADER_BYTES, max_body: int = MAX_BODY_BYTES) -> None:
        self._buffer = bytearray()
        self._max_header = max_header
        self._max_body = max_body

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while self._buffer:
            frame = self._next()
            if frame is None:
                break
            frames.append(frame)
        return frames

    def _next(self) -> Frame | None:
        buf = self._buffer
        if buf.startswith(b"\r\n"):
            if buf.startswith(b"\r\n\r\n"):
                del buf[:4]
                return Ping()
            if len(buf) < 4 and b"\r\n\r\n".startswith(bytes(buf)):
                return None  # maybe the start of a ping: wait for more
            del buf[:2]
            return Pong()
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > self._max_header:
                raise FramingError("SIP headers too long")
            return None
        head = bytes(buf[: end + 4])
        if len(head) > self._max_header:
            raise FramingError("SIP headers too long")
        match = _LENGTH.search(head)
        if match is None:
            raise FramingError("SIP message without Content-Length on a stream")
        length = int(match.group(1))
        if length > self._max_body:
            raise FramingError(f"SIP body of {length} bytes is over the cap")
        total = end + 4 + length
        if len(buf) < total:
            return None
        message = bytes(buf[:total])
        del buf[:total]
        return message
