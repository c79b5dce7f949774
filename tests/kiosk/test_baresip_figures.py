"""Figures of baresip on this machine (docs/kiosk-baresip.md), with loose bounds.

Run with ``-s`` to see them: ``.venv/bin/pytest tests/kiosk/test_baresip_figures.py -s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import time
from pathlib import Path

import pytest

from pvp.kiosk.baresip import EventType, ProcessState

from .conftest import requires_baresip, run, running_engine, wait_until
from .registrar import sip_response
from .test_baresip_call import establish, hang_up

pytestmark = requires_baresip

TICKS = os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def cpu_percent(pid: int, seconds: float) -> float:
    before, start = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / (time.monotonic() - start)


def report(capsys: pytest.CaptureFixture[str], figures: dict[str, float]) -> None:
    with capsys.disabled():
        print()
        for name, value in figures.items():
            print(f"  {name}: {value:.1f}")


def test_dial_to_invite_on_the_wire(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A UDP socket plays the callee and timestamps the INVITE's arrival."""

    async def body() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.bind(("127.0.0.1", 0))
            peer.setblocking(False)
            port = peer.getsockname()[1]
            started = time.monotonic()
            async with running_engine(tmp_path, "kiosk") as kiosk:
                startup = time.monotonic() - started
                delays = []
                for _ in range(5):
                    closed = kiosk.controller.expect(EventType.CALL_CLOSED)
                    sent = time.monotonic()
                    await kiosk.controller.dial(f"sip:anpe@127.0.0.1:{port}")
                    data, addr = await asyncio.wait_for(loop.sock_recvfrom(peer, 65536), 2)
                    delays.append((time.monotonic() - sent) * 1000)
                    assert data.startswith(b"INVITE sip:anpe@127.0.0.1")
                    # Busy: the call ends at once, with no CANCEL left pending.
                    await loop.sock_sendto(peer, sip_response(data, "486 Busy Here"), addr)
                    assert "486" in (await asyncio.wait_for(closed, 5)).param
                    await asyncio.sleep(0.1)  # baresip's ACK
                    with contextlib.suppress(BlockingIOError):
                        while peer.recv(65536):
                            pass
        return {
            "start() until ctrl_tcp answers, ms": startup * 1000,
            "dial() to INVITE on the wire, first call, ms": delays[0],
            "dial() to INVITE on the wire, median of next 4, ms": statistics.median(delays[1:]),
        }

    figures = run(body())
    report(capsys, figures)
    assert figures["dial() to INVITE on the wire, median of next 4, ms"] < 200
    assert figures["start() until ctrl_tcp answers, ms"] < 5000


def test_resources_idle_and_in_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def body() -> dict[str, float]:
        async with (
            running_engine(tmp_path, "alice", video_size=(640, 480)) as alice,
            running_engine(tmp_path, "bob", audio_source="aubridge,mic") as bob,
        ):
            pid = alice.process.pid
            assert pid is not None
            await asyncio.sleep(0.5)
            figures = {
                "idle RSS, MiB": rss_mib(pid),
                "idle CPU, %": await cpu_percent(pid, 3),
            }
            await establish(alice, bob)
            await asyncio.sleep(1)
            figures[
                "in call CPU (VP8 640x480 sent, 352x288 received, 25 fps, Opus), %"
            ] = await cpu_percent(pid, 3)
            figures["in call RSS, MiB"] = rss_mib(pid)
            await hang_up(alice, bob)

            killed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            await wait_until(lambda: len(alice.states) == 4, 10, "restarted")
            assert alice.states[-1] is ProcessState.RUNNING
            figures["SIGKILL to running again, ms"] = (time.monotonic() - killed) * 1000
            return figures

    figures = run(body(), timeout=40)
    report(capsys, figures)
    assert figures["idle RSS, MiB"] < 100
    assert figures["idle CPU, %"] < 10
