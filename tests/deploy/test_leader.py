"""One dispatcher leader among control planes over one PostgreSQL (an advisory lock)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from pvp.db import Database, make_engine
from pvp.deploy.leader import DISPATCHER_LOCK, LeaderLease, Leadership

CHECK = 0.2


class Dispatcher:
    """Stands for the services a leader runs; counts how many run at once."""

    running: list[Dispatcher] = []
    most_at_once = 0
    lock = threading.Lock()

    def __init__(self, name: str) -> None:
        self.name = name
        with Dispatcher.lock:
            Dispatcher.running.append(self)
            Dispatcher.most_at_once = max(Dispatcher.most_at_once, len(Dispatcher.running))

    def stop(self) -> None:
        with Dispatcher.lock:
            Dispatcher.running.remove(self)


def _leaders() -> list[str]:
    with Dispatcher.lock:
        return [d.name for d in Dispatcher.running]


def _until(check: Callable[[], bool], timeout: float = 10) -> float:
    """Seconds until ``check`` holds (fails the test after ``timeout``)."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, "not within the timeout"
        time.sleep(0.02)
    return time.monotonic() - start


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Database]:  # noqa: F811
    Dispatcher.running, Dispatcher.most_at_once = [], 0
    db = Database(postgres_url)
    yield db
    db.engine.dispose()


def _plane(url: str, name: str) -> Leadership:
    return Leadership(make_engine(url), lambda: Dispatcher(name), check_seconds=CHECK)


def test_two_control_planes_run_exactly_one_dispatcher_and_hand_over_when_it_stops(
    pg: Database,
) -> None:
    a = _plane(pg.url, "a")
    _until(lambda: _leaders() == ["a"])
    b = _plane(pg.url, "b")
    time.sleep(10 * CHECK)
    assert _leaders() == ["a"]  # b stands by
    a.stop()
    took = _until(lambda: _leaders() == ["b"])
    assert took < 5 * CHECK + 1
    b.stop()
    assert _leaders() == [] and Dispatcher.most_at_once == 1


def test_a_leader_whose_database_session_dies_steps_down_before_the_other_dispatches(
    pg: Database,
) -> None:
    """A leader's session killed (its process frozen, its link cut and the server gave up):
    the standby takes the lock; the old leader notices within a check and stops first."""
    a = _plane(pg.url, "a")
    _until(lambda: _leaders() == ["a"])
    b = _plane(pg.url, "b")
    with pg.engine.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND granted AND ((classid::bigint << 32) | objid::bigint) = :k"
            ),
            {"k": DISPATCHER_LOCK},
        ).scalar()
        conn.commit()
    assert killed
    _until(lambda: _leaders() == ["b"])
    assert Dispatcher.most_at_once == 1, "two dispatchers ran at once"
    a.stop()
    time.sleep(10 * CHECK)
    assert _leaders() == ["b"]  # a came back as a standby
    b.stop()


def test_an_unreachable_database_makes_no_leader_and_stops_cleanly(tmp_path: object) -> None:
    url = "postgresql+psycopg://pvp@127.0.0.1:1/pvp"
    lease = LeaderLease(make_engine(url), lambda: None, lambda: None, check_seconds=CHECK)
    lease.start()
    time.sleep(3 * CHECK)
    assert not lease.leader
    lease.stop()


def test_with_sqlite_the_only_control_plane_dispatches_at_once(tmp_path: object) -> None:
    Dispatcher.running = []
    one = Leadership(make_engine("sqlite://"), lambda: Dispatcher("only"))
    assert _leaders() == ["only"]
    one.stop()
    assert _leaders() == []
