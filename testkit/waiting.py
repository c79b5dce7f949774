"""Waiting for what another thread or process does: poll a check until it holds or time is up."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(check: Callable[[], object], timeout: float = 10.0) -> bool:
    """Whether ``check()`` became true within ``timeout`` seconds (checked once more at the end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)  # many checks ask FreeSWITCH: 20 times a second is enough
    return bool(check())
