"""Addresses that fail SIP authentication again and again are refused for a while.

FreeSWITCH reports every refused credential as ``CUSTOM sofia::register_failure`` (REGISTER
and INVITE alike) with the sender's ``network-ip``. Past ``threshold`` failures within
``window``, the address is blocked for ``block_for``: every directory look-up FreeSWITCH makes
for it then gets a decoy user (:func:`pvp.freeswitch.directory.decoy_user`), so even the right
password fails from there, and the supervision page lists the block. FreeSWITCH has no ban of
its own: its register ACL *skips* authentication for the addresses it allows.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from pvp.clock import utc_now
from pvp.config import Settings

log = logging.getLogger("pvp.freeswitch.authguard")

FAILURE_EVENT = "CUSTOM sofia::register_failure"


class Headers(Protocol):
    """An ESL event's headers (or a plain mapping, in tests)."""

    def get(self, name: str, default: str, /) -> str | None: ...


@dataclass
class Block:
    address: str
    since: datetime
    until: datetime
    failures: int
    users: list[str] = field(default_factory=list)  # the last few it tried


class AuthGuard:
    @classmethod
    def from_settings(cls, settings: Settings) -> AuthGuard:
        return cls(
            settings.sip_block_failures,
            timedelta(seconds=settings.sip_block_window_seconds),
            timedelta(seconds=settings.sip_block_seconds),
        )

    def __init__(
        self,
        threshold: int = 10,
        window: timedelta = timedelta(seconds=60),
        block_for: timedelta = timedelta(minutes=15),
        clock: Callable[[], datetime] = utc_now,
        on_block: Callable[[Block], None] | None = None,
    ) -> None:
        self.threshold, self.window, self.block_for = threshold, window, block_for
        self.clock = clock
        self.on_block = on_block
        self._lock = threading.Lock()
        self._failures: dict[str, deque[datetime]] = {}
        self._users: dict[str, deque[str]] = {}
        self._blocks: dict[str, Block] = {}

    def failed(self, address: str, user: str = "") -> Block | None:
        """Count one failure; the new block if this one crossed the threshold."""
        now = self.clock()
        with self._lock:
            times = self._failures.setdefault(address, deque())
            times.append(now)
            while times and times[0] < now - self.window:
                times.popleft()
            users = self._users.setdefault(address, deque(maxlen=5))
            if user and user not in users:
                users.append(user)
            if len(times) < self.threshold or self._active(address, now):
                return None
            block = Block(address, now, now + self.block_for, len(times), list(users))
            self._blocks[address] = block
            times.clear()
        log.warning(
            "SIP address %s blocked until %s: %d authentication failures in %s (%s)",
            address,
            block.until.isoformat(timespec="seconds"),
            block.failures,
            self.window,
            ", ".join(block.users),
        )
        if self.on_block is not None:
            self.on_block(block)
        return block

    def _active(self, address: str, now: datetime) -> bool:
        block = self._blocks.get(address)
        return block is not None and block.until > now

    def recent_failures(self, address: str) -> int:
        with self._lock:
            return len(self._failures.get(address, ()))

    def blocked(self, address: str) -> bool:
        with self._lock:
            return self._active(address, self.clock())

    def blocks(self) -> list[Block]:
        """The blocks in force, latest first."""
        now = self.clock()
        with self._lock:
            active = [b for b in self._blocks.values() if b.until > now]
        return sorted(active, key=lambda b: b.since, reverse=True)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._users.clear()
            self._blocks.clear()

    def on_event(self, event: Headers) -> None:
        """An ESL ``sofia::register_failure`` event (its headers)."""
        address = event.get("network-ip", "") or ""
        if address:
            self.failed(address, event.get("to-user", "") or "")
