"""The heartbeat's device probes release what they open, with Debian's *default* SANE set-up.

The other device tests restrict SANE to its ``test`` backend; a kiosk runs with every backend
of ``/etc/sane.d/dll.conf``, whose USB backends each hold a libusb context. libsane reads its
configuration once per process, so the probes run in a child process without
``SANE_CONFIG_DIR``, as ``pvp kiosk`` does on a kiosk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from device_harness import FileQueue

PROBES = 40
# Descriptors and threads the first probes may open for good (libusb contexts, CUPS).
SLACK_FDS, SLACK_THREADS = 4, 1

CHILD = """
import json, os, sys, threading
from pathlib import Path
from pvp.kiosk.heartbeat import Probes, camera_present, gather, printer_probe, scanner_probe

queue, server, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
probes = Probes(printer_probe(queue, server), scanner_probe(None), camera_present, Path("."))

def sample():
    return {"fds": len(os.listdir("/proc/self/fd")), "threads": threading.active_count()}

start = sample()
beats = [gather(probes, sip_registered=True, ua_alive=True, screen_state="idle")]
first = sample()
for _ in range(count - 1):
    beats.append(gather(probes, sip_registered=True, ua_alive=True, screen_state="idle"))
print(json.dumps({"start": start, "first": first, "last": sample(),
                  "printer": beats[-1].printer.state if beats[-1].printer else None}))
"""


@pytest.mark.skipif(
    not Path("/etc/sane.d/dll.conf").exists(), reason="Debian's SANE configuration is absent"
)
def test_many_heartbeat_probes_with_default_sane_keep_descriptors_and_threads_flat(
    pdf_queue: FileQueue,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SANE_CONFIG_DIR"}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, pdf_queue.name, pdf_queue.server, str(PROBES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    counts = json.loads(child.stdout.strip().splitlines()[-1])

    assert counts["printer"] == "idle"  # the printer probe really reached cupsd
    # With default backends SANE opens dozens of descriptors on its first scan of the bus.
    assert counts["first"]["fds"] > counts["start"]["fds"]
    assert counts["last"]["fds"] <= counts["first"]["fds"] + SLACK_FDS, counts
    assert counts["last"]["threads"] <= counts["first"]["threads"] + SLACK_THREADS, counts
