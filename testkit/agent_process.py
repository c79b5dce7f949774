"""`pvp kiosk` as a process beside the switch stand-in and a control plane that keeps heartbeats.

Shared by the agent tests and benchmarks/bench_kiosk_soak.py; the process's descriptors,
threads and memory are read from /proc as an operator would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from testkit.certs import SWITCH_NAME, Pki
from testkit.ports import free_port

KIOSK, DOMAIN, SECRET = "kiosk-vorey-1", "pvp.auvergne.test", "kiosk-secret-1"


def write_bundle(directory: Path, pki: Pki, switch_port: int) -> int:
    screen = free_port()
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
            "wss_port": free_port(),
        },
        "control_plane": {"url": "http://127.0.0.1:9"},
        "ca_file": "ca.pem",
        "buttons": [{"service": "msa", "key": "KEY_F1", "label": "MSA"}],
        "hangup_key": "KEY_ESC",
        "hook_key": "KEY_PHONE",
        "site_agent_phone": "04 71 00 00 00",
        "agent": {"screen_port": screen},
    }
    (directory / "kiosk.json").write_text(json.dumps(bundle))
    return screen


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


class HeartbeatSink:
    """Plays the control plane's heartbeat endpoint: keeps each report, answers 204."""

    def __init__(self) -> None:
        self.beats: list[dict[str, Any]] = []
        self.arrived = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.endswith("/heartbeat"):
                    with sink.arrived:
                        sink.beats.append(json.loads(body))
                        sink.arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(404)  # availability: the kiosk keeps its cache
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait(self, count: int, timeout: float) -> list[dict[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.beats) >= count, timeout)
            return list(self.beats)

    def __enter__(self) -> HeartbeatSink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class AgentProcess:
    process: subprocess.Popen[bytes]
    screen_url: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def sample(self) -> dict[str, int]:
        """Open descriptors, threads and RSS (KiB) of the agent itself, not its children."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        threads = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("Threads:"))
        return {
            "fds": len(os.listdir(f"/proc/{self.pid}/fd")),
            "threads": threads,
            "rss_kib": rss_kib(self.pid),
        }

    def children(self) -> list[int]:
        return children(self.pid)


@contextmanager
def agent_process(
    directory: Path,
    pki: Pki,
    switch_port: int,
    control_plane: str,
    *,
    heartbeat_period: float = 30.0,
    env: Mapping[str, str] | None = None,
) -> Iterator[AgentProcess]:
    """Run ``pvp kiosk --bundle`` until the block ends, then SIGTERM it (15 s to stop)."""
    screen_port = write_bundle(directory / "bundle", pki, switch_port)
    bundle_file = directory / "bundle" / "kiosk.json"
    bundle = json.loads(bundle_file.read_text())
    bundle["control_plane"]["url"] = control_plane
    bundle_file.write_text(json.dumps(bundle))
    command = [sys.executable, "-m", "pvp.cli", "kiosk", "--bundle", str(directory / "bundle")]
    command += ["--heartbeat-period", str(heartbeat_period)]
    with (directory / "agent.log").open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=dict(env or os.environ)
        )
    try:
        yield AgentProcess(process, f"http://127.0.0.1:{screen_port}")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
