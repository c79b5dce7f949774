"""Benchmark: mod_xml_curl answers of the control plane against the same XML as static files.

    .venv/bin/python -m benchmarks.bench_xml_curl [--rate 200] [--seconds 10]

Serves the Flask app with waitress exactly as ``pvp serve`` does (8 threads), on the 2006
plan with the clock at Vorey's MSA permanence, and adds one route that sends the very XML
documents the handlers produce as static files, through the same server. Requests are
POSTed as mod_xml_curl does: a new connection each time, form-encoded, basic auth, and for
the dialplan the channel's variables (about 4 KB). The load is open-loop at ``--rate``
requests per second; latency runs from each request's scheduled instant to its last byte,
so a server that falls behind shows it. A closed-loop run then gives the most requests per
second 8 clients obtain. Not a timed test: figures vary with the machine; the ratio is the
figure (see docs/freeswitch.md).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import logging
import multiprocessing
import random
import statistics
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import send_from_directory
from waitress.server import create_server

from pvp.clock import ShiftedClock
from pvp.config import Settings
from pvp.db import Database
from pvp.plan import load_plan
from pvp.provisioning import apply_plan
from pvp.web.app import create_app
from testkit.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "provisioning" / "auvergne-2006.yaml"
SERVICES = ("anpe", "caf", "msa", "urssaf", "cram", "udaf")

Request = tuple[str, bytes]  # path, body


def channel_variables(kiosk: str, service: str) -> dict[str, str]:
    """What mod_dialplan_xml sends: the caller profile and every channel variable."""
    form = {
        "hostname": "pvp",
        "section": "dialplan",
        "tag_name": "",
        "key_name": "",
        "key_value": "",
        "Event-Name": "REQUEST_PARAMS",
        "Core-UUID": "0" * 36,
        "Channel-State": "CS_ROUTING",
        "Unique-ID": "1" * 36,
        "Call-Direction": "inbound",
        "Caller-Context": "pvp-kiosks",
        "Caller-Destination-Number": service,
        "Hunt-Destination-Number": service,
        "Hunt-Context": "pvp-kiosks",
        "Caller-Caller-ID-Number": kiosk,
        "Caller-Network-Addr": "127.0.0.1",
        "variable_pvp_role": "kiosk",
        "variable_pvp_kiosk": kiosk,
        "variable_user_name": kiosk,
        "variable_pvp_site": kiosk.removeprefix("kiosk-").rsplit("-", 1)[0],
        "variable_sip_authorized": "true",
        "variable_rtp_secure_media": "mandatory",
    }
    for i in range(90):  # the sip_*, rtp_*, ... variables a real channel carries
        form[f"variable_sip_h_X-Filler-{i:02d}"] = f"value-{i:02d}-" + "x" * 16
    return form


def directory_form(user: str, domain: str) -> dict[str, str]:
    return {
        "hostname": "pvp",
        "section": "directory",
        "tag_name": "domain",
        "key_name": "name",
        "key_value": domain,
        "Event-Name": "REQUEST_PARAMS",
        "action": "sip_auth",
        "sip_profile": "pvp",
        "sip_user_agent": "baresip v1.0.0",
        "sip_auth_username": user,
        "sip_auth_realm": domain,
        "sip_auth_method": "REGISTER",
        "user": user,
        "domain": domain,
        "ip": "127.0.0.1",
    }


class Target:
    def __init__(self, port: int, auth: str) -> None:
        self.port = port
        self.headers = {
            "Authorization": "Basic " + base64.b64encode(auth.encode()).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "freeswitch-xml/1.0",
        }

    def post(self, request: Request) -> bytes:
        path, body = request
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", path, body=body, headers=self.headers)
            response = conn.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}")
            return data
        finally:
            conn.close()


def open_loop(target: Target, requests: list[Request], rate: float) -> tuple[list[float], float]:
    """Send at ``rate``/s; latency from each scheduled instant to the last byte (ms)."""
    latencies: list[float] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.05

    def one(i: int, request: Request) -> None:
        target.post(request)
        done = time.perf_counter()
        with lock:
            latencies.append((done - (start + i / rate)) * 1000)

    with ThreadPoolExecutor(max_workers=64) as pool:
        futures = []
        for i, request in enumerate(requests):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(one, i, request))
        for f in futures:
            f.result()
    elapsed = time.perf_counter() - start
    return latencies, len(requests) / elapsed


def closed_loop(target: Target, requests: list[Request], clients: int = 8) -> float:
    """Requests per second with ``clients`` sending back to back."""
    index = iter(range(len(requests)))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(index, None)
            if i is None:
                return
            target.post(requests[i])

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(requests) / (time.perf_counter() - start)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def serve(settings: Settings, static_dir: Path) -> None:
    """The control plane as ``pvp serve`` runs it, plus one route sending static files."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    db = Database(settings.resolved_database_url())
    clock = ShiftedClock(datetime(2006, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/Paris")))
    app = create_app(settings, db, clock=clock)

    @app.post("/bench-static/<name>")
    def static_file(name: str):  # type: ignore[no-untyped-def]
        return send_from_directory(static_dir, name, mimetype="text/xml")

    create_server(app, host="127.0.0.1", port=settings.http_port, threads=8).run()


def wait_until_up(port: int) -> None:
    import socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the control plane did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="pvp-bench-"))
    port = free_port()
    settings = Settings(data_dir=workdir / "data", http_port=port)
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        apply_plan(session, load_plan(PLAN), settings.sip_domain)
    static_dir = workdir / "static"
    static_dir.mkdir()
    # The server in its own process, as in production: the client's threads do not share
    # its interpreter lock.
    server = multiprocessing.get_context("fork").Process(
        target=serve, args=(settings, static_dir), daemon=True
    )
    server.start()
    target = Target(port, f"{settings.xml_curl_user}:{settings.secret('xml_curl_password')}")
    wait_until_up(port)

    rng = random.Random(2006)
    with db.sessions() as session:
        from pvp import inventory

        kiosks = [k["id"] for k in inventory.kiosks(session)]
        users = kiosks + [c["id"] for c in inventory.counsellors(session)]
    count = int(args.rate * args.seconds)

    def encode(form: dict[str, str]) -> bytes:
        return urllib.parse.urlencode(form).encode()

    domain = settings.sip_domain
    kinds: dict[str, list[Request]] = {
        "directory": [
            ("/freeswitch/directory", encode(directory_form(rng.choice(users), domain)))
            for _ in range(count)
        ],
        "dialplan": [
            (
                "/freeswitch/dialplan",
                encode(channel_variables(rng.choice(kiosks), rng.choice(SERVICES))),
            )
            for _ in range(count)
        ],
    }
    rows = []
    for kind, requests in kinds.items():
        # The same answers, saved as files: one per distinct request body.
        static_requests = []
        for n, request in enumerate(requests[:200]):
            name = f"{kind}-{n}.xml"
            (static_dir / name).write_bytes(target.post(request))
        for n, (_, body) in enumerate(requests):
            static_requests.append((f"/bench-static/{kind}-{n % 200}.xml", body))
        for label, reqs in ((kind, requests), (f"{kind} as a static file", static_requests)):
            target.post(reqs[0])  # warm up
            latencies, achieved = open_loop(target, reqs, args.rate)
            capacity = closed_loop(target, reqs[: min(len(reqs), 2000)])
            rows.append(
                (
                    label,
                    statistics.median(latencies),
                    percentile(latencies, 0.99),
                    achieved,
                    capacity,
                )
            )
    server.terminate()
    server.join()

    rate = f"{args.rate:.0f}"
    print(f"| answer | median ms | p99 ms | req/s sent at {rate}/s | max req/s (8 clients) |")
    print("|---|---:|---:|---:|---:|")
    for label, median, p99, achieved, capacity in rows:
        print(f"| {label} | {median:.2f} | {p99:.2f} | {achieved:.0f} | {capacity:.0f} |")
    for i in (0, 2):
        (dyn, sta) = rows[i], rows[i + 1]
        print(
            f"\n{dyn[0]}: p99 ratio {dyn[2] / sta[2]:.2f}, median ratio {dyn[1] / sta[1]:.2f}, "
            f"capacity ratio {sta[4] / dyn[4]:.2f}"
        )


if __name__ == "__main__":
    main()
