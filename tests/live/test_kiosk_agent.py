"""Live: the kiosk agent against the real FreeSWITCH of tests/live/conftest.py.

The agent runs as on a kiosk (``AgentConfig.from_bundle``): its messaging endpoint registers
the kiosk over TLS checked against the bundle's CA; the kiosk page (Chromium) is its video
phone (tests/live/test_kiosk_page.py); buttons are injected one layer above evdev (no
/dev/input here).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

pytest.importorskip("pvp.freeswitch.process", reason="the live harness is not in this tree")

from pvp.kiosk.agent import AgentConfig, KioskAgent  # noqa: E402
from pvp.kiosk.buttons import HangUp, Press  # noqa: E402
from pvp.kiosk.heartbeat import Probes  # noqa: E402
from pvp.kiosk.screen import View  # noqa: E402
from pvp.messages import COMMAND_TYPE  # noqa: E402

from .conftest import Switch, started  # noqa: E402

pytestmark = pytest.mark.live
KIOSK = "kiosk-vorey-1"
T = TypeVar("T")


@pytest.fixture(scope="module")
def own_switch(freeswitch_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Switch]:
    sw = started(freeswitch_bin, tmp_path_factory.mktemp("own-switch"), None)
    yield sw
    sw.stop()


@pytest.fixture
def fresh(own_switch: Switch) -> Iterator[Switch]:
    """This module's own switch: FreeSWITCH's chat reaches only a user's latest contact, so a
    kiosk contact left by another module's test must not take this module's messages."""
    yield own_switch
    own_switch.reset()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kiosk_config(sw: Any, directory: Path) -> AgentConfig:
    """A bundle as `pvp provision bundle` writes it, for this switch, with test devices."""
    settings = sw.settings
    bundle_dir = directory / "bundle"
    bundle_dir.mkdir(parents=True)
    shutil.copy(sw.ca, bundle_dir / "ca.pem")
    bundle = {
        "kiosk": KIOSK,
        "site": "vorey",
        "commune": "Vorey",
        "sip": {
            "domain": settings.sip_domain,
            "user": KIOSK,
            "password": sw.passwords[KIOSK],
            "registrar_host": settings.sip_host,
            "registrar_port": settings.sip_tls_port,
            "transport": "tls",
            "wss_port": settings.sip_wss_port,
        },
        "control_plane": {"url": f"http://{settings.http_host}:{settings.http_port}"},
        "ca_file": "ca.pem",
        "buttons": [{"service": "msa", "key": "KEY_F1", "label": "MSA"}],
        "hangup_key": "KEY_ESC",
        "hook_key": "KEY_PHONE",
        "site_agent_phone": "04 71 00 00 00",
        # Chromium's fake devices: "Fake Default Audio Input", "Fake Audio Input 1"…
        "speaker_audio": {"input": "", "output": ""},
        "handset_audio": {"input": "Fake Audio Input 1", "output": "Fake Audio Output 1"},
    }
    (bundle_dir / "kiosk.json").write_text(json.dumps(bundle))
    config = AgentConfig.from_bundle(bundle_dir, directory / "state")
    return replace(
        config,
        screen_port=0,
        probes=Probes(lambda: None, lambda: None, lambda: False, directory),
        heartbeat_period=3600,
    )


def run(body: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``body()`` on a loop of its own thread: the session's Playwright (sync API) may
    already run an event loop in this one."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(body())).result()


async def until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout} s")
        await asyncio.sleep(0.05)


async def parked_channel(sw: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rows = await asyncio.to_thread(sw.esl.channels)
        # Parked by the dialplan; once the dispatcher starts its waiting sound, the channel's
        # application reads endless_playback (uuid_broadcast) while it still waits in park.
        waiting = {"park", "endless_playback"}
        if parked := [
            r for r in rows if r.get("application") in waiting and r.get("dest") == "msa"
        ]:
            return dict(parked[0])
        await asyncio.sleep(0.1)
    raise AssertionError(f"no parked channel: {rows}")


def chat(sw: Any, body: dict[str, Any], content_type: str = COMMAND_TYPE) -> str:
    domain = sw.settings.sip_domain
    text = json.dumps(body, separators=(",", ":"))
    return str(sw.esl.api(f"chat sip|pvp@{domain}|{KIOSK}@{domain}|{text}|{content_type}"))


def test_the_kiosk_registers_over_verified_tls_and_a_closed_press_says_when(
    fresh: Any, tmp_path: Path
) -> None:
    fresh.travel_to("2006-11-24T14:00")  # Vorey, the 4th Friday, after the MSA permanence

    async def body() -> dict[str, Any]:
        agent = KioskAgent(kiosk_config(fresh, tmp_path))
        await agent.start()
        try:
            assert agent.messaging is not None
            await agent.messaging.wait_registered(10)
            reg = await asyncio.to_thread(fresh.esl.api, "sofia status profile pvp reg")
            assert KIOSK in reg and "transport=tls" in reg, reg
            agent.feed_action(Press("msa"))
            await until(lambda: agent.screen.current().view is View.CLOSED, "closed")
            return dict(agent.screen.current().data)
        finally:
            await agent.stop()

    closed = run(body)
    assert closed["title"] == "Le service MSA est fermé"
    assert closed["reason_text"] == "En dehors des heures d'ouverture"
    assert "vendredi 22 décembre 2006 à 9" in closed["next_text"]


def test_a_walk_in_press_is_parked_and_commands_arrive_through_the_switch(
    fresh: Any, tmp_path: Path
) -> None:
    fresh.travel_to("2006-11-24T10:00")  # inside the MSA permanence: answered and parked

    delivered: list[int] = []

    async def body() -> tuple[list[str], Any]:
        agent = KioskAgent(kiosk_config(fresh, tmp_path))
        assert agent.messaging is not None
        send = agent.messaging.send_message

        async def send_and_keep(to: str, content_type: str, text: str | bytes) -> int:
            delivered.append(await send(to, content_type, text))  # the switch's answer
            return delivered[-1]

        agent.messaging.send_message = send_and_keep  # type: ignore[method-assign]
        await agent.start()
        results = []
        try:
            assert agent.messaging is not None
            await agent.messaging.wait_registered(10)
            agent.feed_action(Press("msa"))
            await until(lambda: agent.screen.current().view is View.IN_CALL, "in call")
            parked = await parked_channel(fresh)
            call = agent.machine.sip_call_id
            command = {"v": 1, "type": "command", "id": "live-1", "name": "text", "call": call}
            command["args"] = {"text": "Bonjour, je suis votre conseillère."}
            results.append(await asyncio.to_thread(chat, fresh, command))
            await until(lambda: agent.screen.current().notice is not None, "notice shown")
            queue = {"type": "queue", "call": parked["uuid"], "position": 2, "wait": 120}
            results.append(await asyncio.to_thread(chat, fresh, queue, "application/json"))
            await until(lambda: agent.screen.current().view is View.WAITING, "waiting")
            foreign = {**command, "id": "live-2", "call": "not-this-call"}
            results.append(await asyncio.to_thread(chat, fresh, foreign))
            await until(lambda: len(delivered) >= 2, "answers sent to sip:pvp@<domain>")
            agent.feed_action(HangUp())
            await until(lambda: agent.screen.current().view is View.IDLE, "idle")
            return results, agent.screen.current()
        finally:
            await agent.stop()

    results, screen = run(body)
    assert all("Sent" in r for r in results), results
    assert screen.notice is None
    # The done and failed answers went through the switch (challenged, then accepted).
    assert all(200 <= status < 300 for status in delivered), delivered
