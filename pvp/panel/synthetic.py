"""A generated year of call records (and appointments) for a plan: for the evaluation's tests,
its benchmark and demonstrations. Deterministic for a given seed.

Not a simulation of the switch: presses fall at random on the plan's routes, in office hours,
with plausible shares of outcomes and lognormal waits and talk times.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from pvp.config import DEFAULT_TIMEZONE
from pvp.model import Appointment, CallRecord, Kiosk, QueueMembership, RouteRule

DECISIONS = {"walk_in": 45, "appointment": 30, "closed": 20, "appointment_required": 5}
OUTCOMES = {"served": 80, "abandoned": 12, "timed_out": 4, "no_counsellor": 4}
NO_SHOW_PER_APPOINTMENT = 0.08


def generate_year(
    session: Session, year: int, calls: int, seed: int = 2006, tz: str = DEFAULT_TIMEZONE
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Insert ``calls`` call records of ``year``; the inserted rows are returned as dicts."""
    rng = random.Random(seed)
    zone = ZoneInfo(tz)
    routes = [
        (r.site_id, r.service_code, r.queue_id)
        for r in session.scalars(select(RouteRule).order_by(RouteRule.id))
    ]
    kiosks: dict[str, str] = {}
    for k in session.scalars(select(Kiosk).order_by(Kiosk.id)):
        kiosks.setdefault(k.site_id, k.id)
    members: dict[str, list[str]] = {}
    for m in session.scalars(select(QueueMembership).order_by(QueueMembership.counsellor_id)):
        members.setdefault(m.queue_id, []).append(m.counsellor_id)
    next_id = (session.scalar(select(func.max(Appointment.id))) or 0) + 1
    kinds, kind_weights = list(DECISIONS), list(DECISIONS.values())
    ends, end_weights = list(OUTCOMES), list(OUTCOMES.values())
    records: list[dict[str, Any]] = []
    appointments: list[dict[str, Any]] = []
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    for i in range(calls):
        site, service, queue = routes[rng.randrange(len(routes))]
        day = first + timedelta(days=rng.randrange(days))
        local = datetime(
            day.year,
            day.month,
            day.day,
            rng.randint(8, 17),
            rng.randrange(60),
            rng.randrange(60),
            tzinfo=zone,
        )
        pressed = local.astimezone(UTC)
        decision = rng.choices(kinds, kind_weights)[0]
        row: dict[str, Any] = {
            "id": f"gen-{year}-{seed}-{i:07d}",
            "kiosk_id": kiosks[site],
            "site_id": site,
            "service_code": service,
            "queue_id": queue,
            "counsellor_id": None,
            "appointment_id": None,
            "mode": None,
            "decision": decision,
            "pressed_at": pressed,
            "offered_at": None,
            "answered_at": None,
            "ended_at": pressed,
            "wait_seconds": None,
            "talk_seconds": None,
            "outcome": "closed",
            "reason": "",
        }
        if decision in ("walk_in", "appointment"):
            outcome = rng.choices(ends, end_weights)[0]
            wait = round(rng.lognormvariate(4.0, 0.8), 1)
            counsellor = rng.choice(members[queue])
            row.update(
                mode=decision,
                outcome=outcome,
                wait_seconds=wait,
                ended_at=pressed + timedelta(seconds=wait),
            )
            if outcome == "served":
                talk = round(rng.lognormvariate(6.3, 0.5), 1)
                answered = pressed + timedelta(seconds=wait)
                row.update(
                    counsellor_id=counsellor,
                    offered_at=answered,
                    answered_at=answered,
                    talk_seconds=talk,
                    ended_at=answered + timedelta(seconds=talk),
                )
            if decision == "appointment":
                appointments.append(
                    _appointment(next_id, site, service, counsellor, pressed, "seen")
                )
                row["appointment_id"] = next_id
                next_id += 1
                if rng.random() < NO_SHOW_PER_APPOINTMENT:
                    appointments.append(
                        _appointment(
                            next_id,
                            site,
                            service,
                            counsellor,
                            pressed + timedelta(minutes=45),
                            "no_show",
                        )
                    )
                    next_id += 1
        records.append(row)
    for start in range(0, len(appointments), 5000):
        session.execute(insert(Appointment), appointments[start : start + 5000])
    for start in range(0, len(records), 5000):
        session.execute(insert(CallRecord), records[start : start + 5000])
    return records, appointments


def _appointment(
    ident: int, site: str, service: str, counsellor: str, start: datetime, status: str
) -> dict[str, Any]:
    return {
        "id": ident,
        "site_id": site,
        "service_code": service,
        "counsellor_id": counsellor,
        "start": start,
        "minutes": 30,
        "citizen_ref": f"gen-{ident}",
        "status": status,
        "created_at": start - timedelta(days=7),
    }
