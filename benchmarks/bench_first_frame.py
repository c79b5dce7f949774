"""Benchmark: press -> ringing and answer -> first picture, kiosk page and counsellor, through
the real FreeSWITCH, for SIP-softphone and browser-console counsellors.

    .venv/bin/python -m benchmarks.bench_first_frame [--calls 20] [--counsellor sip|browser|both]
        [--no-info-refresh]

The live tests' stack (testkit/live_switch.py, the 2006 plan at Vorey's MSA permanence). The
kiosk is the kiosk agent with its page in Debian's Chromium (tests/live/test_kiosk_page.py:
fake colour-bar camera, speech-like microphone, WSS trusted through NSS). The counsellor is
either baresip over TLS + SRTP (its fake colour bars) or the console page in a second Chromium,
signed in, registered with its short-lived credential.

Per call: a button press; "ringing" when baresip reports CALL_INCOMING or the console shows
its ring; the answer (baresip ``accept`` or a click on « Répondre »); then each side's first
picture of the far camera: the kiosk page when its remote video shows the colour bars (checked
every 50 ms on a canvas), the console at its first rendered frame (requestVideoFrameCallback),
baresip when a received frame saved by ``snapshot_recv`` shows the bars (polled, so its figure
is ~100 ms coarse). ``--no-info-refresh`` turns off the dispatcher's keyframe INFOs after the
bridge (pvp.freeswitch.keyframes) for the softphone calls: keyframe requests then go by RTCP
only, as before the fix.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from pvp.config import Settings
from pvp.freeswitch import keyframes
from pvp.freeswitch.process import WHERE, find_binary
from pvp.kiosk.buttons import HangUp, Press
from pvp.kiosk.screen import View
from pvp.model import Role
from pvp.panel.security import create_user
from testkit import webrtc
from testkit.calls import colour_bars, registered
from testkit.kiosk_page import PAGE_SEES_BARS, PERMANENCE, kiosk
from testkit.live_switch import WRAP_UP_SECONDS, Switch, started
from testkit.ua import UserAgent

COUNSELLOR = "msa-43-c1"
USAGE_CALLS = 3  # calls during which each page's CPU and memory are measured (5 s each)


def kiosk_home(k: Any) -> Path:
    """The kiosk browser's home, as tests/live/test_kiosk_page.py's kiosk() made it."""
    return Path(k.agent.config.state_dir).parent / "kiosk-home"


LOGIN, PASSWORD = "bench-console", "bench-console-secret"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def describe(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:44} no value"
    return (
        f"{name:44} p50 {statistics.median(values):6.0f}  p90 {percentile(values, 0.9):6.0f}"
        f"  max {max(values):6.0f}  (ms, n={len(values)})"
    )


def processes_of(home: Path) -> list[int]:
    """The processes of one Chromium: those started with HOME=``home`` and their descendants
    (renderers are forked by the zygote, whose environment they need not show)."""
    wanted = f"HOME={home}".encode()
    parents: dict[int, int] = {}
    roots = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parents[int(entry.name)] = int(
                (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            )
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                roots.add(int(entry.name))
        except OSError:
            continue
    found = set(roots)
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return sorted(found)


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def pss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def usage(homes: dict[str, Path], seconds: float = 5.0) -> dict[str, tuple[float, float]]:
    """Per browser, in a call: CPU (% of one core) over ``seconds`` and PSS (MiB)."""
    pids = {name: processes_of(home) for name, home in homes.items()}
    hz = os.sysconf("SC_CLK_TCK")
    before = {name: cpu_ticks(p) for name, p in pids.items()}
    time.sleep(seconds)
    return {
        name: ((cpu_ticks(p) - before[name]) / hz / seconds * 100, pss_mib(p))
        for name, p in pids.items()
    }


def now(page: Any) -> float:
    return float(page.evaluate("performance.now()"))


def baresip_sees_bars(
    ua: UserAgent, since: float, out: list[float], steps: list[float], timeout: float = 12
) -> None:
    """When a frame baresip received shows the bars (ms after ``since``); ``steps`` gets how
    long one look took (the figure's resolution: a frame must arrive and be saved)."""
    n = 0
    while time.monotonic() - since < timeout:
        n += 1
        began = time.monotonic()
        try:
            frame = ua.snapshot(f"bench-{n}.png", timeout=2)
        except (TimeoutError, RuntimeError):
            continue
        steps.append((time.monotonic() - began) * 1000)
        if colour_bars(frame):
            out.append((time.monotonic() - since) * 1000)
            return


def wait_idle(sw: Switch, k: Any) -> None:
    k.view(View.IDLE)
    deadline = time.monotonic() + 10
    while sw.esl.channels() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(WRAP_UP_SECONDS + 0.5)  # the counsellor's wrap-up


def softphone_calls(sw: Switch, k: Any, calls: int, info_refresh: bool) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = defaultdict(list)
    if not info_refresh:
        sw.worker.keyframe_delays = ()
    msa = registered(sw.agent(COUNSELLOR, "tls", tone=880))
    sw.control_plane.set_status(COUNSELLOR, "available")
    time.sleep(1)
    for n in range(calls):
        pressed = time.monotonic()
        k.act(Press("msa"))
        msa.wait_event("CALL_INCOMING", timeout=15)
        figures["ring"].append((time.monotonic() - pressed) * 1000)
        start_page, start = now(k.page), time.monotonic()
        assert msa.command("accept").get("ok")
        seen: list[float] = []
        poller = threading.Thread(
            target=baresip_sees_bars, args=(msa, start, seen, figures["baresip look"])
        )
        poller.start()
        k.page.wait_for_function(PAGE_SEES_BARS, timeout=15000, polling=50)
        figures["kiosk"].append(now(k.page) - start_page)
        poller.join()
        figures["counsellor"].extend(seen)
        if n < USAGE_CALLS:
            cpu, pss = usage({"kiosk": kiosk_home(k)})["kiosk"]
            figures["kiosk page CPU %"].append(cpu)
            figures["kiosk page PSS MiB"].append(pss)
        k.act(HangUp())
        msa.wait_event("CALL_CLOSED", timeout=5)
        wait_idle(sw, k)
    sw.control_plane.set_status(COUNSELLOR, "offline")
    sw.worker.keyframe_delays = keyframes.DELAYS
    msa.close()
    return figures


def console_calls(sw: Switch, k: Any, pw: Any, where: Path, calls: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = defaultdict(list)
    with sw.db.session() as session:
        create_user(session, LOGIN, PASSWORD, Role.COUNSELLOR, COUNSELLOR)
    sw.control_plane.app.config["SESSION_COOKIE_SECURE"] = False
    browser = webrtc.launch(pw.chromium, where / "home", sw.ca, webrtc.write_media(where / "media"))
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    base = f"http://127.0.0.1:{sw.settings.http_port}"
    page.goto(f"{base}/login")
    page.fill("#login", LOGIN)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_selector("body[data-phone=registered]", timeout=15000)
    page.click("#status-available")
    page.wait_for_selector("body[data-phone=registered]", timeout=15000)
    time.sleep(1)
    for n in range(calls):
        pressed = time.monotonic()
        k.act(Press("msa"))
        page.wait_for_selector("body[data-call=ringing]", timeout=15000)
        figures["ring"].append((time.monotonic() - pressed) * 1000)
        start_kiosk = now(k.page)
        page.click("#answer")
        k.page.wait_for_function(PAGE_SEES_BARS, timeout=15000, polling=50)
        figures["kiosk"].append(now(k.page) - start_kiosk)
        page.wait_for_function(
            "() => window.pvpPhoneEvents.some((e) => e.type === 'first_frame')", timeout=15000
        )
        first = page.evaluate(
            "() => window.pvpPhoneEvents.filter((e) => e.type === 'first_frame').pop().ms"
        )
        figures["counsellor"].append(float(first))
        if n < USAGE_CALLS:
            used = usage({"kiosk": kiosk_home(k), "console": where / "home"})
            for name, (cpu, pss) in used.items():
                figures[f"{name} page CPU %"].append(cpu)
                figures[f"{name} page PSS MiB"].append(pss)
        page.evaluate("() => { window.pvpPhoneEvents.length = 0; }")
        page.click("#hangup")
        page.wait_for_selector("body[data-call=none]", timeout=10000)
        wait_idle(sw, k)
    browser.close()
    return figures


def browser_stack() -> tuple[Path | None, str]:
    """FreeSWITCH's binary and "", or None and why the browser benchmarks cannot run."""
    binary = find_binary(Settings())
    if binary is None:
        return None, f"FreeSWITCH not found: {WHERE}"
    why = webrtc.missing()
    return (None, why) if why else (binary, "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--counsellor", choices=("sip", "browser", "both"), default="both")
    parser.add_argument("--no-info-refresh", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the logs (FreeSWITCH's too)")
    args = parser.parse_args()
    binary, why = browser_stack()
    if binary is None:
        print(why)
        return 2
    from playwright.sync_api import sync_playwright

    keep = tempfile.mkdtemp(prefix="pvp-bench-frame-") if args.keep else None
    with tempfile.TemporaryDirectory(prefix="pvp-bench-frame-") as tmp, sync_playwright() as pw:
        where = Path(keep or tmp)
        sw = started(binary, where / "switch", None)
        try:
            sw.travel_to(PERMANENCE)
            media = webrtc.write_media(where / "kiosk-media")
            chromium = pw.chromium.launch(executable_path=webrtc.CHROMIUM)
            with kiosk(sw, where / "kiosk", chromium, media) as k:
                k.view(View.IDLE, 20)
                results: dict[str, dict[str, list[float]]] = {}
                if args.counsellor in ("sip", "both"):
                    label = "SIP softphone" + (
                        " (RTCP refresh only)" if args.no_info_refresh else ""
                    )
                    results[label] = softphone_calls(sw, k, args.calls, not args.no_info_refresh)
                if args.counsellor in ("browser", "both"):
                    results["browser console"] = console_calls(
                        sw, k, pw, where / "console", args.calls
                    )
            chromium.close()
        finally:
            sw.stop()
    if keep:
        print(f"logs kept in {keep}")
    for label, figures in results.items():
        print(f"-- counsellor: {label}")
        print(describe("press -> counsellor rings", figures["ring"]))
        print(describe("answer -> kiosk page sees the counsellor", figures["kiosk"]))
        print(describe("answer -> counsellor sees the kiosk", figures["counsellor"]))
        print(describe("(one look at baresip's received frames)", figures.get("baresip look", [])))
        for name, values in figures.items():
            if name.endswith(("CPU %", "MiB")):
                print(f"{name:44} mean {statistics.mean(values):6.1f}  (n={len(values)}, 5 s each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
