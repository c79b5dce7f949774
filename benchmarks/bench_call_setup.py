"""Benchmark: a kiosk's button press to the counsellor's phone ringing, through everything.

    .venv/bin/python -m benchmarks.bench_call_setup [--calls 50]

The live tests' stack (testkit/live_switch.py): FreeSWITCH on the project's configuration,
the control plane as ``pvp serve`` composes it (waitress, mod_xml_curl directory and dialplan,
the expert-queue dispatcher on the event socket), the 2006 plan with the clock at Vorey's MSA
permanence. The kiosk is a baresip over TLS with SRTP, the counsellor a baresip over UDP.

Each call: the kiosk dials ``msa`` (clock starts when the ctrl_tcp ``dial`` is sent); the
INVITE is challenged (407) and sent again, FreeSWITCH asks the control plane for the
dialplan, answers and parks; the dispatcher sees CHANNEL_PARK, records the call, starts the
waiting sound and originates the counsellor's leg; the clock stops when the counsellor's
baresip reports CALL_INCOMING on ctrl_tcp. Also timed: the kiosk's CALL_ESTABLISHED (the
park answered) and, from the event socket, CHANNEL_CREATE of the counsellor's leg (stamped
by FreeSWITCH, whose clock moves in steps of about 20 ms here: a rough figure). The kiosk
then hangs up while it rings (so no wrap-up), and the next call starts once both phones are
idle. Not a timed test: figures vary with the machine (see docs/freeswitch.md).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from pvp.config import Settings
from pvp.freeswitch.esl import ESLClient
from pvp.freeswitch.eslframe import Event
from pvp.freeswitch.process import WHERE, find_binary
from testkit.live_switch import started

COUNSELLOR = "msa-43-c1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def describe(name: str, values: list[float]) -> str:
    return (
        f"{name:36} median {statistics.median(values):7.1f}  p90 {percentile(values, 0.9):7.1f}"
        f"  min {min(values):7.1f}  max {max(values):7.1f}  (ms, n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    binary = find_binary(Settings())
    if binary is None:
        print(f"FreeSWITCH not found: {WHERE}")
        return 2

    with tempfile.TemporaryDirectory(prefix="pvp-bench-call-") as tmp:
        sw = started(binary, Path(tmp), None)
        try:
            sw.travel_to("2006-11-24T10:00")  # Vorey, 4th Friday: the MSA permanence
            created: dict[str, float] = {}
            seen = threading.Event()

            def on_create(event: Event) -> None:
                if event.variable("pvp_offer_for"):  # an offer leg of the dispatcher
                    # FreeSWITCH's own instant (µs since the epoch), not the event's arrival.
                    stamp = int(event.get("Event-Date-Timestamp") or 0) / 1e6
                    created.setdefault(event.uuid, stamp or time.time())
                    seen.set()

            # A client of its own for CHANNEL_CREATE (the dispatcher does not subscribe to it).
            spy = ESLClient(
                "127.0.0.1",
                sw.settings.esl_port,
                sw.settings.secret("esl_password"),
                events=("CHANNEL_CREATE",),
            )
            spy.on("CHANNEL_CREATE", on_create)
            spy.start()
            assert spy.wait_connected(10)

            counsellor = sw.agent(COUNSELLOR, "udp", tone=880)
            assert counsellor.wait_event("REGISTER_OK", timeout=10)
            kiosk = sw.agent("kiosk-vorey-1")
            assert kiosk.wait_event("REGISTER_OK", timeout=10)
            sw.control_plane.set_status(COUNSELLOR, "available")
            policy = sw.worker.policy
            deadline = time.monotonic() + 10
            while not policy.counsellors[COUNSELLOR].available:
                if time.monotonic() > deadline:
                    raise RuntimeError("the counsellor never became available")
                time.sleep(0.05)

            ringing, answered, leg_created = [], [], []
            for _ in range(args.calls):
                created.clear()
                seen.clear()
                start, epoch = time.perf_counter(), time.time()
                kiosk.command("dial", f"sip:msa@{sw.settings.sip_domain}")
                kiosk.wait_event("CALL_ESTABLISHED", timeout=10)
                answered.append((time.perf_counter() - start) * 1000)
                counsellor.wait_event("CALL_INCOMING", timeout=10)
                ringing.append((time.perf_counter() - start) * 1000)
                if seen.wait(2) and created:
                    leg_created.append((min(created.values()) - epoch) * 1000)
                kiosk.command("hangup")
                kiosk.wait_event("CALL_CLOSED", timeout=5)
                counsellor.wait_event("CALL_CLOSED", timeout=5)
                deadline = time.monotonic() + 10
                while policy.calls or not policy.counsellors[COUNSELLOR].available:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the dispatcher did not settle between calls")
                    time.sleep(0.02)
                time.sleep(0.2)
            spy.stop()
        finally:
            sw.stop()

    print(f"{args.calls} calls, kiosk-vorey-1 (TLS+SRTP) -> msa -> {COUNSELLOR} (UDP), loopback")
    print(describe("press -> kiosk answered and parked", answered))
    if leg_created:
        print(describe("press -> counsellor leg created (ESL)", leg_created))
    print(describe("press -> counsellor ringing", ringing))
    target = statistics.median(ringing) < 300
    print(f"target: median press -> ringing under 300 ms: {'met' if target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
