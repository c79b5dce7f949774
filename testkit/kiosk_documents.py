"""A kiosk's document side wired to the test control plane, real CUPS and SANE behind it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from pvp.kiosk.documents import DocumentCommands
from pvp.kiosk.journal import Journal
from pvp.kiosk.printer import Printer
from pvp.kiosk.scanner import Scanner
from pvp.kiosk.screen import Screen, View
from pvp.kiosk.uplink import ControlPlaneClient
from pvp.wire.messages import Answer, Command
from testkit.documents import KIOSK, Control


@dataclass
class RecordingScreen(Screen):
    """The real screen state, plus the list of views it went through."""

    views: list[View] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def show(self, view: View, **data: object):  # type: ignore[no-untyped-def]
        self.views.append(view)
        return super().show(view, **data)


@dataclass
class Kiosk:
    commands: DocumentCommands
    screen: RecordingScreen
    answers: list[Answer]
    call: list[str | None]

    def deliver(self, _kiosk: str, command: Command) -> None:
        self.commands.handle(command, self.commands.answers)

    def statuses(self, command_id: str) -> list[str]:
        return [a.status.value for a in self.answers if a.id == command_id]

    def close(self) -> None:
        self.commands.stop()
        self.commands.journal.close()

    def final(self, command_id: str) -> Answer:
        [final] = [a for a in self.answers if a.id == command_id and a.status.value != "accepted"]
        return final


def make_kiosk(
    control: Control,
    workdir: Path,
    queue: str,
    cups_server: str,
    scanner: Scanner,
    print_timeout_s: float = 30.0,
) -> Kiosk:
    answers: list[Answer] = []
    lock = threading.Lock()
    call: list[str | None] = [None]

    def answer(a: Answer) -> None:
        # What the agent's SIP endpoint does: a MESSAGE to the control plane, read over ESL.
        with lock:
            answers.append(a)
        control.service.record_answer(a, KIOSK)

    screen = RecordingScreen()
    screen.show(View.IN_CALL, service_label="ANPE")
    commands = DocumentCommands(
        journal=Journal(workdir / "journal"),
        printer=Printer(queue, cups_server, poll_interval_s=0.05),
        scanner=scanner,
        screen=screen,
        uplink=ControlPlaneClient(control.url, KIOSK, control.secrets[KIOSK]),
        current_call=lambda: call[0],
        pages_dir=workdir / "pages",
        answers=answer,
        print_timeout_s=print_timeout_s,
        place_timeout_s=0.0,
        scan_dpi=150,
    )
    commands.start()
    kiosk = Kiosk(commands, screen, answers, call)
    control.transport.deliver = kiosk.deliver
    return kiosk
