"""Real baresip instances on 127.0.0.1 for the kiosk engine tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pvp.kiosk.baresip import (
    BaresipConfig,
    BaresipController,
    BaresipProcess,
    MediaDevice,
    MediaEncryption,
    ProcessState,
    SipAccount,
    Transport,
    find_binary,
    write_config_dir,
)

requires_baresip = pytest.mark.skipif(
    find_binary() is None,
    reason="baresip binary not installed (Debian package baresip-core, see packages.debian)",
)

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run one test body on a fresh loop, bounded in time."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await coro

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(bounded())
    # The session's Playwright (sync API) runs a loop in this thread: use another thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, bounded()).result()


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition that no event announces."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not {what} within {timeout} s") from None


def _free(kind: socket.SocketKind, port: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_sip_port() -> int:
    """A port P with UDP P, TCP P and TCP P+1 (baresip's TLS) free."""
    for _ in range(50):
        port = free_tcp_port()
        if port < 65535 and _free(socket.SOCK_DGRAM, port) and _free(socket.SOCK_STREAM, port + 1):
            return port
    raise RuntimeError("no free SIP port pair on 127.0.0.1")


@dataclass
class Engine:
    name: str
    config: BaresipConfig
    process: BaresipProcess
    states: list[ProcessState] = field(default_factory=list)

    @property
    def controller(self) -> BaresipController:
        return self.process.controller

    @property
    def directory(self) -> Path:
        return self.process.config_dir

    @property
    def uri(self) -> str:
        return f"sip:{self.name}@127.0.0.1:{self.config.sip_port}"

    def recording(self, direction: str) -> Path:
        """The WAV sndfile wrote of what this side received ("dec") or sent ("enc")."""
        assert self.config.record_dir is not None
        (path,) = sorted(self.config.record_dir.glob(f"dump-*-{direction}.wav"))
        return path


@contextlib.asynccontextmanager
async def running_engine(
    base: Path,
    name: str,
    *,
    audio_source: str = "ausine,440",
    audio_player: str = "aubridge,speaker",
    account: SipAccount | None = None,
    video_size: tuple[int, int] = (352, 288),
    **overrides: Any,
) -> AsyncIterator[Engine]:
    """A started, supervised baresip with test devices; stopped (no orphan) on exit."""
    directory = base / name
    config = BaresipConfig(
        account=account
        or SipAccount(name, "127.0.0.1", transport=Transport.UDP, mediaenc=MediaEncryption.NONE),
        ctrl_port=free_tcp_port(),
        sip_port=free_sip_port(),
        audio_source=MediaDevice.parse(audio_source),
        audio_player=MediaDevice.parse(audio_player),
        audio_alert=MediaDevice("aubridge", "alert"),
        video_source=MediaDevice("fakevideo", "nil"),
        video_display=MediaDevice("fakevideo", "nil"),
        video_size=video_size,
        record_dir=directory / "rec",
        snapshots=True,
        **overrides,
    )
    write_config_dir(config, directory)
    controller = BaresipController(config.ctrl_port, request_timeout=3.0)
    engine = Engine(name, config, BaresipProcess(directory, controller, restart_delay=0.1))
    engine.process.add_observer(engine.states.append)
    try:
        await engine.process.start()
        yield engine
    finally:
        await engine.process.stop()
        await controller.close()
