"""The Event Socket frame parser on byte streams cut anywhere, and event decoding."""

from __future__ import annotations

import json

import pytest

from pvp.freeswitch.eslframe import FrameError, FrameParser, decode_event

PLAIN_BODY = (
    "Event-Name: BACKGROUND_JOB\n"
    "Core-UUID: 5d3c\n"
    "Job-UUID: 7f4db78a-17d7-11dd-b7a0-db4edd065621\n"
    "Job-Command: originate\n"
    "Job-Command-Arg: user%2Fmsa-43-c1%20%26park()\n"
    "Content-Length: 41\n"
    "\n"
    "+OK 7f4db78a-17d7-11dd-b7a0-db4edd065621\n"
)
JSON_BODY = json.dumps(
    {
        "Event-Name": "CHANNEL_PARK",
        "Unique-ID": "a1b2",
        "variable_pvp_queue": "msa-43",
        "variable_pvp_site": "Vorey | Emblavez",  # a pipe and spaces travel in JSON
    }
)
STREAM = (
    b"Content-Type: auth/request\n\n"
    b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
    b"Content-Type: api/response\nContent-Length: 20\n\nUP 0 years, 0 days\n\n"
    + f"Content-Length: {len(PLAIN_BODY.encode())}\nContent-Type: text/event-plain\n\n".encode()
    + PLAIN_BODY.encode()
    + f"Content-Length: {len(JSON_BODY.encode())}\nContent-Type: text/event-json\n\n".encode()
    + JSON_BODY.encode()
    + b"Content-Type: text/disconnect-notice\nContent-Length: 9\n\nbye bye.\n"
)


def kinds(frames) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.content_type for f in frames]


EXPECTED = [
    "auth/request",
    "command/reply",
    "api/response",
    "text/event-plain",
    "text/event-json",
    "text/disconnect-notice",
]


def test_a_whole_stream_gives_every_frame_with_its_body() -> None:
    frames = FrameParser().feed(STREAM)
    assert kinds(frames) == EXPECTED
    assert frames[1].reply_text == "+OK accepted"
    assert frames[2].text == "UP 0 years, 0 days\n\n"


def test_a_stream_cut_at_any_offset_gives_the_same_frames() -> None:
    whole = FrameParser().feed(STREAM)
    for cut in range(1, len(STREAM)):
        parser = FrameParser()
        assert parser.feed(STREAM[:cut]) + parser.feed(STREAM[cut:]) == whole, cut


def test_a_stream_fed_byte_by_byte_gives_the_same_frames() -> None:
    parser = FrameParser()
    frames = [f for i in range(len(STREAM)) for f in parser.feed(STREAM[i : i + 1])]
    assert kinds(frames) == EXPECTED


def test_a_body_split_mid_utf8_character_is_kept_whole() -> None:
    body = "Conseillère".encode()
    data = f"Content-Type: api/response\nContent-Length: {len(body)}\n\n".encode() + body
    parser = FrameParser()
    frames = parser.feed(data[:-1]) + parser.feed(data[-1:])
    assert frames[0].text == "Conseillère"


def test_a_header_line_without_colon_is_a_protocol_error() -> None:
    with pytest.raises(FrameError):
        FrameParser().feed(b"garbage\n\n")


def test_a_bad_content_length_is_a_protocol_error() -> None:
    with pytest.raises(FrameError):
        FrameParser().feed(b"Content-Type: api/response\nContent-Length: ten\n\n")


def test_an_endless_header_block_is_a_protocol_error() -> None:
    with pytest.raises(FrameError):
        FrameParser().feed(b"X: " + b"y" * 70_000)


def test_a_plain_event_has_decoded_headers_and_its_body() -> None:
    event = decode_event(FrameParser().feed(STREAM)[3])
    assert event.name == "BACKGROUND_JOB"
    assert event.get("Job-Command-Arg") == "user/msa-43-c1 &park()"
    assert event.body == "+OK 7f4db78a-17d7-11dd-b7a0-db4edd065621\n"


def test_a_json_event_gives_headers_and_channel_variables() -> None:
    event = decode_event(FrameParser().feed(STREAM)[4])
    assert (event.name, event.uuid) == ("CHANNEL_PARK", "a1b2")
    assert event.variable("pvp_queue") == "msa-43"
    assert event.variable("pvp_site") == "Vorey | Emblavez"


def test_a_custom_json_event_has_its_subclass_and_body() -> None:
    body = json.dumps({"Event-Name": "CUSTOM", "Event-Subclass": "sofia::register", "_body": "x"})
    frame = FrameParser().feed(
        f"Content-Type: text/event-json\nContent-Length: {len(body)}\n\n{body}".encode()
    )[0]
    event = decode_event(frame)
    assert (event.name, event.subclass, event.body) == ("CUSTOM", "sofia::register", "x")


def test_a_reply_is_not_an_event() -> None:
    with pytest.raises(FrameError):
        decode_event(FrameParser().feed(STREAM)[1])
