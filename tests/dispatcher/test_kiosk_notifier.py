"""What a waiting kiosk is sent: one-line JSON in a ``chat`` command FreeSWITCH can parse."""

from __future__ import annotations

import json
import time

from pvp.dispatcher.notifier import SipMessageNotifier
from pvp.freeswitch.esl import Backoff, ESLClient
from pvp.model import CallOutcome
from pvp.wire.messages import Sealer, kiosk_key, one_line, unseal
from testkit.fake_esl import FakeSwitch


def test_a_chat_body_has_no_field_separator_nor_newline() -> None:
    body = one_line({"message": "a | b\nc", "accent": "réessayer"})
    assert "|" not in body and "\n" not in body
    assert json.loads(body) == {"message": "a | b\nc", "accent": "réessayer"}


def test_the_kiosk_gets_its_position_and_then_why_its_wait_ended() -> None:
    switch = FakeSwitch()
    esl = ESLClient("127.0.0.1", switch.port, "ClueCon", backoff=Backoff(0.05, 0.1))
    esl.start()
    try:
        assert esl.wait_connected(5)
        notifier = SipMessageNotifier(esl, "pvp.auvergne.local", Sealer("master"))
        notifier.position("kiosk-vorey-1", "k1", 2, 420)
        notifier.wait_ended("kiosk-vorey-1", "k1", CallOutcome.TIMED_OUT, "max_wait")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(switch.commands) < 4:
            time.sleep(0.01)
        chats = [c for c in switch.commands if c.startswith("bgapi chat ")]
        fields = [c[len("bgapi chat ") :].split("|") for c in chats]
        assert [f[:3] for f in fields] == [
            ["sip", "pvp@pvp.auvergne.local", "kiosk-vorey-1@pvp.auvergne.local"]
        ] * 2
        assert all(f[4] == "application/json" and len(f) == 5 for f in fields)
        # Sealed for that kiosk: it checks the seal before it believes any of it.
        key = kiosk_key("master", "kiosk-vorey-1")
        first = unseal(fields[0][3], key, time.time())
        assert {k: v for k, v in first.items() if k not in ("ts", "mac")} == {
            "type": "queue",
            "call": "k1",
            "position": 2,
            "wait": 420,
        }
        ended = unseal(fields[1][3], key, time.time())
        assert (ended["type"], ended["outcome"], ended["reason"]) == (
            "queue_end",
            "timed_out",
            "max_wait",
        )
        assert ended["message"].startswith("Aucun conseiller")
    finally:
        esl.stop()
        switch.close()
