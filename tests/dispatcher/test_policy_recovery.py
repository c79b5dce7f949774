"""The dispatcher policy after a switch restart (issue 15): offers that never reached the
counsellor, and answered calls whose bridge never happened."""

from __future__ import annotations

from pvp.dispatcher.outputs import Bridge, CancelOffer, EndWait, Offer, RecordUpdate
from pvp.dispatcher.state import Activity, CallState
from pvp.model import CallOutcome

from .helpers import arrival, at, make_policy, only, ready

# ----------------------------------------------------- offers that fail on the way


def test_given_a_stale_registration_when_the_offer_fails_then_it_is_offered_again_on_register() -> (
    None
):
    # A TLS counsellor before a restart: the switch still lists the dead connection.
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    out = policy.offer_unreachable("k1", "anne", at(1))
    assert only(out, Offer) == []
    assert policy.calls["k1"].state is CallState.WAITING
    assert "anne" not in policy.calls["k1"].refused
    # Her softphone registers again over a live connection, 4 s later.
    out = policy.registration_refreshed("anne", at(5))
    assert only(out, Offer) == [Offer("k1", "anne", 20)]


def test_given_an_unreachable_counsellor_when_the_retry_time_passes_then_offered_again() -> None:
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    policy.offer_unreachable("k1", "anne", at(1))
    assert only(policy.tick(at(5.9)), Offer) == []
    assert only(policy.tick(at(6)), Offer) == [Offer("k1", "anne", 20)]


def test_given_an_unreachable_counsellor_when_they_register_anew_then_offered_again() -> None:
    # The switch's OPTIONS ping removed the stale registration; the softphone registers again.
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    policy.offer_unreachable("k1", "anne", at(1))
    policy.registration_changed("anne", False, at(2))
    out = policy.registration_changed("anne", True, at(3))
    assert only(out, Offer) == [Offer("k1", "anne", 20)]


def test_given_an_offer_failed_on_the_way_when_another_is_idle_then_they_are_offered_it() -> None:
    policy = make_policy()
    ready(policy, "anne", seconds=0)
    ready(policy, "bruno", seconds=1)  # Anne idle longer: she is offered first
    policy.caller_parked(arrival("k1", 2), at(2))
    out = policy.offer_unreachable("k1", "anne", at(2))
    assert only(out, Offer) == [Offer("k1", "bruno", 20)]


def test_given_a_counsellor_unreachable_for_good_when_the_grace_passes_then_no_counsellor() -> None:
    # Not offered, not present: the citizen is not kept waiting for a softphone that is gone.
    policy = make_policy(grace=30)
    ready(policy, "anne")
    out = policy.caller_parked(arrival("k1"), at(0))
    ended: list[EndWait] = []
    for second in range(1, 40):
        for offer in only(out, Offer):  # every retry fails at once, as on a dead connection
            out += policy.offer_unreachable(offer.call, offer.counsellor, at(second - 1))
        ended += only(out, EndWait)
        out = policy.tick(at(second))
    assert ended == [EndWait("k1", CallOutcome.NO_COUNSELLOR, "no_counsellor_present")]


def test_given_an_unreachable_counsellor_back_within_grace_then_the_wait_does_not_end() -> None:
    policy = make_policy(grace=30)
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    policy.offer_unreachable("k1", "anne", at(0))
    policy.tick(at(3))  # nobody reachable: the grace runs
    out = policy.registration_refreshed("anne", at(8))
    assert only(out, Offer) == [Offer("k1", "anne", 20)]
    assert only(policy.tick(at(40)), EndWait) == []


def test_given_a_refresh_from_a_reachable_counsellor_then_nothing_happens() -> None:
    policy = make_policy()
    ready(policy, "anne")
    assert policy.registration_refreshed("anne", at(1)) == []
    assert policy.registration_refreshed("nobody", at(1)) == []


def test_given_a_stale_unreachable_report_when_it_arrives_then_it_is_ignored() -> None:
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    policy.offer_rejected("k1", "anne", at(1))
    assert policy.offer_unreachable("k1", "anne", at(2)) == []
    assert policy.counsellors["anne"].unreachable_since is None


# --------------------------------------------------------------- bridge readiness


def test_given_an_answered_call_when_the_bridge_fails_then_not_served_and_back_in_line() -> None:
    policy = make_policy()
    ready(policy, "anne", seconds=0)
    ready(policy, "bruno", seconds=1)
    policy.caller_parked(arrival("k1", 2), at(2))
    policy.caller_parked(arrival("k2", 3), at(3))  # Bruno rings for k2
    policy.offer_answered("k1", "anne", at(5))
    out = policy.bridge_failed("k1", "anne", at(6))
    assert CancelOffer("k1", "anne") in out  # her leg is hung up
    assert [r for r in only(out, RecordUpdate) if r.outcome or r.answered_at] == []
    assert policy.calls["k1"].state is CallState.WAITING
    assert policy.calls["k1"].answered_at is None
    assert policy.counsellors["anne"].activity is Activity.IDLE
    # k1 keeps its place: first in line, offered to Bruno once he is free.
    assert [c.id for c in policy.waiting()] == ["k1", "k2"]
    out = policy.offer_rejected("k2", "bruno", at(7))
    assert only(out, Offer) == [Offer("k1", "bruno", 20)]


def test_given_an_answered_leg_that_ends_before_the_bridge_then_the_call_is_not_served() -> None:
    # The race of issue 15: bridged while the counsellor's leg entered park(), the leg ends
    # 20 s later with DESTINATION_OUT_OF_ORDER; the call record said "served, 20 s of talk".
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    policy.offer_answered("k1", "anne", at(1))
    out = policy.counsellor_call_ended("anne", at(21))
    assert [r for r in only(out, RecordUpdate) if r.outcome is CallOutcome.SERVED] == []
    assert policy.calls["k1"].state is CallState.WAITING
    assert policy.counsellors["anne"].activity is Activity.IDLE
    assert only(policy.tick(at(26)), Offer) == [Offer("k1", "anne", 20)]


def test_given_a_confirmed_bridge_when_the_talk_ends_then_it_is_served() -> None:
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    assert only(policy.offer_answered("k1", "anne", at(1)), Bridge) == [Bridge("k1", "anne")]
    policy.bridged("k1", at(1.1))
    assert policy.bridged("k1", at(1.2)) == []  # the same bridge reported twice
    assert policy.bridge_failed("k1", "anne", at(2)) == []  # too late: it is joined
    out = policy.counsellor_call_ended("anne", at(61))
    assert RecordUpdate("k1", ended_at=at(61), talk_seconds=60, outcome=CallOutcome.SERVED) in out


def test_given_an_answered_call_when_the_caller_hangs_up_before_the_bridge_then_abandoned() -> None:
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    policy.offer_answered("k1", "anne", at(1))
    out = policy.caller_hung_up("k1", at(1.5))
    assert CancelOffer("k1", "anne") in out
    assert [r.outcome for r in only(out, RecordUpdate) if r.outcome] == [CallOutcome.ABANDONED]
    assert policy.counsellors["anne"].activity is Activity.IDLE
