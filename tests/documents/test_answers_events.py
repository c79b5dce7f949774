"""Kiosk answers read from FreeSWITCH's MESSAGE events: only well-formed answers to pvp."""

from __future__ import annotations

import pytest

from pvp.documents.answers import answer_from_event
from pvp.wire.messages import ANSWER_TYPE, Answer, Status, encode_answer

DOMAIN = "pvp.auvergne.local"
BODY = encode_answer(Answer("p-1", Status.DONE, details={"job": 3}))
EVENT = {
    "Event-Name": "MESSAGE",
    "from_user": "kiosk-vorey-1",
    "from_host": DOMAIN,
    "to_user": "pvp",
    "type": ANSWER_TYPE,
    "_body": BODY,
}


def test_an_answer_message_is_read_with_its_sender() -> None:
    assert answer_from_event(EVENT, DOMAIN) == (
        "kiosk-vorey-1",
        Answer("p-1", Status.DONE, details={"job": 3}),
    )


@pytest.mark.parametrize(
    "change",
    [
        {"Event-Name": "CUSTOM"},
        {"type": "text/plain"},
        {"to_user": "msa-43-c1"},
        {"from_host": "elsewhere.example"},
        {"_body": '{"v":1,"type":"answer","id":"p-1","status":"failed","reason":null}'},
        {"_body": "not json"},
    ],
)
def test_anything_else_is_ignored(change: dict[str, str]) -> None:
    assert answer_from_event({**EVENT, **change}, DOMAIN) is None
