"""Benchmark of the routing decision: the 2006 plan and generated national plans.

    .venv/bin/python -m benchmarks.bench_routing [--decisions N]

Prints, for each plan size, the median and p99 time of one ``decide()`` call over random
kiosks, services and instants of a year (closed presses included: they search the next
opening). Not a test: it measures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time as clock
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pvp.calendar import Closure, DayRules, Mode, Schedule, Window, french_holidays
from pvp.config import Settings
from pvp.db import Database
from pvp.plan import load_plan
from pvp.plan_view import load_routing_plan
from pvp.provisioning import apply_plan
from pvp.routing import Booking, KioskInfo, Route, RoutingPlan, decide

PARIS = ZoneInfo("Europe/Paris")
SERVICES = ("anpe", "caf", "msa", "urssaf", "cram", "udaf")
ROOT = Path(__file__).resolve().parent.parent


def national_plan(sites: int, kiosks: int, agencies_per_service: int, seed: int = 1) -> RoutingPlan:
    """A generated plan of the national size, built directly as the pure core's structures."""
    rnd = random.Random(seed)
    holidays = french_holidays()
    kiosk_map: dict[str, KioskInfo] = {}
    routes: dict[tuple[str, str], Route] = {}
    bookings: dict[tuple[str, str], tuple[Booking, ...]] = {}
    year = datetime(2026, 1, 5, 9, tzinfo=PARIS)
    booking_id = 0
    for s in range(sites):
        site = f"site-{s}"
        services = rnd.sample(SERVICES, rnd.randint(1, 4))
        closures: tuple[Closure, ...] = ()
        if rnd.random() < 0.2:
            closed = (year + timedelta(days=rnd.randint(0, 330))).date()
            closures = (Closure(closed, closed + timedelta(days=rnd.randint(0, 14)), "congés"),)
        for code in services:
            mode = Mode.APPOINTMENT if code == "anpe" else Mode.WALK_IN
            days = frozenset(rnd.sample(range(5), rnd.randint(1, 2)))
            nth = frozenset() if mode is Mode.APPOINTMENT else frozenset({rnd.randint(1, 4)})
            start = rnd.choice([time(9), time(14)])
            window = Window(mode, days, start, time(start.hour + 3), nth=nth)
            queue = f"{code}-{rnd.randrange(agencies_per_service)}"
            schedule = Schedule((window,), DayRules(holidays, closures), PARIS)
            routes[(site, code)] = Route(site, code, queue, schedule)
            if mode is Mode.APPOINTMENT:
                slots = sorted(
                    year + timedelta(days=7 * w + min(days), minutes=30 * rnd.randrange(6))
                    for w in range(50)
                )
                booking_id += len(slots)
                bookings[(site, code)] = tuple(
                    Booking(booking_id + i, f"c-{code}", t.astimezone(UTC), 30)
                    for i, t in enumerate(slots)
                )
        kiosk_map[f"kiosk-{site}-1"] = KioskInfo(f"kiosk-{site}-1", site, frozenset(services))
    for k in range(kiosks - sites):
        site = f"site-{rnd.randrange(sites)}"
        first = kiosk_map[f"kiosk-{site}-1"]
        kiosk_map[f"kiosk-{site}-x{k}"] = KioskInfo(f"kiosk-{site}-x{k}", site, first.services)
    return RoutingPlan(PARIS, frozenset(SERVICES), kiosk_map, routes, bookings)


def plan_2006(tmp: Path) -> RoutingPlan:
    settings = Settings(data_dir=tmp)
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        apply_plan(
            session, load_plan(ROOT / "provisioning" / "auvergne-2006.yaml"), settings.sip_domain
        )
    with db.sessions() as session:
        return load_routing_plan(session, settings)


def measure(plan: RoutingPlan, decisions: int, seed: int = 2) -> tuple[float, float]:
    rnd = random.Random(seed)
    kiosks = list(plan.kiosks.values())
    start = datetime(2026, 1, 1, tzinfo=PARIS)
    presses = []
    for _ in range(decisions):
        kiosk = rnd.choice(kiosks)
        service = rnd.choice(sorted(kiosk.services))
        at = start + timedelta(minutes=rnd.randrange(365 * 24 * 60))
        presses.append((kiosk.id, service, at))
    for press in presses[:200]:  # warm the caches a real server would have warm
        decide(plan, *press)
    times = []
    for press in presses:
        t0 = clock.perf_counter_ns()
        decide(plan, *press)
        times.append(clock.perf_counter_ns() - t0)
    times.sort()
    return statistics.median(times) / 1000, times[int(len(times) * 0.99)] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=20000)
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rows = [("2006 plan (20 kiosks)", plan_2006(Path(tmp)))]
    for sites, kiosks in ((300, 1000), (1000, 3300), (3000, 10000)):
        label = f"{sites} sites, {kiosks} kiosks, 60 agencies/service"
        rows.append((label, national_plan(sites, kiosks, 60)))
    print(f"{'plan':48} {'median µs':>10} {'p99 µs':>10}")
    for label, plan in rows:
        median, p99 = measure(plan, args.decisions)
        print(f"{label:48} {median:10.1f} {p99:10.1f}")


if __name__ == "__main__":
    main()
