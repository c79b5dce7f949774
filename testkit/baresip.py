"""A real SIP user agent (Debian's baresip) registering a counsellor to the test switch."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import IO

from testkit.ports import free_port_pair

MODULES = Path("/usr/lib/baresip/modules")


def baresip_binary() -> str | None:
    return shutil.which("baresip") if MODULES.is_dir() else None


class Baresip:
    def __init__(self, root: Path, user: str, password: str, domain: str, sip_port: int) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "config").write_text(
            "poll_method epoll\n"
            f"sip_listen 127.0.0.1:{free_port_pair()}\n"
            "net_interface 127.0.0.1\n"  # NOTES.md: `lo` fails, the address works
            f"module_path {MODULES}\n"
            "module g711.so\n"
            "module_app account.so\n"
        )
        (root / "accounts").write_text(
            f"<sip:{user}@{domain}>;auth_pass={password};"
            f'outbound="sip:127.0.0.1:{sip_port}";regint=600\n'
        )
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self._log = open(self.root / "baresip.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [baresip_binary() or "baresip", "-f", str(self.root)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        """SIGTERM: baresip unregisters (REGISTER with expires 0) before it exits."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
