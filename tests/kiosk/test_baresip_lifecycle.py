"""Starting and stopping baresip leaves no process behind, even if the agent is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pvp.kiosk.baresip import (
    BaresipController,
    BaresipError,
    BaresipProcess,
    InvalidStateError,
    ProcessState,
)

from .conftest import free_tcp_port, requires_baresip, run, running_engine

pytestmark = requires_baresip


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting for its reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_stop_terminates_baresip(tmp_path: Path) -> None:
    async def body() -> int:
        async with running_engine(tmp_path, "kiosk") as kiosk:
            pid = kiosk.process.pid
            assert pid is not None and alive(pid)
            with pytest.raises(InvalidStateError):
                await kiosk.process.start()
        assert kiosk.states[-1] is ProcessState.STOPPED
        return pid

    assert wait_gone(run(body()), 1)


def test_start_reports_a_baresip_that_cannot_start(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("module_path\t/nonexistent\nmodule_app\tctrl_tcp.so\n")
    (tmp_path / "accounts").write_text("")
    states: list[ProcessState] = []

    async def body() -> None:
        controller = BaresipController(free_tcp_port())
        process = BaresipProcess(tmp_path, controller, observer=states.append, ready_timeout=1)
        try:
            with pytest.raises(BaresipError, match="baresip"):
                await process.start()
        finally:
            await controller.close()

    run(body())
    assert states == [ProcessState.STARTING, ProcessState.STOPPED]


AGENT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from tests.kiosk.conftest import running_engine

    async def main():
        async with running_engine(Path(sys.argv[1]), "kiosk") as kiosk:
            print(kiosk.process.pid, flush=True)
            await asyncio.sleep(60)

    asyncio.run(main())
    """
)


def test_baresip_dies_with_a_killed_agent(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT, str(tmp_path)],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert agent.stdout is not None
        pid = int(agent.stdout.readline())
        assert alive(pid)
        agent.send_signal(signal.SIGKILL)
        agent.wait(5)
        assert wait_gone(pid, 5), "baresip outlived its agent"
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait(5)
        if agent.stdout is not None:
            agent.stdout.close()
