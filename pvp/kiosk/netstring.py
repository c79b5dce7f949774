"""Netstrings (``<length>:<bytes>,``), the framing of baresip's ctrl_tcp module.

Pure and incremental: :class:`NetstringDecoder` takes whatever a socket read returned —
half a frame, several frames, a frame split inside its length — and yields whole payloads.
A stream that breaks the format cannot be resynchronised, so the decoder stays failed and
the caller drops the connection.
"""

from __future__ import annotations

# baresip's own reader refuses lengths of more than nine digits.
MAX_LENGTH_DIGITS = 9
DEFAULT_MAX_LENGTH = 1 << 20


class NetstringError(ValueError):
    """The byte stream is not a sequence of netstrings."""


def encode(payload: bytes) -> bytes:
    """Frame one payload."""
    return b"%d:%b," % (len(payload), payload)


class NetstringDecoder:
    """Cuts a byte stream into netstring payloads."""

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        if max_length < 0 or len(str(max_length)) > MAX_LENGTH_DIGITS:
            raise ValueError(f"max_length must be within 0..{10**MAX_LENGTH_DIGITS - 1}")
        self._max_length = max_length
        self._buffer = bytearray()
        self._error: NetstringError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a payload."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the payloads they complete, in order."""
        if self._error is not None:
            raise self._error
        self._buffer += data
        payloads: list[bytes] = []
        try:
            while (payload := self._next()) is not None:
                payloads.append(payload)
        except NetstringError as exc:
            self._error = exc
            raise
        return payloads

    def _next(self) -> bytes | None:
        buf = self._buffer
        colon = buf.find(b":", 0, MAX_LENGTH_DIGITS + 1)
        head = bytes(buf[: colon if colon >= 0 else MAX_LENGTH_DIGITS + 1])
        if head and not head.isdigit():
            bad = next(i for i, c in enumerate(head) if not 0x30 <= c <= 0x39)
            if bad == 0:
                raise NetstringError(f"netstring must start with a length, got {head[:1]!r}")
            raise NetstringError(
                f"expected ':' after length {head[:bad]!r}, got {head[bad : bad + 1]!r}"
            )
        if len(head) > 1 and head[0:1] == b"0":
            raise NetstringError(f"netstring length has a leading zero: {head!r}")
        if colon < 0:
            if len(head) > MAX_LENGTH_DIGITS:
                raise NetstringError(f"netstring length has more than {MAX_LENGTH_DIGITS} digits")
            return None  # the length is still arriving
        if colon == 0:
            raise NetstringError("netstring has no length before ':'")
        length = int(head)
        if length > self._max_length:
            raise NetstringError(
                f"netstring of {length} bytes exceeds the limit of {self._max_length}"
            )
        end = colon + 1 + length
        if len(buf) <= end:
            return None  # payload or its comma still arriving
        if buf[end] != 0x2C:
            raise NetstringError(
                f"netstring of {length} bytes not followed by ',' but {bytes(buf[end : end + 1])!r}"
            )
        payload = bytes(buf[colon + 1 : end])
        del buf[: end + 1]
        return payload
