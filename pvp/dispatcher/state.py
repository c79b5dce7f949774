"""The dispatcher's state objects: waiting calls and counsellors, with logged transitions.

Each object changes state through one setter that acts only when the state differs and logs
``old -> new`` (the aiortc habit), so a day's log tells every call's and counsellor's story.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pvp.calendar import Mode
from pvp.vocabulary import ConsoleStatus

log = logging.getLogger("pvp.dispatcher")


class CallState(enum.StrEnum):
    WAITING = "waiting"  # parked, no counsellor ringing
    RINGING = "ringing"  # one counsellor is being offered the call
    TALKING = "talking"  # bridged to a counsellor
    ENDED = "ended"  # gone from the dispatcher


class Activity(enum.StrEnum):
    """What a counsellor is doing as far as calls go (console status and SIP are apart)."""

    IDLE = "idle"
    RINGING = "ringing"
    TALKING = "talking"
    WRAP_UP = "wrap_up"


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """What the policy needs of an :class:`~pvp.model.ExpertQueue`; times in seconds."""

    id: str
    max_wait: float
    no_answer_timeout: float
    wrap_up: float
    members: Mapping[str, int]  # counsellor id -> priority level (1 is offered first)


@dataclass(frozen=True, slots=True)
class Arrival:
    """A caller the dialplan answered and parked in an expert queue."""

    call: str  # the kiosk leg's call UUID
    queue: str
    kiosk: str
    site: str
    service: str
    mode: Mode
    booked: str | None  # the appointment's counsellor, if any
    arrived_at: datetime
    appointment: int | None = None


@dataclass(eq=False)
class WaitingCall:
    arrival: Arrival
    seq: int  # tie-break of equal arrival instants; also kept across restarts
    state: CallState = CallState.WAITING
    counsellor: str | None = None  # ringing or talking
    offered_at: datetime | None = None  # first offer, for the call record
    offer_deadline: datetime | None = None
    answered_at: datetime | None = None
    bridged: bool = False  # FreeSWITCH confirmed the bridge: only then can it be served
    refused: set[str] = field(default_factory=set)  # rejected or failed: never again
    unanswered: list[str] = field(default_factory=list)  # let ring: only after everyone else
    walk_in_fallback: bool = False  # a booked caller now served by the whole queue
    unstaffed_since: datetime | None = None  # since when no candidate is even present
    notified: tuple[int, int] | None = None  # last (position, estimate) sent to the kiosk

    @property
    def id(self) -> str:
        return self.arrival.call

    @property
    def waits_for_booked(self) -> bool:
        return self.arrival.booked is not None and not self.walk_in_fallback

    @property
    def sort_key(self) -> tuple[datetime, int]:
        return (self.arrival.arrived_at, self.seq)

    def set_state(self, new: CallState, why: str = "") -> None:
        if new is not self.state:
            log.info("call %s: %s -> %s %s", self.id, self.state, new, why)
            self.state = new


@dataclass(eq=False)
class DispatchCounsellor:
    id: str
    registered: bool = False
    console: ConsoleStatus = ConsoleStatus.OFFLINE
    activity: Activity = Activity.IDLE
    call: str | None = None  # ringing or talking
    idle_since: datetime | None = None  # end of the last call, else when they became available
    wrap_up_until: datetime | None = None
    last_call_ended_at: datetime | None = None
    # An offer to them failed on the way (a transport cause, e.g. a registration left over
    # from before a switch restart whose TLS connection is dead): they do not count as
    # present until a REGISTER of theirs or an answer shows them reachable, and they are
    # offered calls again only from ``retry_at`` on (a REGISTER clears it at once).
    unreachable_since: datetime | None = None
    retry_at: datetime | None = None

    @property
    def present(self) -> bool:
        """Reachable and at the console: will take calls, now or after a pause or a call."""
        return (
            self.registered
            and self.unreachable_since is None
            and self.console is not ConsoleStatus.OFFLINE
        )

    @property
    def available_to_ring(self) -> bool:
        """Reachable and wishing calls, whatever they are doing right now."""
        return self.registered and self.retry_at is None and self.console is ConsoleStatus.AVAILABLE

    @property
    def available(self) -> bool:
        return self.available_to_ring and self.activity is Activity.IDLE

    def set_activity(self, new: Activity, call: str | None = None) -> None:
        if new is not self.activity:
            log.info("counsellor %s: %s -> %s %s", self.id, self.activity, new, call or "")
            self.activity = new
        self.call = call

    def set_console(self, new: ConsoleStatus, now: datetime) -> None:
        if new is not self.console:
            log.info("counsellor %s console: %s -> %s", self.id, self.console, new)
            self.console = new
            self._became_offerable(now)

    def set_registered(self, new: bool, now: datetime) -> None:
        if new is not self.registered:
            log.info("counsellor %s SIP: %s -> %s", self.id, self.registered, new)
            self.registered = new
            self._became_offerable(now)

    def mark_unreachable(self, now: datetime, retry_at: datetime) -> None:
        if self.unreachable_since is None:
            log.info("counsellor %s: unreachable", self.id)
            self.unreachable_since = now
        self.retry_at = retry_at

    def mark_reachable(self) -> None:
        if self.unreachable_since is not None:
            log.info("counsellor %s: reachable again", self.id)
        self.unreachable_since = self.retry_at = None

    def start_wrap_up(self, now: datetime, seconds: float) -> None:
        self.idle_since = self.last_call_ended_at = now
        self.wrap_up_until = now + timedelta(seconds=seconds)
        self.set_activity(Activity.WRAP_UP)

    def _became_offerable(self, now: datetime) -> None:
        # A counsellor who never had a call counts as idle from the moment they could take one.
        if self.available and self.idle_since is None:
            self.idle_since = now
