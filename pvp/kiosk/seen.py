"""Sealed messages a kiosk has already taken, kept on disk so a replay never runs twice.

A seal is valid :data:`~pvp.wire.messages.SEAL_WINDOW` seconds either side of the kiosk's clock, so
an entry is needed only that long; the file is rewritten whole (it holds a few entries).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from pvp.common.fsutil import write_atomically
from pvp.wire.messages import SEAL_WINDOW

log = logging.getLogger(__name__)


class SeenMessages:
    """``first_time(key, ts, now)`` is true once per key (a command id, or a seal's MAC)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        try:
            loaded = json.loads(path.read_text())
            self._seen = {str(k): int(v) for k, v in dict(loaded).items()}
        except FileNotFoundError:
            pass
        except (ValueError, TypeError) as exc:
            # A torn file must not stop the kiosk; the window bounds what it forgets.
            log.warning("seen-message list %s unreadable, started afresh: %s", path, exc)

    def first_time(self, key: str, ts: int, now: float) -> bool:
        with self._lock:
            if key in self._seen:
                return False
            horizon = now - 2 * SEAL_WINDOW
            self._seen = {k: t for k, t in self._seen.items() if t >= horizon}
            self._seen[key] = ts
            write_atomically(self.path, json.dumps(self._seen).encode())
            return True
