"""The expert-queue dispatcher's policy: who is offered which waiting caller, and when.

Whole on purpose: one state machine, whose transitions keep each other's invariants.

A pure, I/O-free state machine. Every input is a method taking the instant ``now`` (it never
reads a clock) and returns the commands for the worker to execute, in order. FreeSWITCH only
executes them; the database only keeps the state (see :mod:`pvp.dispatcher.store`).

The rules (issue 3), and the choices made where the issue is silent:

* A booked citizen is offered only to their own counsellor, even while another counsellor of
  the queue is idle, up to the queue's maximum wait. Booked callers are served before
  walk-ins when their counsellor frees up: the appointment was promised at that time.
  They fall back to the queue's ordinary line, keeping their arrival place, when their
  counsellor rejects or fails the call, when the counsellor has not been present
  (registered and not offline) for ``no_counsellor_grace`` seconds, or when the counsellor
  is unknown to the dispatcher.
* Walk-ins are served in order of arrival, each queue separately.
* Only counsellors SIP-registered, present (console not offline) and available (not paused,
  not ringing, not talking, not in wrap-up) are offered a call: one call at a time, one
  counsellor at a time (sequential ringing), the lower priority level first, then the
  longest idle (since the end of their last call, else since they became available).
* No answer within the queue's ``no_answer_timeout`` offers the call to the next counsellor;
  the one who let it ring stays a candidate for that call, but behind everyone else.
  A counsellor who rejects or fails is never offered that call again.
* A counsellor who pauses, goes offline or unregisters while ringing: the offer is cancelled
  and the call offered to someone else (nothing counted against them).
* A caller who hangs up is removed at once; a ringing offer for them is cancelled.
* After a call, the counsellor's wrap-up (the served queue's) passes before the next offer.
* The queue's maximum wait ends the wait with outcome ``timed_out``.
* No counsellor present at all for a caller (every member offline, unregistered or having
  refused the call) for ``no_counsellor_grace`` seconds ends the wait with outcome
  ``no_counsellor``. A short grace rather than at once: a softphone re-registering after a
  network blip or a FreeSWITCH restart is briefly unregistered, and ending a citizen's wait
  for that would be wrong; 0 makes it immediate.
* An answer arriving for an offer the policy no longer holds (cancelled, timed out, caller
  gone) is answered with :class:`CancelOffer`: the counsellor's leg is hung up.
* An offer that fails on the way (a transport cause: a registration the switch still lists
  after a restart whose TLS connection is dead, a softphone gone from the network) is not the
  counsellor's refusal (issue 15): the call keeps its place and the counsellor, taken for
  unreachable, is offered calls again as soon as a REGISTER of theirs reaches the switch, or
  ``unreachable_retry`` seconds later. Meanwhile they do not count as present, so a counsellor
  who never comes back still ends the wait after ``no_counsellor_grace``.
* An answered call is served only once FreeSWITCH confirms the bridge (:meth:`bridged`): the
  call record's answer time and wait are written then. A bridge that fails, or a counsellor
  leg that ends before it is confirmed, puts the caller back in line at their place; that
  counsellor is taken for unreachable as above.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pvp.dispatcher.estimate import WaitEstimator
from pvp.dispatcher.outputs import (
    Bridge,
    CancelOffer,
    Command,
    EndWait,
    Offer,
    PositionChanged,
    RecordUpdate,
)
from pvp.dispatcher.state import (
    Activity,
    Arrival,
    CallState,
    DispatchCounsellor,
    QueueConfig,
    WaitingCall,
)
from pvp.vocabulary import CallOutcome, ConsoleStatus

log = logging.getLogger("pvp.dispatcher")

_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)
_LIVE = (CallState.WAITING, CallState.RINGING)


@dataclass(frozen=True, slots=True)
class RestoredCall:
    """A waiting or talking call as the store kept it, to rebuild the policy after a restart."""

    arrival: Arrival
    seq: int
    state: CallState
    counsellor: str | None = None
    offered_at: datetime | None = None
    answered_at: datetime | None = None
    refused: frozenset[str] = frozenset()
    unanswered: tuple[str, ...] = ()
    walk_in_fallback: bool = False


@dataclass
class _Out:
    """The commands one input produced, in the order the worker must run them."""

    commands: list[Command] = field(default_factory=list)

    def add(self, command: Command) -> None:
        self.commands.append(command)


class DispatchPolicy:
    def __init__(
        self,
        queues: Iterable[QueueConfig],
        *,
        no_counsellor_grace: float = 30.0,
        estimator: WaitEstimator | None = None,
        unreachable_retry: float = 5.0,
    ) -> None:
        self.queues = {q.id: q for q in queues}
        self.grace = timedelta(seconds=no_counsellor_grace)
        self.unreachable_retry = timedelta(seconds=unreachable_retry)
        self.estimator = estimator or WaitEstimator()
        self.counsellors: dict[str, DispatchCounsellor] = {}
        for queue in self.queues.values():
            for member in queue.members:
                self.counsellors.setdefault(member, DispatchCounsellor(member))
        self.calls: dict[str, WaitingCall] = {}
        self._seq = 0

    # ----------------------------------------------------------------- inputs: callers

    def caller_parked(self, arrival: Arrival, now: datetime) -> list[Command]:
        if arrival.call in self.calls:
            return []  # the same park seen twice (event replay, reconciliation)
        if arrival.queue not in self.queues:
            log.warning("call %s: unknown queue %r", arrival.call, arrival.queue)
            out = _Out()
            self._end(WaitingCall(arrival, 0), CallOutcome.FAILED, "unknown_queue", now, out)
            return out.commands
        self._seq += 1
        call = WaitingCall(arrival, self._seq)
        if arrival.booked is not None and arrival.booked not in self.counsellors:
            log.warning("call %s: booked counsellor %r unknown", call.id, arrival.booked)
            call.walk_in_fallback = True
        self.calls[call.id] = call
        log.info(
            "call %s: parked in %s (%s, kiosk %s, booked %s)",
            call.id,
            arrival.queue,
            arrival.mode,
            arrival.kiosk,
            arrival.booked,
        )
        return self._run(now)

    def caller_hung_up(self, call_id: str, now: datetime) -> list[Command]:
        """The kiosk leg is gone: abandoned while waiting, or the end of a served call."""
        call = self.calls.get(call_id)
        if call is None:
            return []
        out = _Out()
        if call.state is CallState.TALKING and call.bridged:
            self._end_talk(call, now, out)
        elif call.state is CallState.TALKING:  # answered, never joined: not served
            self._withdraw(call, out, cancel=True)
            self._close(call, now, out, CallOutcome.ABANDONED, "hung_up_while_connecting")
        else:
            ringing = call.state is CallState.RINGING
            if ringing:
                self._withdraw(call, out, cancel=True)
            why = "hung_up_while_ringing" if ringing else "hung_up_while_waiting"
            self._close(call, now, out, CallOutcome.ABANDONED, why)
        return out.commands + self._run(now)

    # -------------------------------------------------------------- inputs: offers

    def offer_answered(self, call_id: str, counsellor_id: str, now: datetime) -> list[Command]:
        call = self.calls.get(call_id)
        if call is not None and call.state is CallState.TALKING:
            if call.counsellor == counsellor_id:
                return []  # the same answer reported twice
        if call is None or call.state is not CallState.RINGING or call.counsellor != counsellor_id:
            log.warning("late answer of %s for call %s: hung up", counsellor_id, call_id)
            return [CancelOffer(call_id, counsellor_id)]
        self.counsellors[counsellor_id].set_activity(Activity.TALKING, call.id)
        self.counsellors[counsellor_id].mark_reachable()
        call.answered_at, call.offer_deadline = now, None
        call.set_state(CallState.TALKING, f"with {counsellor_id}")
        return [Bridge(call.id, counsellor_id), *self._run(now)]

    def bridged(self, call_id: str, now: datetime) -> list[Command]:
        """FreeSWITCH joined the caller to the counsellor who answered: served from now on."""
        call = self.calls.get(call_id)
        if call is None or call.state is not CallState.TALKING or call.bridged:
            return []
        call.bridged = True
        answered = call.answered_at or now
        wait = (answered - call.arrival.arrived_at).total_seconds()
        log.info("call %s: bridged to %s", call.id, call.counsellor)
        return [
            RecordUpdate(
                call.id, counsellor=call.counsellor, answered_at=answered, wait_seconds=wait
            )
        ]

    def bridge_failed(self, call_id: str, counsellor_id: str, now: datetime) -> list[Command]:
        """The answered leg could not be joined to the caller: the caller waits again."""
        call = self.calls.get(call_id)
        if (
            call is None
            or call.state is not CallState.TALKING
            or call.counsellor != counsellor_id
            or call.bridged
        ):
            return []
        log.warning("call %s: bridge to %s failed, back in line", call.id, counsellor_id)
        out = _Out()
        call.answered_at = None
        self._withdraw(call, out, cancel=True)
        self._unreachable(counsellor_id, now)
        return out.commands + self._run(now)

    def offer_rejected(self, call_id: str, counsellor_id: str, now: datetime) -> list[Command]:
        return self._refuse(call_id, counsellor_id, now, "rejected")

    def offer_failed(self, call_id: str, counsellor_id: str, now: datetime) -> list[Command]:
        return self._refuse(call_id, counsellor_id, now, "failed")

    def offer_unreachable(self, call_id: str, counsellor_id: str, now: datetime) -> list[Command]:
        """The offer never reached the counsellor (a transport cause): not a refusal."""
        call = self._ringing(call_id, counsellor_id)
        if call is None:
            return []
        out = _Out()
        log.info("call %s: %s unreachable, the call keeps its place", call.id, counsellor_id)
        self._withdraw(call, out, cancel=False)
        self._unreachable(counsellor_id, now)
        return out.commands + self._run(now)

    def offer_unanswered(self, call_id: str, counsellor_id: str, now: datetime) -> list[Command]:
        """FreeSWITCH gave up ringing before the policy's own timer: the same as the timer."""
        call = self._ringing(call_id, counsellor_id)
        if call is None:
            return []
        out = _Out()
        self._no_answer(call, out, cancel=False)
        return out.commands + self._run(now)

    # ---------------------------------------------------------- inputs: counsellors

    def registration_changed(
        self, counsellor_id: str, registered: bool, now: datetime
    ) -> list[Command]:
        counsellor = self.counsellors.get(counsellor_id)
        if counsellor is None:
            return []
        counsellor.mark_reachable()  # a new registration, or none: either way, news
        counsellor.set_registered(registered, now)
        return self._after_presence_change(counsellor, now)

    def registration_refreshed(self, counsellor_id: str, now: datetime) -> list[Command]:
        """A REGISTER of theirs reached the switch: their connection is alive right now."""
        counsellor = self.counsellors.get(counsellor_id)
        if counsellor is None or counsellor.unreachable_since is None:
            return []
        counsellor.mark_reachable()
        return self._run(now)

    def console_status_changed(
        self, counsellor_id: str, status: ConsoleStatus, now: datetime
    ) -> list[Command]:
        counsellor = self.counsellors.get(counsellor_id)
        if counsellor is None:
            return []
        counsellor.set_console(ConsoleStatus(status), now)
        return self._after_presence_change(counsellor, now)

    def counsellor_call_ended(self, counsellor_id: str, now: datetime) -> list[Command]:
        counsellor = self.counsellors.get(counsellor_id)
        if counsellor is None or counsellor.activity is not Activity.TALKING:
            return []
        call = self.calls.get(counsellor.call or "")
        out = _Out()
        if call is None:  # a talking state without its call: only after a bad restore
            counsellor.start_wrap_up(now, 0)
        elif not call.bridged:  # their leg ended before it was joined to the caller
            return self.bridge_failed(call.id, counsellor_id, now)
        else:
            self._end_talk(call, now, out)
        return out.commands + self._run(now)

    def tick(self, now: datetime) -> list[Command]:
        return self._run(now)

    # ------------------------------------------------------------------ restart

    def restore_counsellor(
        self,
        counsellor_id: str,
        registered: bool,
        console: ConsoleStatus,
        last_call_ended_at: datetime | None,
        now: datetime,
    ) -> None:
        counsellor = self.counsellors.get(counsellor_id)
        if counsellor is None:
            return
        counsellor.registered, counsellor.console = registered, ConsoleStatus(console)
        counsellor.idle_since = counsellor.last_call_ended_at = last_call_ended_at
        wrap_up = max(q.wrap_up for q in self.queues.values() if counsellor_id in q.members)
        if last_call_ended_at is not None:
            until = last_call_ended_at + timedelta(seconds=wrap_up)
            if until > now:  # the served queue is not kept: the longest wrap-up is the safe one
                counsellor.activity, counsellor.wrap_up_until = Activity.WRAP_UP, until
        if counsellor.available and counsellor.idle_since is None:
            counsellor.idle_since = now

    def restore_call(self, restored: RestoredCall) -> list[Command]:
        """Put back a call kept in the database; a ringing offer is cancelled and made again.

        The offer leg of a ringing call cannot be trusted across a restart (its timer is
        lost, its answer may have been missed), so it is hung up and the call waits again.
        """
        arrival = restored.arrival
        if arrival.call in self.calls or arrival.queue not in self.queues:
            return []
        self._seq = max(self._seq, restored.seq)
        call = WaitingCall(
            arrival,
            restored.seq,
            offered_at=restored.offered_at,
            refused=set(restored.refused),
            unanswered=list(restored.unanswered),
            walk_in_fallback=restored.walk_in_fallback,
        )
        self.calls[call.id] = call
        counsellor = self.counsellors.get(restored.counsellor or "")
        if restored.state is CallState.TALKING and counsellor is not None:
            call.state, call.counsellor = CallState.TALKING, counsellor.id
            call.answered_at, call.bridged = restored.answered_at, True
            counsellor.activity, counsellor.call = Activity.TALKING, call.id
        elif restored.state is CallState.RINGING and restored.counsellor:
            return [CancelOffer(call.id, restored.counsellor)]
        return []

    # -------------------------------------------------------------------- views

    def waiting(self) -> list[WaitingCall]:
        """Calls not yet answered, in the order they are served."""
        return sorted((c for c in self.calls.values() if c.state in _LIVE), key=_serve_order)

    def counsellors_of(self, queue_id: str) -> Iterator[tuple[DispatchCounsellor, int]]:
        for member, priority in sorted(self.queues[queue_id].members.items()):
            yield self.counsellors[member], priority

    # ----------------------------------------------------------------- internals

    def _ringing(self, call_id: str, counsellor_id: str) -> WaitingCall | None:
        """The call if ``counsellor_id`` is still ringing for it; stale news gives None."""
        call = self.calls.get(call_id)
        if call is None or call.state is not CallState.RINGING or call.counsellor != counsellor_id:
            return None
        return call

    def _refuse(self, call_id: str, counsellor_id: str, now: datetime, how: str) -> list[Command]:
        call = self._ringing(call_id, counsellor_id)
        if call is None:
            return []
        out = _Out()
        log.info("call %s: %s by %s", call.id, how, counsellor_id)
        self._withdraw(call, out, cancel=False)
        call.refused.add(counsellor_id)
        if call.waits_for_booked:
            log.info(
                "call %s: booked counsellor %s %s, any counsellor now", call.id, counsellor_id, how
            )
            call.walk_in_fallback = True
        return out.commands + self._run(now)

    def _after_presence_change(
        self, counsellor: DispatchCounsellor, now: datetime
    ) -> list[Command]:
        out = _Out()
        if counsellor.activity is Activity.RINGING and not counsellor.available_to_ring:
            call = self.calls[counsellor.call or ""]
            self._withdraw(call, out, cancel=True)
        return out.commands + self._run(now)

    def _run(self, now: datetime) -> list[Command]:
        """Timers, then offers, then who has nobody, then positions: after every input."""
        out = _Out()
        for counsellor in self.counsellors.values():
            if counsellor.activity is Activity.WRAP_UP and (
                counsellor.wrap_up_until is None or counsellor.wrap_up_until <= now
            ):
                counsellor.wrap_up_until = None
                counsellor.set_activity(Activity.IDLE)
            if counsellor.retry_at is not None and counsellor.retry_at <= now:
                counsellor.retry_at = None  # offered again: the mark may be stale
        for call in list(self.calls.values()):
            if call.state is CallState.RINGING and call.offer_deadline <= now:  # type: ignore[operator]
                log.info("call %s: no answer from %s", call.id, call.counsellor)
                self._no_answer(call, out, cancel=True)
            if call.state in _LIVE and now >= call.arrival.arrived_at + self._max_wait(call):
                if call.state is CallState.RINGING:
                    self._withdraw(call, out, cancel=True)
                self._end(call, CallOutcome.TIMED_OUT, "max_wait", now, out)
        while True:  # a booked caller falling back to the queue deserves a second pass
            self._dispatch(now, out)
            if not self._check_staffing(now, out):
                break
        self._positions(out)
        return out.commands

    def _max_wait(self, call: WaitingCall) -> timedelta:
        return timedelta(seconds=self.queues[call.arrival.queue].max_wait)

    def _dispatch(self, now: datetime, out: _Out) -> None:
        for call in self.waiting():
            if call.state is not CallState.WAITING:
                continue
            counsellor = self._pick(call)
            if counsellor is not None:
                self._offer(call, counsellor, now, out)

    def _pool(self, call: WaitingCall) -> dict[str, int]:
        """Counsellors who may take this call, with their priority level."""
        if call.waits_for_booked:
            return {call.arrival.booked: 1}  # type: ignore[dict-item]
        return dict(self.queues[call.arrival.queue].members)

    def _pick(self, call: WaitingCall) -> DispatchCounsellor | None:
        pool = self._pool(call)
        candidates = [
            self.counsellors[c]
            for c in pool
            if c not in call.refused and c in self.counsellors and self.counsellors[c].available
        ]
        if not candidates:
            return None

        def rank(c: DispatchCounsellor) -> tuple[int, int, datetime, str]:
            tried = call.unanswered.index(c.id) + 1 if c.id in call.unanswered else 0
            return (tried, pool[c.id], c.idle_since or _LONG_AGO, c.id)

        return min(candidates, key=rank)

    def _offer(
        self, call: WaitingCall, counsellor: DispatchCounsellor, now: datetime, out: _Out
    ) -> None:
        timeout = self.queues[call.arrival.queue].no_answer_timeout
        counsellor.set_activity(Activity.RINGING, call.id)
        call.counsellor = counsellor.id
        call.offer_deadline = now + timedelta(seconds=timeout)
        call.set_state(CallState.RINGING, f"offered to {counsellor.id}")
        first = call.offered_at is None
        if first:
            call.offered_at = now
        out.add(Offer(call.id, counsellor.id, timeout))
        out.add(RecordUpdate(call.id, counsellor=counsellor.id, offered_at=now if first else None))

    def _withdraw(self, call: WaitingCall, out: _Out, cancel: bool) -> None:
        """The ringing offer is over without an answer; the call waits again."""
        counsellor_id = call.counsellor or ""
        counsellor = self.counsellors.get(counsellor_id)
        if counsellor is not None and counsellor.call == call.id:
            counsellor.set_activity(Activity.IDLE)
        call.counsellor, call.offer_deadline = None, None
        call.set_state(CallState.WAITING)
        if cancel:
            out.add(CancelOffer(call.id, counsellor_id))

    def _unreachable(self, counsellor_id: str, now: datetime) -> None:
        counsellor = self.counsellors.get(counsellor_id)
        if counsellor is not None:
            counsellor.mark_unreachable(now, now + self.unreachable_retry)

    def _no_answer(self, call: WaitingCall, out: _Out, cancel: bool) -> None:
        counsellor_id = call.counsellor or ""
        self._withdraw(call, out, cancel=cancel)
        if counsellor_id in call.unanswered:
            call.unanswered.remove(counsellor_id)
        call.unanswered.append(counsellor_id)

    def _check_staffing(self, now: datetime, out: _Out) -> bool:
        """End the waits nobody can ever answer; True when a booked caller fell back."""
        fell_back = False
        for call in self.waiting():
            if call.state is not CallState.WAITING:
                ringing = self.counsellors.get(call.counsellor or "")
                if ringing is None or ringing.present:  # a retry to the unreachable is no one
                    call.unstaffed_since = None
                continue
            pool = self._pool(call)
            present = [c for c in pool if c in self.counsellors and self.counsellors[c].present]
            if any(c not in call.refused for c in present):
                call.unstaffed_since = None
                continue
            if call.unstaffed_since is None:
                call.unstaffed_since = now
            if now - call.unstaffed_since < self.grace:
                continue
            if call.waits_for_booked:
                log.info("call %s: booked counsellor absent, any counsellor now", call.id)
                call.walk_in_fallback, call.unstaffed_since = True, None
                fell_back = True
            else:
                why = "all_declined" if present else "no_counsellor_present"
                self._end(call, CallOutcome.NO_COUNSELLOR, why, now, out)
        return fell_back

    def positions(self) -> dict[str, tuple[int, int]]:
        """Each unanswered call's place in its line (1 = next) and estimated wait, seconds.

        A booked caller's line is their counsellor's booked callers; everyone else's is
        their queue's. A ringing call is about to be answered: its estimate is 0.
        """
        lines: dict[tuple[str, str], list[WaitingCall]] = {}
        for call in self.waiting():
            key = (
                ("booked", call.arrival.booked or "")
                if call.waits_for_booked
                else ("queue", call.arrival.queue)
            )
            lines.setdefault(key, []).append(call)
        result: dict[str, tuple[int, int]] = {}
        for (kind, _), calls in lines.items():
            queue = self.queues[calls[0].arrival.queue]
            if kind == "booked":
                servers = 1
            else:
                servers = sum(1 for c in queue.members if self.counsellors[c].present)
            for position, call in enumerate(calls, start=1):
                estimate = (
                    0
                    if call.state is CallState.RINGING
                    else self.estimator.estimate(queue.id, queue.wrap_up, position, servers)
                )
                result[call.id] = (position, estimate)
        return result

    def _positions(self, out: _Out) -> None:
        for call_id, told in self.positions().items():
            call = self.calls[call_id]
            if call.notified != told:
                call.notified = told
                out.add(PositionChanged(call_id, *told))

    def _end_talk(self, call: WaitingCall, now: datetime, out: _Out) -> None:
        queue = self.queues[call.arrival.queue]
        talk = (now - (call.answered_at or now)).total_seconds()
        self.estimator.add(queue.id, talk)
        counsellor = self.counsellors.get(call.counsellor or "")
        if counsellor is not None and counsellor.call == call.id:
            counsellor.start_wrap_up(now, queue.wrap_up)
        self.calls.pop(call.id, None)
        call.set_state(CallState.ENDED, "served")
        out.add(RecordUpdate(call.id, ended_at=now, talk_seconds=talk, outcome=CallOutcome.SERVED))

    def _end(
        self, call: WaitingCall, outcome: CallOutcome, reason: str, now: datetime, out: _Out
    ) -> None:
        out.add(EndWait(call.id, outcome, reason))
        self._close(call, now, out, outcome, reason)

    def _close(
        self, call: WaitingCall, now: datetime, out: _Out, outcome: CallOutcome, reason: str
    ) -> None:
        self.calls.pop(call.id, None)
        call.set_state(CallState.ENDED, f"{outcome} ({reason})")
        wait = (now - call.arrival.arrived_at).total_seconds()
        out.add(
            RecordUpdate(call.id, ended_at=now, wait_seconds=wait, outcome=outcome, reason=reason)
        )


def _serve_order(call: WaitingCall) -> tuple[bool, datetime, int]:
    # Booked callers first: when their counsellor frees up, the appointment comes first.
    return (not call.waits_for_booked, *call.sort_key)
