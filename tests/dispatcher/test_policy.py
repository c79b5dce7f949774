"""The dispatcher policy, rule by rule: given a queue's state, when an input comes, then what."""

from __future__ import annotations

from pvp.dispatcher.outputs import (
    Bridge,
    CancelOffer,
    EndWait,
    Offer,
    PositionChanged,
    RecordUpdate,
)
from pvp.dispatcher.policy import RestoredCall
from pvp.dispatcher.state import Activity, CallState, QueueConfig
from pvp.model import CallOutcome, ConsoleStatus

from .helpers import MSA, arrival, at, connect, make_policy, only, ready

# ----------------------------------------------------------------------------- offers


def test_given_an_idle_counsellor_when_a_walk_in_parks_then_they_are_offered_the_call() -> None:
    policy = make_policy()
    ready(policy, "anne")
    out = policy.caller_parked(arrival("k1"), at(0))
    assert only(out, Offer) == [Offer("k1", "anne", 20)]
    assert RecordUpdate("k1", counsellor="anne", offered_at=at(0)) in out
    assert only(out, PositionChanged) == [PositionChanged("k1", 1, 0)]


def test_given_two_idle_counsellors_when_a_call_comes_then_the_longest_idle_is_offered() -> None:
    policy = make_policy()
    ready(policy, "anne", "bruno")
    policy.caller_parked(arrival("first", 0), at(0))
    policy.caller_parked(arrival("second", 0), at(0))
    took = {policy.calls[c].counsellor: c for c in ("first", "second")}
    for call in took.values():
        connect(policy, call, policy.calls[call].counsellor or "", at(1))
    # Anne's call ends last: Bruno has been idle longer (wrap-up over for both at 200).
    policy.caller_hung_up(took["bruno"], at(50))
    policy.caller_hung_up(took["anne"], at(100))
    out = policy.caller_parked(arrival("k1", 200), at(200))
    assert only(out, Offer) == [Offer("k1", "bruno", 20)]
    policy.caller_hung_up("k1", at(201))
    policy.counsellors["bruno"].idle_since = at(150)  # now Anne has waited longer
    assert only(policy.caller_parked(arrival("k2", 202), at(202)), Offer) == [
        Offer("k2", "anne", 20)
    ]


def test_given_priority_one_busy_when_a_call_comes_then_priority_two_is_offered() -> None:
    policy = make_policy()
    ready(policy, "anne", "chloe")
    policy.caller_parked(arrival("k1", 0), at(0))
    connect(policy, "k1", "anne", at(1))
    out = policy.caller_parked(arrival("k2", 2), at(2))
    assert only(out, Offer) == [Offer("k2", "chloe", 20)]


def test_given_priority_two_idle_longer_when_a_call_comes_then_priority_one_goes_first() -> None:
    policy = make_policy()
    ready(policy, "chloe", seconds=0)
    ready(policy, "anne", seconds=100)
    out = policy.caller_parked(arrival("k1", 200), at(200))
    assert only(out, Offer) == [Offer("k1", "anne", 20)]


def test_given_an_unregistered_counsellor_at_the_console_when_a_call_comes_then_no_offer() -> None:
    policy = make_policy()
    policy.console_status_changed("anne", ConsoleStatus.AVAILABLE, at(0))
    out = policy.caller_parked(arrival("k1"), at(0))
    assert only(out, Offer) == []


def test_given_registered_counsellors_paused_or_offline_when_a_call_comes_then_no_offer() -> None:
    policy = make_policy()
    policy.registration_changed("anne", True, at(0))
    policy.console_status_changed("anne", ConsoleStatus.PAUSED, at(0))
    policy.registration_changed("bruno", True, at(0))  # console still offline
    out = policy.caller_parked(arrival("k1"), at(0))
    assert only(out, Offer) == []
    assert only(out, EndWait) == []  # Anne is present (paused): the caller waits


