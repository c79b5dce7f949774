"""Invariants of the dispatcher policy under any sequence of inputs (hypothesis).

An observer replays the commands the policy emits, as FreeSWITCH would see them, and checks:
no counsellor is offered two calls at once (nor while talking, unavailable or wrapping up),
no call is bridged twice, a hung-up caller is never offered nor bridged, walk-ins of a queue
are offered in order of arrival, and every call ends with exactly one outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pvp.dispatcher.outputs import (
    Bridge,
    CancelOffer,
    Command,
    EndWait,
    Offer,
    PositionChanged,
    RecordUpdate,
)
from pvp.dispatcher.state import QueueConfig
from pvp.model import ConsoleStatus

from .helpers import T0, arrival, make_policy

COUNSELLORS = ("anne", "bruno", "chloe", "denis")
QUEUES = (
    QueueConfig("msa", 300, 20, 30, {"anne": 1, "bruno": 1, "chloe": 2}),
    QueueConfig("caf", 200, 15, 0, {"chloe": 1, "denis": 2}),
)
WRAP_UP = {q.id: q.wrap_up for q in QUEUES}

counsellor = st.sampled_from(COUNSELLORS)
call_index = st.integers(0, 11)
booked = st.none() | st.none() | counsellor | st.just("ghost")
operation = st.one_of(
    st.tuples(st.just("park"), st.sampled_from(QUEUES), booked),
    st.tuples(
        st.sampled_from(("answer", "answer", "reject", "fail", "unanswered", "unreachable")),
        call_index,
    ),
    st.tuples(st.just("hangup"), call_index),
    st.tuples(st.just("stray_answer"), call_index, counsellor),
    st.tuples(st.just("register"), counsellor, st.booleans()),
    st.tuples(st.just("console"), counsellor, st.sampled_from(list(ConsoleStatus))),
    st.tuples(st.just("end_talk"), counsellor),
    st.tuples(st.just("tick"), st.integers(0, 90)),
)


@dataclass
class Observer:
    """FreeSWITCH's view: what was offered, bridged and ended, from the commands alone."""

    queue_of: dict[str, str] = field(default_factory=dict)
    walk_in: dict[str, bool] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    offers: dict[str, str] = field(default_factory=dict)  # counsellor -> ringing call
    talking: dict[str, str] = field(default_factory=dict)  # counsellor -> call
    bridged: set[str] = field(default_factory=set)
    hung_up: set[str] = field(default_factory=set)
    ended: dict[str, str] = field(default_factory=dict)  # call -> outcome
    refused: dict[str, set[str]] = field(default_factory=dict)
    registered: dict[str, bool] = field(default_factory=dict)
    console: dict[str, ConsoleStatus] = field(default_factory=dict)
    wrap_up_until: dict[str, datetime] = field(default_factory=dict)

    def live(self, call: str) -> bool:
        return call not in self.ended and call not in self.bridged

    def ringing(self, call: str) -> str | None:
        return next((c for c, k in self.offers.items() if k == call), None)

    def see(self, commands: list[Command], now: datetime) -> None:
        for command in commands:
            match command:
                case Offer(call, who, _):
                    assert call not in self.hung_up and self.live(call), command
                    assert who not in self.offers, f"{who} offered two calls"
                    assert who not in self.talking, f"{who} offered while talking"
                    assert self.ringing(call) is None, f"{call} ringing twice"
                    assert self.registered.get(who) and self.console.get(who) == "available"
                    assert now >= self.wrap_up_until.get(who, T0), f"{who} in wrap-up"
                    if self.walk_in[call]:
                        self.check_fifo(call, who)
                    self.offers[who] = call
                case CancelOffer(call, who):
                    if self.offers.get(who) == call:
                        del self.offers[who]
                case Bridge(call, who):
                    assert call not in self.bridged, f"{call} bridged twice"
                    assert call not in self.hung_up, f"hung-up {call} bridged"
                    assert self.offers.get(who) == call
                    del self.offers[who]
                    self.bridged.add(call)
                    self.talking[who] = call
                case EndWait(call, outcome, _):
                    assert call not in self.ended and self.ringing(call) is None
                    self.ended[call] = outcome
                case RecordUpdate(call, outcome=outcome) if outcome is not None:
                    assert call not in self.ended or self.ended[call] == outcome
                    self.ended[call] = outcome
                case PositionChanged(call, position, wait):
                    assert self.live(call) and position >= 1 and wait >= 0

    def check_fifo(self, call: str, who: str) -> None:
        for earlier in self.order[: self.order.index(call)]:
            if (
                self.walk_in[earlier]
                and self.queue_of[earlier] == self.queue_of[call]
                and self.live(earlier)
                and self.ringing(earlier) is None
            ):
                assert who in self.refused.get(earlier, set()), f"{call} overtook {earlier}"

    def end_talk(self, who: str, now: datetime) -> None:
        call = self.talking.pop(who, None)
        if call is not None:
            self.ended[call] = "served"
            self.wrap_up_until[who] = now + timedelta(seconds=WRAP_UP[self.queue_of[call]])


