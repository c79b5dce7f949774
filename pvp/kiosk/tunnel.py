"""A verifying TLS tunnel (stunnel) between baresip and the switch.

baresip 1.0 does not check the switch's certificate (NOTES.md): whoever answers on the
switch's address would get its SIP signalling, digest answers and SRTP keys. So baresip
speaks plain SIP over TCP to a local stunnel on 127.0.0.1, and stunnel speaks TLS to the
switch, refusing any certificate that does not chain to the bundle's CA (``verifyChain``)
and name the switch (``checkHost`` / ``checkIP``). If the check fails, stunnel closes the
local connection: nothing baresip wrote ever leaves the kiosk.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from pvp.kiosk.baresip.process import _die_with_parent, terminate

log = logging.getLogger("pvp.kiosk.tunnel")

READY_LINE = b"Configuration successful"


class TunnelError(Exception):
    """stunnel is missing, or did not start."""


@dataclass(frozen=True)
class TunnelConfig:
    accept_port: int  # on 127.0.0.1, where baresip sends its SIP
    switch_host: str
    switch_port: int
    ca_file: Path
    switch_name: str  # the name (or address) the switch's certificate must carry

    def text(self) -> str:
        try:
            ipaddress.ip_address(self.switch_name)
            check = f"checkIP = {self.switch_name}"
        except ValueError:
            check = f"checkHost = {self.switch_name}"
        for value in (self.switch_host, self.switch_name, str(self.ca_file)):
            if any(c in value for c in "\n\r;"):
                raise ValueError(f"invalid stunnel value {value!r}")
        return "\n".join(
            [
                "; stunnel configuration written by pvp.kiosk.tunnel; edits are overwritten",
                "foreground = yes",
                "pid =",
                "syslog = no",
                "debug = notice",
                "",
                "[sip]",
                "client = yes",
                f"accept = 127.0.0.1:{self.accept_port}",
                f"connect = {self.switch_host}:{self.switch_port}",
                "verifyChain = yes",
                f"CAfile = {self.ca_file}",
                check,
                "sslVersionMin = TLSv1.2",
                # SIP is small messages: do not let Nagle hold an INVITE back.
                "socket = l:TCP_NODELAY=1",
                "socket = r:TCP_NODELAY=1",
                "",
            ]
        )


def find_stunnel() -> str | None:
    return shutil.which("stunnel4") or shutil.which("stunnel")


class Tunnel:
    """``stunnel CONF`` as a supervised child: restarted if it dies."""

    def __init__(
        self,
        config: TunnelConfig,
        directory: Path,
        *,
        ready_timeout: float = 5.0,
        restart_delay: float = 0.5,
    ) -> None:
        self.config = config
        self.directory = directory
        self.ready_timeout = ready_timeout
        self.restart_delay = restart_delay
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self.restarts = 0

    @property
    def conf_path(self) -> Path:
        return self.directory / "stunnel.conf"

    @property
    def log_path(self) -> Path:
        return self.directory / "stunnel.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.conf_path.write_text(self.config.text())
        await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise(), name="stunnel-supervisor")

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        await terminate(self._process, 3.0)

    async def _spawn(self) -> None:
        binary = find_stunnel()
        if binary is None:
            raise TunnelError("stunnel is not installed (Debian package stunnel4)")
        self._process = await asyncio.create_subprocess_exec(
            binary,
            str(self.conf_path),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        assert self._process.stderr is not None
        try:
            async with asyncio.timeout(self.ready_timeout):
                await self._wait_ready(self._process.stderr)
        except (TimeoutError, TunnelError):
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            raise TunnelError(f"stunnel did not start; see {self.log_path}") from None
        # From now on its log goes on to the file.
        asyncio.get_running_loop().create_task(self._copy_log(self._process.stderr))

    async def _wait_ready(self, stream: asyncio.StreamReader) -> None:
        with self.log_path.open("ab") as out:
            while line := await stream.readline():
                out.write(line)
                if READY_LINE in line:
                    return
        raise TunnelError("stunnel exited")

    async def _copy_log(self, stream: asyncio.StreamReader) -> None:
        with self.log_path.open("ab") as out:
            while line := await stream.readline():
                out.write(line)
                out.flush()

    async def _supervise(self) -> None:
        while True:
            assert self._process is not None
            code = await self._process.wait()
            log.error("stunnel exited with status %s; restarting", code)
            while True:
                await asyncio.sleep(self.restart_delay)
                self.restarts += 1
                try:
                    await self._spawn()
                    break
                except (TunnelError, OSError) as exc:
                    log.error("stunnel restart failed: %s", exc)