def test_given_a_counsellor_ringing_when_another_call_comes_then_they_are_not_offered_it() -> None:
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1", 0), at(0))
    out = policy.caller_parked(arrival("k2", 1), at(1))
    assert only(out, Offer) == []
    assert only(out, PositionChanged) == [PositionChanged("k2", 2, 720)]


def test_given_an_offer_when_nobody_answers_in_time_then_the_next_counsellor_rings() -> None:
    policy = make_policy()
    ready(policy, "anne", "bruno")
    policy.caller_parked(arrival("k1"), at(0))
    first = policy.calls["k1"].counsellor
    assert policy.tick(at(19)) == []
    out = policy.tick(at(20))
    second = "bruno" if first == "anne" else "anne"
    assert out[:2] == [CancelOffer("k1", first or ""), Offer("k1", second, 20)]


def test_given_one_counsellor_who_let_it_ring_when_the_timeout_passes_then_they_ring_again() -> (
    None
):
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    out = policy.tick(at(20))
    assert only(out, CancelOffer) == [CancelOffer("k1", "anne")]
    assert only(out, Offer) == [Offer("k1", "anne", 20)]


def test_given_a_no_answer_when_others_are_free_then_the_silent_one_is_tried_last() -> None:
    policy = make_policy()
    ready(policy, "anne", "bruno", "chloe")
    policy.caller_parked(arrival("k1"), at(0))
    offered = [policy.calls["k1"].counsellor]
    for step in (1, 2, 3):
        policy.tick(at(20 * step))
        offered.append(policy.calls["k1"].counsellor)
    # Priority 1 (longest idle order), priority 2, then back to the first who let it ring.
    assert offered[2] == "chloe" and offered[3] == offered[0]


def test_given_freeswitch_gave_up_ringing_when_reported_then_it_counts_as_no_answer() -> None:
    policy = make_policy()
    ready(policy, "anne", "bruno")
    policy.caller_parked(arrival("k1"), at(0))
    first = policy.calls["k1"].counsellor or ""
    out = policy.offer_unanswered("k1", first, at(5))
    assert only(out, CancelOffer) == []  # the leg is already gone
    assert len(only(out, Offer)) == 1 and only(out, Offer)[0].counsellor != first


def test_given_an_offer_when_the_counsellor_rejects_then_the_next_rings_and_never_them() -> None:
    policy = make_policy()
    ready(policy, "anne", "chloe")
    policy.caller_parked(arrival("k1"), at(0))
    out = policy.offer_rejected("k1", "anne", at(3))
    assert only(out, Offer) == [Offer("k1", "chloe", 20)]
    out = policy.offer_failed("k1", "chloe", at(4))
    assert only(out, Offer) == []  # Anne refused this call: she is not offered it again
    assert policy.calls["k1"].state is CallState.WAITING


def test_given_everyone_declined_when_the_grace_passes_then_no_counsellor_ends_the_wait() -> None:
    policy = make_policy(grace=30)
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    policy.offer_rejected("k1", "anne", at(2))
    assert only(policy.tick(at(31)), EndWait) == []
    out = policy.tick(at(32))
    assert only(out, EndWait) == [EndWait("k1", CallOutcome.NO_COUNSELLOR, "all_declined")]


def test_given_a_rejected_call_when_another_call_comes_then_that_counsellor_is_offered_it() -> None:
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    policy.offer_rejected("k1", "anne", at(2))
    out = policy.caller_parked(arrival("k2", 3), at(3))
    assert only(out, Offer) == [Offer("k2", "anne", 20)]


# ---------------------------------------------------------------------- hang-ups


def test_given_a_ringing_offer_when_the_caller_hangs_up_then_it_is_cancelled_and_abandoned() -> (
    None
):
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    out = policy.caller_hung_up("k1", at(7))
    assert out[0] == CancelOffer("k1", "anne")
    assert (
        RecordUpdate(
            "k1",
            ended_at=at(7),
            wait_seconds=7,
            outcome=CallOutcome.ABANDONED,
            reason="hung_up_while_ringing",
        )
        in out
    )
    assert "k1" not in policy.calls
    assert policy.counsellors["anne"].activity is Activity.IDLE


