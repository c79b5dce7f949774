"""Benchmark: a registration storm, 1,000 kiosks at once, PVP directory against static files.

    .venv/bin/python -m benchmarks.bench_registration [--kiosks 1000] [--runs 3]

A test plan: the 2006 Auvergne plan plus generated sites of nine kiosks each, 1,000 new
kiosks in all, imported as ``pvp provision import`` does (random secrets, a1-hash only in
the database; the secrets are kept for sipp). FreeSWITCH runs on the project's rendered
configuration on 127.0.0.1, started afresh for every run (no cached directory entry, no
registration), in two set-ups:

- **pvp**: the directory comes from the control plane over mod_xml_curl, the control plane
  running as deployed (``pvp serve --freeswitch off``: waitress, SQLite, its dispatcher);
- **static**: the same configuration without the directory binding, so FreeSWITCH reads the
  rendered static directory (the same 1,000 users, the fallback file) from memory.

sipp plays every kiosk once over UDP: REGISTER, the 401 digest challenge, REGISTER with
``[authentication]`` (user and secret from an ``-inf`` CSV), 200 OK. All calls are started
within a tenth of a second (``-r 1000 -rp 100``, no limit on simultaneous calls); the time
is from sipp's start until it has the last 200 OK and exits. FreeSWITCH's own table is then
read (``sofia status profile pvp reg``) to check that every kiosk is registered. Not a
timed test: figures vary with the machine; the ratio is the figure (see docs/freeswitch.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from pvp.config import Settings
from pvp.db import Database
from pvp.freeswitch.certs import write_test_certs
from pvp.freeswitch.process import WHERE, FreeSwitch, find_binary
from pvp.freeswitch.render import render
from pvp.plan import Plan
from pvp.provisioning import apply_plan
from testkit.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
PLAN_2006 = ROOT / "provisioning" / "auvergne-2006.yaml"
PER_SITE = 9  # the plan's most kiosks per site
DIRECTORY_BINDING = re.compile(r'\s*<binding name="pvp-directory">.*?</binding>', re.S)

REGISTER = """      REGISTER sip:{domain} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <sip:[field0]@{domain}>;tag=[call_number]
      To: <sip:[field0]@{domain}>
      Call-ID: [call_id]
      CSeq: {cseq} REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port]>{authorization}
      Max-Forwards: 70
      Expires: 600
      User-Agent: sipp-pvp-bench
      Content-Length: 0
"""


def scenario(domain: str) -> str:
    """REGISTER, the 401 challenge, REGISTER with sipp's digest answer (``[field1]``), 200."""
    first = REGISTER.format(domain=domain, cseq=1, authorization="")
    second = REGISTER.format(domain=domain, cseq=2, authorization="\n      [field1]")
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
        '<scenario name="PVP kiosk registration">\n'
        f'  <send retrans="500"><![CDATA[\n{first}\n    ]]></send>\n'
        '  <recv response="401" auth="true"/>\n'
        f'  <send retrans="500"><![CDATA[\n{second}\n    ]]></send>\n'
        '  <recv response="200"/>\n'
        "</scenario>\n"
    )


def storm_plan(kiosks: int) -> Plan:
    """The 2006 plan and generated Haute-Loire sites holding ``kiosks`` new kiosks."""
    data: dict[str, Any] = yaml.safe_load(PLAN_2006.read_text())
    number, left = 0, kiosks
    while left > 0:
        number += 1
        count = min(PER_SITE, left)
        left -= count
        data["sites"].append(
            {
                "id": f"storm-{number:03d}",
                "department": "43",
                "community": f"Communauté {number}",
                "commune": f"Commune {number}",
                "kiosks": count,
                "services": ["msa"],
            }
        )
    return Plan.model_validate(data)


