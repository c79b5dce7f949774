"""The served control plane (``pvp serve``, waitress) refuses a body past the largest route
bound at the socket, before reading it: waitress alone would take 1 GiB per request."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from testkit.ports import free_port


def test_900_mb_announced_are_refused_at_once(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PVP_DATA_DIR": str(tmp_path / "data")}
    pvp = Path(sys.executable).with_name("pvp")
    server = subprocess.Popen(
        [str(pvp), "serve", "--host", "127.0.0.1", "--port", str(port), "--freeswitch", "off"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "pvp serve did not answer"
            time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(
                b"POST /api/v1/kiosks/kiosk-vorey-1/heartbeat HTTP/1.1\r\n"
                b"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 943718400\r\n\r\n{"
            )
            answer = s.recv(4096).decode(errors="replace")
        assert answer.startswith("HTTP/1.1 413"), answer[:200]
    finally:
        server.terminate()
        server.wait(timeout=10)