def test_given_a_line_when_the_first_hangs_up_then_the_others_move_up() -> None:
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1", 0), at(0))
    connect(policy, "k1", "anne", at(1))
    policy.caller_parked(arrival("k2", 2), at(2))
    policy.caller_parked(arrival("k3", 3), at(3))
    out = policy.caller_hung_up("k2", at(4))
    assert only(out, RecordUpdate)[0].outcome is CallOutcome.ABANDONED
    assert only(out, RecordUpdate)[0].reason == "hung_up_while_waiting"
    assert only(out, PositionChanged) == [PositionChanged("k3", 1, 360)]


def test_given_a_hung_up_caller_when_the_counsellor_answers_late_then_their_leg_is_hung_up() -> (
    None
):
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    policy.caller_hung_up("k1", at(3))
    assert policy.offer_answered("k1", "anne", at(4)) == [CancelOffer("k1", "anne")]


def test_given_an_unknown_call_when_it_hangs_up_then_nothing_happens() -> None:
    assert make_policy().caller_hung_up("nobody", at(0)) == []


# ----------------------------------------------------------------- answer and end


def test_given_a_ringing_offer_when_answered_then_bridge_and_record_the_wait() -> None:
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    out = policy.offer_answered("k1", "anne", at(12))
    assert out[0] == Bridge("k1", "anne")
    assert only(out, RecordUpdate) == []  # not served until FreeSWITCH confirms the bridge
    assert policy.counsellors["anne"].activity is Activity.TALKING
    out = policy.bridged("k1", at(13))
    assert out == [RecordUpdate("k1", counsellor="anne", answered_at=at(12), wait_seconds=12)]


def test_given_a_talk_when_it_ends_then_served_and_wrap_up_passes_before_the_next_offer() -> None:
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    connect(policy, "k1", "anne", at(10))
    policy.caller_parked(arrival("k2", 20), at(20))
    out = policy.counsellor_call_ended("anne", at(130))
    assert RecordUpdate("k1", ended_at=at(130), talk_seconds=120, outcome=CallOutcome.SERVED) in out
    assert only(out, Offer) == []
    assert only(policy.tick(at(189)), Offer) == []
    assert only(policy.tick(at(190)), Offer) == [Offer("k2", "anne", 20)]


def test_given_a_talk_when_the_caller_hangs_up_then_it_is_served_too() -> None:
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    connect(policy, "k1", "anne", at(10))
    out = policy.caller_hung_up("k1", at(70))
    assert only(out, RecordUpdate)[0].outcome is CallOutcome.SERVED
    assert policy.counsellors["anne"].activity is Activity.WRAP_UP


def test_given_no_wrap_up_when_a_talk_ends_then_the_next_caller_is_offered_at_once() -> None:
    queue = QueueConfig("q", max_wait=600, no_answer_timeout=20, wrap_up=0, members={"anne": 1})
    policy = make_policy(queue)
    ready(policy, "anne")
    policy.caller_parked(arrival("k1", queue="q"), at(0))
    connect(policy, "k1", "anne", at(1))
    policy.caller_parked(arrival("k2", 2, queue="q"), at(2))
    assert only(policy.counsellor_call_ended("anne", at(30)), Offer) == [Offer("k2", "anne", 20)]


# ------------------------------------------------------------------------ timeouts


def test_given_a_waiting_caller_when_max_wait_passes_then_timed_out() -> None:
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k0", 0), at(0))
    connect(policy, "k0", "anne", at(1))
    policy.caller_parked(arrival("k1", 10), at(10))
    assert only(policy.tick(at(609)), EndWait) == []
    out = policy.tick(at(610))
    assert only(out, EndWait) == [EndWait("k1", CallOutcome.TIMED_OUT, "max_wait")]
    record = only(out, RecordUpdate)[0]
    assert (record.outcome, record.wait_seconds) == (CallOutcome.TIMED_OUT, 600)


