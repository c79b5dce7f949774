"""The dispatcher at work: FreeSWITCH events in, policy commands out, state to the database.

Whole on purpose: every handler, the reconciliation after a restart included, runs under the
worker's one lock over the same leg maps (caller, offer and talk legs).

Events (ESL)                         -> policy input
  CHANNEL_PARK with ``pvp_queue``    -> caller parked (and the waiting sound starts)
  CHANNEL_ANSWER of an offer leg     -> offer answered
  CHANNEL_PARK of an answered offer leg -> the bridge is made (the leg is ready for it)
  CHANNEL_BRIDGE of a caller         -> bridged: the call is served from now on
  CHANNEL_HANGUP_COMPLETE            -> caller hung up / offer unanswered, rejected, failed,
                                        unreachable (a transport cause) / counsellor's call ended
  sofia::register / unregister / expire -> counsellor registered yes/no (every REGISTER also
                                        says the counsellor is reachable again)
Commands                             -> FreeSWITCH
  Offer       -> bgapi originate {origination_uuid=…,pvp_offer_for=<caller>}<dial> &park()
  Bridge      -> uuid_bridge <caller> <offer leg> once that leg is parked (bridging a leg
                 still entering park() gave 20 s of black video, then DESTINATION_OUT_OF_ORDER);
                 ``-ERR`` -> bridge failed; uuid_video_refresh on CHANNEL_BRIDGE
                 and SIP INFO keyframe requests to both legs (pvp.freeswitch.keyframes)
  CancelOffer -> uuid_kill <offer leg> ORIGINATOR_CANCEL
  EndWait     -> the kiosk is told why, then uuid_kill <caller> <cause>
  PositionChanged -> the kiosk notifier (a SIP MESSAGE today)

Every input runs under one lock, so the policy sees one thing at a time; a tick thread
drives its timers and picks up console statuses changed by another process (the CLI).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from pvp.calendar import Mode
from pvp.clock import utc_now
from pvp.config import Settings
from pvp.db import Database
from pvp.dispatcher import outputs
from pvp.dispatcher.notifier import KioskNotifier, SipMessageNotifier
from pvp.dispatcher.state import Arrival, CallState
from pvp.dispatcher.store import QueueStore, build_policy
from pvp.freeswitch import keyframes, registrations
from pvp.freeswitch.authguard import FAILURE_EVENT
from pvp.freeswitch.esl import ESLError
from pvp.freeswitch.eslframe import Event
from pvp.freeswitch.pool import EventSocket, connect
from pvp.model import CallOutcome, ConsoleStatus
from pvp.wire import channel
from pvp.wire.channel import Var
from pvp.wire.messages import Sealer

log = logging.getLogger("pvp.dispatcher.worker")

CHANNEL_EVENTS = ("CHANNEL_PARK", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_HANGUP_COMPLETE")
# Refused credentials feed the SIP address guard (pvp/freeswitch/authguard.py).
EVENTS = (*CHANNEL_EVENTS, *registrations.EVENTS, FAILURE_EVENT)
# A soft chime every six seconds while the citizen waits (the screen shows the position);
# the dialplan's pvp_wait_media (setting wait_media) comes first.
WAITING_SOUND = "tone_stream://%(300,5700,523)"
NO_ANSWER = frozenset(
    {
        "NO_ANSWER",
        "NO_USER_RESPONSE",
        "ALLOTTED_TIMEOUT",
        "PROGRESS_TIMEOUT",
        "RECOVERY_ON_TIMER_EXPIRE",
    }
)
REJECTED = frozenset({"CALL_REJECTED", "USER_BUSY"})
# The offer never reached the counsellor: not their refusal (issue 15). After a switch restart
# a TLS registration whose connection died is still listed and fails at once with
# NORMAL_TEMPORARY_FAILURE; LOSE_RACE is what the reconciliation reports for an offer leg that
# vanished with the switch.
UNREACHABLE = frozenset(
    {
        "NORMAL_TEMPORARY_FAILURE",
        "DESTINATION_OUT_OF_ORDER",
        "USER_NOT_REGISTERED",
        "SUBSCRIBER_ABSENT",
        "NETWORK_OUT_OF_ORDER",
        "NO_ROUTE_DESTINATION",
        "LOSE_RACE",
    }
)
# How the kiosk leg is hung up when its wait ends: the cause says why, in FreeSWITCH's terms.
END_CAUSES = {
    CallOutcome.TIMED_OUT: "ALLOTTED_TIMEOUT",
    CallOutcome.NO_COUNSELLOR: "USER_NOT_REGISTERED",
    CallOutcome.FAILED: "NORMAL_TEMPORARY_FAILURE",
}
DialString = Callable[[str], str]


def _safe_value(text: str) -> str:
    """A channel variable value that cannot break the ``{a=b,c=d}`` originate syntax."""
    return "".join(ch for ch in text if ch.isalnum() or ch in "-_.@")


class DispatchWorker:
    def __init__(
        self,
        db: Database,
        esl: EventSocket,
        *,
        domain: str,
        notifier: KioskNotifier | None = None,
        sealer: Sealer | None = None,
        dial_string: DialString | None = None,
        srtp: str = "optional",  # rtp_secure_media of the legs offered to counsellors
        clock: Callable[[], datetime] = utc_now,
        tick_seconds: float = 0.5,
        console_poll_seconds: float = 2.0,
        no_counsellor_grace: float = 30.0,
        waiting_sound: str = WAITING_SOUND,
    ) -> None:
        self.esl = esl
        self.store = QueueStore(db)
        self.notifier = notifier or SipMessageNotifier(esl, domain, sealer)
        self.dial_string = dial_string or (lambda c: f"user/{c}@{domain}")
        self.srtp, self.clock, self.waiting_sound = srtp, clock, waiting_sound
        self.tick_seconds, self.console_poll_seconds = tick_seconds, console_poll_seconds
        self.keyframe_delays = keyframes.DELAYS  # () turns the requests off (benchmarks)
        self.tracker = registrations.RegistrationTracker(self._registration_changed)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._tick_thread: threading.Thread | None = None
        self.reconciled = threading.Event()
        self.policy, legs, restore = build_policy(self.store, clock(), no_counsellor_grace)
        # Offer legs ringing when the last process stopped: hung up once connected.
        self._stale_legs = [legs[c.call] for c in restore if c.call in legs]
        self._offer_legs: dict[str, str] = {}  # call -> ringing counsellor leg
        self._talk_legs: dict[str, str] = {}  # call -> counsellor leg bridged to it
        self._leg_owner: dict[str, tuple[str, str]] = {}  # leg -> (call, counsellor)
        self._parked_legs: set[str] = set()  # offer legs that reached park(): bridgeable
        self._to_bridge: dict[str, str] = {}  # answered leg not yet parked -> its call
        self._kiosks: dict[str, str] = {}  # call -> kiosk, for messages after the call left
        for call in self.policy.calls.values():
            self._kiosks[call.id] = call.arrival.kiosk
            leg = legs.get(call.id)
            if leg and call.counsellor:
                self._leg_owner[leg] = (call.id, call.counsellor)
                self._talk_legs[call.id] = leg
        for key in EVENTS:
            esl.on(key, self._on_event)
        esl.on_connect(self._reconcile)

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        self.esl.start()
        self._tick_thread = threading.Thread(target=self._ticker, name="dispatch-tick", daemon=True)
        self._tick_thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._tick_thread is not None:
            self._tick_thread.join(5)
        self.esl.stop()

    # ---------------------------------------------------------- public inputs

    def set_console_status(self, counsellor_id: str, status: ConsoleStatus) -> None:
        self._step(partial(self.policy.console_status_changed, counsellor_id, status))

    def overview(self) -> dict[str, Any]:
        from pvp.dispatcher.views import overview

        with self._lock:
            return overview(self.policy)

    # -------------------------------------------------------------- internals

    def _step(self, action: Callable[[datetime], list[outputs.Command]]) -> None:
        """Run one policy input, its commands, and write the new state: all under the lock."""
        with self._lock:
            commands = action(self.clock())
            self._execute(commands)
            self.store.sync(self.policy, {**self._offer_legs, **self._talk_legs})
            for call in [c for c in self._kiosks if c not in self.policy.calls]:
                del self._kiosks[call]

    def _ticker(self) -> None:
        polled = 0.0
        # Timers wait for the first reconciliation: until then, who is still there is unknown.
        while not self._stop.is_set() and not self.reconciled.wait(self.tick_seconds):
            pass
        while not self._stop.wait(self.tick_seconds):
            try:
                polled += self.tick_seconds
                if polled >= self.console_poll_seconds:
                    polled = 0.0
                    self._poll_console()
                self._step(self.policy.tick)
            except Exception:  # the ticker must outlive any one bad step
                log.exception("dispatcher tick failed")

    def _poll_console(self) -> None:
        """Console statuses written by another process (``pvp counsellor status``)."""
        for state in self.store.counsellor_states():
            counsellor = self.policy.counsellors.get(state.counsellor_id)
            if counsellor is not None and str(counsellor.console) != state.console_status:
                status = ConsoleStatus(state.console_status)
                self._step(partial(self.policy.console_status_changed, state.counsellor_id, status))

    def _registration_changed(self, user: str, registered: bool) -> None:
        self._step(partial(self.policy.registration_changed, user, registered))

    def _on_event(self, event: Event) -> None:
        if event.subclass in ("sofia::register", "sofia::unregister", "sofia::expire"):
            self.tracker.on_event(event)
            counsellor = self.policy.counsellors.get(registrations.user_of(event))
            # A REGISTER came over a live connection; kiosks' (most of them) change nothing.
            if event.subclass == "sofia::register" and counsellor and counsellor.unreachable_since:
                self._step(partial(self.policy.registration_refreshed, counsellor.id))
        elif event.name == "CHANNEL_PARK":
            self._on_park(event)
        elif event.name == "CHANNEL_ANSWER":
            self._on_answer(event.uuid)
        elif event.name == "CHANNEL_BRIDGE":
            call = event.uuid if event.uuid in self.policy.calls else ""
            call = call or self._leg_owner.get(event.uuid, ("", ""))[0]
            if call in self.policy.calls:
                self._step(partial(self.policy.bridged, call))
                # The counsellor's decoder kept the parked black frames: ask for a keyframe.
                self._bgapi(f"uuid_video_refresh {call}")
                other = event.get("Other-Leg-Unique-ID") or event.get("Bridge-B-Unique-ID")
                self._ask_keyframes([event.uuid, other] if other else [event.uuid])
        elif event.name == "CHANNEL_HANGUP_COMPLETE":
            self._on_hangup(event.uuid, event.get("Hangup-Cause"))

    def _on_park(self, event: Event) -> None:
        if event.uuid in self._leg_owner:
            self._offer_leg_parked(event.uuid)
            return
        queue = event.variable(Var.QUEUE)
        if not queue or event.variable(Var.OFFER_FOR):
            return
        with self._lock:
            if event.uuid in self.policy.calls:
                return
        self._parked(event.uuid, lambda name: event.variable(name), event)

    def _parked(self, call_id: str, var: Callable[[str], str], event: Event | None) -> None:
        if self.store.record_outcome(call_id) is not None:
            return  # a finished call back in park after its counsellor hung up
        try:
            mode = channel.parse(Mode, Var.MODE, var(Var.MODE))
        except channel.ChannelValueError as exc:
            # Read as a walk-in, an appointment would lose its counsellor: hang up, say why.
            log.error("call %s: refused, the dialplan's %s; hung up", call_id, exc)
            self._bgapi(f"uuid_kill {call_id} NORMAL_TEMPORARY_FAILURE")
            return
        appointment = var(Var.APPOINTMENT)
        arrival = Arrival(
            call=call_id,
            queue=var(Var.QUEUE),
            kiosk=var(Var.KIOSK) or (event.get("Caller-Caller-ID-Number") if event else ""),
            site=var(Var.SITE),
            service=var(Var.SERVICE),
            mode=mode,
            booked=var(Var.COUNSELLOR) or None,
            arrived_at=self.clock(),
            appointment=int(appointment) if appointment.isdigit() else None,
        )
        try:
            self.store.ensure_record(arrival, decision=str(mode))
        except SQLAlchemyError as exc:
            log.error("call %s: cannot be queued (%s); hung up", call_id, exc.__class__.__name__)
            self._bgapi(f"uuid_kill {call_id} NORMAL_TEMPORARY_FAILURE")
            return
        sound = _wait_media(var(Var.WAIT_MEDIA)) or self.waiting_sound
        self._bgapi(f"uuid_broadcast {call_id} endless_playback::{sound} aleg")
        self._step(partial(self._admit, arrival))

    def _admit(self, arrival: Arrival, now: datetime) -> list[outputs.Command]:
        # Under the step's lock: a tick in between would forget a kiosk not yet queued.
        self._kiosks[arrival.call] = arrival.kiosk
        return self.policy.caller_parked(arrival, now)

    def _offer_leg_parked(self, leg: str) -> None:
        with self._lock:
            self._parked_legs.add(leg)
            call = self._to_bridge.pop(leg, None)
            if call is not None and self._talk_legs.get(call) == leg:
                self._bridge(call, leg)

    def _bridge(self, call: str, leg: str) -> None:
        job = self._bgapi(f"uuid_bridge {call} {leg}")
        if job is not None:
            job.add_done_callback(lambda f: self._bridge_done(call, leg, f))

    def _bridge_done(self, call: str, leg: str, job: Future[str]) -> None:
        try:
            result = job.result()
        except ESLError:
            return  # FreeSWITCH is gone: the reconciliation sorts the legs out
        if result.startswith("-ERR"):
            log.warning("call %s: uuid_bridge said %s", call, result.strip())
            # This runs on the socket thread, which must keep reading: hand over.
            threading.Thread(target=self._bridge_failed, args=(call, leg), daemon=True).start()

    def _bridge_failed(self, call: str, leg: str) -> None:
        owner = self._leg_owner.get(leg)
        if owner is not None and self._talk_legs.get(call) == leg:
            self._step(lambda now: self.policy.bridge_failed(call, owner[1], now))

    def _on_answer(self, leg: str) -> None:
        owner = self._leg_owner.get(leg)
        if owner is None:
            return
        call, counsellor = owner
        if self._offer_legs.get(call) != leg:
            if self._talk_legs.get(call) != leg:
                log.warning("stray answer on leg %s (call %s): hung up", leg, call)
                self._bgapi(f"uuid_kill {leg} ORIGINATOR_CANCEL")
            return
        self._step(lambda now: self.policy.offer_answered(call, counsellor, now))

    def _on_hangup(self, channel: str, cause: str) -> None:
        if channel in self.policy.calls:
            self._step(lambda now: self.policy.caller_hung_up(channel, now))
            talk = self._talk_legs.pop(channel, None)
            if talk is not None:
                self._bgapi(f"uuid_kill {talk} NORMAL_CLEARING")
            return
        owner = self._leg_owner.pop(channel, None)
        if owner is None:
            return
        call, counsellor = owner
        if self._offer_legs.get(call) == channel:
            del self._offer_legs[call]
            self._step(lambda now: self._offer_ended(call, counsellor, cause, now))
        elif self._talk_legs.get(call) == channel:
            del self._talk_legs[call]
            self._step(lambda now: self.policy.counsellor_call_ended(counsellor, now))
            if call not in self.policy.calls:  # served: the caller leaves too
                self._bgapi(f"uuid_kill {call} NORMAL_CLEARING")
        self._parked_legs.discard(channel)
        self._to_bridge.pop(channel, None)

    def _offer_ended(
        self, call: str, counsellor: str, cause: str, now: datetime
    ) -> list[outputs.Command]:
        log.info("offer of %s to %s ended: %s", call, counsellor, cause)
        if cause in NO_ANSWER:
            return self.policy.offer_unanswered(call, counsellor, now)
        if cause in REJECTED:
            return self.policy.offer_rejected(call, counsellor, now)
        if cause in UNREACHABLE:
            return self.policy.offer_unreachable(call, counsellor, now)
        return self.policy.offer_failed(call, counsellor, now)

    def _execute(self, commands: list[outputs.Command]) -> None:
        records: list[outputs.RecordUpdate] = []
        for command in commands:
            match command:
                case outputs.Offer():
                    self._originate(command)
                case outputs.CancelOffer(call, counsellor):
                    # A ringing offer, or an answered leg never joined to the caller.
                    for legs in (self._offer_legs, self._talk_legs):
                        leg = legs.get(call)
                        if leg is not None and self._leg_owner.get(leg) == (call, counsellor):
                            del legs[call], self._leg_owner[leg]
                            self._parked_legs.discard(leg)
                            self._to_bridge.pop(leg, None)
                            self._bgapi(f"uuid_kill {leg} ORIGINATOR_CANCEL")
                case outputs.Bridge(call, counsellor):
                    leg = self._offer_legs.pop(call, None)
                    if leg is None:
                        log.error("call %s: no leg of %s to bridge", call, counsellor)
                        continue
                    self._talk_legs[call] = leg
                    if leg in self._parked_legs:
                        self._bridge(call, leg)
                    else:  # answered, still on its way into park(): bridged once there
                        self._to_bridge[leg] = call
                    self.notifier.connected(self._kiosks.get(call, ""), call, counsellor)
                case outputs.EndWait(call, outcome, reason):
                    self.notifier.wait_ended(self._kiosks.get(call, ""), call, outcome, reason)
                    cause = "CALL_REJECTED" if reason == "all_declined" else END_CAUSES[outcome]
                    self._api(f"uuid_setvar {call} {Var.OUTCOME} {outcome}")
                    self._bgapi(f"uuid_kill {call} {cause}")
                case outputs.PositionChanged(call, position, wait):
                    kiosk = self._kiosks.get(call, "")
                    self.notifier.position(kiosk, call, position, wait)
                case outputs.RecordUpdate():
                    records.append(command)
        self.store.apply(records)

    def _originate(self, offer: outputs.Offer) -> None:
        leg = str(uuid.uuid4())
        call = self.policy.calls.get(offer.call)
        kiosk = _safe_value(call.arrival.kiosk if call else "")
        variables = {
            "origination_uuid": leg,
            # FreeSWITCH counts this in whole epoch seconds (it can give up a second early):
            # the policy's own timer decides, this is only a safety net behind it.
            "originate_timeout": str(math.ceil(offer.timeout) + 2),
            # Offer legs go to counsellors: their SRTP policy (their dial-string says it too).
            "rtp_secure_media": self.srtp,
            Var.OFFER_FOR: offer.call,
            Var.COUNSELLOR: _safe_value(offer.counsellor),
            "origination_caller_id_number": kiosk,
            "origination_caller_id_name": kiosk,
        }
        self._offer_legs[offer.call] = leg
        self._leg_owner[leg] = (offer.call, offer.counsellor)
        spec = ",".join(f"{k}={v}" for k, v in variables.items())
        job = self._bgapi(f"originate {{{spec}}}{self.dial_string(offer.counsellor)} &park()")
        if job is not None:
            job.add_done_callback(lambda f: self._originate_done(leg, f))

    def _originate_done(self, leg: str, job: Future[str]) -> None:
        """``-ERR`` with no channel ever made (e.g. not registered) gives no hangup event."""
        try:
            result = job.result()
        except ESLError:
            return
        if result.startswith("-ERR"):
            cause = result[4:].strip()
            # This runs on the socket thread, which must keep reading: hand over.
            threading.Thread(target=self._originate_failed, args=(leg, cause), daemon=True).start()

    def _originate_failed(self, leg: str, cause: str) -> None:
        """An originate that says ``-ERR`` may still have left a live channel: when the leg
        answers, the worker bridges it at once, and a bridge made before ``originate``
        returned makes it report ``ORIGINATOR_CANCEL`` for a leg now talking. Such a
        channel's end comes as its own hangup event; only a leg that is not there is over.
        """
        try:
            if self._exists(leg):
                log.info("originate of %s said %s, but the leg lives on", leg, cause)
                return
        except ESLError:
            pass  # cannot tell: FreeSWITCH is gone, and the leg with it
        self._on_hangup(leg, cause)

    def _reconcile(self) -> None:
        """After each (re)connection: who is registered, which callers are still there.

        Each known channel is asked about with ``uuid_exists`` (FreeSWITCH's own session
        table): ``show channels`` reads the core database, which FreeSWITCH fills through a
        queue and which lagged by more than a second here, so a caller parked just before a
        restart could be missing from it and wrongly taken for gone.
        """
        try:
            self.tracker.resync(self.esl.api("show registrations as json"))
            for counsellor in list(self.policy.counsellors):
                registered = self.tracker.is_registered(counsellor)
                self._step(partial(self.policy.registration_changed, counsellor, registered))
            with self._lock:
                for stale in self._stale_legs:
                    self._bgapi(f"uuid_kill {stale} ORIGINATOR_CANCEL")
                self._stale_legs = []
                for call in list(self.policy.calls.values()):
                    if not self._exists(call.id):
                        log.info("call %s vanished while PVP was away", call.id)
                        self._on_hangup(call.id, "")
                    elif call.state is CallState.TALKING:
                        leg = self._talk_legs.get(call.id)
                        if leg is not None and not self._exists(leg):
                            self._on_hangup(leg, "")
                for offer in [o for o in self._offer_legs.values() if not self._exists(o)]:
                    self._on_hangup(offer, "LOSE_RACE")
            # Callers parked while no dispatcher listened (best effort: the core database).
            for row in _rows(self.esl.api("show channels as json")):
                if row.get("application") == "park":
                    self._adopt(row.get("uuid", ""))
            self._step(self.policy.tick)
        except ESLError as exc:
            log.warning("reconciliation with FreeSWITCH failed: %s", exc)
        finally:
            self.reconciled.set()

    def _exists(self, channel: str) -> bool:
        return self.esl.api(f"uuid_exists {channel}").strip() == "true"

    def _adopt(self, channel: str) -> None:
        """A caller parked while PVP was away: queue it as if its park had just come."""
        if not channel or channel in self.policy.calls or channel in self._leg_owner:
            return
        try:  # the channel list lags: the channel may be gone already
            variables = json.loads(self.esl.api(f"uuid_dump {channel} json"))
        except (ESLError, ValueError):
            return
        if not variables.get(f"variable_{Var.QUEUE}") or variables.get(f"variable_{Var.OFFER_FOR}"):
            return
        self._parked(channel, lambda name: str(variables.get(f"variable_{name}", "")), None)

    def _ask_keyframes(self, legs: list[str]) -> None:
        """Each side's picture of the other starts at once (see pvp.freeswitch.keyframes)."""
        if self.keyframe_delays:
            threading.Thread(target=self._keyframe_requests, args=(legs,), daemon=True).start()

    def _keyframe_requests(self, legs: list[str]) -> None:
        for leg in legs:
            self._api(f"uuid_setvar {leg} {keyframes.ALLOW_INFO} true")
        start = time.monotonic()
        for delay in self.keyframe_delays:
            time.sleep(max(0.0, start + delay - time.monotonic()))
            for leg in legs:
                self._bgapi(keyframes.request(leg))

    def _bgapi(self, command: str) -> Future[str] | None:
        try:
            return self.esl.bgapi(command)
        except ESLError as exc:
            log.warning("FreeSWITCH command %r not sent: %s", command.split()[0], exc)
            return None

    def _api(self, command: str) -> str:
        try:
            return self.esl.api(command)
        except ESLError as exc:
            log.warning("FreeSWITCH command %r failed: %s", command.split()[0], exc)
            return ""


