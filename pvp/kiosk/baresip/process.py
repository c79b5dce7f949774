"""Runs baresip as a child process and keeps it running.

baresip registers by itself when it starts, so a restart is also a re-registration. The
observer hears every state change (starting, running, restarting, stopped) so the kiosk
screen can say "service momentanément indisponible" while the engine comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable
from pathlib import Path

from pvp.children import die_with_parent, terminate
from pvp.kiosk.baresip.config import find_binary
from pvp.kiosk.baresip.controller import BaresipController
from pvp.kiosk.baresip.errors import BaresipError, BaresipNotConnected

log = logging.getLogger(__name__)

LOG_ROTATE_BYTES = 1 << 20


class ProcessState(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPED = "stopped"


StateObserver = Callable[[ProcessState], None]


class InvalidStateError(BaresipError):
    """The process object cannot do that in its current state."""


class BaresipProcess:
    """``baresip -f CONFDIR`` under supervision, with its :class:`BaresipController`."""

    def __init__(
        self,
        config_dir: Path,
        controller: BaresipController,
        *,
        observer: StateObserver | None = None,
        binary: str | None = None,
        ready_timeout: float = 10.0,
        restart_delay: float = 0.5,
        restart_delay_max: float = 15.0,
        stop_timeout: float = 3.0,
        log_path: Path | None = None,
    ) -> None:
        self.config_dir = config_dir
        self.controller = controller
        self.binary = binary or find_binary() or "baresip"
        self.ready_timeout = ready_timeout
        self.restart_delay = restart_delay
        self.restart_delay_max = restart_delay_max
        self.stop_timeout = stop_timeout
        self.log_path = log_path or config_dir / "baresip.log"
        self._observers: list[StateObserver] = [observer] if observer else []
        self._state = ProcessState.STOPPED
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self.restarts = 0

    @property
    def state(self) -> ProcessState:
        return self._state

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def add_observer(self, observer: StateObserver) -> None:
        self._observers.append(observer)

    async def start(self) -> None:
        """Start baresip and return once ctrl_tcp answers; raise if it does not."""
        if self._state is not ProcessState.STOPPED:
            raise InvalidStateError(f"cannot start baresip while {self._state}")
        self._set_state(ProcessState.STARTING)
        self.controller.start()
        try:
            await self._spawn_and_wait()
        except BaseException:
            await self._terminate()
            self._set_state(ProcessState.STOPPED)
            raise
        self._set_state(ProcessState.RUNNING)
        self._supervisor = asyncio.create_task(self._supervise(), name="baresip-supervisor")

    async def stop(self) -> None:
        """Stop supervising, then SIGTERM baresip (it unregisters), SIGKILL if it lingers."""
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        await self._terminate()
        if self._state is not ProcessState.STOPPED:
            self._set_state(ProcessState.STOPPED)

    async def _spawn_and_wait(self) -> None:
        self._rotate_log()
        with self.log_path.open("ab") as log_file:
            self._process = await asyncio.create_subprocess_exec(
                self.binary,
                "-f",
                str(self.config_dir),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.config_dir,
                preexec_fn=die_with_parent,
            )
        log.info("baresip started, pid %s", self._process.pid)
        self.controller.reconnect_now()
        exited = asyncio.ensure_future(self._process.wait())
        ready = asyncio.ensure_future(self._wait_ready())
        try:
            done, _ = await asyncio.wait(
                {exited, ready}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
            exited.cancel()
        if exited in done:
            raise BaresipError(
                f"baresip exited with status {self._process.returncode} while starting; "
                f"see {self.log_path}"
            )
        if ready not in done:
            raise BaresipNotConnected(
                f"baresip ctrl_tcp silent for {self.ready_timeout} s; see {self.log_path}"
            )
        ready.result()

    async def _wait_ready(self) -> None:
        # The controller connects by itself once the port listens; one answered request
        # proves that this baresip (not a stale one) is serving it.
        while True:
            await self.controller.wait_connected(self.ready_timeout)
            try:
                await self.controller.refresh_registration()
                return
            except BaresipNotConnected:
                await asyncio.sleep(0.05)

    async def _supervise(self) -> None:
        delay = self.restart_delay
        while True:
            assert self._process is not None
            loop = asyncio.get_running_loop()
            started = loop.time()
            code = await self._process.wait()
            log.error("baresip exited with status %s; restarting", code)
            self._set_state(ProcessState.RESTARTING)
            if loop.time() - started > 60:
                delay = self.restart_delay  # it had been running fine: no crash loop
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.restart_delay_max)
                self.restarts += 1
                try:
                    await self._spawn_and_wait()
                    break
                except (BaresipError, OSError) as exc:
                    log.error("baresip restart failed: %s", exc)
                    await self._terminate()
            self._set_state(ProcessState.RUNNING)

    async def _terminate(self) -> None:
        await terminate(self._process, self.stop_timeout)

    def _rotate_log(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self.log_path.stat().st_size > LOG_ROTATE_BYTES:
                self.log_path.replace(self.log_path.with_name(self.log_path.name + ".1"))

    def _set_state(self, state: ProcessState) -> None:
        if state is self._state:
            return
        log.info("baresip %s -> %s", self._state, state)
        self._state = state
        for observer in list(self._observers):
            try:
                observer(state)
            except Exception:
                log.exception("baresip state observer failed")