def test_given_a_ringing_caller_when_max_wait_passes_then_the_offer_is_cancelled_first() -> None:
    queue = QueueConfig("q", max_wait=30, no_answer_timeout=60, wrap_up=0, members={"anne": 1})
    policy = make_policy(queue)
    ready(policy, "anne")
    policy.caller_parked(arrival("k1", queue="q"), at(0))
    out = policy.tick(at(30))
    assert out[:2] == [CancelOffer("k1", "anne"), EndWait("k1", CallOutcome.TIMED_OUT, "max_wait")]


def test_given_nobody_present_when_the_grace_passes_then_no_counsellor() -> None:
    policy = make_policy(grace=30)
    out = policy.caller_parked(arrival("k1"), at(0))
    assert only(out, EndWait) == []
    assert only(policy.tick(at(29)), EndWait) == []
    out = policy.tick(at(30))
    assert only(out, EndWait) == [EndWait("k1", CallOutcome.NO_COUNSELLOR, "no_counsellor_present")]


def test_given_no_grace_when_nobody_is_present_then_no_counsellor_at_once() -> None:
    policy = make_policy(grace=0)
    out = policy.caller_parked(arrival("k1"), at(0))
    assert only(out, EndWait) == [EndWait("k1", CallOutcome.NO_COUNSELLOR, "no_counsellor_present")]


def test_given_nobody_present_when_a_counsellor_registers_within_grace_then_offered() -> None:
    policy = make_policy(grace=30)
    policy.caller_parked(arrival("k1"), at(0))
    out = ready(policy, "bruno", seconds=20)
    assert only(out, Offer) == [Offer("k1", "bruno", 20)]
    assert only(policy.tick(at(40)), EndWait) == []


# --------------------------------------------------------------- presence changes


def test_given_a_ringing_counsellor_when_they_pause_then_the_offer_moves_on() -> None:
    policy = make_policy()
    ready(policy, "anne", "chloe")
    policy.caller_parked(arrival("k1"), at(0))
    out = policy.console_status_changed("anne", ConsoleStatus.PAUSED, at(5))
    assert out[:2] == [CancelOffer("k1", "anne"), Offer("k1", "chloe", 20)]


def test_given_a_ringing_counsellor_when_they_unregister_then_the_offer_is_cancelled() -> None:
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    out = policy.registration_changed("anne", False, at(5))
    assert only(out, CancelOffer) == [CancelOffer("k1", "anne")]
    assert policy.calls["k1"].state is CallState.WAITING


def test_given_a_talking_counsellor_when_their_registration_blips_then_the_call_goes_on() -> None:
    policy = make_policy()
    ready(policy, "anne")
    policy.caller_parked(arrival("k1"), at(0))
    connect(policy, "k1", "anne", at(1))
    assert policy.registration_changed("anne", False, at(5)) == []
    assert policy.calls["k1"].state is CallState.TALKING


def test_given_an_unknown_counsellor_when_their_status_changes_then_nothing_happens() -> None:
    policy = make_policy()
    assert policy.console_status_changed("zoe", ConsoleStatus.AVAILABLE, at(0)) == []
    assert policy.registration_changed("zoe", True, at(0)) == []
    assert policy.counsellor_call_ended("zoe", at(0)) == []


# ------------------------------------------------------------------------ booked


def test_given_a_booked_citizen_when_another_counsellor_is_idle_then_they_wait_for_theirs() -> None:
    policy = make_policy()
    ready(policy, "anne", "bruno")
    policy.caller_parked(arrival("k0"), at(0))
    busy = policy.calls["k0"].counsellor or ""
    connect(policy, "k0", busy, at(1))
    idle = "bruno" if busy == "anne" else "anne"
    out = policy.caller_parked(arrival("k1", 5, booked=busy), at(5))
    assert only(out, Offer) == []
    assert policy.counsellors[idle].activity is Activity.IDLE
    assert only(out, PositionChanged) == [PositionChanged("k1", 1, 360)]