def _wait_media(value: str) -> str:
    """The dialplan's ``pvp_wait_media`` (setting ``wait_media``), if it is one word."""
    return value if value and not any(ch.isspace() for ch in value) else ""


def _rows(table_json: str) -> list[dict[str, str]]:
    try:
        return list(json.loads(table_json or "{}").get("rows") or [])
    except ValueError:
        return []


def start_dispatcher(
    settings: Settings,
    db: Database,
    clock: Callable[[], datetime] = utc_now,
    **options: Any,
) -> DispatchWorker:
    """The dispatcher of ``pvp serve``: FreeSWITCH's event socket as configured.

    ``clock`` is the control plane's (the one its dialplan answers decide with), so a call
    record's instants agree with the routing decision; ``options`` go to the worker.
    """
    # One switch, or each switch of a pool behind Kamailio (pvp.freeswitch.pool).
    esl = connect(settings, settings.secret("esl_password"), EVENTS)
    sealer = Sealer(settings.secret("kiosk_command_key"))
    if settings.sip_proxy:  # kiosk messages through Kamailio, wherever the kiosk registered
        notifier = SipMessageNotifier(esl, settings.sip_domain, sealer, proxy=settings.sip_proxy)
        options.setdefault("notifier", notifier)
    worker = DispatchWorker(
        db,
        esl,
        domain=settings.sip_domain,
        srtp=settings.counsellor_srtp,
        clock=clock,
        sealer=sealer,
        **options,
    )
    worker.start()
    return worker
