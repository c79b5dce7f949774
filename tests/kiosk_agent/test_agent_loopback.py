"""The whole kiosk agent on loopback, with no FreeSWITCH: real baresip on both sides.

- The kiosk's baresip (started and supervised by the agent) dials the "counsellor", a second
  real baresip whose user is the service code, directly on 127.0.0.1 (the agent's
  ``service_uri`` points there instead of at the switch). Both run mandatory SRTP.
- The agent's messaging endpoint registers over verified TLS at the switch stand-in of
  tests/kiosk_agent/switch.py, which sends commands and queue positions down that connection
  as ``chat`` would and keeps what the kiosk sends to ``sip:pvp@<domain>``.
- As in production, the kiosk's baresip does not register: the messaging endpoint holds the
  kiosk's one registration (docs/kiosk-agent.md), which a baresip restart leaves alone.
  baresip's own re-registration after a restart is proven in tests/kiosk.
- Buttons and hook: no /dev/input and no uinput here, so the tests inject python-evdev
  ``InputEvent`` objects into ``ButtonReader.feed``, the path every device event takes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from evdev import InputEvent, ecodes
from kiosk.audio import read_mono, rms, segment, zero_crossing_frequency
from kiosk.conftest import (
    Engine,
    free_sip_port,
    free_tcp_port,
    requires_baresip,
    run,
    running_engine,
)
from PIL import Image

from pvp.kiosk.agent import AgentConfig, AudioPair, KioskAgent
from pvp.kiosk.baresip import (
    BaresipConfig,
    EventType,
    MediaDevice,
    MediaEncryption,
    SipAccount,
    Transport,
)
from pvp.kiosk.heartbeat import Probes
from pvp.kiosk.messaging import MessagingConfig
from pvp.kiosk.screen import View
from pvp.messages import (
    ANSWER_TYPE,
    COMMAND_TYPE,
    SEAL_WINDOW,
    STATUS_TYPE,
    decode_answer,
    decode_status,
    kiosk_key,
    seal,
)

from .certs import SWITCH_NAME, Pki
from .switch import SwitchStandIn, running_switch

pytestmark = requires_baresip

KIOSK, DOMAIN, SECRET = "kiosk-vorey-1", "pvp.auvergne.test", "kiosk-secret-1"
KEY = kiosk_key("control-plane-master", KIOSK)  # what `pvp provision bundle` puts in
BUNDLE: dict[str, Any] = {
    "kiosk": KIOSK,
    "site": "vorey",
    "commune": "Vorey",
    "sip": {"domain": DOMAIN, "user": KIOSK, "password": SECRET},
    "control_plane": {"url": "http://127.0.0.1:9"},  # unreachable: the cache answers
    "buttons": [
        {"service": "msa", "key": "KEY_F1", "label": "MSA"},
        {"service": "anpe", "key": "KEY_F2", "label": "ANPE"},
    ],
    "hangup_key": "KEY_ESC",
    "hook_key": "KEY_PHONE",
    "site_agent_phone": "04 71 00 00 00",
}
SPEAKER = AudioPair(MediaDevice("ausine", "440"), MediaDevice("aubridge", "speaker"))
HANDSET = AudioPair(MediaDevice("ausine", "1000"), MediaDevice("aubridge", "handset"))


def key(name: str, value: int = 1) -> InputEvent:
    return InputEvent(0, 0, ecodes.EV_KEY, ecodes.ecodes[name], value)


@dataclass
class Rig:
    agent: KioskAgent
    counsellor: Engine
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


def agent_config(tmp_path: Path, pki: Pki, switch: int, callee: int) -> AgentConfig:
    engine = BaresipConfig(
        SipAccount(
            KIOSK, "127.0.0.1", transport=Transport.UDP, mediaenc=MediaEncryption.SRTP_MANDATORY
        ),
        ctrl_port=free_tcp_port(),
        sip_port=free_sip_port(),
        audio_source=SPEAKER.source,
        audio_player=SPEAKER.player,
        audio_alert=MediaDevice("aubridge", "alert"),
        video_source=MediaDevice("fakevideo", "nil"),
        video_display=MediaDevice("fakevideo", "nil"),
        video_size=(352, 288),
        record_dir=tmp_path / "kiosk-rec",
    )
    return AgentConfig(
        bundle=BUNDLE,
        state_dir=tmp_path / "state",
        engine=engine,
        speaker=SPEAKER,
        handset=HANDSET,
        tunnel=None,  # proven on its own in test_tunnel.py
        messaging=MessagingConfig(
            KIOSK, DOMAIN, SECRET, "127.0.0.1", switch, pki.ca, SWITCH_NAME, reconnect_min=0.05
        ),
        screen_port=0,
        service_uri=f"sip:{{service}}@127.0.0.1:{callee};transport=udp",
        heartbeat_period=3600,
        probes=Probes(lambda: None, lambda: None, lambda: False, tmp_path),
        command_key=KEY,
    )


@asynccontextmanager
async def rig(
    tmp_path: Path, pki: Pki, prepare: Callable[[Path], None] = lambda p: None
) -> AsyncIterator[Rig]:
    counsellor_account = SipAccount(
        "msa", "127.0.0.1", transport=Transport.UDP, mediaenc=MediaEncryption.SRTP_MANDATORY
    )
    async with (
        running_switch(DOMAIN, {KIOSK: SECRET}, pki.switch) as switch,
        running_engine(
            tmp_path,
            "msa",
            audio_source="ausine,600",
            account=counsellor_account,
        ) as counsellor,
    ):
        config = agent_config(tmp_path, pki, switch.port, counsellor.config.sip_port)
        prepare(config.state_dir)
        agent = KioskAgent(config)
        await agent.start()
        try:
            assert agent.messaging is not None
            await agent.messaging.wait_registered(5)
            yield Rig(agent, counsellor, switch)
        finally:
            await agent.stop()


def test_a_press_calls_the_service_and_the_counsellor_drives_the_kiosk(
    tmp_path: Path, pki: Pki
) -> None:
    async def body() -> tuple[Rig, dict[str, Any]]:
        async with rig(tmp_path, pki) as r:
            assert (await r.view(View.IDLE))["data"]["buttons"][0]["label"] == "MSA"
            incoming = r.counsellor.controller.expect(EventType.CALL_INCOMING)
            r.press("KEY_F1")
            await r.view(View.CALLING)
            await asyncio.wait_for(incoming, 5)
            r.press("KEY_F2")  # a service button during a call does nothing
            await r.counsellor.controller.answer()
            in_call = await r.view(View.IN_CALL)
            assert in_call["data"] == {"service_label": "MSA", "private": False}
            call = r.agent.machine.sip_call_id
            assert call

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

            await asyncio.sleep(1.5)  # well over a second of the room microphone
            await r.counsellor.controller.snapshot_received("kiosk.png")
            # The citizen lifts the handset mid-call.
            r.press("KEY_PHONE", 1)
            await r.switch.wait_for(lambda: bool(r.sent(STATUS_TYPE)))
            assert (await r.view(View.IN_CALL))["data"]["private"] is True
            await asyncio.sleep(1.5)
            closed = r.counsellor.controller.expect(EventType.CALL_CLOSED)
            r.press("KEY_ESC")
            await asyncio.wait_for(closed, 5)
            idle = await r.view(View.IDLE)
            r.press("KEY_PHONE", 0)
            await r.switch.wait_for(lambda: len(r.sent(ANSWER_TYPE)) >= 7)
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

    # The kiosk heard the counsellor's tone; the counsellor heard the kiosk's room
    # microphone (440 Hz), then its handset (1 kHz) once lifted.
    heard, rate = read_mono(sorted((tmp_path / "kiosk-rec").glob("dump-*-dec.wav"))[0])
    tone = segment(heard, rate, 0.5, 1.5)
    assert rms(tone) > 3000 and 560 < zero_crossing_frequency(tone, rate) < 640
    sent, rate = read_mono(r.counsellor.recording("dec"))
    room, handset = segment(sent, rate, 0.3, 0.9), segment(sent, rate, -1.2, -0.3)
    assert 400 < zero_crossing_frequency(room, rate) < 480
    assert 950 < zero_crossing_frequency(handset, rate) < 1050 and rms(handset) > 3000
    with Image.open(r.counsellor.directory / "kiosk.png") as frame:
        assert frame.size == (352, 288)


def test_closed_service_is_not_dialled_and_a_killed_engine_comes_back(
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

    async def body() -> tuple[dict[str, Any], list[str], int]:
        async with rig(tmp_path, pki, closed_anpe) as r:
            idle = await r.view(View.IDLE)
            assert [b["open"] for b in idle["data"]["buttons"]] == [True, False]
            incoming = r.counsellor.controller.expect(EventType.CALL_INCOMING)
            r.press("KEY_F2")
            closed = await r.view(View.CLOSED)
            await asyncio.sleep(0.5)
            assert not incoming.done(), "a closed service was dialled"
            incoming.cancel()

            registrations = len(r.switch.registers)
            pid = r.agent.engine.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await r.view(View.RESTARTING)
            await r.view(View.IDLE, timeout=10)
            assert r.agent.engine.pid != pid and r.agent.ua_alive
            # The kiosk's registration (the messaging endpoint's) never dropped.
            assert r.agent.sip_registered and len(r.switch.registers) == registrations
            # And it calls again.
            incoming = r.counsellor.controller.expect(EventType.CALL_INCOMING)
            r.press("KEY_F1")
            await asyncio.wait_for(incoming, 5)
            r.press("KEY_ESC")
            await r.view(View.IDLE)
            return closed, r.switch.registers, r.agent.engine.restarts

    closed, registers, restarts = run(body(), timeout=60)
    assert closed["data"]["title"] == "Le service ANPE est fermé"
    assert "29 novembre 2099" in closed["data"]["next_text"]
    assert restarts == 1
    assert all(KIOSK in to for to in registers)