def test_given_a_booked_and_an_earlier_walk_in_when_the_counsellor_frees_then_booked_first() -> (
    None
):
    queue = QueueConfig("q", max_wait=600, no_answer_timeout=20, wrap_up=0, members={"anne": 1})
    policy = make_policy(queue)
    ready(policy, "anne")
    policy.caller_parked(arrival("k0", 0, queue="q"), at(0))
    connect(policy, "k0", "anne", at(1))
    policy.caller_parked(arrival("walk", 2, queue="q"), at(2))
    policy.caller_parked(arrival("booked", 3, booked="anne", queue="q"), at(3))
    out = policy.counsellor_call_ended("anne", at(100))
    assert only(out, Offer) == [Offer("booked", "anne", 20)]


def test_given_a_booked_citizen_when_their_counsellor_rejects_then_any_counsellor_serves() -> None:
    policy = make_policy()
    ready(policy, "anne", "bruno")
    policy.caller_parked(arrival("k1", booked="anne"), at(0))
    out = policy.offer_rejected("k1", "anne", at(3))
    assert only(out, Offer) == [Offer("k1", "bruno", 20)]


def test_given_a_booked_citizen_when_their_counsellor_stays_absent_then_the_queue_serves() -> None:
    policy = make_policy(grace=30)
    ready(policy, "bruno")
    out = policy.caller_parked(arrival("k1", booked="anne"), at(0))
    assert only(out, Offer) == []
    out = policy.tick(at(30))
    assert only(out, Offer) == [Offer("k1", "bruno", 20)]


def test_given_a_booked_counsellor_unknown_when_the_citizen_parks_then_served_as_walk_in() -> None:
    policy = make_policy()
    ready(policy, "bruno")
    out = policy.caller_parked(arrival("k1", booked="zoe"), at(0))
    assert only(out, Offer) == [Offer("k1", "bruno", 20)]


def test_given_a_booked_counsellor_paused_when_max_wait_nears_then_the_citizen_still_waits() -> (
    None
):
    policy = make_policy(grace=30)
    ready(policy, "anne", "bruno")
    policy.console_status_changed("anne", ConsoleStatus.PAUSED, at(0))
    policy.caller_parked(arrival("k1", booked="anne"), at(0))
    assert only(policy.tick(at(599)), Offer) == []
    assert only(policy.tick(at(600)), EndWait)[0].outcome is CallOutcome.TIMED_OUT


# --------------------------------------------------------------- order and estimate


def test_given_one_counsellor_when_three_walk_ins_wait_then_they_are_served_in_order() -> None:
    queue = QueueConfig("q", max_wait=9999, no_answer_timeout=20, wrap_up=0, members={"anne": 1})
    policy = make_policy(queue)
    ready(policy, "anne")
    served = []
    for n in range(3):
        policy.caller_parked(arrival(f"k{n}", n, queue="q"), at(n))
    for t in (10, 20, 30):
        call = next(c for c in policy.calls.values() if c.state is CallState.RINGING)
        served.append(call.id)
        connect(policy, call.id, "anne", at(t))
        policy.counsellor_call_ended("anne", at(t + 5))
    assert served == ["k0", "k1", "k2"]


def test_given_recent_talks_when_callers_wait_then_the_estimate_follows_them() -> None:
    queue = QueueConfig("q", max_wait=9999, no_answer_timeout=20, wrap_up=60, members={"anne": 1})
    policy = make_policy(queue)
    ready(policy, "anne")
    policy.caller_parked(arrival("k0", 0, queue="q"), at(0))
    connect(policy, "k0", "anne", at(0))
    policy.counsellor_call_ended("anne", at(120))  # 120 s talk + 60 s wrap-up = 180 s
    out = policy.caller_parked(arrival("k1", 130, queue="q"), at(130))
    out += policy.caller_parked(arrival("k2", 131, queue="q"), at(131))
    assert only(out, PositionChanged) == [
        PositionChanged("k1", 1, 180),
        PositionChanged("k2", 2, 360),
    ]


