"""The netstring framing of baresip's ctrl_tcp, on byte streams as a socket delivers them."""

import json

import pytest

from pvp.kiosk.netstring import NetstringDecoder, NetstringError, encode

# Two frames as baresip 1.0.0 sent them in one read (an answer and an event).
RECORDED = (
    b'50:{"response":true,"ok":true,"data":"","token":"d1"},'
    b'195:{"event":true,"type":"CALL_RINGING","class":"call","accountaor":"sip:a@127.0.0.1",'
    b'"direction":"outgoing","peeruri":"sip:b@127.0.0.1:15062","id":"1892c94d2ab717b3",'
    b'"param":"sip:b@127.0.0.1:15062"},'
)


def test_encode_frames_payload() -> None:
    assert encode(b"hello") == b"5:hello,"
    assert encode(b"") == b"0:,"
    assert encode("é".encode()) == b"2:\xc3\xa9,"


def test_several_frames_in_one_read() -> None:
    frames = NetstringDecoder().feed(RECORDED)
    assert [json.loads(f)["token" if i == 0 else "type"] for i, f in enumerate(frames)] == [
        "d1",
        "CALL_RINGING",
    ]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 50, 51, 52, 64])
def test_frames_split_across_reads(chunk: int) -> None:
    decoder = NetstringDecoder()
    out: list[bytes] = []
    for i in range(0, len(RECORDED), chunk):
        out += decoder.feed(RECORDED[i : i + chunk])
    assert out == NetstringDecoder().feed(RECORDED)
    assert decoder.buffered == 0


def test_partial_frame_is_kept_until_complete() -> None:
    decoder = NetstringDecoder()
    assert decoder.feed(b"1") == []
    assert decoder.feed(b"0:01234") == []
    assert decoder.buffered == 8
    assert decoder.feed(b"56789") == []  # the comma is still missing
    assert decoder.feed(b",0:,") == [b"0123456789", b""]


def test_round_trip_of_binary_payloads() -> None:
    payloads = [bytes(range(256)), b"", b":,", b"9:abc,"]
    assert NetstringDecoder().feed(b"".join(encode(p) for p in payloads)) == payloads


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (b"x:abc,", "must start with a length"),
        (b"01:a,", "leading zero"),
        (b"3:abcd,", "not followed by ','"),
        (b"12a:", "expected ':'"),
        (b"1234567890", "more than 9 digits"),
        (b":abc,", "no length"),
        (b"2000000:", "exceeds the limit"),
    ],
)
def test_bad_streams_get_a_clear_error(stream: bytes, message: str) -> None:
    with pytest.raises(NetstringError, match=message):
        NetstringDecoder().feed(stream)


def test_error_found_in_a_later_read_after_good_frames() -> None:
    decoder = NetstringDecoder()
    assert decoder.feed(b"2:ok,3:ab") == [b"ok"]
    with pytest.raises(NetstringError):
        decoder.feed(b"cX")


def test_decoder_stays_failed_after_an_error() -> None:
    decoder = NetstringDecoder()
    with pytest.raises(NetstringError):
        decoder.feed(b"x")
    with pytest.raises(NetstringError):
        decoder.feed(b"2:ok,")


def test_limit_is_configurable() -> None:
    assert NetstringDecoder(max_length=3).feed(b"3:abc,") == [b"abc"]
    with pytest.raises(NetstringError, match="limit of 3"):
        NetstringDecoder(max_length=3).feed(b"4:")
    with pytest.raises(ValueError):
        NetstringDecoder(max_length=10**9)
