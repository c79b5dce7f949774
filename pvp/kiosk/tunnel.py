"""A verifying TLS tunnel (stunnel) between baresip and the switch.

baresip 1.0 does not check the switch's certificate (NOTES.md): whoever answers on the
switch's address would get its SIP signalling, digest answers and SRTP keys. So baresip
speaks to a local stunnel on 127.0.0.1, and stunnel speaks TLS to the switch, refusing any
certificate that does not chain to the bundle's CA (``verifyChain``) and name the switch
(``checkHost`` / ``checkIP``). If the check fails, stunnel closes the local connection:
nothing baresip wrote ever leaves the kiosk.

baresip still speaks TLS to the local end (with a throw-away certificate, which it does not
check anyway), because FreeSWITCH's SIP stack drops any request whose top Via names another
transport than the connection it came on (sofia-sip ``agent_check_request_via``: "Via check:
invalid transport"): a ``Via: SIP/2.0/TCP`` arriving over TLS is never answered. So the
tunnel is two stunnel services joined by a Unix socket in its private directory:

    baresip ─TLS─► [local] 127.0.0.1:PORT ─► tunnel.sock ─► [switch] ─TLS, verified─► switch
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pvp.children import die_with_parent, terminate

log = logging.getLogger("pvp.kiosk.tunnel")

READY_LINE = b"Configuration successful"
LOCAL_CERT, LOCAL_KEY, SOCKET = "local-cert.pem", "local-key.pem", "tunnel.sock"


class TunnelError(Exception):
    """stunnel is missing, or did not start."""


@dataclass(frozen=True)
class TunnelConfig:
    accept_port: int  # on 127.0.0.1, where baresip sends its SIP
    switch_host: str
    switch_port: int
    ca_file: Path
    switch_name: str  # the name (or address) the switch's certificate must carry

    def text(self, directory: Path) -> str:
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
                # When the switch's connection ends (a restart), close baresip's at once:
                # waiting for its close_notify (60 s by default) left baresip writing the
                # next INVITE into a dead connection (issue 15).
                "TIMEOUTclose = 0",
                "",
                "[local]",
                f"accept = 127.0.0.1:{self.accept_port}",
                f"cert = {directory / LOCAL_CERT}",
                f"key = {directory / LOCAL_KEY}",
                f"connect = {directory / SOCKET}",
                "socket = l:TCP_NODELAY=1",
                "",
                "[switch]",
                "client = yes",
                f"accept = {directory / SOCKET}",
                f"connect = {self.switch_host}:{self.switch_port}",
                "verifyChain = yes",
                f"CAfile = {self.ca_file}",
                check,
                "sslVersionMin = TLSv1.2",
                # SIP is small messages: do not let Nagle hold an INVITE back.
                "socket = r:TCP_NODELAY=1",
                "",
            ]
        )


def write_local_identity(directory: Path) -> None:
    """A fresh self-signed certificate for baresip's TLS to the local end (never trusted by
    anyone: baresip does not check it, and it is worth nothing beyond 127.0.0.1)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(directory / LOCAL_KEY, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    (directory / LOCAL_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


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
        self.directory.chmod(0o700)
        write_local_identity(self.directory)
        (self.directory / SOCKET).unlink(missing_ok=True)
        self.conf_path.write_text(self.config.text(self.directory))
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
            preexec_fn=die_with_parent,
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
