"""`pvp kiosk --bundle` as a kiosk runs it: production wiring, no engine process of its own.

The bundle points at the TLS switch stand-in (testkit/sip_switch.py), which registers
the messaging endpoint. No kiosk page is open (no Chromium here): a press is told it could
not be placed. The test prints the figures of docs/kiosk-agent.md: idle memory and CPU of the
agent, which now has no child process (the page is the video phone).

    .venv/bin/pytest tests/kiosk/test_agent_process.py -s
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from testkit.agent_process import DOMAIN, KIOSK, SECRET, children, cpu_ticks, rss_kib, write_bundle
from testkit.certs import Pki
from testkit.loop import run
from testkit.sip_switch import running_switch

IDLE_SECONDS = 5.0


def test_pvp_kiosk_registers_serves_its_page_and_its_figures(tmp_path: Path, pki: Pki) -> None:
    async def body() -> dict[str, object]:
        async with running_switch(DOMAIN, {KIOSK: SECRET}, pki.switch) as switch:
            port = write_bundle(tmp_path / "bundle", pki, switch.port)
            with (tmp_path / "agent.log").open("wb") as log:
                agent = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "pvp.cli",
                        "kiosk",
                        "--bundle",
                        str(tmp_path / "bundle"),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                await switch.wait_for(lambda: switch.registered(KIOSK), 20)
                await asyncio.sleep(1.0)  # let start-up settle
                ticks = cpu_ticks(agent.pid)
                await asyncio.sleep(IDLE_SECONDS)
                cpu = 100 * (cpu_ticks(agent.pid) - ticks) / os.sysconf("SC_CLK_TCK") / IDLE_SECONDS
                rss = rss_kib(agent.pid)
                kids = children(agent.pid)
                screen = f"http://127.0.0.1:{port}"
                page = await asyncio.to_thread(requests.get, f"{screen}/", timeout=5)
                await asyncio.to_thread(
                    requests.post, f"{screen}/press/msa", headers={"Origin": screen}, timeout=5
                )
                await asyncio.sleep(0.5)
                view = (await asyncio.to_thread(requests.get, f"{screen}/state", timeout=5)).json()
            finally:
                agent.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(agent.wait, 15)
            return {
                "code": code,
                "children": kids,
                "cpu": cpu,
                "rss": rss,
                "page": page.text,
                "view": view,
                "registered_at_end": switch.registered(KIOSK),
            }

    figures = run(body(), timeout=90)
    assert figures["code"] == 0 and figures["children"] == []
    assert figures["registered_at_end"] is False, "stopping unregisters"
    assert 'id="phone-config"' in str(figures["page"]) and "kiosk-phone.js" in str(figures["page"])
    view = figures["view"]
    assert isinstance(view, dict) and view["view"] == "closed"  # no page: "n'a pas pu aboutir"
    assert view["data"]["title"] == "L'appel n'a pas pu aboutir"
    print(
        f"\nidle {IDLE_SECONDS:.0f} s: CPU {figures['cpu']:.2f} % of one core, "
        f"RSS {figures['rss']} KiB"
    )
