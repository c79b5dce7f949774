"""The dispatcher's state in the database: queue entries, counsellor states, call records.

The policy is rebuilt from here on start (:func:`build_policy`), and written back after each
step (:meth:`QueueStore.sync`), so a restart of the control plane keeps every caller's place.
Writes are diffs against what was last written: a tick that changes nothing writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pvp.calendar import Mode
from pvp.common.errors import PvpError
from pvp.db import Database
from pvp.dispatcher.estimate import WaitEstimator
from pvp.dispatcher.outputs import RecordUpdate
from pvp.dispatcher.policy import DispatchPolicy, RestoredCall
from pvp.dispatcher.state import Arrival, CallState, QueueConfig, WaitingCall
from pvp.model import (
    CallRecord,
    ConsoleStatus,
    CounsellorState,
    ExpertQueue,
    QueueEntry,
)

log = logging.getLogger("pvp.dispatcher.store")

TALK_SAMPLES = 20


class UnknownCounsellor(
    PvpError, LookupError, code="unknown_counsellor", summary="conseiller inconnu"
):
    pass


@dataclass(frozen=True, slots=True)
class StoredEntry:
    restored: RestoredCall
    leg_uuid: str | None


def _entry_row(call: WaitingCall, leg: str | None) -> dict[str, Any]:
    a = call.arrival
    return {
        "call_id": a.call,
        "queue_id": a.queue,
        "kiosk_id": a.kiosk,
        "site_id": a.site,
        "service_code": a.service,
        "mode": str(a.mode),
        "booked_counsellor_id": a.booked,
        "appointment_id": a.appointment,
        "arrived_at": a.arrived_at,
        "seq": call.seq,
        "state": str(call.state),
        "counsellor_id": call.counsellor,
        "leg_uuid": leg,
        "offered_at": call.offered_at,
        "answered_at": call.answered_at,
        "refused": sorted(call.refused),
        "unanswered": list(call.unanswered),
        "walk_in_fallback": call.walk_in_fallback,
    }


class QueueStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._entries: dict[str, dict[str, Any]] = {}  # as last written
        self._counsellors: dict[str, tuple[bool, str, datetime | None]] = {}

    # ---------------------------------------------------------------- reading

    def queues(self) -> list[QueueConfig]:
        with self.db.sessions() as session:
            rows = session.scalars(select(ExpertQueue)).all()
            return [
                QueueConfig(
                    q.id,
                    max_wait=q.max_wait_seconds,
                    no_answer_timeout=q.no_answer_timeout_seconds,
                    wrap_up=q.wrap_up_seconds,
                    members={m.counsellor_id: m.priority for m in q.memberships},
                )
                for q in rows
            ]

    def counsellor_states(self) -> list[CounsellorState]:
        with self.db.sessions() as session:
            return list(session.scalars(select(CounsellorState)).all())

    def entries(self) -> list[StoredEntry]:
        with self.db.sessions() as session:
            rows = session.scalars(select(QueueEntry).order_by(QueueEntry.seq)).all()
        result = []
        for row in rows:
            arrival = Arrival(
                call=row.call_id,
                queue=row.queue_id,
                kiosk=row.kiosk_id,
                site=row.site_id,
                service=row.service_code,
                mode=Mode(row.mode),
                booked=row.booked_counsellor_id,
                arrived_at=row.arrived_at,
                appointment=row.appointment_id,
            )
            restored = RestoredCall(
                arrival,
                seq=row.seq,
                state=CallState(row.state),
                counsellor=row.counsellor_id,
                offered_at=row.offered_at,
                answered_at=row.answered_at,
                refused=frozenset(row.refused or ()),
                unanswered=tuple(row.unanswered or ()),
                walk_in_fallback=row.walk_in_fallback,
            )
            result.append(StoredEntry(restored, row.leg_uuid))
        return result

    def talk_history(self) -> dict[str, list[float]]:
        """The last talk durations of each queue, oldest first, for wait estimates."""
        history: dict[str, list[float]] = {}
        with self.db.sessions() as session:
            rows = session.execute(
                select(CallRecord.queue_id, CallRecord.talk_seconds)
                .where(CallRecord.talk_seconds.is_not(None), CallRecord.queue_id.is_not(None))
                .order_by(CallRecord.ended_at.desc())
                .limit(TALK_SAMPLES * 50)
            ).all()
        for queue, talk in rows:
            samples = history.setdefault(queue, [])
            if len(samples) < TALK_SAMPLES:
                samples.append(talk)
        return {q: list(reversed(s)) for q, s in history.items()}

    def record_outcome(self, call_id: str) -> str | None:
        with self.db.sessions() as session:
            record = session.get(CallRecord, call_id)
            return record.outcome if record else None

    # ---------------------------------------------------------------- writing

    def ensure_record(self, arrival: Arrival, decision: str) -> None:
        """The call record of a parked caller, if the dialplan did not write one already."""
        with self.db.session() as session:
            if session.get(CallRecord, arrival.call) is None:
                session.add(
                    CallRecord(
                        id=arrival.call,
                        kiosk_id=arrival.kiosk,
                        site_id=arrival.site,
                        service_code=arrival.service,
                        queue_id=arrival.queue,
                        counsellor_id=arrival.booked,
                        appointment_id=arrival.appointment,
                        mode=str(arrival.mode),
                        decision=decision,
                        pressed_at=arrival.arrived_at,
                        reason="",
                    )
                )

    def apply(self, updates: Iterable[RecordUpdate]) -> None:
        updates = list(updates)
        if not updates:
            return
        with self.db.session() as session:
            for update in updates:
                record = session.get(CallRecord, update.call)
                if record is None:
                    log.warning("no call record %s for %s", update.call, update)
                    continue
                for name in (
                    "counsellor",
                    "offered_at",
                    "answered_at",
                    "ended_at",
                    "wait_seconds",
                    "talk_seconds",
                    "outcome",
                    "reason",
                ):
                    value = getattr(update, name)
                    if value is not None:
                        column = "counsellor_id" if name == "counsellor" else name
                        setattr(record, column, str(value) if name == "outcome" else value)

    def sync(self, policy: DispatchPolicy, legs: Mapping[str, str]) -> None:
        """Write the policy's calls and counsellors where they differ from the last write."""
        entries = {c.id: _entry_row(c, legs.get(c.id)) for c in policy.calls.values()}
        counsellors = {
            c.id: (c.registered, str(c.console), c.last_call_ended_at)
            for c in policy.counsellors.values()
        }
        gone = set(self._entries) - set(entries)
        changed = {k: v for k, v in entries.items() if self._entries.get(k) != v}
        moved = {k: v for k, v in counsellors.items() if self._counsellors.get(k) != v}
        if not (gone or changed or moved):
            return
        with self.db.session() as session:
            if gone:
                session.execute(delete(QueueEntry).where(QueueEntry.call_id.in_(gone)))
            for row in changed.values():
                session.merge(QueueEntry(**row))
            for counsellor_id, new in moved.items():
                self._write_counsellor(
                    session, counsellor_id, self._counsellors.get(counsellor_id), new
                )
        self._entries, self._counsellors = entries, counsellors

    @staticmethod
    def _write_counsellor(
        session: Session,
        counsellor_id: str,
        old: tuple[bool, str, datetime | None] | None,
        new: tuple[bool, str, datetime | None],
    ) -> None:
        """Only the fields this process changed: ``pvp counsellor status`` in another process
        writes the console status too, and must not be overwritten with a stale value."""
        state = session.get(CounsellorState, counsellor_id)
        if state is None:
            state = CounsellorState(counsellor_id=counsellor_id)
            session.add(state)
            old = None
        registered, console, ended = new
        if old is None or old[0] != registered:
            state.registered = registered
        if old is None or old[1] != console:
            state.console_status = console
        if old is None or old[2] != ended:
            state.last_call_ended_at = ended


def build_policy(
    store: QueueStore, now: datetime, no_counsellor_grace: float = 30.0
) -> tuple[DispatchPolicy, dict[str, str], list[Any]]:
    """The policy as the database left it, the offer legs it knew, and what to cancel."""
    policy = DispatchPolicy(
        store.queues(),
        no_counsellor_grace=no_counsellor_grace,
        estimator=WaitEstimator(history=store.talk_history()),
    )
    for state in store.counsellor_states():
        policy.restore_counsellor(
            state.counsellor_id,
            state.registered,
            ConsoleStatus(state.console_status),
            state.last_call_ended_at,
            now,
        )
    legs: dict[str, str] = {}
    commands: list[Any] = []
    for entry in store.entries():
        if entry.leg_uuid:
            legs[entry.restored.arrival.call] = entry.leg_uuid
        commands += policy.restore_call(entry.restored)
    return policy, legs, commands
