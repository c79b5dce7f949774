"""Erlang C staffing: counsellors needed for a target wait, and the wait a staffing gives.

The permanence queue is an M/M/N queue: presses arrive at random (Poisson, ``rate`` per
hour), each conversation takes ``talk`` seconds on average (exponential), ``N`` counsellors
answer, and a caller waits until one is free (Erlang C: no abandonment, so the figures are
on the safe side). Pure functions, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pvp.common.errors import PvpError

MAX_COUNSELLORS = 200  # beyond any permanence of the region: a search bound, not a limit


class StaffingError(
    PvpError, ValueError, code="bad_staffing_input", summary="données de dimensionnement invalides"
):
    """Figures that the formula cannot use (negative rate, no talk time)."""


def offered_load(calls_per_hour: float, talk_seconds: float) -> float:
    """The traffic in erlangs: counsellors kept busy on average."""
    if calls_per_hour < 0 or talk_seconds <= 0:
        raise StaffingError("arrivals must be >= 0 and talk time > 0")
    return calls_per_hour * talk_seconds / 3600.0


def erlang_c(counsellors: int, load: float) -> float:
    """The probability that a caller waits at all, with ``counsellors`` and ``load`` erlangs.

    1.0 when the queue is overloaded (load >= counsellors: the wait grows without bound).
    Computed through Erlang B's recursion, which stays exact where the factorials of the
    textbook formula overflow.
    """
    if counsellors < 1:
        raise StaffingError("at least one counsellor")
    if load < 0:
        raise StaffingError("load must be >= 0")
    if load == 0:
        return 0.0
    if load >= counsellors:
        return 1.0
    blocking = 1.0  # Erlang B with 0 servers
    for n in range(1, counsellors + 1):
        blocking = load * blocking / (n + load * blocking)
    return counsellors * blocking / (counsellors - load * (1 - blocking))


def mean_wait(counsellors: int, load: float, talk_seconds: float) -> float:
    """The average wait of all callers in seconds (math.inf when overloaded)."""
    if load >= counsellors:
        return math.inf
    return erlang_c(counsellors, load) * talk_seconds / (counsellors - load)


def answered_within(counsellors: int, load: float, talk_seconds: float, seconds: float) -> float:
    """The share of callers answered within ``seconds`` (the "service level")."""
    if load >= counsellors:
        return 0.0
    return 1.0 - erlang_c(counsellors, load) * math.exp(
        -(counsellors - load) * seconds / talk_seconds
    )


def needed(
    calls_per_hour: float, talk_seconds: float, target_seconds: float, share: float = 0.8
) -> int:
    """The fewest counsellors who answer ``share`` of callers within ``target_seconds``."""
    if not 0 < share < 1 or target_seconds < 0:
        raise StaffingError("share must be in (0, 1) and the target wait >= 0")
    load = offered_load(calls_per_hour, talk_seconds)
    if load == 0:
        return 0
    n = max(1, math.floor(load) + 1)
    while answered_within(n, load, talk_seconds, target_seconds) < share:
        n += 1
        if n > MAX_COUNSELLORS:
            raise StaffingError("more than 200 counsellors: check the figures")
    return n


@dataclass(frozen=True)
class Estimate:
    """One site, service and window: what was measured and what Erlang C makes of it."""

    calls_per_hour: float
    talk_seconds: float
    load: float
    staffed: int  # counsellors able to answer today (members of the route's queue)
    needed: int
    wait_today: float | None  # mean wait in seconds with ``staffed``; None: nobody, inf: overload
    within_today: float | None  # share answered within the target with ``staffed``


def estimate(
    calls_per_hour: float,
    talk_seconds: float,
    staffed: int,
    target_seconds: float,
    share: float = 0.8,
) -> Estimate:
    load = offered_load(calls_per_hour, talk_seconds)
    wait = within = None
    if staffed > 0:
        wait = mean_wait(staffed, load, talk_seconds)
        within = answered_within(staffed, load, talk_seconds, target_seconds)
    return Estimate(
        calls_per_hour,
        talk_seconds,
        load,
        staffed,
        needed(calls_per_hour, talk_seconds, target_seconds, share),
        wait,
        within,
    )
