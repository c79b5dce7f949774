"""The command/answer codec: round trips, one-line bodies, and every malformed body refused."""

from __future__ import annotations

import json

import pytest

from pvp.wire.messages import (
    SEAL_WINDOW,
    Answer,
    Command,
    MessageError,
    Sealer,
    SealError,
    Status,
    decode_answer,
    decode_command,
    encode_answer,
    encode_command,
    kiosk_key,
    unseal,
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


# -- seals (issue 10: any SIP account could command any kiosk by writing From: pvp) ---------


def _sealed(now: float = 1_800_000_000.0, kiosk: str = "kiosk-vorey-1") -> str:
    body = encode_command(Command("c-1", "print", {"title": "Fax reçu | x"}, None, "pvp"))
    return Sealer("master", clock=lambda: now)(kiosk, body)


def test_a_sealed_command_opens_with_its_kiosk_key_within_the_window() -> None:
    key = kiosk_key("master", "kiosk-vorey-1")
    value = unseal(_sealed(), key, 1_800_000_000.0 + SEAL_WINDOW)
    assert decode_command(_sealed()) == Command(
        "c-1", "print", {"title": "Fax reçu | x"}, None, "pvp"
    )
    assert value["ts"] == 1_800_000_000
    assert "|" not in _sealed() and "\n" not in _sealed()  # still fit for FreeSWITCH's chat


@pytest.mark.parametrize(
    ("body", "key", "now", "reason"),
    [
        ('{"v":1,"type":"command","id":"c-1","name":"print"}', "k", 0, "non signé"),
        (_sealed(), "other", 1_800_000_000.0, "signature"),
        (_sealed(kiosk="kiosk-langeac-1"), "vorey", 1_800_000_000.0, "signature"),
        (_sealed().replace("Fax re", "Faux re"), "vorey", 1_800_000_000.0, "signature"),
        (_sealed(), "vorey", 1_800_000_000.0 + SEAL_WINDOW + 1, "périmé"),
        (_sealed(), "vorey", 1_800_000_000.0 - SEAL_WINDOW - 1, "périmé"),
        (_sealed(), None, 1_800_000_000.0, "sans clé"),
    ],
)
def test_a_body_not_sealed_for_this_kiosk_now_is_refused(
    body: str, key: str | None, now: float, reason: str
) -> None:
    keys = {"vorey": kiosk_key("master", "kiosk-vorey-1"), "other": kiosk_key("m2", "x")}
    with pytest.raises(SealError, match=reason):
        unseal(body, keys.get(key, key) if key else None, now)


def test_one_kiosk_key_says_nothing_of_another_nor_of_the_master() -> None:
    a, b = kiosk_key("master", "kiosk-a"), kiosk_key("master", "kiosk-b")
    assert a != b and len(a) == 64 and "master" not in a
    assert kiosk_key("other", "kiosk-a") != a
