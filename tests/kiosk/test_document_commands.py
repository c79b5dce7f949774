"""Counsellor -> kiosk -> device, and kiosk -> control plane, with real cupsd and SANE.

The counsellor acts over the control plane's HTTP API; the encoded command body is decoded
by the kiosk side as its SIP endpoint would hand it over; the kiosk prints on a private
cupsd whose file: device keeps the PDF, scans from SANE's test scanner and uploads to the
control plane with Digest authentication.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pypdf
import pytest
import requests
from requests.auth import HTTPDigestAuth

from pvp import health
from pvp.kiosk.documents import (
    NOT_IN_CALL,
    DocumentCommands,
    screen_pages_blueprint,
)
from pvp.kiosk.heartbeat import printer_probe
from pvp.kiosk.journal import Journal
from pvp.kiosk.scanner import Scanner
from pvp.kiosk.screen import View
from pvp.kiosk.screen.app import create_screen_app
from pvp.model import DocumentTransfer
from pvp.wire.messages import decode_command
from testkit.devices import SAMPLE_TEXTS, CupsServer, FileQueue, page_texts
from testkit.documents import COUNSELLOR, KIOSK, Control, start_call
from testkit.kiosk_documents import Kiosk, make_kiosk


def counsellor(control: Control) -> HTTPDigestAuth:
    return HTTPDigestAuth(COUNSELLOR, control.secrets[COUNSELLOR])


def send(control: Control, call: str, pdf: bytes, action: str, title: str = "Formulaire") -> dict:  # type: ignore[type-arg]
    got = requests.post(
        f"{control.url}/api/v1/calls/{call}/documents",
        params={"action": action, "title": title},
        data=pdf,
        headers={"Content-Type": "application/pdf"},
        auth=counsellor(control),
        timeout=10,
    )
    assert got.status_code == 202, got.text
    return got.json()  # type: ignore[no-any-return]


def ask_scan(control: Control, call: str, pages: int) -> dict:  # type: ignore[type-arg]
    got = requests.post(
        f"{control.url}/api/v1/calls/{call}/scans",
        json={"pages": pages},
        auth=counsellor(control),
        timeout=10,
    )
    assert got.status_code == 202, got.text
    return got.json()  # type: ignore[no-any-return]


def row(control: Control, command_id: str) -> DocumentTransfer:
    with control.db.sessions() as session:
        found = session.query(DocumentTransfer).filter_by(command_id=command_id).one()
        session.expunge(found)
        return found


def jobs_in(cups_server: CupsServer, queue: str) -> int:
    """Jobs ever made on ``queue`` (each test has its own queue), finished ones included."""
    jobs = cups_server.connection().getJobs(
        which_jobs="all", requested_attributes=["job-id", "job-printer-uri"]
    )
    return sum(1 for a in jobs.values() if a["job-printer-uri"].endswith("/printers/" + queue))


@pytest.fixture
def kiosk(
    control: Control, tmp_path: Path, pdf_queue: FileQueue, sane_device: str
) -> Iterator[Kiosk]:
    k = make_kiosk(control, tmp_path, pdf_queue.name, pdf_queue.server, Scanner(sane_device))
    k.call[0] = start_call(control.db)
    yield k
    k.close()


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "by-reference"])
def test_print_from_the_counsellor_to_the_kiosk_printer_page_by_page(
    control: Control, kiosk: Kiosk, pdf_queue: FileQueue, three_page_pdf: bytes, inline: bool
) -> None:
    if not inline:
        control.settings.document_inline_max_bytes = 1024
    sent = send(control, kiosk.call[0] or "", three_page_pdf, "print")
    assert kiosk.commands.wait_idle()

    command_id = sent["command"]
    assert kiosk.statuses(command_id) == ["accepted", "done"]
    final = kiosk.final(command_id)
    assert final.details["pages"] == 3 and isinstance(final.details["job"], int)
    assert ("data" in decode_command(control.transport.sent[0][1]).args["document"]) is inline
    printed = pdf_queue.output.read_bytes()
    assert printed == three_page_pdf
    assert page_texts(printed) == list(SAMPLE_TEXTS)
    stored = row(control, command_id)
    assert (stored.status, stored.kind, stored.details["pages"]) == ("done", "printed", 3)
    assert View.PRINTING in kiosk.screen.views
    assert kiosk.screen.current().view is View.IN_CALL  # back to the counsellor
    assert not any(kiosk.commands.journal.spool.iterdir())


def test_a_repeated_command_never_prints_twice(
    control: Control,
    kiosk: Kiosk,
    cups_server: CupsServer,
    three_page_pdf: bytes,
    tmp_path: Path,
    pdf_queue: FileQueue,
) -> None:
    sent = send(control, kiosk.call[0] or "", three_page_pdf, "print")
    assert kiosk.commands.wait_idle()
    command = decode_command(control.transport.sent[0][1])
    # The same MESSAGE again (a SIP retransmission): answered from the journal.
    kiosk.commands.handle(command, kiosk.commands.answers)
    assert kiosk.commands.wait_idle()
    assert kiosk.statuses(sent["command"]) == ["accepted", "done", "done"]
    assert jobs_in(cups_server, pdf_queue.name) == 1
    # Even a kiosk that lost its journal finds the job in CUPS's history.
    amnesic = DocumentCommands(
        journal=Journal(tmp_path / "other-journal"),
        printer=kiosk.commands.printer,
        scanner=kiosk.commands.scanner,
        screen=kiosk.screen,
        uplink=kiosk.commands.uplink,
        current_call=lambda: kiosk.call[0],
        pages_dir=tmp_path / "other-pages",
        answers=kiosk.commands.answers,
        place_timeout_s=0,
    )
    amnesic.start()
    amnesic.handle(command, amnesic.answers)
    assert amnesic.wait_idle()
    amnesic.stop()
    amnesic.journal.close()
    assert jobs_in(cups_server, pdf_queue.name) == 1
    assert kiosk.statuses(sent["command"])[-1] == "done"


def test_an_empty_tray_is_answered_failed_and_shows_in_health(
    control: Control,
    tmp_path: Path,
    cups_server: CupsServer,
    empty_tray_queue: str,
    sane_device: str,
    three_page_pdf: bytes,
) -> None:
    k = make_kiosk(
        control,
        tmp_path,
        empty_tray_queue,
        cups_server.server,
        Scanner(sane_device),
        print_timeout_s=2.0,
    )
    k.call[0] = start_call(control.db)
    # The first print finds the tray empty: CUPS stops the queue, the job waits, times out.
    first = send(control, k.call[0], three_page_pdf, "print")
    assert k.commands.wait_idle()
    assert k.final(first["command"]).reason == "impression non terminée : plus de papier"
    stored = row(control, first["command"])
    assert (stored.status, stored.reason) == ("failed", "impression non terminée : plus de papier")
    # The next one is refused at once: the printer is known to be out of paper.
    second = send(control, k.call[0], three_page_pdf, "print")
    assert k.commands.wait_idle()
    assert k.statuses(second["command"]) == ["failed"]
    assert k.final(second["command"]).reason == "plus de papier"
    # The heartbeat the agent sends (its printer probe) carries it to supervision.
    printer = printer_probe(empty_tray_queue, cups_server.server)()
    beat = health.Heartbeat(version="test", sip_registered=True, ua_alive=True, printer=printer)
    assert beat.printer is not None and beat.printer.state == "stopped"
    assert "media_empty" in beat.printer.reasons
    assert beat.printer.message == "plus de papier"
    got = requests.post(
        f"{control.url}/api/v1/kiosks/{KIOSK}/heartbeat",
        json=beat.model_dump(mode="json"),
        auth=HTTPDigestAuth(KIOSK, control.secrets[KIOSK]),
        timeout=5,
    )
    assert got.status_code == 200
    k.close()


def test_a_paused_printer_is_answered_failed_and_no_job_is_left(
    control: Control,
    tmp_path: Path,
    cups_server: CupsServer,
    pdf_queue: FileQueue,
    sane_device: str,
    three_page_pdf: bytes,
) -> None:
    cups_server.connection().disablePrinter(pdf_queue.name)
    k = make_kiosk(
        control,
        tmp_path,
        pdf_queue.name,
        pdf_queue.server,
        Scanner(sane_device),
        print_timeout_s=1.0,
    )
    k.call[0] = start_call(control.db)
    sent = send(control, k.call[0], three_page_pdf, "print")
    assert k.commands.wait_idle()
    assert k.statuses(sent["command"]) == ["failed"]
    assert k.final(sent["command"]).reason == "imprimante en pause"
    assert jobs_in(cups_server, pdf_queue.name) == 0  # nothing left to come out later
    assert not pdf_queue.output.exists()
    k.close()


def test_a_command_for_another_call_is_refused_and_nothing_printed(
    control: Control, kiosk: Kiosk, pdf_queue: FileQueue, three_page_pdf: bytes
) -> None:
    sent = send(control, kiosk.call[0] or "", three_page_pdf, "print")
    kiosk.call[0] = "another-call"  # as if the MESSAGE arrived after the call changed
    command = decode_command(control.transport.sent[0][1])
    kiosk.answers.clear()
    fresh = type(command)(command.id + "-late", command.name, command.args, command.call)
    kiosk.commands.handle(fresh, kiosk.commands.answers)
    assert kiosk.commands.wait_idle()
    assert kiosk.final(fresh.id).reason == NOT_IN_CALL
    assert sent  # the first one printed normally
    assert kiosk.statuses(fresh.id) == ["failed"]


def test_display_pages_through_the_document_and_it_leaves_with_the_call(
    control: Control, kiosk: Kiosk, three_page_pdf: bytes
) -> None:
    app = create_screen_app(kiosk.screen, {"id": KIOSK, "buttons": []})
    app.register_blueprint(screen_pages_blueprint(kiosk.commands))
    client = app.test_client()
    call = kiosk.call[0] or ""

    sent = send(control, call, three_page_pdf, "display", title="Vos droits")
    assert kiosk.commands.wait_idle()
    assert kiosk.final(sent["command"]).details == {"pages": 3, "page": 1}
    snapshot = kiosk.screen.current()
    assert snapshot.view is View.DOCUMENT
    assert (snapshot.data["title"], snapshot.data["page"], snapshot.data["pages"]) == (
        "Vos droits",
        1,
        3,
    )
    page_url = snapshot.data["page_url"]
    with client.get(page_url) as image:
        assert image.status_code == 200 and image.mimetype == "image/png"
        assert image.data.startswith(b"\x89PNG")
    assert "Page 1 sur 3" in client.get("/view").get_data(as_text=True)

    command_id = control.service.turn_page(COUNSELLOR, call, 2)
    assert kiosk.commands.wait_idle()
    assert kiosk.final(command_id).status.value == "done"
    assert kiosk.screen.current().data["page"] == 2
    # The landscape page 2 is rendered landscape.
    from PIL import Image

    with client.get(kiosk.screen.current().data["page_url"]) as image:
        with Image.open(io.BytesIO(image.data)) as landscape:
            assert landscape.width > landscape.height
    beyond = control.service.turn_page(COUNSELLOR, call, 4)
    assert kiosk.commands.wait_idle()
    assert kiosk.final(beyond).reason == "page 4 inexistante (le document a 3 pages)"

    kiosk.commands.call_ended()
    assert kiosk.screen.current().view is View.IDLE
    with client.get(page_url) as gone:
        assert gone.status_code == 404
    assert not any((kiosk.commands.pages_dir).iterdir())


def test_scan_from_the_kiosk_reaches_the_counsellor_as_one_pdf(
    control: Control, kiosk: Kiosk
) -> None:
    asked = ask_scan(control, kiosk.call[0] or "", 2)
    assert kiosk.commands.wait_idle()
    command_id = asked["command"]
    assert kiosk.statuses(command_id) == ["accepted", "done"]
    final = kiosk.final(command_id)
    assert final.details["pages"] == 2
    assert kiosk.screen.views[-2:] == [View.SCAN, View.IN_CALL]

    stored = row(control, command_id)
    assert stored.status == "done" and stored.sha256 == final.details["document"]
    assert (stored.sender, stored.recipient) == (KIOSK, COUNSELLOR)
    got = requests.get(
        f"{control.url}/api/v1/transfers/{stored.id}/pdf", auth=counsellor(control), timeout=5
    )
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == stored.sha256
    reader = pypdf.PdfReader(io.BytesIO(got.content))
    assert len(reader.pages) == 2
    assert b"/DCTDecode" not in got.content  # lossless


@pytest.mark.parametrize(
    ("device", "options", "reason"),
    [
        ("test:0", {"read-return-value": "SANE_STATUS_JAMMED"}, "bourrage papier dans le scanner"),
        ("test:0", {"read-return-value": "SANE_STATUS_NO_DOCS"}, "aucun document dans le chargeur"),
        ("test:9", {}, "scanner absent"),
    ],
)
def test_scanner_failures_are_clear_and_nothing_is_uploaded(
    control: Control, kiosk: Kiosk, device: str, options: dict[str, str], reason: str
) -> None:
    kiosk.commands.scanner = Scanner(device, options=options)
    asked = ask_scan(control, kiosk.call[0] or "", 2)
    assert kiosk.commands.wait_idle()
    final = kiosk.final(asked["command"])
    assert (final.status.value, final.reason) == ("failed", reason)
    stored = row(control, asked["command"])
    assert (stored.status, stored.reason, stored.sha256) == ("failed", reason, None)
    assert not any(control.settings.documents_dir().rglob("*.pdf"))
    assert kiosk.commands.last_problem == reason
