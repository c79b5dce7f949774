"""Keep the static fallback as fresh as the database, while ``pvp serve`` runs.

mod_xml_curl falls through to the static directory and kiosks' dialplan when the control
plane does not answer; FreeSWITCH reads those files at start and on ``reloadxml`` only. So
whenever the plan revision moves (an admin's edit, an import, a new SIP secret) or the local
day changes (dated conditions start from today), the two files are rendered again, then
FreeSWITCH is told over the event socket: ``reloadxml`` (read the new files) and
``xml_flush_cache`` (forget cached directory entries: a rotated secret or a deleted device
stops working at once instead of after ``directory_cache_ms``).

A failed render keeps the previous files (each is replaced atomically); a switch that cannot
be told now is told at the next check.
"""

from __future__ import annotations

import logging
import threading
from datetime import date
from pathlib import Path

from pvp.clock import Clock
from pvp.config import Settings
from pvp.db import Database
from pvp.freeswitch.esl import ESLError
from pvp.freeswitch.pool import EventSocket
from pvp.freeswitch.render import RenderError, render_fallback

log = logging.getLogger("pvp.freeswitch.refresh")

COMMANDS = ("reloadxml", "xml_flush_cache")


class FallbackRefresher:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        conf: Path,
        clock: Clock,
        esl: EventSocket | None = None,
    ) -> None:
        self.settings, self.db, self.conf, self.clock, self.esl = settings, db, conf, clock, esl
        self.interval = settings.fallback_check_seconds
        self.rendered: tuple[int, date] | None = None  # (revision, day) of the files on disk
        self._switch_told = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="fallback-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def up_to_date(self) -> bool:
        """The files are those of the present plan revision, and FreeSWITCH has read them."""
        with self._lock:
            fresh = self.rendered is not None and self.rendered[0] == self.db.revision()
            return fresh and self._switch_told

    def check(self) -> bool:
        """Render again if the plan or the day changed; True when files were written."""
        with self._lock:
            today = self.clock.now().astimezone(self.settings.zone).date()
            revision = self.db.revision()
            wrote = False
            if self.rendered != (revision, today):
                written: list[Path] = []
                render_fallback(self.settings, self.db, today, self.conf, written)
                log.info("static fallback rendered for revision %s (%s)", revision, today)
                self.rendered, self._switch_told, wrote = (revision, today), False, True
            if not self._switch_told and self.esl is not None and self.esl.connected:
                self._switch_told = self._tell_switch()
            return wrote

    def _tell_switch(self) -> bool:
        assert self.esl is not None
        try:
            for command in COMMANDS:
                self.esl.api(command)
        except ESLError as exc:
            log.warning("FreeSWITCH not told of the new fallback yet: %s", exc)
            return False
        return True

    def _loop(self) -> None:
        while True:
            try:
                self.check()
            except (RenderError, OSError) as exc:
                log.error("static fallback not rendered: %s (the previous files stay)", exc)
            except Exception:  # the loop must outlive a database hiccup
                log.exception("static fallback check failed")
            if self._stop.wait(self.interval):
                return
