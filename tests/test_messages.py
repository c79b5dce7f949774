"""The command/answer codec: round trips, one-line bodies, and every malformed body refused."""

from __future__ import annotations

import json

import pytest

from pvp.messages import (
    Answer,
    Command,
    MessageError,
    Status,
    decode_answer,
    decode_command,
    encode_answer,
    encode_command,
)


def test_command_round_trip_is_one_line_without_pipes() -> None:
    command = Command("c-1", "text", {"text": "a|b\nc"}, call="uuid-1", sender="caf-63-c1")
    body = encode_command(command)
    assert "\n" not in body and "|" not in body
    assert decode_command(body) == command


def test_answer_round_trip() -> None:
    answer = Answer("c-1", Status.DONE, None, {"job": 4, "pages": 3})
    assert decode_answer(encode_answer(answer)) == answer


@pytest.mark.parametrize(
    ("body", "reason", "ident"),
    [
        ("not json", "JSON invalide", None),
        ("[1, 2]", "objet JSON", None),
        ('{"v": 2, "type": "command", "id": "c-1", "name": "text"}', "version", "c-1"),
        ('{"v": 1, "type": "answer", "id": "c-1", "name": "text"}', "type de message", "c-1"),
        ('{"v": 1, "type": "command", "name": "text"}', "identifiant", None),
        ('{"v": 1, "type": "command", "id": "a b", "name": "text"}', "identifiant", None),
        ('{"v": 1, "type": "command", "id": "c-1", "name": "format"}', "commande inconnue", "c-1"),
        (
            '{"v": 1, "type": "command", "id": "c-1", "name": "text", "args": [1]}',
            "arguments",
            "c-1",
        ),
        ('{"v": 1, "type": "command", "id": "c-1", "name": "text", "call": 5}', "call", "c-1"),
    ],
)
def test_malformed_commands_are_refused_with_the_id_when_readable(
    body: str, reason: str, ident: str | None
) -> None:
    with pytest.raises(MessageError) as err:
        decode_command(body)
    assert reason in err.value.reason
    assert err.value.command_id == ident


def test_failed_answer_needs_a_reason_and_sizes_are_bounded() -> None:
    body = json.dumps({"v": 1, "type": "answer", "id": "c-1", "status": "failed"})
    with pytest.raises(MessageError, match="raison"):
        decode_answer(body)
    with pytest.raises(MessageError, match="trop long"):
        decode_command("x" * (3 * 1024 * 1024))
    with pytest.raises(MessageError):
        encode_command(Command("bad id", "text"))
