"""Two control planes over one PostgreSQL and one FreeSWITCH: one dispatcher leader; when
its database session dies the other takes over, and the waiting citizen keeps their place.

Skips where FreeSWITCH, baresip or PostgreSQL's server binaries are absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from pvp.db import Database
from pvp.deploy.leader import DISPATCHER_LOCK, Leadership, Stoppable
from testkit.calls import (
    answer,
    call_of,
    ended_record,
    eventually,
    hang_up,
    press,
    record,
    rings,
    waiting_calls,
)
from testkit.live_switch import ControlPlane, Switch
from testkit.ports import free_port
from testkit.ua import UserAgent

from .test_dispatch import C1, PERMANENCE, counsellor, kiosk, talking

pytestmark = pytest.mark.live

CHECK_SECONDS = 0.3


def lead(plane: ControlPlane, check_seconds: float = CHECK_SECONDS) -> Leadership:
    """The plane's dispatcher run under the leader lease, as `pvp serve` runs it."""

    def start() -> Stoppable:
        plane.start_services()
        assert plane.services is not None
        return plane.services

    def stopped() -> None:
        plane.services = None

    return Leadership(plane.db.engine, start, stopped, check_seconds=check_seconds)


def served_by_the_new_leader(sw: Switch, msa: UserAgent, citizen: UserAgent, call: str) -> None:
    """C1 becomes available on the new leader (``sw.control_plane``): the waiting citizen of
    ``kiosk-vorey-1`` rings there, is answered, talks and hangs up served by C1."""
    sw.control_plane.set_status(C1, "available")
    rings(msa, "kiosk-vorey-1")
    answer(msa)
    assert eventually(lambda: talking(sw, "kiosk-vorey-1"))
    assert eventually(lambda: record(sw, call).answered_at is not None)
    hang_up(citizen)
    done = ended_record(sw, call)
    assert done.outcome == "served" and done.counsellor_id == C1, done.reason


@pytest.fixture
def pg_switch(
    make_switch: Callable[..., Switch],
    postgres_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Switch]:
    monkeypatch.setenv("PVP_DATABASE_URL", postgres_url)  # the harness's Settings read it
    sw = make_switch(None)
    assert sw.db.engine.dialect.name == "postgresql"
    sw.control_plane.stop()
    yield sw


def test_the_dispatcher_leader_dies_and_the_other_control_plane_serves_the_waiting_citizen(
    pg_switch: Switch,
) -> None:
    sw = pg_switch
    first = sw.control_plane
    first.start_http()
    lead_first = lead(first)
    second = ControlPlane(
        sw.settings.model_copy(update={"http_port": free_port()}),
        Database(sw.settings.resolved_database_url()),
        sw.clock,
    )
    second.start_http()
    lead_second: Leadership | None = None
    try:
        assert eventually(lambda: first.services is not None)
        lead_second = lead(second)
        time.sleep(5 * CHECK_SECONDS)
        assert second.services is None  # a standby: exactly one dispatcher

        sw.travel_to(PERMANENCE)
        msa = counsellor(sw, C1, "paused")
        citizen = kiosk(sw, "kiosk-vorey-1")
        press(citizen, "msa")
        assert eventually(lambda: waiting_calls(sw) == ["kiosk-vorey-1"])
        call = call_of(sw, "kiosk-vorey-1")

        # The leader's database session dies (its host froze, its link was cut).
        with sw.db.engine.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND granted AND ((classid::bigint << 32) | objid::bigint) = :k"
                ),
                {"k": DISPATCHER_LOCK},
            )
            conn.commit()
        killed_at = time.monotonic()
        assert eventually(lambda: second.services is not None, timeout=15)
        takeover = time.monotonic() - killed_at
        assert first.services is None  # the deposed leader stopped dispatching
        print(f"takeover {takeover:.2f} s")
        assert takeover < 10 * CHECK_SECONDS + 5

        sw.control_plane = second
        assert waiting_calls(sw) == ["kiosk-vorey-1"]  # the same place in the queue
        served_by_the_new_leader(sw, msa, citizen, call)
    finally:
        if lead_second is not None:
            lead_second.stop()
        lead_first.stop()
        first.stop()
        second.stop()
        second.db.engine.dispose()
