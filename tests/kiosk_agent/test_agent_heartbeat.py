"""`pvp kiosk`'s first heartbeat tells the control plane the registration it really has."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from kiosk.conftest import requires_baresip, run

from pvp.kiosk.tunnel import find_stunnel

from .agent_process import HeartbeatSink, agent_process
from .certs import Pki
from .switch import running_switch
from .test_agent_process import DOMAIN, KIOSK, SECRET

pytestmark = [
    requires_baresip,
    pytest.mark.skipif(find_stunnel() is None, reason="stunnel4 not installed"),
]


def test_the_first_heartbeat_after_start_reports_the_registration(tmp_path: Path, pki: Pki) -> None:
    async def body() -> list[dict[str, object]]:
        async with running_switch(DOMAIN, {KIOSK: SECRET}, pki.switch) as switch:
            with (
                HeartbeatSink() as sink,
                agent_process(tmp_path, pki, switch.port, sink.url, heartbeat_period=3600),
            ):
                beats = await asyncio.to_thread(sink.wait, 1, 30)
                assert switch.registered(KIOSK)
                return beats

    beats = run(body(), timeout=60)
    assert beats, "no heartbeat within 30 s"
    assert beats[0]["sip_registered"] is True
