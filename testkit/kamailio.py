"""Debian's Kamailio run on a rendered site (pvp.deploy.kamailio), for the live tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pvp.deploy.kamailio import KamailioSite, render_kamailio
from pvp.deploy.pool import dispatcher_set

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"


class Kamailio:
    def __init__(self, site: KamailioSite, workdir: Path) -> None:
        self.site, self.workdir = site, workdir
        self.cfg = render_kamailio(site, workdir)
        self.log = open(workdir / "kamailio.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                KAMAILIO,
                "-f",
                str(self.cfg),
                "-DD",
                "-E",
                "-Y",
                str(workdir),
                "-P",
                str(workdir / "kamailio.pid"),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def destinations(self) -> dict[str, str]:
        """``dispatcher.list``: each switch's URI and flags (AP: active, IP: inactive)."""
        out = subprocess.run(
            [KAMCMD, "-s", f"unix:{self.site.ctl_socket}", "dispatcher.list"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        return dispatcher_set(out)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
