"""What the queues look like now, for the HTTP API and the panel: derived, never stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pvp.dispatcher.policy import DispatchPolicy


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def overview(policy: DispatchPolicy) -> dict[str, Any]:
    positions = policy.positions()
    queues = []
    for queue_id in sorted(policy.queues):
        calls = [c for c in policy.calls.values() if c.arrival.queue == queue_id]
        waiting = sorted(
            (c for c in calls if c.id in positions), key=lambda c: (positions[c.id], c.seq)
        )
        queues.append(
            {
                "id": queue_id,
                "waiting": [
                    {
                        "call": c.id,
                        "kiosk": c.arrival.kiosk,
                        "site": c.arrival.site,
                        "service": c.arrival.service,
                        "mode": str(c.arrival.mode),
                        "booked_counsellor": c.arrival.booked if c.waits_for_booked else None,
                        "state": str(c.state),
                        "ringing": c.counsellor,
                        "position": positions[c.id][0],
                        "estimated_wait_seconds": positions[c.id][1],
                        "arrived_at": _iso(c.arrival.arrived_at),
                    }
                    for c in waiting
                ],
                "talking": [
                    {
                        "call": c.id,
                        "kiosk": c.arrival.kiosk,
                        "counsellor": c.counsellor,
                        "answered_at": _iso(c.answered_at),
                        "connected": c.bridged,  # answered, and FreeSWITCH bridged it
                    }
                    for c in sorted(calls, key=lambda c: c.seq)
                    if c.id not in positions
                ],
                "counsellors": [
                    {
                        "id": c.id,
                        "priority": priority,
                        "registered": c.registered,
                        "console": str(c.console),
                        "activity": str(c.activity),
                        "call": c.call,
                        "available": c.available,
                        "reachable": c.unreachable_since is None,
                        "wrap_up_until": _iso(c.wrap_up_until),
                    }
                    for c, priority in policy.counsellors_of(queue_id)
                ],
            }
        )
    return {"queues": queues}
