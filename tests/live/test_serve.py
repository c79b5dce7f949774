"""Live: ``pvp serve`` runs FreeSWITCH as its child, on PVP's rendered configuration.

A real ``pvp serve`` process with free ports: FreeSWITCH starts with the profile, the HTTP API
answers, a kiosk registers through both over TLS, and SIGTERM stops the two.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from testkit.calls import eventually, registered
from testkit.esl import Esl
from testkit.live_switch import PLAN_2006
from testkit.ports import free_port, free_udp_tcp_port
from testkit.ua import Account, UserAgent

pytestmark = pytest.mark.live

ESL_PASSWORD = "serve-test-esl"


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


class Served:
    def __init__(self, binary: Path, root: Path) -> None:
        self.root = root
        rtp = 20000 + free_port() % 20000
        self.ports = {
            "HTTP_PORT": free_port(),
            "SIP_PORT": free_udp_tcp_port(),
            "SIP_TLS_PORT": free_port(),
            "ESL_PORT": free_port(),
            "RTP_START_PORT": rtp,
            "RTP_END_PORT": rtp + 100,
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("PVP_")}
        env.update({f"PVP_{k}": str(v) for k, v in self.ports.items()})
        # Plain http on loopback here: a Secure cookie would never come back to the server.
        env["PVP_SESSION_COOKIE_SECURE"] = "false"
        env.update(
            PVP_DATA_DIR=str(root / "data"),
            PVP_FREESWITCH_BIN=str(binary),
            PVP_ESL_PASSWORD=ESL_PASSWORD,
            PVP_FALLBACK_CHECK_SECONDS="0.5",
        )
        self.env = env
        self.output = open(root / "serve.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pvp.cli", "serve", "--plan", str(PLAN_2006)],
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    @property
    def log(self) -> str:
        return (self.root / "serve.log").read_text(errors="replace")

    def pvp(self, *args: str, stdin: str | None = None) -> str:
        """Another ``pvp`` command on the same data directory."""
        done = subprocess.run(
            [sys.executable, "-m", "pvp.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            input=stdin,
        )
        return done.stdout

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.output.close()


@pytest.fixture
def served(freeswitch_bin: Path, tmp_path: Path) -> Iterator[Served]:
    server = Served(freeswitch_bin, tmp_path)
    yield server
    server.stop()


def test_pvp_serve_runs_freeswitch_with_its_profile_and_stops_it_on_sigterm(
    served: Served,
) -> None:
    base = f"http://127.0.0.1:{served.ports['HTTP_PORT']}"

    def health() -> bool:
        try:
            return requests.get(f"{base}/api/v1/health", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    assert eventually(health, 60), served.log
    found = re.search(r"FreeSWITCH \(pid (\d+)\): SIP udp\+tcp 127\.0\.0\.1:(\d+)", served.log)
    assert found, served.log
    fs_pid = int(found.group(1))
    assert int(found.group(2)) == served.ports["SIP_PORT"] and alive(fs_pid)

    def profile_running() -> bool:
        try:
            esl = Esl("127.0.0.1", served.ports["ESL_PORT"], ESL_PASSWORD)
        except OSError:
            return False
        try:
            return esl.api("sofia status").count("RUNNING") >= 2  # UDP/TCP and TLS
        finally:
            esl.close()

    assert eventually(profile_running, 30), served.log
    # The queues are for signed-in staff: refused to the anonymous, shown to an admin.
    assert requests.get(f"{base}/api/v1/queues", timeout=5).status_code == 401
    served.pvp(
        "user",
        "add",
        "admin",
        "--role",
        "region_admin",
        "--password-stdin",
        stdin="mot-de-passe-admin\n",
    )
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=5).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, page
    signed = browser.post(
        f"{base}/login",
        timeout=5,
        allow_redirects=False,
        data={"login": "admin", "password": "mot-de-passe-admin", "csrf_token": token.group(1)},
    )
    assert signed.status_code == 302
    queues = browser.get(f"{base}/api/v1/queues", timeout=5).json()
    assert any(q["id"] == "msa-43" for q in queues["queues"])

    # A kiosk with a new secret (issued while serving) registers over TLS through both.
    secret = json.loads(served.pvp("provision", "credentials", "kiosk-vorey-1"))["password"]
    data = served.root / "data"
    account = Account(
        "kiosk-vorey-1", secret, "pvp.auvergne.local", "127.0.0.1", served.ports["SIP_TLS_PORT"]
    )
    kiosk = UserAgent(account, served.root / "kiosk", data / "freeswitch" / "certs" / "cafile.pem")
    try:
        registered(kiosk)
    finally:
        kiosk.close()
    assert (data / "freeswitch" / "conf" / "directory" / "pvp.xml").exists()

    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(40) == 0
    assert eventually(lambda: not alive(fs_pid), 5), "FreeSWITCH outlived pvp serve"
