"""The dispatcher's state in a real database: rebuilt after a restart, call records written."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pvp.db import Database
from pvp.dispatcher.outputs import CancelOffer, Offer, RecordUpdate
from pvp.dispatcher.state import Activity, CallState
from pvp.dispatcher.store import QueueStore, UnknownCounsellor, build_policy
from pvp.model import CallOutcome, CallRecord, ConsoleStatus, QueueEntry
from pvp.services import console_status

from .helpers import arrival, at, connect, ready

C1, C2 = "msa-43-c1", "msa-43-c2"


@pytest.fixture
def store(db: Database) -> QueueStore:
    return QueueStore(db)


def test_the_queues_come_from_the_plan(store: QueueStore) -> None:
    msa = next(q for q in store.queues() if q.id == "msa-43")
    assert dict(msa.members) == {C1: 1, C2: 2}
    assert (msa.max_wait, msa.no_answer_timeout, msa.wrap_up) == (1200, 20, 90)


def test_given_callers_and_a_talk_when_rebuilt_then_places_and_states_are_kept(
    store: QueueStore,
) -> None:
    policy, _, _ = build_policy(store, at(0))
    ready(policy, C1)
    for n in range(3):
        store.ensure_record(arrival(f"k{n}", n), "walk_in")
        policy.caller_parked(arrival(f"k{n}", n), at(n))
    connect(policy, "k0", C1, at(5))  # k0 talks; k1 and k2 wait
    store.sync(policy, {"k0": "leg-0"})

    again, legs, cancel = build_policy(QueueStore(store.db), at(10))
    assert [c.id for c in again.waiting()] == ["k1", "k2"]
    assert again.calls["k0"].state is CallState.TALKING
    assert again.counsellors[C1].activity is Activity.TALKING
    assert (legs, cancel) == ({"k0": "leg-0"}, [])
    assert again.positions() == {"k1": (1, 420), "k2": (2, 780)}
    again.caller_parked(arrival("k3", 9), at(9))
    assert [c.id for c in again.waiting()] == ["k1", "k2", "k3"]


def test_given_a_ringing_call_when_rebuilt_then_its_old_leg_is_to_be_cancelled(
    store: QueueStore,
) -> None:
    policy, _, _ = build_policy(store, at(0))
    ready(policy, C1)
    store.ensure_record(arrival("k1"), "walk_in")
    assert isinstance(policy.caller_parked(arrival("k1"), at(0))[0], Offer)
    store.sync(policy, {"k1": "leg-1"})
    again, legs, cancel = build_policy(QueueStore(store.db), at(3))
    assert cancel == [CancelOffer("k1", C1)] and legs == {"k1": "leg-1"}
    assert [c.id for c in again.waiting()] == ["k1"]


def test_given_entries_when_calls_end_then_their_rows_go(store: QueueStore) -> None:
    policy, _, _ = build_policy(store, at(0))
    store.ensure_record(arrival("k1"), "walk_in")
    policy.caller_parked(arrival("k1"), at(0))
    store.sync(policy, {})
    policy.caller_hung_up("k1", at(4))
    store.sync(policy, {})
    with store.db.sessions() as session:
        assert session.query(QueueEntry).count() == 0


def test_record_updates_fill_the_call_record(store: QueueStore) -> None:
    store.ensure_record(arrival("k1", booked=C1), "appointment")
    store.apply(
        [
            RecordUpdate("k1", counsellor=C1, offered_at=at(1)),
            RecordUpdate("k1", answered_at=at(4), wait_seconds=4),
            RecordUpdate("k1", ended_at=at(64), talk_seconds=60, outcome=CallOutcome.SERVED),
        ]
    )
    with store.db.sessions() as session:
        record = session.get(CallRecord, "k1")
        assert record is not None
        assert (record.counsellor_id, record.mode, record.outcome) == (C1, "appointment", "served")
        assert (record.offered_at, record.answered_at, record.ended_at) == (at(1), at(4), at(64))
        assert (record.wait_seconds, record.talk_seconds) == (4, 60)
    assert store.talk_history() == {"msa-43": [60]}


def test_a_record_is_written_once_even_if_parked_twice(store: QueueStore) -> None:
    store.ensure_record(arrival("k1"), "walk_in")
    store.ensure_record(arrival("k1", 30), "walk_in")
    with store.db.sessions() as session:
        assert session.get(CallRecord, "k1").pressed_at == at(0)  # type: ignore[union-attr]


def set_console_status(db: Database, counsellor: str, status: ConsoleStatus, now: datetime) -> None:
    with db.session() as session:
        console_status.set_status(session, counsellor, status, now, actor="test")


def test_console_status_of_an_unknown_counsellor_is_refused(db: Database) -> None:
    with pytest.raises(UnknownCounsellor):
        set_console_status(db, "nobody", ConsoleStatus.AVAILABLE, at(0))


def test_console_status_and_last_call_reach_the_rebuilt_policy(store: QueueStore) -> None:
    set_console_status(store.db, C2, ConsoleStatus.PAUSED, at(0))
    policy, _, _ = build_policy(store, at(0))
    assert policy.counsellors[C2].console is ConsoleStatus.PAUSED
    ready(policy, C1)
    store.ensure_record(arrival("k1"), "walk_in")
    policy.caller_parked(arrival("k1"), at(0))
    connect(policy, "k1", C1, at(1))
    policy.counsellor_call_ended(C1, at(61))
    store.sync(policy, {})
    again, _, _ = build_policy(QueueStore(store.db), at(100))
    assert again.counsellors[C1].activity is Activity.WRAP_UP  # 90 s wrap-up from 61 s
    assert again.counsellors[C1].wrap_up_until == at(61) + timedelta(seconds=90)
    assert again.counsellors[C1].registered


def test_given_a_status_set_elsewhere_when_the_dispatcher_writes_then_it_is_not_undone(
    store: QueueStore,
) -> None:
    policy, _, _ = build_policy(store, at(0))
    policy.registration_changed(C1, True, at(0))
    store.sync(policy, {})
    set_console_status(store.db, C1, ConsoleStatus.AVAILABLE, at(1))  # `pvp counsellor status`
    policy.registration_changed(C1, False, at(2))  # the dispatcher has not polled it yet
    store.sync(policy, {})
    again, _, _ = build_policy(QueueStore(store.db), at(3))
    assert again.counsellors[C1].console is ConsoleStatus.AVAILABLE
    assert not again.counsellors[C1].registered
