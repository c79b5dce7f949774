"""The control plane's clock: real time, or (tests only) a shifted one.

Routing depends on the instant, and the live tests must pretend it is the 4th Friday at
10:00. Every handler asks a :class:`Clock` instead of ``datetime.now``. A shifted clock is
made only from the test-only setting ``fake_now`` (env ``PVP_FAKE_NOW``) or by a test that
builds one; it runs on at the real pace from the instant it was set to, so timeouts still
elapse. FreeSWITCH's own clock (its static dialplan's time conditions) is never shifted.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Protocol

from pvp.config import Settings
from pvp.timeparse import parse_instant

log = logging.getLogger("pvp.clock")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


def utc_now() -> datetime:
    """The system's current instant, aware (UTC): the default clock of the services."""
    return datetime.now(UTC)


class SystemClock:
    def now(self) -> datetime:
        return utc_now()


class ShiftedClock:
    """Real time moved by a fixed offset; :meth:`travel_to` sets a new "now"."""

    def __init__(self, start: datetime) -> None:
        self._lock = threading.Lock()
        self._offset = start - datetime.now(UTC)

    def travel_to(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("the instant must carry a time zone")
        with self._lock:
            self._offset = instant - datetime.now(UTC)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset


def clock_from_settings(settings: Settings) -> Clock:
    if not settings.fake_now:
        return SystemClock()
    start = parse_instant(settings.fake_now, settings.zone)
    log.warning("TEST CLOCK: the control plane pretends it is %s (PVP_FAKE_NOW)", start)
    return ShiftedClock(start)
