"""`pvp kiosk --bundle` as a kiosk runs it: real stunnel, real baresip, production wiring.

The bundle points at the TLS switch stand-in (tests/kiosk_agent/switch.py), which plays
FreeSWITCH's part on one TLS port: it registers the messaging endpoint, challenges the
INVITE that baresip sends through stunnel (407, digest), then refuses it (486). The test
prints the figures of docs/kiosk-agent.md: idle memory and CPU of the agent with its
baresip and stunnel, and the time from a press to the INVITE arriving at the switch.

    .venv/bin/pytest tests/kiosk_agent/test_agent_process.py -s
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from kiosk.conftest import free_sip_port, free_tcp_port, requires_baresip, run

from pvp.kiosk.tunnel import find_stunnel

from .certs import SWITCH_NAME, Pki
from .switch import running_switch

pytestmark = [
    requires_baresip,
    pytest.mark.skipif(find_stunnel() is None, reason="stunnel4 not installed"),
]
KIOSK, DOMAIN, SECRET = "kiosk-vorey-1", "pvp.auvergne.test", "kiosk-secret-1"
IDLE_SECONDS = 5.0
PRESSES = 5


def write_bundle(directory: Path, pki: Pki, switch_port: int) -> dict[str, int]:
    ports = {
        "ctrl": free_tcp_port(),
        "sip": free_sip_port(),
        "tunnel": free_tcp_port(),
        "screen": free_tcp_port(),
    }
    directory.mkdir()
    shutil.copy(pki.ca, directory / "ca.pem")
    bundle = {
        "kiosk": KIOSK,
        "site": "vorey",
        "commune": "Vorey",
        "sip": {
            "domain": DOMAIN,
            "user": KIOSK,
            "password": SECRET,
            "registrar_host": "127.0.0.1",
            "registrar_port": switch_port,
            "server_name": SWITCH_NAME,
            "transport": "tls",
            "media_encryption": "srtp-mand",
        },
        "control_plane": {"url": "http://127.0.0.1:9"},
        "ca_file": "ca.pem",
        "buttons": [{"service": "msa", "key": "KEY_F1", "label": "MSA"}],
        "hangup_key": "KEY_ESC",
        "hook_key": "KEY_PHONE",
        "site_agent_phone": "04 71 00 00 00",
        # No sound card, camera or display here: baresip's test devices.
        "speaker_audio": {"source": "ausine,440", "player": "aubridge,speaker"},
        "handset_audio": {"source": "ausine,1000", "player": "aubridge,handset"},
        "agent": {"ports": ports, "video": {"source": "fakevideo,nil", "display": "fakevideo,nil"}},
    }
    (directory / "kiosk.json").write_text(json.dumps(bundle))
    return ports


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_pvp_kiosk_registers_calls_through_the_tunnel_and_its_figures(
    tmp_path: Path, pki: Pki
) -> None:
    async def body() -> dict[str, object]:
        async with running_switch(DOMAIN, {KIOSK: SECRET}, pki.switch) as switch:
            ports = write_bundle(tmp_path / "bundle", pki, switch.port)
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
                pids = [agent.pid, *children(agent.pid)]
                ticks = [cpu_ticks(p) for p in pids]
                await asyncio.sleep(IDLE_SECONDS)
                used = sum(cpu_ticks(p) for p in pids) - sum(ticks)
                cpu = 100 * used / os.sysconf("SC_CLK_TCK") / IDLE_SECONDS
                rss = {p: rss_kib(p) for p in pids}
                names = {p: Path(f"/proc/{p}/comm").read_text().strip() for p in pids}

                delays = []
                screen = f"http://127.0.0.1:{ports['screen']}"
                for _ in range(PRESSES):
                    count, arrived = len(switch.invites), len(switch.invite_arrivals)
                    start = time.monotonic()
                    await asyncio.to_thread(
                        requests.post, f"{screen}/press/msa", headers={"Origin": screen}, timeout=5
                    )
                    await switch.wait_for(lambda n=count: len(switch.invites) > n, 10)
                    # The first INVITE of the press (the one the switch then challenges).
                    delays.append((switch.invite_arrivals[arrived] - start) * 1000)
                    await asyncio.sleep(0.3)
                view = (await asyncio.to_thread(requests.get, f"{screen}/state", timeout=5)).json()
            finally:
                agent.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(agent.wait, 15)
            left = [p for p in pids[1:] if Path(f"/proc/{p}").exists()]
            return {
                "code": code,
                "left": left,
                "cpu": cpu,
                "rss": {names[p]: kib for p, kib in rss.items()},
                "delays": delays,
                "invite": switch.invites[0][1],
                "view": view,
                "registered_at_end": switch.registered(KIOSK),
            }

    figures = run(body(), timeout=90)
    assert figures["code"] == 0 and figures["left"] == [], "pvp kiosk left children behind"
    assert figures["registered_at_end"] is False, "stopping unregisters"
    invite = figures["invite"]
    assert isinstance(invite, bytes)
    assert invite.startswith(b"INVITE sip:msa@pvp.auvergne.test")
    assert b"Proxy-Authorization: Digest" in invite and b"a=crypto:" in invite
    view = figures["view"]
    assert isinstance(view, dict) and view["view"] == "closed"  # 486: "n'a pas pu aboutir"
    delays = figures["delays"]
    assert isinstance(delays, list)
    print(
        f"\nidle {IDLE_SECONDS:.0f} s: CPU {figures['cpu']:.2f} % of one core, "
        f"RSS KiB {figures['rss']}"
        f"\npress -> INVITE at the switch (ms): first {delays[0]:.1f}, "
        f"then median {statistics.median(delays[1:]):.1f} ({', '.join(f'{d:.1f}' for d in delays)})"
    )
