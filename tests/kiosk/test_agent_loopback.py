"""The whole kiosk agent on loopback, with no FreeSWITCH: the decisions and the wire.

- The kiosk page's phone is played by testkit/page_stand_in.py, which speaks the page's
  protocol (commands as server-sent events, reports as POSTs, the per-start token read from
  the page); the real page calls through FreeSWITCH in tests/live/test_kiosk_page.py.
- The agent's messaging endpoint registers over verified TLS at the switch stand-in of
  testkit/sip_switch.py, which sends commands and queue positions down that connection
  as ``chat`` would and keeps what the kiosk sends to ``sip:pvp@<domain>``.
- Buttons and hook: no /dev/input and no uinput here, so the tests inject python-evdev
  ``InputEvent`` objects into ``ButtonReader.feed``, the path every device event takes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from evdev import InputEvent, ecodes

from pvp.kiosk import state
from pvp.kiosk.agent import AgentConfig, KioskAgent
from pvp.kiosk.events import NoticeExpired
from pvp.kiosk.heartbeat import Probes
from pvp.kiosk.messaging import MessagingConfig
from pvp.kiosk.phone import AudioDevices
from pvp.kiosk.screen import View
from pvp.wire.bundle import Bundle
from pvp.wire.messages import (
    ANSWER_TYPE,
    COMMAND_TYPE,
    SEAL_WINDOW,
    STATUS_TYPE,
    decode_answer,
    decode_status,
    kiosk_key,
    seal,
)
from testkit.certs import SWITCH_NAME, Pki
from testkit.loop import run
from testkit.page_stand_in import PageStandIn
from testkit.sip_switch import SwitchStandIn, running_switch

KIOSK, DOMAIN, SECRET = "kiosk-vorey-1", "pvp.auvergne.test", "kiosk-secret-1"
KEY = kiosk_key("control-plane-master", KIOSK)  # what `pvp provision bundle` puts in
BUNDLE = Bundle.model_validate(
    {
        "kiosk": KIOSK,
        "site": "vorey",
        "commune": "Vorey",
        "sip": {"domain": DOMAIN, "user": KIOSK, "password": SECRET, "registrar_host": "127.0.0.1"},
        "control_plane": {"url": "http://127.0.0.1:9"},  # unreachable: the cache answers
        "buttons": [
            {"service": "msa", "key": "KEY_F1", "label": "MSA"},
            {"service": "anpe", "key": "KEY_F2", "label": "ANPE"},
        ],
        "hangup_key": "KEY_ESC",
        "hook_key": "KEY_PHONE",
        "site_agent_phone": "04 71 00 00 00",
    }
)
SPEAKER = AudioDevices("room", "speaker")
HANDSET = AudioDevices("handset", "handset")


def key(name: str, value: int = 1) -> InputEvent:
    return InputEvent(0, 0, ecodes.EV_KEY, ecodes.ecodes[name], value)


@dataclass
class Rig:
    agent: KioskAgent
    page: PageStandIn
    switch: SwitchStandIn

    def press(self, name: str, value: int = 1) -> None:
        assert self.agent.buttons is not None
        self.agent.buttons.feed(key(name, value))

    def state(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.agent.port}/state"
        return requests.get(url, timeout=5).json()  # type: ignore[no-any-return]

    async def view(self, view: View, timeout: float = 5.0) -> dict[str, Any]:
        """The screen as the page sees it, once it shows ``view``."""
        async with asyncio.timeout(timeout):
            while (state := await asyncio.to_thread(self.state))["view"] != view.value:
                await asyncio.sleep(0.05)
        return state

    async def chat(
        self,
        body: dict[str, Any] | str,
        content_type: str = COMMAND_TYPE,
        key: str | None = KEY,
        sealed_at: float | None = None,
    ) -> int:
        """Sent as the control plane does (sealed under ``key``), unless ``key`` is None."""
        text = body if isinstance(body, str) else json.dumps(body)
        if key is not None and isinstance(body, dict):
            text = seal(text, key, time.time() if sealed_at is None else sealed_at)
        return await self.switch.chat(KIOSK, text, content_type)

    def sent(self, content_type: str) -> list[bytes]:
        return [m.body for m in self.switch.messages if m.content_type == content_type]


def agent_config(tmp_path: Path, pki: Pki, switch: int, grace: float = 15.0) -> AgentConfig:
    return AgentConfig(
        bundle=BUNDLE,
        state_dir=tmp_path / "state",
        wss_url="wss://127.0.0.1:9",  # the stand-in page never calls
        speaker=SPEAKER,
        handset=HANDSET,
        messaging=MessagingConfig(
            KIOSK, DOMAIN, SECRET, "127.0.0.1", switch, pki.ca, SWITCH_NAME, reconnect_min=0.05
        ),
        screen_port=0,
        heartbeat_period=3600,
        probes=Probes(lambda: None, lambda: None, lambda: False, tmp_path),
        command_key=KEY,
        switch_grace=grace,
    )


@asynccontextmanager
async def rig(
    tmp_path: Path, pki: Pki, prepare: Callable[[Path], None] = lambda p: None
) -> AsyncIterator[Rig]:
    async with running_switch(DOMAIN, {KIOSK: SECRET}, pki.switch) as switch:
        config = agent_config(tmp_path, pki, switch.port)
        prepare(config.state_dir)
        agent = KioskAgent(config)
        await agent.start()
        page = await asyncio.to_thread(PageStandIn, f"http://127.0.0.1:{agent.port}")
        try:
            assert agent.messaging is not None
            await agent.messaging.wait_registered(5)
            assert page.report(type="transport", up=True) == 200
            yield Rig(agent, page, switch)
        finally:
            await agent.stop()  # ends the page's command stream
            page.close()


async def command(r: Rig) -> dict[str, Any]:
    return await asyncio.to_thread(r.page.next_command)


def test_a_press_calls_the_service_and_the_counsellor_drives_the_kiosk(
    tmp_path: Path, pki: Pki
) -> None:
    async def body() -> tuple[Rig, dict[str, Any]]:
        async with rig(tmp_path, pki) as r:
            assert (await r.view(View.IDLE))["data"]["buttons"][0]["label"] == "MSA"
            r.press("KEY_F1")
            await r.view(View.CALLING)
            dial = await command(r)
            assert dial == {
                "op": "dial",
                "target": f"sip:msa@{DOMAIN}",
                "audio": {"input": "room", "output": "speaker"},
            }
            r.press("KEY_F2")  # a service button during a call does nothing
            assert r.page.report(type="ringing", call="sip-call-1") == 200
            assert r.page.report(type="established", call="sip-call-1") == 200
            in_call = await r.view(View.IN_CALL)
            assert in_call["data"] == {"service_label": "MSA", "private": False}
            call = r.agent.machine.sip_call_id
            assert call == "sip-call-1"

            # The switch parks the call in a queue, then bridges a counsellor.
            assert (
                await r.chat(
                    {"type": "queue", "call": "fs-1", "position": 2, "wait": 300},
                    "application/json",
                )
                == 200
            )
            waiting = await r.view(View.WAITING)
            assert waiting["data"]["position"] == 2
            assert await r.chat({"type": "connected", "call": "fs-1"}, "application/json") == 200
            await r.view(View.IN_CALL)
            # Bridged: the page sends fresh keyframes (its parked ones reached only the switch).
            assert await command(r) == {"op": "keyframe"}

            # Commands: one that works, then refusals that change nothing.
            text = {"v": 1, "type": "command", "id": "c-1", "name": "text", "call": call}
            assert await r.chat({**text, "args": {"text": "Je vous envoie le formulaire."}}) == 200
            assert r.state()["notice"] == "Je vous envoie le formulaire."
            before = r.state()
            assert await r.chat("{pas du json") == 400
            assert await r.chat("bonjour", "text/plain") == 415
            assert await r.chat({**text, "id": "c-2", "name": "dance"}) == 200
            assert await r.chat({**text, "id": "c-3", "call": "another-call"}) == 200
            assert (
                await r.chat({**text, "id": "c-4", "name": "status", "args": {"state": "idle"}})
                == 200
            )
            assert await r.chat({**text, "id": "c-5", "name": "fax", "call": "fs-1"}) == 200
            # Another registered user (a counsellor's phone) cannot command the kiosk.
            forged = json.dumps({**text, "id": "c-8", "call": "fs-1"})
            assert await r.switch.chat(KIOSK, forged, COMMAND_TYPE, sender="msa-43-c1") == 403
            # Nor by writing From: pvp (the switch relays it): no seal, a seal under another
            # kiosk's key, a tampered seal, a stale one: refused before anything runs.
            fax_print = {**text, "id": "c-9", "name": "print", "call": None, "from": "pvp"}
            assert await r.chat({**text, "id": "c-8", "call": "fs-1"}, key=None) == 403
            assert await r.chat(fax_print, key=None) == 403
            other = kiosk_key("control-plane-master", "kiosk-langeac-1")
            assert await r.chat({**text, "id": "c-8", "call": "fs-1"}, key=other) == 403
            tampered = json.loads(seal(json.dumps({**text, "id": "c-8"}), KEY, time.time()))
            tampered["args"] = {"text": "Imprimez ceci"}
            assert await r.switch.chat(KIOSK, json.dumps(tampered), COMMAND_TYPE) == 403
            stale = time.time() - SEAL_WINDOW - 5
            assert await r.chat({**text, "id": "c-8", "call": "fs-1"}, sealed_at=stale) == 403
            forged_queue = {"type": "queue", "call": "fs-1", "position": 9, "wait": 1}
            assert await r.chat(forged_queue, "application/json", key=None) == 403
            await r.switch.wait_for(lambda: len(r.sent(ANSWER_TYPE)) >= 5)
            assert r.state() == before, "a refused command changed the screen"
            status = {
                **text,
                "id": "c-6",
                "name": "status",
                "args": {"state": "printing", "data": {"pages": 2}},
            }
            assert await r.chat(status, COMMAND_TYPE) == 200
            await r.view(View.PRINTING)
            await r.chat(
                {
                    **text,
                    "id": "c-7",
                    "name": "status",
                    "call": "fs-1",
                    "args": {"state": "in_call"},
                }
            )
            await r.view(View.IN_CALL)

            # The citizen lifts the handset mid-call: the page moves mic and speaker.
            r.press("KEY_PHONE", 1)
            assert await command(r) == {
                "op": "audio",
                "audio": {"input": "handset", "output": "handset"},
            }
            await r.switch.wait_for(lambda: bool(r.sent(STATUS_TYPE)))
            assert (await r.view(View.IN_CALL))["data"]["private"] is True
            r.press("KEY_ESC")
            assert await command(r) == {"op": "hangup"}
            idle = await r.view(View.IDLE)
            # The page's own report of the end comes after: it changes nothing.
            assert r.page.report(type="ended", call="sip-call-1", reason="", sip=True) == 200
            r.press("KEY_PHONE", 0)
            assert (await command(r))["audio"] == {"input": "room", "output": "speaker"}
            await r.switch.wait_for(lambda: len(r.sent(ANSWER_TYPE)) >= 7)
            assert (await r.view(View.IDLE))["version"] == idle["version"]
            return r, idle

    r, idle = run(body(), timeout=60)
    assert idle["notice"] is None

    answers = {a.id: a for a in map(decode_answer, r.sent(ANSWER_TYPE))}
    assert answers["c-1"].status == "done"
    assert answers["c-2"].reason == "commande inconnue : 'dance'"
    assert answers["c-3"].reason == "pas d'appel en cours avec ce conseiller"
    assert answers["c-4"].reason == "état non autorisé : idle"
    assert (
        answers["c-5"].reason == "commande inconnue : fax"
    )  # faxes are the switch's, not a kiosk's
    assert answers["c-6"].status == answers["c-7"].status == "done"
    assert "c-8" not in answers and "c-9" not in answers
    (private,) = map(decode_status, r.sent(STATUS_TYPE))
    assert (private["state"], private["text"], private["kiosk"]) == (
        "private",
        "conversation privée",
        KIOSK,
    )


def test_closed_service_is_not_dialled_and_a_lost_switch_comes_back(
    tmp_path: Path, pki: Pki
) -> None:
    def closed_anpe(state_dir: Path) -> None:
        state_dir.mkdir(parents=True)
        decision = {
            "service": "anpe",
            "decision": "closed",
            "reason": "outside_windows",
            "next_opening": "2099-11-29T09:00:00+01:00",
        }
        (state_dir / "availability.json").write_text(json.dumps({"services": [decision]}))

    async def body() -> dict[str, Any]:
        async with rig(tmp_path, pki, closed_anpe) as r:
            idle = await r.view(View.IDLE)
            assert [b["open"] for b in idle["data"]["buttons"]] == [True, False]
            r.press("KEY_F2")
            closed = await r.view(View.CLOSED)
            await asyncio.sleep(0.3)
            assert r.page.commands.empty(), "a closed service was dialled"

            # The switch restarts: the page's WebSocket drops, then comes back.
            registrations = len(r.switch.registers)
            assert r.page.report(type="transport", up=False) == 200
            await r.view(View.RESTARTING)
            assert not r.agent.ua_alive
            assert r.page.report(type="transport", up=True) == 200
            await r.view(View.IDLE)
            assert r.agent.ua_alive
            # The kiosk's registration (the messaging endpoint's) never dropped.
            assert r.agent.sip_registered and len(r.switch.registers) == registrations
            # A press that the page could not place is told, and the next one calls again.
            r.press("KEY_F1")
            assert (await command(r))["op"] == "dial"
            assert r.page.report(type="failed", reason="switch unreachable") == 200
            failed = await r.view(View.CLOSED)
            r.agent.handle(NoticeExpired(r.agent.machine._notice_token))
            await r.view(View.IDLE)
            r.press("KEY_F1")
            assert (await command(r))["op"] == "dial"
            r.press("KEY_ESC")
            assert (await command(r))["op"] == "hangup"
            await r.view(View.IDLE)
            return {"closed": closed, "failed": failed, "registers": r.switch.registers}

    out = run(body(), timeout=60)
    closed = out["closed"]
    assert closed["data"]["title"] == "Le service ANPE est fermé"
    assert "29 novembre 2099" in closed["data"]["next_text"]
    assert out["failed"]["data"]["title"] == "L'appel n'a pas pu aboutir"
    assert all(KIOSK in to for to in out["registers"])


def test_no_other_page_can_drive_the_call(tmp_path: Path, pki: Pki) -> None:
    async def body() -> list[int]:
        async with rig(tmp_path, pki) as r:
            base = f"http://127.0.0.1:{r.agent.port}"
            r.press("KEY_F1")
            assert (await command(r))["op"] == "dial"

            def forged() -> list[int]:
                report = {"type": "established", "call": "forged"}
                bad = {"X-PVP-Token": "x" * 43}
                return [
                    requests.get(f"{base}/phone/commands", timeout=5).status_code,
                    requests.get(
                        f"{base}/phone/commands", params={"token": "x" * 43}, timeout=5
                    ).status_code,
                    requests.post(f"{base}/phone/report", json=report, timeout=5).status_code,
                    requests.post(
                        f"{base}/phone/report", json=report, headers=bad, timeout=5
                    ).status_code,
                ]

            codes = await asyncio.to_thread(forged)
            assert (await r.view(View.CALLING))["view"] == "calling"
            assert r.page.report(call=3) == 400  # no type: refused, nothing changed
            assert r.agent.machine.sip_call_id is None
            return codes

    assert run(body(), timeout=30) == [403, 403, 403, 403]


def test_a_page_that_never_reaches_the_switch_ends_out_of_order(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "UNREACHABLE_SECONDS", 0.3)

    async def body() -> dict[str, Any]:
        async with running_switch(DOMAIN, {KIOSK: SECRET}, pki.switch) as switch:
            agent = KioskAgent(agent_config(tmp_path, pki, switch.port, grace=0.3))
            await agent.start()
            page = await asyncio.to_thread(PageStandIn, f"http://127.0.0.1:{agent.port}")
            try:
                r = Rig(agent, page, switch)
                await r.view(View.RESTARTING)  # never reached: not "idle" with dead buttons
                out = await r.view(View.OUT_OF_ORDER)
                page.report(type="transport", up=True)
                await r.view(View.IDLE)  # the switch answers at last: back at once
                return out
            finally:
                await agent.stop()
                page.close()

    out = run(body(), timeout=30)
    assert out["data"]["message"] == "La borne ne joint plus le service de visioconférence."
