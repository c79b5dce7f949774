"""Small builders shared by the dispatcher policy tests (no I/O, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

from pvp.calendar import Mode
from pvp.dispatcher.outputs import Command
from pvp.dispatcher.policy import DispatchPolicy
from pvp.dispatcher.state import Arrival, QueueConfig
from pvp.model import ConsoleStatus

T0 = datetime(2006, 11, 24, 9, 0, tzinfo=UTC)  # 4th Friday: the MSA permanence at Vorey
C = TypeVar("C")

MSA = QueueConfig(
    "msa-43",
    max_wait=600,
    no_answer_timeout=20,
    wrap_up=60,
    members={"anne": 1, "bruno": 1, "chloe": 2},
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def arrival(
    call: str, seconds: float = 0, booked: str | None = None, queue: str = "msa-43"
) -> Arrival:
    return Arrival(
        call=call,
        queue=queue,
        kiosk="kiosk-vorey-1",
        site="vorey",
        service="msa",
        mode=Mode.APPOINTMENT if booked else Mode.WALK_IN,
        booked=booked,
        arrived_at=at(seconds),
    )


def make_policy(*queues: QueueConfig, grace: float = 30) -> DispatchPolicy:
    return DispatchPolicy(queues or (MSA,), no_counsellor_grace=grace)


def ready(policy: DispatchPolicy, *counsellors: str, seconds: float = 0) -> list[Command]:
    out: list[Command] = []
    for c in counsellors:
        out += policy.registration_changed(c, True, at(seconds))
        out += policy.console_status_changed(c, ConsoleStatus.AVAILABLE, at(seconds))
    return out


def only(commands: list[Command], kind: type[C]) -> list[C]:
    return [c for c in commands if isinstance(c, kind)]


def connect(policy: DispatchPolicy, call: str, counsellor: str, when: datetime) -> list[Command]:
    """The counsellor answers and FreeSWITCH confirms the bridge at once."""
    return policy.offer_answered(call, counsellor, when) + policy.bridged(call, when)
