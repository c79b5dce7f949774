"""The national load through the real dispatcher policy and its database store.

    .venv/bin/python -m benchmarks.bench_national --database-url postgresql+psycopg://… \
        [--minutes 60] [--calls-per-kiosk-hour 0.3]

Builds a national deployment in an empty database (2,800 sites, 10,000 kiosks, 100
departments x 6 services = 600 expert queues of 5 counsellors, all registered and available),
then replays one busy opening window in simulated time: Poisson presses at every kiosk, each
counsellor answering 3 s after the offer, talks of 5-25 minutes, the queues' wrap-up and
timers. Every policy input goes through what the ESL worker does (``DispatchPolicy`` then
``QueueStore.apply`` / ``sync`` and the call record), with FreeSWITCH replaced by the event
schedule. Prints decisions/s (policy inputs), queue operations/s (entries written) and the
share of wall time spent in the database. Not a test: it measures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pvp.calendar import Mode
from pvp.db import Database
from pvp.dispatcher.outputs import Bridge, Command, Offer, RecordUpdate
from pvp.dispatcher.policy import DispatchPolicy
from pvp.dispatcher.state import Arrival
from pvp.dispatcher.store import QueueStore
from pvp.model import (
    Agency,
    ConsoleStatus,
    Counsellor,
    Department,
    ExpertQueue,
    Kiosk,
    QueueMembership,
    Service,
    Site,
)

SERVICES = ("anpe", "caf", "msa", "urssaf", "cram", "udaf")
DEPARTMENTS, SITES, KIOSKS, PER_QUEUE = 100, 2800, 10000, 5


def build(db: Database) -> dict[str, tuple[str, str]]:
    """The national plan's rows; kiosk -> (site, department)."""
    kiosks: dict[str, tuple[str, str]] = {}
    with db.session() as s:
        s.add_all(Service(code=c, name=c.upper(), default_mode="walk_in") for c in SERVICES)
        deps = [f"{n:03d}" for n in range(1, DEPARTMENTS + 1)]
        s.add_all(Department(code=d, name=f"Département {d}") for d in deps)
        s.flush()
        for n in range(SITES):
            dep = deps[n % DEPARTMENTS]
            s.add(Site(id=f"site-{n}", department_code=dep, community="cc", commune=f"c{n}"))
        s.flush()
        for n in range(KIOSKS):
            site = f"site-{n % SITES}"
            kiosks[f"kiosk-{n}"] = (site, deps[(n % SITES) % DEPARTMENTS])
            s.add(Kiosk(id=f"kiosk-{n}", site_id=site, a1_hash="0" * 32))
        for dep in deps:
            for service in SERVICES:
                queue = f"{service}-{dep}"
                s.add(
                    Agency(
                        id=queue, service_code=service, name=queue, town="t", department_code=dep
                    )
                )
                s.flush()
                s.add(ExpertQueue(id=queue, agency_id=queue, service_code=service, name=queue))
                for i in range(PER_QUEUE):
                    c = f"{queue}-c{i}"
                    s.add(Counsellor(id=c, agency_id=queue, display_name=c, a1_hash="0" * 32))
                    s.add(QueueMembership(counsellor_id=c, queue_id=queue, priority=1 + i // 3))
    return kiosks


class Simulation:
    def __init__(self, db: Database, kiosks: dict[str, tuple[str, str]], seed: int) -> None:
        self.store = QueueStore(db)
        self.policy = DispatchPolicy(self.store.queues())
        self.kiosks, self.random = kiosks, random.Random(seed)
        self.events: list[tuple[datetime, int, Callable[[datetime], list[Command]]]] = []
        self.order = itertools.count()
        self.decisions = self.db_seconds = 0.0
        self.queue_ops = self.records_written = 0
        self.presses = 0

    def at(self, when: datetime, action: Callable[[datetime], list[Command]]) -> None:
        heapq.heappush(self.events, (when, next(self.order), action))

    def step(self, now: datetime, action: Callable[[datetime], list[Command]]) -> None:
        """What DispatchWorker._step does, FreeSWITCH's part replaced by scheduled events."""
        commands = action(now)
        self.decisions += 1
        records = [c for c in commands if isinstance(c, RecordUpdate)]
        for command in commands:
            if isinstance(command, Offer):  # the counsellor answers after 3 s
                self.at(now + timedelta(seconds=3), self._answer(command))
            elif isinstance(command, Bridge):  # joined at once, talk of 5-25 minutes
                self.at(now + timedelta(milliseconds=50), self._bridged(command.call))
                talk = timedelta(minutes=self.random.uniform(5, 25))
                self.at(now + talk, self._hang_up(command.call, command.counsellor))
        started = time.perf_counter()
        before = self.store._entries  # sync replaces the dict: the old one stays as it was
        self.store.apply(records)
        self.store.sync(self.policy, {})
        self.db_seconds += time.perf_counter() - started
        self.records_written += len(records)
        after = self.store._entries
        self.queue_ops += len(set(before) - set(after))
        self.queue_ops += sum(1 for k, v in after.items() if before.get(k) != v)

    def _answer(self, offer: Offer) -> Callable[[datetime], list[Command]]:
        return lambda now: self.policy.offer_answered(offer.call, offer.counsellor, now)

    def _bridged(self, call: str) -> Callable[[datetime], list[Command]]:
        return lambda now: self.policy.bridged(call, now)

    def _hang_up(self, call: str, counsellor: str) -> Callable[[datetime], list[Command]]:
        def both(now: datetime) -> list[Command]:
            out = self.policy.caller_hung_up(call, now)
            return out + self.policy.counsellor_call_ended(counsellor, now)

        return both

    def press(self, kiosk: str, now: datetime) -> None:
        site, dep = self.kiosks[kiosk]
        service = self.random.choice(SERVICES)
        arrival = Arrival(
            str(uuid.uuid4()), f"{service}-{dep}", kiosk, site, service, Mode.WALK_IN, None, now
        )
        started = time.perf_counter()
        self.store.ensure_record(arrival, "walk_in")
        self.db_seconds += time.perf_counter() - started
        self.records_written += 1
        self.presses += 1
        self.step(now, lambda at: self.policy.caller_parked(arrival, at))

    def run(self, start: datetime, minutes: int, per_kiosk_hour: float) -> float:
        for counsellor in list(self.policy.counsellors):
            self.step(start, lambda at, c=counsellor: self.policy.registration_changed(c, True, at))
            self.step(
                start,
                lambda at, c=counsellor: self.policy.console_status_changed(
                    c, ConsoleStatus.AVAILABLE, at
                ),
            )
        # Only the window is measured, not the counsellors' morning sign-in.
        self.decisions = self.db_seconds = 0.0
        self.queue_ops = self.records_written = 0
        rate = len(self.kiosks) * per_kiosk_hour / 3600  # presses per second, nationwide
        end = start + timedelta(minutes=minutes)
        t = start
        while True:
            t += timedelta(seconds=self.random.expovariate(rate))
            if t >= end:
                break
            kiosk = self.random.choice(list(self.kiosks))
            self.at(t, lambda now, k=kiosk: (self.press(k, now), [])[1])
        tick = start
        while tick < end:  # the worker's timer: once a second
            tick += timedelta(seconds=1)
            self.at(tick, self.policy.tick)
        wall = time.perf_counter()
        while self.events:
            when, _, action = heapq.heappop(self.events)
            if when > end:
                break
            self.step(when, action)
        return time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True, help="an empty database")
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--calls-per-kiosk-hour", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    db = Database(args.database_url)
    started = time.perf_counter()
    kiosks = build(db)
    print(f"national plan built in {time.perf_counter() - started:.1f} s")
    sim = Simulation(db, kiosks, args.seed)
    wall = sim.run(datetime(2026, 3, 3, 9, tzinfo=UTC), args.minutes, args.calls_per_kiosk_hour)
    simulated = args.minutes * 60
    print(
        f"{args.minutes} simulated minutes in {wall:.1f} s of wall time "
        f"({simulated / wall:.1f}x real time); {sim.presses} presses"
    )
    print(f"decisions (policy inputs): {sim.decisions:.0f}, {sim.decisions / wall:.0f}/s")
    print(
        f"queue operations (entries written or removed): {sim.queue_ops}, "
        f"{sim.queue_ops / wall:.0f}/s; call record writes {sim.records_written}"
    )
    print(f"database share of wall time: {100 * sim.db_seconds / wall:.0f} %")


if __name__ == "__main__":
    main()
