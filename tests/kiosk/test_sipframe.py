"""SIP framing on a stream, fed recorded bytes in every split."""

from __future__ import annotations

import pytest

from pvp.kiosk.sipframe import FramingError, Ping, Pong, SipStreamDecoder

MESSAGE = (
    b"MESSAGE sip:kiosk@pvp.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK1\r\n"
    b'l: 7\r\nContent-Type: application/json\r\n\r\n{"a":1}'
)
STREAM = b"\r\n\r\n" + MESSAGE + b"\r\n" + MESSAGE.replace(b"l: 7", b"Content-Length:  7")


def test_every_split_gives_the_same_frames() -> None:
    expected = [Ping(), MESSAGE, Pong(), MESSAGE.replace(b"l: 7", b"Content-Length:  7")]
    for cut in range(len(STREAM) + 1):
        decoder = SipStreamDecoder()
        frames = decoder.feed(STREAM[:cut]) + decoder.feed(STREAM[cut:])
        assert frames == expected, cut


def test_byte_by_byte() -> None:
    decoder = SipStreamDecoder()
    frames = [frame for byte in STREAM for frame in decoder.feed(bytes([byte]))]
    assert len(frames) == 4


@pytest.mark.parametrize(
    "data",
    [
        b"MESSAGE sip:k@p SIP/2.0\r\nVia: x\r\n\r\n",  # no Content-Length on a stream
        b"MESSAGE sip:k@p SIP/2.0\r\nContent-Length: 99999999\r\n\r\n",
        b"MESSAGE sip:k@p SIP/2.0\r\nX: " + b"a" * 70000,
    ],
)
def test_hostile_streams_break(data: bytes) -> None:
    with pytest.raises(FramingError):
        SipStreamDecoder().feed(data)