def test_given_positions_told_when_nothing_changes_then_nothing_is_sent_again() -> None:
    policy = make_policy()
    policy.registration_changed("anne", True, at(0))
    policy.console_status_changed("anne", ConsoleStatus.PAUSED, at(0))
    policy.caller_parked(arrival("k1"), at(0))
    assert only(policy.tick(at(5)), PositionChanged) == []


# ----------------------------------------------------------------- odd inputs


def test_given_a_parked_call_when_it_parks_again_then_it_keeps_its_place() -> None:
    policy = make_policy()
    policy.caller_parked(arrival("k1", 0), at(0))
    assert policy.caller_parked(arrival("k1", 50), at(50)) == []
    assert policy.calls["k1"].arrival.arrived_at == at(0)


def test_given_an_unknown_queue_when_a_caller_parks_then_the_wait_ends_as_failed() -> None:
    out = make_policy().caller_parked(arrival("k1", queue="nope"), at(0))
    assert only(out, EndWait) == [EndWait("k1", CallOutcome.FAILED, "unknown_queue")]


def test_given_a_stale_reject_when_it_arrives_then_it_is_ignored() -> None:
    policy = make_policy()
    ready(policy, "anne", "bruno")
    policy.caller_parked(arrival("k1"), at(0))
    other = "bruno" if policy.calls["k1"].counsellor == "anne" else "anne"
    assert policy.offer_rejected("k1", other, at(1)) == []
    assert policy.offer_unanswered("nope", other, at(1)) == []


# ------------------------------------------------------------------------ restart


def test_given_a_restored_talk_when_it_ends_then_the_counsellor_wraps_up() -> None:
    policy = make_policy()
    policy.restore_counsellor("anne", True, ConsoleStatus.AVAILABLE, None, at(0))
    restored = RestoredCall(
        arrival("k1"), seq=4, state=CallState.TALKING, counsellor="anne", answered_at=at(10)
    )
    assert policy.restore_call(restored) == []
    assert policy.counsellors["anne"].activity is Activity.TALKING
    out = policy.caller_hung_up("k1", at(70))
    assert RecordUpdate("k1", ended_at=at(70), talk_seconds=60, outcome=CallOutcome.SERVED) in out


def test_given_a_restored_ringing_call_when_rebuilt_then_the_old_offer_is_cancelled() -> None:
    policy = make_policy()
    policy.restore_counsellor("anne", True, ConsoleStatus.AVAILABLE, None, at(0))
    restored = RestoredCall(arrival("k1"), seq=1, state=CallState.RINGING, counsellor="anne")
    assert policy.restore_call(restored) == [CancelOffer("k1", "anne")]
    assert only(policy.tick(at(1)), Offer) == [Offer("k1", "anne", 20)]


def test_given_restored_callers_when_a_new_one_parks_then_it_queues_behind_them() -> None:
    policy = make_policy()
    for n, seq in (("k1", 7), ("k2", 8)):
        policy.restore_call(RestoredCall(arrival(n, seq), seq=seq, state=CallState.WAITING))
    policy.caller_parked(arrival("k3", 100), at(100))
    assert [c.id for c in policy.waiting()] == ["k1", "k2", "k3"]
    assert policy.calls["k3"].seq == 9


def test_given_a_recent_call_end_when_a_counsellor_is_restored_then_wrap_up_resumes() -> None:
    policy = make_policy()
    policy.restore_counsellor("anne", True, ConsoleStatus.AVAILABLE, at(-30), at(0))
    assert policy.counsellors["anne"].activity is Activity.WRAP_UP
    policy.caller_parked(arrival("k1"), at(0))
    assert only(policy.tick(at(29)), Offer) == []
    assert only(policy.tick(at(30)), Offer) == [Offer("k1", "anne", 20)]


def test_the_queue_views_list_members_by_id() -> None:
    policy = make_policy()
    assert [(c.id, p) for c, p in policy.counsellors_of(MSA.id)] == [
        ("anne", 1),
        ("bruno", 1),
        ("chloe", 2),
    ]
