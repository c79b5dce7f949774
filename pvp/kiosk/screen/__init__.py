"""The kiosk screen's state: what the citizen sees, changed by the agent, never by a click.

The agent calls :meth:`Screen.show`; the page served by :mod:`pvp.kiosk.screen.app` follows
through server-sent events. States are an enum; a change is logged ``old -> new`` and wakes
every waiting page.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

log = logging.getLogger("pvp.kiosk.screen")


class View(enum.StrEnum):
    IDLE = "idle"  # one button per service, each saying whether it is open
    CALLING = "calling"  # the press was dialled, the switch is routing it
    WAITING = "waiting"  # in the expert queue: position and estimated wait
    IN_CALL = "in_call"  # the counsellor is on screen
    CLOSED = "closed"  # the service is closed (or by appointment only): when it opens
    DOCUMENT = "document"  # a document shown by the counsellor
    PRINTING = "printing"  # a document is being printed
    SCAN = "scan"  # "posez votre document sur le scanner"
    SIGN = "sign"  # a page to sign, its field outlined, a drawing area (pvp/kiosk/signing.py)
    OUT_OF_ORDER = "out_of_order"  # with the site agent's number
    RESTARTING = "restarting"  # the page reconnects to the switch


@dataclass(frozen=True)
class Snapshot:
    version: int
    view: View
    data: Mapping[str, Any] = field(default_factory=dict)
    notice: str | None = None  # a line from the counsellor, shown over any view


class Screen:
    """Thread-safe holder of the current snapshot, with change notification."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._snapshot = Snapshot(0, View.IDLE, MappingProxyType({}))

    def current(self) -> Snapshot:
        with self._changed:
            return self._snapshot

    def show(self, view: View, **data: Any) -> Snapshot:
        """Switch to ``view`` with its data; the counsellor's notice stays only while the view
        does (a later state — printing, a document, the wait, idle — is never covered by it)."""
        with self._changed:
            old = self._snapshot
            keep = old.notice if view is old.view else None
            return self._set(view, MappingProxyType(dict(data)), keep)

    def set_notice(self, text: str | None) -> Snapshot:
        with self._changed:
            old = self._snapshot
            return self._set(old.view, old.data, text or None)

    def _set(self, view: View, data: Mapping[str, Any], notice: str | None) -> Snapshot:
        old = self._snapshot
        if (old.view, dict(old.data), old.notice) == (view, dict(data), notice):
            return old
        if old.view != view:
            log.info("screen %s -> %s", old.view.value, view.value)
        self._snapshot = Snapshot(old.version + 1, view, data, notice)
        self._changed.notify_all()
        return self._snapshot

    def wait_change(self, after_version: int, timeout: float) -> Snapshot:
        """The snapshot once its version passes ``after_version``, or the current one."""
        with self._changed:
            self._changed.wait_for(lambda: self._snapshot.version > after_version, timeout)
            return self._snapshot
