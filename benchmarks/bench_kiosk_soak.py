"""Soak of the real kiosk agent: descriptors, threads and memory over many heartbeats.

    .venv/bin/python -m benchmarks.bench_kiosk_soak [--minutes 30] [--heartbeat 2] [--every 60]

Runs ``pvp kiosk --bundle`` as tests/kiosk do: against
the TLS switch stand-in, reporting to a control-plane stand-in that keeps the heartbeats,
with Debian's *default* SANE configuration (SANE_CONFIG_DIR unset, every backend of
/etc/sane.d/dll.conf), a heartbeat every ``--heartbeat`` seconds and a press on the screen
every ``--press`` seconds (the stand-in refuses the call: 486). Prints the agent process's
open descriptors, threads and RSS every ``--every`` seconds, then first / last / maximum.
Not a test: it measures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from pathlib import Path

import requests

from testkit.agent_process import DOMAIN, KIOSK, SECRET, HeartbeatSink, agent_process
from testkit.certs import make_pki
from testkit.sip_switch import running_switch


def press(screen: str) -> None:
    try:
        requests.post(f"{screen}/press/msa", headers={"Origin": screen}, timeout=5)
    except requests.RequestException as exc:
        print(f"  press failed: {exc}", flush=True)


async def soak(args: argparse.Namespace, directory: Path) -> list[dict[str, float]]:
    pki = make_pki(directory / "pki")
    env = {k: v for k, v in os.environ.items() if k != "SANE_CONFIG_DIR"}
    samples: list[dict[str, float]] = []
    async with running_switch(DOMAIN, {KIOSK: SECRET}, pki.switch) as switch:
        with (
            HeartbeatSink() as sink,
            agent_process(
                directory, pki, switch.port, sink.url, heartbeat_period=args.heartbeat, env=env
            ) as agent,
        ):
            await asyncio.to_thread(sink.wait, 1, 30)
            start = time.monotonic()
            next_sample = next_press = start
            print(
                f"{'min':>6} {'beats':>6} {'presses':>7} {'fds':>5} {'threads':>7} {'RSS MiB':>8}"
            )
            presses = 0
            while (now := time.monotonic()) - start <= args.minutes * 60:
                if agent.process.poll() is not None:
                    print(f"agent exited with {agent.process.returncode}: see {directory}")
                    break
                if now >= next_press:
                    await asyncio.to_thread(press, agent.screen_url)
                    presses += 1
                    next_press += args.press
                if now >= next_sample:
                    sample = {"min": (now - start) / 60, "beats": len(sink.beats)}
                    sample.update(agent.sample())
                    samples.append(sample)
                    print(
                        f"{sample['min']:6.1f} {sample['beats']:6.0f} {presses:7d} "
                        f"{sample['fds']:5.0f} {sample['threads']:7.0f} "
                        f"{sample['rss_kib'] / 1024:8.1f}",
                        flush=True,
                    )
                    next_sample += args.every
                await asyncio.sleep(0.5)
            registered = sum(1 for beat in sink.beats if beat["sip_registered"])
            print(f"heartbeats {len(sink.beats)}, {registered} of them registered")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--heartbeat", type=float, default=2.0, help="seconds between beats")
    parser.add_argument("--press", type=float, default=30.0, help="seconds between presses")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    args = parser.parse_args()
    # The stand-in's connection tasks are cancelled at the end; that is not news.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="pvp-soak-") as tmp:
        samples = asyncio.run(soak(args, Path(tmp)))
    if samples:
        for key in ("fds", "threads", "rss_kib"):
            values = [s[key] for s in samples]
            print(f"{key}: first {values[0]:.0f}, last {values[-1]:.0f}, max {max(values):.0f}")


if __name__ == "__main__":
    main()