@settings(max_examples=300, deadline=None)
@given(
    st.sets(counsellor), st.lists(operation, min_size=15, max_size=80), st.sampled_from([0, 10, 30])
)
def test_the_dispatcher_invariants_hold_for_any_inputs(
    ready: set[str], ops: list[tuple], grace: int
) -> None:
    policy = make_policy(*QUEUES, grace=grace)
    seen = Observer()
    now = T0
    calls: list[str] = []
    start = [("register", c, True) for c in sorted(ready)]
    start += [("console", c, ConsoleStatus.AVAILABLE) for c in sorted(ready)]
    for op in start + ops:
        kind = op[0]
        if kind == "park":
            _, queue, booked = op
            call = f"k{len(calls)}"
            calls.append(call)
            seen.queue_of[call], seen.walk_in[call] = queue.id, booked is None
            seen.order.append(call)
            a = arrival(call, (now - T0).total_seconds(), booked=booked, queue=queue.id)
            seen.see(policy.caller_parked(a, now), now)
        elif kind == "tick":
            now += timedelta(seconds=op[1])
            seen.see(policy.tick(now), now)
        elif kind == "register":
            seen.registered[op[1]] = op[2]
            seen.see(policy.registration_changed(op[1], op[2], now), now)
        elif kind == "console":
            seen.console[op[1]] = op[2]
            seen.see(policy.console_status_changed(op[1], op[2], now), now)
        elif kind == "end_talk":
            talking = op[1] in seen.talking
            out = policy.counsellor_call_ended(op[1], now)
            seen.end_talk(op[1], now)
            assert bool(out) or not talking
            seen.see(out, now)
        elif kind == "stray_answer":
            call = calls[op[1] % len(calls)] if calls else "none"
            if seen.talking.get(op[2]) == call:
                assert policy.offer_answered(call, op[2], now) == []
            elif seen.offers.get(op[2]) != call:
                assert policy.offer_answered(call, op[2], now) == [CancelOffer(call, op[2])]
        elif calls:
            call = calls[op[1] % len(calls)]
            if kind == "hangup":
                seen.hung_up.add(call)
                talker = next((c for c, k in seen.talking.items() if k == call), None)
                out = policy.caller_hung_up(call, now)
                if talker is not None:
                    seen.end_talk(talker, now)
                seen.see(out, now)
                assert call not in policy.calls
            elif seen.offers:  # news about one of the ringing offers
                who, call = sorted(seen.offers.items())[op[1] % len(seen.offers)]
                if kind == "answer":
                    seen.see(policy.offer_answered(call, who, now), now)
                    seen.see(policy.bridged(call, now), now)
                    continue
                del seen.offers[who]  # the leg is gone: FreeSWITCH reported it
                if kind in ("reject", "fail"):
                    seen.refused.setdefault(call, set()).add(who)
                handler = {
                    "reject": policy.offer_rejected,
                    "fail": policy.offer_failed,
                    "unanswered": policy.offer_unanswered,
                    "unreachable": policy.offer_unreachable,
                }[kind]
                seen.see(handler(call, who, now), now)
        _check_internal_consistency(policy)
    # Whatever happened, every call the policy let go of has exactly one outcome.
    for call in calls:
        assert (call in policy.calls) != (call in seen.ended), call


def _check_internal_consistency(policy) -> None:  # type: ignore[no-untyped-def]
    for counsellor in policy.counsellors.values():
        holders = [c for c in policy.calls.values() if c.counsellor == counsellor.id]
        assert len(holders) <= 1
        if holders:
            assert counsellor.call == holders[0].id
            assert counsellor.activity.value == holders[0].state.value
