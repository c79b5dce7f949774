"""The kiosk's behaviour as a pure state machine: inputs in, effects out, no I/O.

The agent (:mod:`pvp.kiosk.agent`) turns buttons, the kiosk page's call events and switch
messages into inputs, feeds them to :meth:`KioskMachine.handle` and carries out the effects
it returns (show a view, dial, hang up, switch the audio devices, tell the counsellor). Tests
drive the machine directly, with no page, no screen and no clock.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pvp.kiosk import french
from pvp.kiosk.availability import REASONS, ButtonStatus
from pvp.kiosk.events import (
    AvailabilityChanged,
    CallClosed,
    CallEstablished,
    Connected,
    CounsellorText,
    CounsellorView,
    Dial,
    DialFailed,
    Effect,
    EngineDown,
    EngineUp,
    HangUpCall,
    HangUpPressed,
    HookChanged,
    Input,
    NoticeExpired,
    Pressed,
    QueueEnded,
    QueuePosition,
    SendKeyframes,
    SetNotice,
    Show,
    ShowIdle,
    StartNoticeTimer,
    StartTimer,
    TellCounsellor,
    Timer,
    TimerFired,
    UseAudio,
)
from pvp.kiosk.screen import View

log = logging.getLogger("pvp.kiosk.state")

# How long "closed" and "call ended" notices stay before the idle screen comes back.
NOTICE_SECONDS = 8.0
# The switch answers a press at once and parks it; within this time it says "queue" (the
# waiting screen) or "connected" (a counsellor): the screen stays on "calling" until then,
# so it never flickers "in call" -> "waiting". Past it, the call is shown as in progress.
CONNECT_SECONDS = 2.0
# The page's link to the switch lost this long: out of order, with the site agent's number.
UNREACHABLE_SECONDS = 30.0


# Views a counsellor may put on the kiosk screen with a ``status`` command.
COUNSELLOR_VIEWS = frozenset({View.IN_CALL, View.DOCUMENT, View.PRINTING, View.SCAN})


class Phase(enum.StrEnum):
    IDLE = "idle"
    NOTICE = "notice"  # a closed service or an ended call is explained, then idle
    CALLING = "calling"  # dialled; the switch is routing it
    ANSWERED = "answered"  # the switch answered (parked): queue or counsellor news expected
    WAITING = "waiting"  # parked in an expert queue
    IN_CALL = "in_call"
    RESTARTING = "restarting"  # the page has lost the switch and is reconnecting

    @property
    def in_call(self) -> bool:
        return self in (Phase.CALLING, Phase.ANSWERED, Phase.WAITING, Phase.IN_CALL)


_CLOSED_REASON = re.compile(r"^\s*(\d{3})\b\s*(.*)$")


def parse_refusal(reason: str) -> tuple[int | None, dict[str, str]]:
    """``"480 Closed; reason=outside_windows; next=2006-…"`` → (480, {reason, next})."""
    match = _CLOSED_REASON.match(reason or "")
    if not match:
        return None, {}
    fields: dict[str, str] = {}
    for part in match.group(2).split(";")[1:]:
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    return int(match.group(1)), fields


@dataclass
class KioskMachine:
    """One kiosk, one citizen, one call at a time."""

    now: datetime | None = None  # set by the agent before each input; for "next opening"
    phase: Phase = Phase.IDLE
    service: ButtonStatus | None = None
    sip_call_id: str | None = None  # the page's name of the call (the SIP Call-ID)
    switch_call: str | None = None  # the switch's name of it, learnt from its messages
    handset_lifted: bool = False
    call_view: Show | None = None  # what the counsellor last put on the screen
    ended_message: str | None = None  # the switch's reason when it ends a wait
    _notice_token: int = 0
    _timer_token: int = 0

    # -- queries used by the agent -------------------------------------------------------

    def is_current_call(self, call: str | None) -> bool:
        """Whether a command naming ``call`` belongs to the call in progress."""
        return self.phase.in_call and call is not None and call in self._names()

    def _names(self) -> set[str]:
        return {name for name in (self.sip_call_id, self.switch_call) if name}

    # -- transitions ---------------------------------------------------------------------

    def handle(self, event: Input) -> list[Effect]:
        old = self.phase
        effects = self._handle(event)
        if self.phase is not old:
            log.info("kiosk %s -> %s (%s)", old.value, self.phase.value, type(event).__name__)
        return effects

    def _handle(self, event: Input) -> list[Effect]:
        match event:
            case EngineDown():
                return self._engine_down()
            case EngineUp():
                return self._engine_up()
            case HookChanged(lifted):
                return self._hook(lifted)
            case TimerFired(Timer.UNREACHABLE, token) if token == self._timer_token:
                if self.phase is not Phase.RESTARTING:
                    return []
                message = "La borne ne joint plus le service de visioconférence."
                return [Show(View.OUT_OF_ORDER, {"message": message})]
        if self.phase is Phase.RESTARTING:
            return []  # nothing works until the engine is back; the screen says so
        match event:
            case Pressed(status):
                return self._press(status)
            case HangUpPressed():
                if not self.phase.in_call:
                    return []
                return [HangUpCall(), *self._to_idle()]
            case DialFailed(reason):
                if self.phase is not Phase.CALLING:
                    return []
                log.warning("dial failed: %s", reason)
                return self._notice("L'appel n'a pas pu aboutir", "Merci de réessayer.", "")
            case CallEstablished(call_id):
                return self._established(call_id)
            case CallClosed(call_id, reason):
                return self._closed(call_id, reason)
            case QueuePosition(call, position, wait):
                return self._queue(call, position, wait)
            case QueueEnded(call, message):
                if self.phase.in_call and self._adopt(call):
                    self.ended_message = message
                return []
            case Connected(call):
                if self.phase.in_call and self._adopt(call):
                    return [*self._to_in_call(), SendKeyframes()]
                return []
            case CounsellorText(text):
                return [SetNotice(text)] if self.phase.in_call else []
            case CounsellorView(view, data):
                return self._counsellor_view(view, data)
            case NoticeExpired(token):
                if self.phase is Phase.NOTICE and token == self._notice_token:
                    return self._to_idle()
                return []
            case AvailabilityChanged():
                return [ShowIdle()] if self.phase is Phase.IDLE else []
            case TimerFired(Timer.CONNECT, token) if token == self._timer_token:
                # Answered, but neither queued nor connected by now: show the call.
                return self._to_in_call() if self.phase is Phase.ANSWERED else []
        return []

    def _press(self, status: ButtonStatus) -> list[Effect]:
        if self.phase.in_call:
            return []  # during a call the service buttons do nothing
        if not status.open:
            return self._notice(*self._refusal(status.label, status.decision))
        self.phase, self.service = Phase.CALLING, status
        self._forget_call()
        return [
            SetNotice(None),
            Show(View.CALLING, {"service_label": status.label}),
            Dial(status.service),
        ]

    def _refusal(self, label: str, decision: Mapping[str, Any]) -> tuple[str, str, str]:
        """Title, reason and what to do, for a press the routing refused."""
        if decision.get("reason") == "appointment_only":
            # Not "closed, opens tomorrow": tomorrow it still takes only booked citizens.
            return (
                f"Le service {label} reçoit sur rendez-vous",
                "Un conseiller vous reçoit ici sur rendez-vous uniquement.",
                "Pour obtenir un rendez-vous, appelez votre agence ou demandez à l'agent "
                "d'accueil : votre conseiller vous donnera le jour et l'heure où revenir "
                "à cette borne.",
            )
        return (f"Le service {label} est fermé", *self._closed_texts(decision))

    def _closed_texts(self, decision: Mapping[str, Any]) -> tuple[str, str]:
        reason = REASONS.get(str(decision.get("reason") or ""), "")
        detail = decision.get("detail")
        if detail:
            reason = f"{reason} : {detail}" if reason else str(detail)
        reason_text = reason[:1].upper() + reason[1:] if reason else ""
        next_opening = decision.get("next_opening")
        next_text = ""
        if next_opening and self.now is not None:
            when = french.opening(datetime.fromisoformat(str(next_opening)), self.now)
            next_text = f"Il ouvrira {when}."
        return reason_text, next_text

    def _established(self, call_id: str | None) -> list[Effect]:
        if self.phase is not Phase.CALLING:
            return []
        self.sip_call_id = call_id
        self.phase = Phase.ANSWERED  # the screen keeps "calling" until the switch says more
        self._timer_token += 1
        effects: list[Effect] = [StartTimer(Timer.CONNECT, self._timer_token, CONNECT_SECONDS)]
        if self.handset_lifted:
            effects.append(TellCounsellor(private=True))
        return effects

    def _to_in_call(self) -> list[Effect]:
        self.phase = Phase.IN_CALL
        return [self._call_screen()]

    def _call_screen(self) -> Show:
        if self.call_view is not None and self.phase is Phase.IN_CALL:
            return self.call_view
        label = self.service.label if self.service else ""
        return Show(View.IN_CALL, {"service_label": label, "private": self.handset_lifted})

    def _queue(self, call: str | None, position: int, wait: int | None) -> list[Effect]:
        if not self.phase.in_call or not self._adopt(call):
            return []
        if position <= 0:
            return self._to_in_call()
        self.phase = Phase.WAITING
        data: dict[str, Any] = {
            "service_label": self.service.label if self.service else "",
            "position": position,
            "wait_text": french.minutes(wait) if wait is not None and wait >= 0 else "",
        }
        return [Show(View.WAITING, data)]

    def _adopt(self, call: str | None) -> bool:
        """A switch message names the call by the switch's id: the first one names this call.

        The switch knows the kiosk leg by its own UUID, which the kiosk never sees in SIP;
        its first message during this call teaches the kiosk that name. Messages naming
        another call once a name is known are stale (a previous call) and ignored.
        """
        if call is None or call in self._names():
            return True
        if self.switch_call is not None:
            return False
        self.switch_call = call
        return True

    def _closed(self, call_id: str | None, reason: str) -> list[Effect]:
        if not self.phase.in_call:
            return []
        if call_id and self.sip_call_id and call_id != self.sip_call_id:
            return []  # the end of an earlier call, reported late
        code, fields = parse_refusal(reason)
        label = self.service.label if self.service else ""
        if self.ended_message:
            return self._notice("L'appel est terminé", self.ended_message, "")
        if code in (404, 480) and fields:
            # The switch refused the press with the routing decision's reason.
            decision = {"reason": fields.get("reason"), "next_opening": fields.get("next")}
            return self._notice(*self._refusal(label, decision))
        if self.phase is Phase.CALLING and code is not None and code >= 400:
            return self._notice(
                "L'appel n'a pas pu aboutir", "Aucun conseiller n'a pu répondre.", ""
            )
        return self._to_idle()

    def _counsellor_view(self, view: View, data: Mapping[str, Any]) -> list[Effect]:
        if not self.phase.in_call or view not in COUNSELLOR_VIEWS:
            return []
        self.phase = Phase.IN_CALL  # a counsellor is evidently there
        self.call_view = None if view is View.IN_CALL else Show(view, dict(data))
        return [self._call_screen()]

    def _hook(self, lifted: bool) -> list[Effect]:
        if lifted == self.handset_lifted:
            return []
        self.handset_lifted = lifted
        if self.phase is Phase.RESTARTING:
            return []  # applied when the engine is back
        effects: list[Effect] = [UseAudio(handset=lifted)]
        if self.phase in (Phase.ANSWERED, Phase.WAITING, Phase.IN_CALL):
            effects.append(TellCounsellor(private=lifted))
            if self.phase is Phase.IN_CALL and self.call_view is None:
                effects.append(self._call_screen())
        return effects

    def _engine_down(self) -> list[Effect]:
        if self.phase is Phase.RESTARTING:
            return []
        self.phase = Phase.RESTARTING
        self._forget_call()
        self.service = None
        self._timer_token += 1
        return [
            SetNotice(None),
            Show(View.RESTARTING),
            StartTimer(Timer.UNREACHABLE, self._timer_token, UNREACHABLE_SECONDS),
        ]

    def _engine_up(self) -> list[Effect]:
        if self.phase is not Phase.RESTARTING:
            return []
        effects = self._to_idle()
        if self.handset_lifted:  # a reconnected page starts on the loudspeaker
            effects.append(UseAudio(handset=True))
        return effects

    def _notice(self, title: str, reason_text: str, next_text: str) -> list[Effect]:
        self.phase = Phase.NOTICE
        self._forget_call()
        self.service = None
        self._notice_token += 1
        data = {"title": title, "reason_text": reason_text, "next_text": next_text}
        return [
            SetNotice(None),
            Show(View.CLOSED, data),
            StartNoticeTimer(self._notice_token, NOTICE_SECONDS),
        ]

    def _to_idle(self) -> list[Effect]:
        self.phase = Phase.IDLE
        self._forget_call()
        self.service = None
        return [SetNotice(None), ShowIdle()]

    def _forget_call(self) -> None:
        self.sip_call_id = self.switch_call = None
        self.call_view = self.ended_message = None
