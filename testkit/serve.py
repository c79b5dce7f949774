"""A real ``pvp serve`` process (so that a test can kill it), for the live tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from pvp.config import Settings


class ServeProcess:
    """``pvp serve --freeswitch off`` on these settings, its own port, its log."""

    def __init__(self, settings: Settings, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        env = dict(os.environ)
        settings = settings.model_copy(update={"http_port": port})
        for name, value in settings.model_dump().items():
            if value is not None:
                env[f"PVP_{name.upper()}"] = str(value)
        env["PVP_FREESWITCH_CONF_DIR"] = ""  # the switch's files are another machine's
        pvp = Path(sys.executable).with_name("pvp")
        command = [str(pvp), "serve", "--host", "127.0.0.1", "--port", str(port)]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [*command, "--freeswitch", "off"], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def logged(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()
