"""One dispatcher leader among control planes sharing a PostgreSQL database.

Each control plane answers xml_curl, the panel and the API; only the leader runs the
expert-queue dispatcher (and the static fallback refresher). Leadership is a PostgreSQL
session advisory lock held on a dedicated connection: the server releases it the moment that
connection ends, so when a leader's process dies a standby, trying every ``check_seconds``,
takes over within about ``check_seconds + settle_seconds``. A leader checks its connection
every ``check_seconds`` and steps down when it is lost; a new leader waits ``settle_seconds``
(more than a check) before dispatching, so a deposed one has stopped first. The queue lives
in the database, so the new leader serves the waiting citizens in their places.
With SQLite (one machine, one process) the dispatcher simply runs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

log = logging.getLogger("pvp.leader")

# pg_advisory_lock's 64-bit key: "PVPDISP" in ASCII, unlikely to meet another application's.
DISPATCHER_LOCK = 0x50565044495350
# The lease's session names its control plane (pg_stat_activity.application_name), so that
# `pvp doctor` and an administrator can tell which one leads.
LEASE_APPLICATION = "pvp-leader-lease"


def lease_name() -> str:
    return f"{LEASE_APPLICATION} {socket.gethostname()} pid {os.getpid()}"[:63]


@dataclass(frozen=True)
class LeaseHolder:
    """A session holding the dispatcher lock: the leader's (or something else's)."""

    pid: int  # the PostgreSQL backend's
    application: str
    client: str  # the client's address, "local" over a Unix socket


def lease_holders(conn: Connection, key: int = DISPATCHER_LOCK) -> list[LeaseHolder]:
    """Who holds the dispatcher lock now: one session, or none between two leaders."""
    rows = conn.execute(
        text(
            "SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local')"
            " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.database = ("
            "   SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND ((l.classid::bigint << 32) | l.objid::bigint) = :k ORDER BY a.pid"
        ),
        {"k": key},
    ).all()
    return [LeaseHolder(int(pid), str(app), str(client)) for pid, app, client in rows]


class Stoppable(Protocol):
    def stop(self) -> None: ...


class LeaderLease:
    """Try to become leader in the background; call ``on_elected`` / ``on_deposed``."""

    def __init__(
        self,
        engine: Engine,
        on_elected: Callable[[], None],
        on_deposed: Callable[[], None],
        check_seconds: float = 1.0,
        settle_seconds: float | None = None,
        key: int = DISPATCHER_LOCK,
    ) -> None:
        # No pool: closing the lease's connection must end its session, releasing the lock.
        self.engine = create_engine(
            engine.url, poolclass=NullPool, connect_args={"application_name": lease_name()}
        )
        self.key = key
        self.on_elected, self.on_deposed = on_elected, on_deposed
        self.check_seconds = check_seconds
        self.settle_seconds = 2 * check_seconds if settle_seconds is None else settle_seconds
        self.leader = False
        self._conn: Connection | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-lease", daemon=True)

    def start(self) -> LeaderLease:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Step down (the lock goes with the connection) and stop trying."""
        self._stop.set()
        self._thread.join(timeout=10 + self.check_seconds)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._conn is None:
                    self._try_to_lead()
                elif not self._alive():
                    self._step_down("its database connection was lost")
                self._stop.wait(self.check_seconds)
        finally:
            if self.leader:
                self._step_down("the control plane stops")
            self._close()

    def _try_to_lead(self) -> None:
        try:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except (OperationalError, DBAPIError) as exc:
            log.warning("leader lease: database unreachable: %s", str(exc).splitlines()[0])
            return
        try:
            won = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
        except (OperationalError, DBAPIError):
            conn.close()
            return
        if not won:
            conn.close()
            return
        self._conn = conn
        # A deposed leader notices at its next check: let that pass before dispatching.
        if self._stop.wait(self.settle_seconds) or not self._alive():
            self._close()
            return
        self.leader = True
        log.info("leader lease taken: this control plane runs the dispatcher")
        try:
            self.on_elected()
        except Exception:
            log.exception("the dispatcher did not start: leader lease left for another")
            self._step_down("the dispatcher did not start")

    def _alive(self) -> bool:
        assert self._conn is not None
        try:
            self._conn.execute(text("SELECT 1"))
            return True
        except (OperationalError, DBAPIError):
            return False

    def _step_down(self, why: str) -> None:
        if self.leader:
            self.leader = False
            log.warning("leader lease left (%s): the dispatcher stops here", why)
            self.on_deposed()
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # a session lock is released with its session
            except (OperationalError, DBAPIError):
                self._conn.invalidate()
            self._conn = None


class Leadership:
    """What ``pvp serve`` runs only as the leader: started on election, stopped on loss."""

    def __init__(
        self,
        engine: Engine,
        start: Callable[[], Stoppable],
        stopped: Callable[[], None] = lambda: None,
        check_seconds: float = 1.0,
    ) -> None:
        self._start, self._stopped = start, stopped
        self._running: Stoppable | None = None
        self._lock = threading.Lock()
        self.lease: LeaderLease | None = None
        if engine.dialect.name != "postgresql":
            self._elected()  # one process per SQLite database: always the leader
        else:
            self.lease = LeaderLease(engine, self._elected, self._deposed, check_seconds)
            self.lease.start()

    @property
    def running(self) -> Stoppable | None:
        return self._running

    def _elected(self) -> None:
        with self._lock:
            self._running = self._start()

    def _deposed(self) -> None:
        with self._lock:
            if self._running is not None:
                self._running.stop()
                self._running = None
                self._stopped()

    def stop(self) -> None:
        if self.lease is not None:
            self.lease.stop()  # deposes, which stops what runs
        else:
            self._deposed()
