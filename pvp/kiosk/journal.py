"""The kiosk's command journal: append-only, fsync'd, replayed after a restart.

Each line is one JSON event of one command: ``received`` (its name and arguments, without
the document), ``accepted`` (the document is spooled next to the journal), ``scanned`` (the
scan's PDF is spooled), ``final`` (the answer, written *before* it is sent) and
``answered``. After a crash the agent replays the journal: a command that reached a final
state but was not answered gets its answer again; one still running is finished or failed
(see :mod:`pvp.kiosk.documents`). A torn last line (power cut mid-write) is ignored.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pvp.common.fsutil import write_atomically

log = logging.getLogger(__name__)

KEEP_DAYS = 7  # how long a command id is remembered, so a late duplicate never runs again


@dataclass
class Entry:
    """What the journal knows of one command, folded from its events."""

    id: str
    name: str = ""
    call: str | None = None
    sender: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    final: dict[str, Any] | None = None  # {"status", "reason", "details"}
    first_at: str = ""

    @property
    def answered(self) -> bool:
        return "answered" in self.events

    @property
    def state(self) -> str:
        return self.events[-1] if self.events else ""


class Journal:
    """``directory/journal.jsonl`` plus ``directory/spool/<command id>.<kind>.pdf`` files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.spool = directory / "spool"
        self.spool.mkdir(parents=True, exist_ok=True)
        self.path = directory / "journal.jsonl"
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        self._load()
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open
        if self.path.stat().st_size and not self.path.read_bytes().endswith(b"\n"):
            self._file.write("\n")  # end a torn line, so the next event starts clean

    def _load(self) -> None:
        if not self.path.exists():
            return
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                event = json.loads(line)
            except ValueError:
                log.warning("journal line %d unreadable (torn write?), ignored", number)
                continue
            self._fold(event)

    def _fold(self, event: dict[str, Any]) -> Entry:
        entry = self._entries.setdefault(event["id"], Entry(event["id"], first_at=event["at"]))
        kind = event["event"]
        if kind == "received":
            entry.name, entry.args = event.get("name", ""), event.get("args", {})
            entry.call, entry.sender = event.get("call"), event.get("from")
        elif kind == "final":
            entry.final = {k: event.get(k) for k in ("status", "reason", "details")}
        entry.events.append(kind)
        return entry

    def record(self, command_id: str, kind: str, **data: Any) -> Entry:
        """Append one event and make it durable before returning."""
        event = {"at": datetime.now(UTC).isoformat(), "id": command_id, "event": kind, **data}
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())
            return self._fold(event)

    def get(self, command_id: str) -> Entry | None:
        with self._lock:
            return self._entries.get(command_id)

    def unfinished(self) -> list[Entry]:
        """Commands not answered with a final status, oldest first."""
        with self._lock:
            return [e for e in self._entries.values() if not (e.final and e.answered)]

    # ---- spooled documents ------------------------------------------------------------

    def spool_path(self, command_id: str, kind: str) -> Path:
        return self.spool / f"{command_id}.{kind}.pdf"

    def put_spool(self, command_id: str, kind: str, data: bytes) -> Path:
        path = self.spool_path(command_id, kind)
        write_atomically(path, data)
        return path

    def drop_spool(self, command_id: str) -> None:
        for path in self.spool.glob(f"{command_id}.*.pdf"):
            path.unlink(missing_ok=True)

    # ---- housekeeping -----------------------------------------------------------------

    def compact(
        self, now: datetime | None = None, keep: timedelta = timedelta(days=KEEP_DAYS)
    ) -> int:
        """Rewrite the journal without answered commands older than ``keep``."""
        cutoff = (now or datetime.now(UTC)) - keep
        with self._lock:
            old = [
                e.id
                for e in self._entries.values()
                if e.final and e.answered and datetime.fromisoformat(e.first_at) < cutoff
            ]
            if not old:
                return 0
            for ident in old:
                del self._entries[ident]
            kept = [
                line
                for line in self.path.read_text(encoding="utf-8").splitlines()
                if _id_of(line) in self._entries
            ]
            self._file.close()
            write_atomically(self.path, "".join(f"{line}\n" for line in kept).encode())
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            return len(old)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _id_of(line: str) -> str | None:
    try:
        return str(json.loads(line)["id"])
    except (ValueError, KeyError, TypeError):
        return None
