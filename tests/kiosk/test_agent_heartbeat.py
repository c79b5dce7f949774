"""`pvp kiosk`'s heartbeats tell the control plane the registration it really has."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from testkit.agent_process import DOMAIN, KIOSK, SECRET, HeartbeatSink, agent_process
from testkit.certs import Pki
from testkit.loop import run
from testkit.sip_switch import running_switch


def test_the_first_heartbeat_reports_the_registration_and_its_loss_is_reported_at_once(
    tmp_path: Path, pki: Pki
) -> None:
    async def body() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with running_switch(DOMAIN, {KIOSK: SECRET}, pki.switch) as switch:
            # An hour between heartbeats: any second one comes from the registration changing.
            with (
                HeartbeatSink() as sink,
                agent_process(tmp_path, pki, switch.port, sink.url, heartbeat_period=3600),
            ):
                first = await asyncio.to_thread(sink.wait, 1, 30)
                assert switch.registered(KIOSK)
                await switch.stop()  # the switch goes away
                return first, await asyncio.to_thread(sink.wait, 2, 15)

    first, after = run(body(), timeout=90)
    assert first, "no heartbeat within 30 s"
    assert first[0]["sip_registered"] is True
    assert len(after) == 2, "the lost registration was not reported within 15 s"
    assert after[1]["sip_registered"] is False
