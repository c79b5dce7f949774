"""The kiosk's health report: gathered from its devices, sent to the control plane every 30 s.

Gathering touches CUPS and SANE, which may take seconds (SANE probes USB): the agent runs
:func:`gather` and :meth:`HeartbeatSender.send` in a worker thread, never on its event loop.
"""

from __future__ import annotations

import glob
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import requests
from requests.auth import HTTPDigestAuth

from pvp import __version__
from pvp.wire.heartbeat import Heartbeat, PrinterHealth

log = logging.getLogger("pvp.kiosk.heartbeat")
T = TypeVar("T")


@dataclass(frozen=True)
class Probes:
    """Where each device's state comes from; tests give their own."""

    printer: Callable[[], PrinterHealth | None]
    scanner_present: Callable[[], bool | None]
    camera_present: Callable[[], bool]
    disk_path: Path


def printer_probe(queue: str, server: str | None = None) -> Callable[[], PrinterHealth | None]:
    def probe() -> PrinterHealth | None:
        from pvp.kiosk.printer import Printer, PrinterState

        status = Printer(queue, server).status()
        state = {
            PrinterState.IDLE: "idle",
            PrinterState.PROCESSING: "printing",
            PrinterState.STOPPED: "stopped",
        }.get(status.state, "absent")
        reasons = [problem.value for problem in status.problems][:20]
        return PrinterHealth(state=state, reasons=reasons, message=(status.reason or "")[:200])

    return probe


def scanner_probe(device: str | None = None) -> Callable[[], bool | None]:
    def probe() -> bool | None:
        from pvp.kiosk.scanner import Scanner

        return Scanner(device).status().present

    return probe


def camera_present() -> bool:
    return bool(glob.glob("/dev/video*"))


def _guarded(probe: Callable[[], T], what: str) -> T | None:
    # A broken device must not stop the heartbeat: it is how the site agent learns of it.
    try:
        return probe()
    except Exception as exc:
        log.warning("%s state unknown: %s", what, exc)
        return None


def gather(probes: Probes, *, sip_registered: bool, ua_alive: bool, screen_state: str) -> Heartbeat:
    free = _guarded(lambda: shutil.disk_usage(probes.disk_path).free // (1 << 20), "disk")
    return Heartbeat(
        version=__version__,
        sip_registered=sip_registered,
        ua_alive=ua_alive,
        printer=_guarded(probes.printer, "printer"),
        scanner_present=_guarded(probes.scanner_present, "scanner"),
        camera_present=_guarded(probes.camera_present, "camera"),
        disk_free_mb=free,
        screen_state=screen_state,
    )


class HeartbeatSender:
    """POSTs heartbeats with Digest authentication (the kiosk's SIP user and secret)."""

    def __init__(
        self,
        base_url: str,
        kiosk: str,
        password: str,
        *,
        ca_file: Path | None = None,
        session: requests.Session | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/api/v1/kiosks/{kiosk}/heartbeat"
        self.session = session or requests.Session()
        self.session.auth = HTTPDigestAuth(kiosk, password)
        if ca_file is not None:
            self.session.verify = str(ca_file)
        self.timeout = timeout

    def send(self, beat: Heartbeat) -> bool:
        try:
            answer = self.session.post(
                self.url, json=beat.model_dump(mode="json"), timeout=self.timeout
            )
            answer.raise_for_status()
        except requests.RequestException as exc:
            log.warning("heartbeat not delivered: %s", exc)
            return False
        return True
