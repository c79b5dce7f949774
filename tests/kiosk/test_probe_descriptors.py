"""The heartbeat's device probes release what they open, with Debian's *default* SANE set-up.

The other device tests restrict SANE to its ``test`` backend; a kiosk runs with every backend
of ``/etc/sane.d/dll.conf``, whose USB backends each hold a libusb context. libsane reads its
configuration once per process, so the probes run in a child process whose SANE loads
Debian's whole ``dll.conf`` (and, for scans, the ``test`` backend beside it), as ``pvp kiosk``
does on a kiosk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.devices import FileQueue, write_sane_test_config

PROBES = 40
SCAN_EVERY = 8  # probes; a scan of one page on SANE's test scanner
DEBIAN_SANE = Path("/etc/sane.d")
# Descriptors and threads the first probes may open for good (libusb contexts, CUPS).
SLACK_FDS, SLACK_THREADS = 4, 1

CHILD = """
import json, os, sys, threading
from pathlib import Path
from pvp.kiosk.heartbeat import Probes, camera_present, gather, printer_probe, scanner_probe
from pvp.kiosk.scanner import Scanner

queue, server, count, scan_every = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
probes = Probes(printer_probe(queue, server), scanner_probe(None), camera_present, Path("."))

def sample():
    return {"fds": len(os.listdir("/proc/self/fd")), "threads": threading.active_count()}

start = sample()
beats = [gather(probes, sip_registered=True, ua_alive=True, screen_state="idle")]
first = sample()
Scanner("test:0").scan(pages=1, dpi=50)
first = max(first, sample(), key=lambda counts: counts["fds"])
scans = 1
for n in range(count - 1):
    beats.append(gather(probes, sip_registered=True, ua_alive=True, screen_state="idle"))
    if n % scan_every == 0:
        scans += len(Scanner("test:0").scan(pages=1, dpi=50).images)
print(json.dumps({"start": start, "first": first, "last": sample(), "scans": scans,
                  "printer": beats[-1].printer.state if beats[-1].printer else None}))
"""


@pytest.mark.skipif(
    not (DEBIAN_SANE / "dll.conf").exists(), reason="Debian's SANE configuration is absent"
)
def test_many_heartbeat_probes_and_scans_with_default_sane_keep_descriptors_and_threads_flat(
    pdf_queue: FileQueue, tmp_path: Path
) -> None:
    # Debian's backends plus "test"; a trailing ":" makes SANE read every other backend's
    # own configuration from its default directory.
    config = write_sane_test_config(tmp_path / "sane")
    debian = (DEBIAN_SANE / "dll.conf").read_text()
    (config / "dll.conf").write_text(f"{debian}\ntest\n")
    env = {**os.environ, "SANE_CONFIG_DIR": f"{config}:"}
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            pdf_queue.name,
            pdf_queue.server,
            str(PROBES),
            str(SCAN_EVERY),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    counts = json.loads(child.stdout.strip().splitlines()[-1])

    assert counts["printer"] == "idle"  # the printer probe really reached cupsd
    assert counts["scans"] == 1 + len(range(0, PROBES - 1, SCAN_EVERY))
    # With default backends SANE opens dozens of descriptors on its first scan of the bus.
    assert counts["first"]["fds"] > counts["start"]["fds"]
    assert counts["last"]["fds"] <= counts["first"]["fds"] + SLACK_FDS, counts
    assert counts["last"]["threads"] <= counts["first"]["threads"] + SLACK_THREADS, counts
