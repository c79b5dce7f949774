"""The kiosk screen's own server (waitress, as the agent runs it) with many open descriptors."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator

import pytest
import requests

from pvp.common.serving import ThreadedServer
from pvp.kiosk.screen import Screen
from pvp.kiosk.screen.app import create_screen_app
from testkit.ports import free_port

KIOSK = {"id": "k", "commune": "Vorey", "buttons": [{"service": "msa", "label": "MSA"}]}


@pytest.fixture
def crowded_descriptors() -> Iterator[None]:
    """Take every descriptor below 1100, as a long-running agent's libraries might."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"descriptor limit {hard} too low")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = []
    while (fd := os.open(os.devnull, os.O_RDONLY)) < 1100:
        held.append(fd)
    held.append(fd)
    yield
    for fd in held:
        os.close(fd)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_screen_server_answers_with_descriptors_past_1024(crowded_descriptors: None) -> None:
    pressed: list[str] = []
    app = create_screen_app(Screen(), KIOSK, on_press=pressed.append)
    port = free_port()
    server = ThreadedServer(app, "127.0.0.1", port, threads=2, name="screen").start()
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(3):
            assert requests.get(f"{url}/state", timeout=5).json()["view"] == "idle"
        assert requests.post(f"{url}/press/msa", headers={"Origin": url}, timeout=5).ok
        assert pressed == ["msa"] and server.thread.is_alive()
    finally:
        server.stop()
