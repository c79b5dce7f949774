"""No loss: the kiosk agent killed in the middle of a print or a scan, then restarted.

A real process is SIGKILLed (by itself, right after a given journal event, or by the test
while CUPS prints) and started again on the same journal: every command ends with exactly
one final answer — done once, or failed — and nothing is printed or uploaded twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pvp.kiosk.documents import INTERRUPTED, SCAN_INTERRUPTED
from pvp.model import Document, DocumentTransfer
from pvp.wire.messages import Answer, decode_answer
from testkit.devices import CupsServer, page_texts
from testkit.documents import COUNSELLOR, KIOSK, Control, start_call, text_pdf

RUNNER = Path(__file__).with_name("agent_runner.py")


class Agent:
    def __init__(self, control: Control, workdir: Path, queue: str, cups: str, scanner: str):
        self.control = control
        self.workdir = workdir
        self.config = {
            "workdir": str(workdir),
            "queue": queue,
            "cups": cups,
            "scanner": scanner,
            "control_url": control.url,
            "kiosk": KIOSK,
            "secret": control.secrets[KIOSK],
            "call": None,
        }
        self.applied = 0

    def start(
        self, command: str | None = None, kill_at: str | None = None
    ) -> subprocess.Popen[str]:
        config = {**self.config, "command": command, "kill_at": kill_at}
        path = self.workdir / "config.json"
        path.write_text(json.dumps(config))
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
        return subprocess.Popen(
            [sys.executable, str(RUNNER), str(path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, command: str | None = None, kill_at: str | None = None) -> int:
        process = self.start(command, kill_at)
        _out, err = process.communicate(timeout=120)
        if process.returncode not in (0, -signal.SIGKILL):
            raise AssertionError(err)
        self.forward()
        return process.returncode

    def answers(self) -> list[Answer]:
        path = self.workdir / "answers.jsonl"
        if not path.exists():
            return []
        return [decode_answer(line) for line in path.read_text().splitlines() if line]

    def forward(self) -> None:
        """Hand new answers to the control plane, as the ESL side does with MESSAGEs."""
        answers = self.answers()
        for answer in answers[self.applied :]:
            self.control.service.record_answer(answer, KIOSK)
        self.applied = len(answers)

    def finals(self, command_id: str) -> list[Answer]:
        return [a for a in self.answers() if a.id == command_id and a.status.value != "accepted"]


@pytest.fixture
def agent(
    control: Control, tmp_path: Path, cups_server: CupsServer, sane_test_config: Path
) -> Agent:
    name = f"slow-{tmp_path.name[-12:]}".replace("_", "-")
    output = cups_server.add_slow_file_queue(name)
    a = Agent(control, tmp_path, name, cups_server.server, "test:0")
    a.output = output  # type: ignore[attr-defined]
    a.config["call"] = start_call(control.db)
    control.transport.deliver = None
    return a


def jobs_in(cups_server: CupsServer, queue: str) -> int:
    jobs = cups_server.connection().getJobs(
        which_jobs="all", requested_attributes=["job-id", "job-printer-uri"]
    )
    return sum(1 for a in jobs.values() if a["job-printer-uri"].endswith("/printers/" + queue))


def print_command(control: Control, call: str, pdf: bytes) -> tuple[str, str]:
    sent = control.service.send_document(COUNSELLOR, call, "print", pdf, "Contrat")
    return sent["command"], control.transport.sent[-1][1]


def transfer(control: Control, command_id: str) -> DocumentTransfer:
    with control.db.sessions() as session:
        row = session.query(DocumentTransfer).filter_by(command_id=command_id).one()
        session.expunge(row)
        return row


PDF = ("Contrat page 1", "Contrat page 2")


@pytest.mark.parametrize("kill_at", ["accepted", "final"])
def test_killed_before_or_after_printing_then_printed_once_and_answered_once(
    control: Control, agent: Agent, cups_server: CupsServer, kill_at: str
) -> None:
    pdf = text_pdf(*PDF)
    command_id, body = print_command(control, agent.config["call"], pdf)

    assert agent.run(body, kill_at=kill_at) == -signal.SIGKILL
    assert agent.finals(command_id) == []  # killed before saying anything final
    assert agent.run() == 0  # restarted: replays the journal

    [final] = agent.finals(command_id)
    assert final.status.value == "done", final.reason
    assert jobs_in(cups_server, agent.config["queue"]) == 1
    assert page_texts(agent.output.read_bytes()) == list(PDF)  # type: ignore[attr-defined]
    assert transfer(control, command_id).status == "done"
    assert agent.run() == 0  # a second restart has nothing left to do
    assert len(agent.finals(command_id)) == 1


def test_killed_while_cups_prints_then_the_same_job_is_awaited_not_reprinted(
    control: Control, agent: Agent, cups_server: CupsServer
) -> None:
    pdf = text_pdf(*PDF)
    command_id, body = print_command(control, agent.config["call"], pdf)
    process = agent.start(body)
    deadline = time.monotonic() + 30
    while jobs_in(cups_server, agent.config["queue"]) == 0:  # the job is in CUPS, printing
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    process.kill()
    process.communicate(timeout=10)
    agent.forward()
    assert [a.status.value for a in agent.answers()] == ["accepted"]

    assert agent.run() == 0
    [final] = agent.finals(command_id)
    assert final.status.value == "done"
    assert jobs_in(cups_server, agent.config["queue"]) == 1
    assert page_texts(agent.output.read_bytes()) == list(PDF)  # type: ignore[attr-defined]


def test_killed_before_the_document_was_kept_then_reported_failed_not_dropped(
    control: Control, agent: Agent, cups_server: CupsServer
) -> None:
    command_id, body = print_command(control, agent.config["call"], text_pdf(*PDF))
    assert agent.run(body, kill_at="received") == -signal.SIGKILL
    assert agent.run() == 0
    [final] = agent.finals(command_id)
    assert (final.status.value, final.reason) == ("failed", INTERRUPTED)
    assert jobs_in(cups_server, agent.config["queue"]) == 0
    assert transfer(control, command_id).status == "failed"


def scan_command(control: Control, call: str, pages: int) -> tuple[str, str]:
    asked = control.service.request_scan(COUNSELLOR, call, pages)
    return asked["command"], control.transport.sent[-1][1]


def documents(control: Control) -> int:
    with control.db.sessions() as session:
        return session.query(Document).count()


def test_killed_after_scanning_then_uploaded_once(control: Control, agent: Agent) -> None:
    command_id, body = scan_command(control, agent.config["call"], 2)
    assert agent.run(body, kill_at="scanned") == -signal.SIGKILL
    assert documents(control) == 0
    assert agent.run() == 0
    [final] = agent.finals(command_id)
    assert final.status.value == "done" and final.details["pages"] == 2
    row = transfer(control, command_id)
    assert row.status == "done" and row.sha256 == final.details["document"]
    assert documents(control) == 1


@pytest.mark.parametrize("kill_at", ["received", "accepted"])
def test_killed_before_the_scan_was_kept_then_failed_and_nothing_uploaded(
    control: Control, agent: Agent, kill_at: str
) -> None:
    command_id, body = scan_command(control, agent.config["call"], 2)
    assert agent.run(body, kill_at=kill_at) == -signal.SIGKILL
    assert agent.run() == 0
    [final] = agent.finals(command_id)
    assert (final.status.value, final.reason) == ("failed", SCAN_INTERRUPTED)
    row = transfer(control, command_id)
    assert (row.status, row.sha256) == ("failed", None)
    assert documents(control) == 0


def test_killed_after_the_upload_before_the_answer_then_done_once(
    control: Control, agent: Agent
) -> None:
    command_id, body = scan_command(control, agent.config["call"], 1)
    assert agent.run(body, kill_at="final") == -signal.SIGKILL
    assert agent.finals(command_id) == []
    assert documents(control) == 1
    assert agent.run() == 0
    [final] = agent.finals(command_id)
    assert final.status.value == "done"
    assert transfer(control, command_id).status == "done"
    assert documents(control) == 1