class Bench:
    def __init__(self, root: Path, binary: Path, kiosks: int) -> None:
        self.root, self.binary = root, binary
        rtp = 20000 + free_port() % 20000
        self.settings = Settings(
            data_dir=root / "data",
            http_port=free_port(),
            sip_port=free_port(socket.SOCK_DGRAM),
            sip_tls_port=free_port(),
            esl_port=free_port(),
            rtp_start_port=rtp,
            rtp_end_port=rtp + 100,
            esl_password="bench-esl",
            xml_curl_password="bench-xml-curl",
            freeswitch_loglevel="warning",
        )
        db = Database(self.settings.resolved_database_url())
        with db.session() as session:
            report = apply_plan(session, storm_plan(kiosks), self.settings.sip_domain)
        self.secrets = {k: v for k, v in report.secrets.items() if k.startswith("kiosk-storm-")}
        assert len(self.secrets) == kiosks, len(self.secrets)
        today = date.today()
        self.confs = {"pvp": root / "conf-pvp", "static": root / "conf-static"}
        for conf in self.confs.values():
            render(self.settings, db, conf, today)
        xml_curl = self.confs["static"] / "autoload_configs" / "xml_curl.conf.xml"
        xml_curl.write_text(DIRECTORY_BINDING.sub("", xml_curl.read_text()))
        db.engine.dispose()
        self.certs = root / "certs"
        write_test_certs(self.certs, [self.settings.sip_host])
        lines = ["SEQUENTIAL"] + [
            f"{user};[authentication username={user} password={secret}]"
            for user, secret in sorted(self.secrets.items())
        ]
        self.csv = root / "kiosks.csv"
        self.csv.write_text("\n".join(lines) + "\n")
        self.scenario = root / "register.xml"
        self.scenario.write_text(scenario(self.settings.sip_domain))

    # ---------------------------------------------------------------- processes

    def control_plane(self) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PVP_")}
        s = self.settings
        env.update(
            PVP_DATA_DIR=str(s.data_dir),
            PVP_HTTP_PORT=str(s.http_port),
            PVP_ESL_PORT=str(s.esl_port),
            PVP_ESL_PASSWORD=s.esl_password,
            PVP_XML_CURL_PASSWORD=s.xml_curl_password,
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "pvp.cli", "serve", "--freeswitch", "off"],
            env=env,
            stdout=open(self.root / "serve.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", s.http_port), timeout=0.5):
                    return proc
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"pvp serve did not start: {self.root}") from None
                time.sleep(0.1)

    def switch(self, kind: str, run: int) -> FreeSwitch:
        fs = FreeSwitch(self.binary, self.confs[kind], self.root / f"run-{kind}-{run}", self.certs)
        fs.start()
        deadline = time.monotonic() + 30
        while "RUNNING" not in self.fs_cli(fs, "sofia status"):
            if time.monotonic() > deadline or not fs.running():
                raise RuntimeError(f"FreeSWITCH not ready: {fs.log_file}")
            time.sleep(0.2)
        return fs

    def fs_cli(self, fs: FreeSwitch, command: str) -> str:
        fs_cli = Path(fs.binary).with_name("fs_cli")
        done = subprocess.run(
            [
                str(fs_cli),
                "-H",
                "127.0.0.1",
                "-P",
                str(self.settings.esl_port),
                "-p",
                self.settings.esl_password,
                "-x",
                command,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return done.stdout

    # ---------------------------------------------------------------------- run

    def storm(self, kind: str, run: int, within_ms: int) -> tuple[float, int, int, int]:
        """Seconds until sipp had every 200 OK, kiosks registered, sipp's failed calls, and
        how many REGISTERs sipp had to send again (FreeSWITCH answered too late)."""
        plane = self.control_plane() if kind == "pvp" else None
        fs = self.switch(kind, run)
        try:
            errors = self.root / f"sipp-{kind}-{run}.err"
            command = [
                "sipp",
                f"{self.settings.sip_host}:{self.settings.sip_port}",
                "-sf",
                str(self.scenario),
                "-inf",
                str(self.csv),
                "-m",
                str(len(self.secrets)),
                "-r",
                str(len(self.secrets)),
                "-rp",
                str(within_ms),
                "-l",
                "0",
                "-t",
                "u1",
                "-i",
                "127.0.0.1",
                "-p",
                str(free_port(socket.SOCK_DGRAM)),
                "-nostdin",
                "-timeout",
                "120s",
                "-trace_err",
                "-error_file",
                str(errors),
            ]
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, timeout=180)
            elapsed = time.perf_counter() - started
            (self.root / f"sipp-{kind}-{run}.out").write_text(done.stdout + done.stderr)
            table = self.fs_cli(fs, "sofia status profile pvp reg")
            found = re.search(r"Total items returned: (\d+)", table)
            registered = int(found.group(1)) if found else 0
            failed = done.returncode != 0
            retrans = sum(
                int(m.group(2)) for m in re.finditer(r"REGISTER -+>\s+(\d+)\s+(\d+)", done.stdout)
            )
            return elapsed, registered, int(failed), retrans
        finally:
            fs.stop()
            if plane is not None:
                plane.send_signal(signal.SIGTERM)
                plane.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiosks", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--within-ms",
        type=int,
        default=100,
        help="start every kiosk's registration within this many ms (100: at once)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    binary = find_binary(Settings())
    if binary is None:
        print(f"FreeSWITCH not found: {WHERE}")
        return 2
    if shutil.which("sipp") is None:
        print("sipp not found: apt-get install sip-tester (see packages.debian)")
        return 2
    root = Path(tempfile.mkdtemp(prefix="pvp-bench-reg-"))
    keep = args.keep
    try:
        bench = Bench(root, binary, args.kiosks)
        times: dict[str, list[float]] = {"pvp": [], "static": []}
        print(f"{args.kiosks} kiosks, every registration started within {args.within_ms} ms")
        for run in range(1, args.runs + 1):
            for kind in ("pvp", "static"):
                elapsed, registered, failed, retrans = bench.storm(kind, run, args.within_ms)
                times[kind].append(elapsed)
                keep = keep or bool(failed)
                outcome = "all 200 OK" if not failed else f"FAILED, see {bench.root}"
                print(
                    f"run {run} {kind:6}: sipp done in {elapsed:6.2f} s ({outcome},"
                    f" {retrans} REGISTERs sent again); FreeSWITCH lists {registered}"
                )
        pvp, static = statistics.median(times["pvp"]), statistics.median(times["static"])
        print(f"median: pvp directory {pvp:.2f} s, static directory {static:.2f} s")
        print(f"ratio pvp / static: {pvp / static:.2f}")
    finally:
        if keep:
            print(f"work directory kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
