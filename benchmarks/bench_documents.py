"""Benchmark of the document paths, end to end on loopback, with real cupsd and SANE.

    .venv/bin/python -m benchmarks.bench_documents [--prints N] [--scans N]

Prints medians of:
- PDF sent to completed print: the counsellor POSTs a 3-page PDF to the control plane's
  HTTP API; the encoded command reaches the kiosk's handlers (the SIP hop through
  FreeSWITCH is measured apart, in tests/live); the kiosk prints on a private cupsd and its
  ``done`` answer is recorded by the control plane. Inline, then by reference (HTTP
  download with Digest authentication).
- A4 300 dpi scan to PDF in the store: the counsellor asks for a scan; the kiosk scans
  SANE's test picture, makes one lossless PDF, uploads it (Digest), and the control plane
  has it stored and its ``done`` answer recorded.
Not a test: it measures, it asserts nothing. Needs root (cupsd runs its filters as lp),
cups-daemon, libsane1, poppler-utils.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
from requests.auth import HTTPDigestAuth

from pvp.common.serving import ThreadedServer
from pvp.config import Settings
from pvp.db import Database
from pvp.kiosk.scanner import Scanner
from pvp.model import DocumentTransfer
from pvp.plan import load_plan
from pvp.provisioning import apply_plan, rotate_secret
from pvp.web.app import create_app
from testkit.devices import CupsServer, sample_pdf, write_sane_test_config
from testkit.documents import (
    COUNSELLOR,
    KIOSK,
    OTHER_COUNSELLOR,
    OTHER_KIOSK,
    Control,
    LoopbackTransport,
    start_call,
)
from testkit.kiosk_documents import make_kiosk

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "provisioning" / "auvergne-2006.yaml"


def median_ms(samples: list[float]) -> str:
    median, least = statistics.median(samples) * 1000, min(samples) * 1000
    return f"{median:.0f} ms (min {least:.0f}, n={len(samples)})"


def wait_final(control: Control, command_id: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with control.db.sessions() as session:
            row = session.query(DocumentTransfer).filter_by(command_id=command_id).one()
            if row.status in ("done", "failed"):
                return row.status
        time.sleep(0.002)
    raise TimeoutError(command_id)


def timed_runs(runs: int, action: Callable[[], str], control: Control) -> list[float]:
    samples = []
    for _ in range(runs + 1):  # the first one warms up (imports, connections)
        start = time.perf_counter()
        command_id = action()
        status = wait_final(control, command_id)
        samples.append(time.perf_counter() - start)
        if status != "done":
            raise RuntimeError(f"{command_id} {status}")
    return samples[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prints", type=int, default=20)
    parser.add_argument("--scans", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pvp-bench-documents-"))
    sane_dir = work / "sane"
    os.environ["SANE_CONFIG_DIR"] = str(write_sane_test_config(sane_dir))
    settings = Settings(data_dir=work / "data")
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        apply_plan(session, load_plan(PLAN), settings.sip_domain)
        secrets = {
            user: rotate_secret(session, user, settings.sip_domain)
            for user in (KIOSK, OTHER_KIOSK, COUNSELLOR, OTHER_COUNSELLOR)
        }
    app = create_app(settings, db)
    service = app.extensions["pvp.documents"]
    transport = LoopbackTransport()
    service.transport = transport
    server = ThreadedServer(app, "127.0.0.1", 0, threads=4).start()
    settings.public_url = f"http://127.0.0.1:{server.port}"
    control = Control(db, settings, service, transport, settings.public_url, secrets)
    with CupsServer() as cups:
        cups.add_file_queue("bench")
        kiosk = make_kiosk(control, work / "kiosk", "bench", cups.server, Scanner("test:0"))
        kiosk.commands.scan_dpi = 300
        call = kiosk.call[0] = start_call(db)
        auth = HTTPDigestAuth(COUNSELLOR, secrets[COUNSELLOR])
        http = requests.Session()
        pdf = sample_pdf()

        def send_print() -> str:
            got = http.post(
                f"{control.url}/api/v1/calls/{call}/documents",
                params={"action": "print", "title": "Formulaire"},
                data=pdf,
                headers={"Content-Type": "application/pdf"},
                auth=auth,
                timeout=30,
            )
            return str(got.json()["command"])

        def ask_scan() -> str:
            got = http.post(
                f"{control.url}/api/v1/calls/{call}/scans",
                json={"pages": 1},
                auth=auth,
                timeout=30,
            )
            return str(got.json()["command"])

        print(f"PDF ({len(pdf) / 1024:.1f} KiB, 3 pages) sent to completed print, on loopback:")
        print(f"  inline:       {median_ms(timed_runs(args.prints, send_print, control))}")
        settings.document_inline_max_bytes = 512
        print(f"  by reference: {median_ms(timed_runs(args.prints, send_print, control))}")
        scans = timed_runs(args.scans, ask_scan, control)
        print(f"A4 300 dpi grey scan to PDF in the control plane's store: {median_ms(scans)}")
        kiosk.close()
    http.close()
    server.stop()
    db.engine.dispose()


if __name__ == "__main__":
    main()
