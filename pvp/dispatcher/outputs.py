"""What the dispatcher policy asks the world to do: plain values, executed by the worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pvp.vocabulary import CallOutcome


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring ``counsellor`` for ``call``; silence after ``timeout`` seconds is no answer."""

    call: str
    counsellor: str
    timeout: float


@dataclass(frozen=True, slots=True)
class CancelOffer:
    """Stop ringing ``counsellor`` for ``call`` (hang up that offer leg)."""

    call: str
    counsellor: str


@dataclass(frozen=True, slots=True)
class Bridge:
    """Connect the waiting caller to the counsellor who answered."""

    call: str
    counsellor: str


@dataclass(frozen=True, slots=True)
class EndWait:
    """The wait is over without a counsellor: tell the kiosk why, then hang up."""

    call: str
    outcome: CallOutcome
    reason: str


@dataclass(frozen=True, slots=True)
class PositionChanged:
    """The caller's place in line or estimated wait changed: the kiosk shows both."""

    call: str
    position: int
    estimated_wait_seconds: int


@dataclass(frozen=True, slots=True)
class RecordUpdate:
    """Fields of the call's :class:`~pvp.model.CallRecord` to set; ``None`` leaves a field."""

    call: str
    counsellor: str | None = None
    offered_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    outcome: CallOutcome | None = None
    reason: str | None = None


Command = Offer | CancelOffer | Bridge | EndWait | PositionChanged | RecordUpdate
