"""Benchmark (soak): many calls through the real switch with the real kiosk agent and its page;
the agent's and Chromium's open descriptors, threads and memory as the calls go by.

    .venv/bin/python -m benchmarks.bench_kiosk_calls_soak [--calls 200] [--every 50]

The stack of benchmarks/bench_first_frame.py: FreeSWITCH on the project's configuration with
the control plane (the live harness), the kiosk agent with its page in Debian's headless
Chromium (fake camera and microphone), a SIP softphone counsellor (baresip over TLS + SRTP).
Per call: a press on the kiosk, the counsellor's phone rings and answers, the kiosk page shows
the counsellor's colour bars, the kiosk hangs up, the counsellor's wrap-up passes.

The agent runs in this process (as in the live tests), so its figures are this process's:
they also hold the control plane and the harness, which do not grow per call either. A leak
shows as a steady rise between the samples (start, every ``--every`` calls, end).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_first_frame import (
    COUNSELLOR,
    browser_stack,
    kiosk_home,
    processes_of,
    wait_idle,
)
from pvp.kiosk.buttons import HangUp, Press
from pvp.kiosk.screen import View
from testkit import webrtc
from testkit.calls import registered
from testkit.kiosk_page import PAGE_SEES_BARS, PERMANENCE, Kiosk, kiosk
from testkit.live_switch import Switch, started

GIVE_UP_AFTER = 5  # failed calls in a row: the stack is broken, not leaking


def resources(pids: list[int]) -> tuple[int, int, float]:
    """Open descriptors, threads and RSS (MiB) summed over ``pids``."""
    fds = threads = rss_kib = 0
    for pid in pids:
        try:
            fds += len(os.listdir(f"/proc/{pid}/fd"))
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("Threads:"):
                    threads += int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    rss_kib += int(line.split()[1])
        except OSError:
            continue  # a renderer that just ended
    return fds, threads, rss_kib / 1024


def sample(label: str, k: Kiosk) -> str:
    agent = resources([os.getpid()])
    browser = processes_of(kiosk_home(k))
    chromium = resources(browser)
    return (
        f"{label:>10}  agent: {agent[0]:4} fds {agent[1]:3} threads {agent[2]:6.1f} MiB"
        f"   chromium ({len(browser):2} processes): {chromium[0]:4} fds {chromium[1]:4} threads"
        f" {chromium[2]:7.1f} MiB"
    )


def one_call(sw: Switch, k: Kiosk, msa: object) -> None:
    k.act(Press("msa"))
    msa.wait_event("CALL_INCOMING", timeout=15)  # type: ignore[attr-defined]
    assert msa.command("accept").get("ok")  # type: ignore[attr-defined]
    k.page.wait_for_function(PAGE_SEES_BARS, timeout=15000, polling=100)
    k.act(HangUp())
    msa.wait_event("CALL_CLOSED", timeout=10)  # type: ignore[attr-defined]
    wait_idle(sw, k)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--every", type=int, default=50)
    args = parser.parse_args()
    binary, why = browser_stack()
    if binary is None:
        print(why)
        return 2
    from playwright.sync_api import sync_playwright

    failed = in_a_row = 0
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pvp-bench-soak-") as tmp, sync_playwright() as pw:
        where = Path(tmp)
        sw = started(binary, where / "switch", None)
        try:
            sw.travel_to(PERMANENCE)
            media = webrtc.write_media(where / "kiosk-media")
            chromium = pw.chromium.launch(executable_path=webrtc.CHROMIUM)
            with kiosk(sw, where / "kiosk", chromium, media) as k:
                k.view(View.IDLE, 20)
                msa = registered(sw.agent(COUNSELLOR, "tls", tone=880))
                sw.control_plane.set_status(COUNSELLOR, "available")
                time.sleep(1)
                print(sample("start", k), flush=True)
                for n in range(1, args.calls + 1):
                    try:
                        one_call(sw, k, msa)
                        in_a_row = 0
                    except Exception as error:  # noqa: BLE001 - counted, the soak goes on
                        failed += 1
                        in_a_row += 1
                        print(f"call {n} failed: {error!r}"[:300], flush=True)
                        if in_a_row >= GIVE_UP_AFTER:
                            print(f"{GIVE_UP_AFTER} failed calls in a row: stopping")
                            break
                        k.act(HangUp())
                        wait_idle(sw, k)
                    if n % args.every == 0 and n < args.calls:
                        print(sample(f"{n} calls", k), flush=True)
                print(sample(f"end ({n})", k), flush=True)
                msa.close()
            chromium.close()
        finally:
            sw.stop()
    print(f"{n} calls, {failed} failed, {time.monotonic() - began:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
