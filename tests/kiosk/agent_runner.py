"""An agent-like process for the no-loss tests: the kiosk's document side, nothing else.

Run as ``python agent_runner.py CONFIG.json``. It builds the real DocumentCommands (journal,
CUPS printer, SANE scanner, HTTP uplink), replays its journal, handles the command body in
CONFIG (if any) as the SIP endpoint would, waits until idle and exits. Answers go to a
JSON-lines file, fsync'd, standing for the MESSAGEs to the control plane.

``kill_at`` names a journal event: right after writing it, the process SIGKILLs itself,
which is exactly a crash at that point (no handler, no flush, no clean-up).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from pvp.kiosk.documents import DocumentCommands
from pvp.kiosk.journal import Journal
from pvp.kiosk.printer import Printer
from pvp.kiosk.scanner import Scanner
from pvp.kiosk.screen import Screen
from pvp.kiosk.uplink import ControlPlaneClient
from pvp.wire.messages import Answer, decode_command, encode_answer


class CrashingJournal(Journal):
    def __init__(self, directory: Path, kill_at: str | None) -> None:
        super().__init__(directory)
        self.kill_at = kill_at

    def record(self, command_id: str, kind: str, **data: Any):  # type: ignore[no-untyped-def]
        entry = super().record(command_id, kind, **data)
        if kind == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return entry


def main(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text())
    workdir = Path(config["workdir"])
    answers_file = open(workdir / "answers.jsonl", "a", encoding="utf-8")  # noqa: SIM115

    def answer(a: Answer) -> None:
        answers_file.write(encode_answer(a) + "\n")
        answers_file.flush()
        os.fsync(answers_file.fileno())

    commands = DocumentCommands(
        journal=CrashingJournal(workdir / "journal", config.get("kill_at")),
        printer=Printer(config["queue"], config["cups"], poll_interval_s=0.05),
        scanner=Scanner(config["scanner"]),
        screen=Screen(),
        uplink=ControlPlaneClient(config["control_url"], config["kiosk"], config["secret"]),
        current_call=lambda: config["call"],
        pages_dir=workdir / "pages",
        answers=answer,
        place_timeout_s=0,
        scan_dpi=100,
    )
    commands.start()
    if config.get("command"):
        commands.handle(decode_command(config["command"]), answer)
    commands.wait_idle(timeout=120)
    commands.stop()
    print("idle", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
