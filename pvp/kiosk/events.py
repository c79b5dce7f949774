"""What the kiosk's state machine is told (inputs) and what it asks for (effects).

Plain values: the agent (:mod:`pvp.kiosk.agent`) makes the inputs from buttons, the page and
the switch, and carries out the effects :class:`pvp.kiosk.state.KioskMachine` returns.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pvp.kiosk.availability import ButtonStatus
from pvp.kiosk.screen import View


class Timer(enum.StrEnum):
    """The machine's timers (besides the notice's)."""

    CONNECT = "connect"
    UNREACHABLE = "unreachable"


# -- inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pressed:
    """A service button, with what the availability cache says of it right now."""

    status: ButtonStatus


@dataclass(frozen=True)
class HangUpPressed:
    pass


@dataclass(frozen=True)
class HookChanged:
    lifted: bool


@dataclass(frozen=True)
class DialFailed:
    reason: str


@dataclass(frozen=True)
class CallEstablished:
    call_id: str | None


@dataclass(frozen=True)
class CallClosed:
    call_id: str | None
    reason: str  # the SIP answer that ended it: "480 Closed; reason=…; next=…"


@dataclass(frozen=True)
class QueuePosition:
    call: str | None
    position: int
    wait_seconds: int | None


@dataclass(frozen=True)
class QueueEnded:
    call: str | None
    message: str


@dataclass(frozen=True)
class Connected:
    """The switch says a counsellor was bridged to this call."""

    call: str | None


@dataclass(frozen=True)
class CounsellorText:
    text: str | None


@dataclass(frozen=True)
class CounsellorView:
    view: View
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineDown:
    pass


@dataclass(frozen=True)
class EngineUp:
    pass


@dataclass(frozen=True)
class NoticeExpired:
    token: int  # only the notice that armed the timer may end it


@dataclass(frozen=True)
class AvailabilityChanged:
    pass


@dataclass(frozen=True)
class TimerFired:
    timer: Timer
    token: int  # only the timer last armed counts


Input = (
    Pressed
    | HangUpPressed
    | HookChanged
    | DialFailed
    | CallEstablished
    | CallClosed
    | QueuePosition
    | QueueEnded
    | Connected
    | CounsellorText
    | CounsellorView
    | EngineDown
    | EngineUp
    | NoticeExpired
    | AvailabilityChanged
    | TimerFired
)

# -- effects -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Show:
    view: View
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShowIdle:
    """The idle view; the agent fills in the buttons from the availability cache."""


@dataclass(frozen=True)
class SetNotice:
    text: str | None


@dataclass(frozen=True)
class Dial:
    service: str


@dataclass(frozen=True)
class HangUpCall:
    pass


@dataclass(frozen=True)
class UseAudio:
    handset: bool  # True: handset microphone and earpiece; False: room loudspeaker and mic


@dataclass(frozen=True)
class TellCounsellor:
    private: bool  # "conversation privée" or back to the loudspeaker


@dataclass(frozen=True)
class SendKeyframes:
    """The call was just bridged to a counsellor: the page sends fresh keyframes, since the
    ones it sent while parked reached only the switch (else the counsellor sees grey)."""


@dataclass(frozen=True)
class StartNoticeTimer:
    token: int
    seconds: float


@dataclass(frozen=True)
class StartTimer:
    """Feed ``TimerFired(timer, token)`` back after ``seconds``."""

    timer: Timer
    token: int
    seconds: float


Effect = (
    Show
    | ShowIdle
    | SetNotice
    | Dial
    | HangUpCall
    | UseAudio
    | TellCounsellor
    | StartNoticeTimer
    | StartTimer
    | SendKeyframes
)
