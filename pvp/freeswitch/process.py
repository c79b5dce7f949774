"""Run a FreeSWITCH process on a rendered configuration (live tests, benchmarks, demos).

FreeSWITCH is not packaged for Debian 12: it is found through ``freeswitch_bin`` (env
``PVP_FREESWITCH_BIN``), then ``PATH``, then ``/opt/freeswitch/bin/freeswitch``. Every
directory it writes to is moved under one working directory, so several instances can run
side by side without touching ``/opt/freeswitch``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pvp.common.children import die_with_parent
from pvp.config import Settings

DEFAULT_BINARY = Path("/opt/freeswitch/bin/freeswitch")
WHERE = "set PVP_FREESWITCH_BIN, put freeswitch on PATH, or install /opt/freeswitch/bin/freeswitch"
RUNTIME_DIRS = ("log", "db", "run", "temp", "storage", "recordings", "cache")


def find_binary(settings: Settings) -> Path | None:
    """The FreeSWITCH executable, or None when there is none (see :data:`WHERE`)."""
    candidates = [settings.freeswitch_bin, shutil.which("freeswitch"), str(DEFAULT_BINARY)]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@dataclass
class FreeSwitch:
    """One FreeSWITCH in the foreground (``-nf -nc``: its PID is the real one)."""

    binary: Path
    conf: Path
    workdir: Path
    certs: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def log_file(self) -> Path:
        return self.workdir / "log" / "freeswitch.log"

    def command(self) -> list[str]:
        args = [str(self.binary), "-nf", "-nc", "-nonat", "-conf", str(self.conf)]
        for name in RUNTIME_DIRS:
            args += [f"-{name}", str(self.workdir / name)]
        return args + ["-certs", str(self.certs)]

    def start(self) -> None:
        for name in RUNTIME_DIRS:
            (self.workdir / name).mkdir(parents=True, exist_ok=True)
        out = open(self.workdir / "stdout.log", "wb")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            self.command(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,  # a killed test run leaves no switch behind
        )
        out.close()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, then wait: the next instance must not start before this one left."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
