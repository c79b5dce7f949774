"""Fixtures for document tests: a real control plane over HTTP, calls, a command channel.

Imported by the conftests of ``tests/documents`` and ``tests/kiosk`` (the kiosk's document
tests need CUPS and SANE too) and by benchmarks/bench_documents.py. The command channel is
the real codec end to end: the control plane's encoded MESSAGE body is decoded by the kiosk
side exactly as the agent's SIP endpoint hands it over; only the SIP hop through FreeSWITCH
is left to ``tests/live``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pvp.common.serving import ThreadedServer
from pvp.config import Settings
from pvp.db import Database
from pvp.documents.fax import RX_EVENT
from pvp.documents.service import DocumentService, TransportError
from pvp.model import Appointment, CallRecord
from pvp.provisioning import rotate_secret
from pvp.web.app import create_app
from pvp.wire.messages import Answer, Command, decode_command

KIOSK = "kiosk-vorey-1"
OTHER_KIOSK = "kiosk-cunlhat-1"
COUNSELLOR = "anpe-le-puy-c1"
OTHER_COUNSELLOR = "anpe-le-puy-c2"
CITIZEN = "DE-2006-0042"


@dataclass
class LoopbackTransport:
    """Hands each encoded command to ``deliver`` (the kiosk side), or fails like a dead link."""

    deliver: Callable[[str, Command], None] | None = None
    sent: list[tuple[str, str]] = field(default_factory=list)
    down: bool = False

    def send(self, kiosk_id: str, body: str) -> None:
        if self.down:
            raise TransportError("Error! Message Not Sent")
        self.sent.append((kiosk_id, body))
        if self.deliver is not None:
            self.deliver(kiosk_id, decode_command(body))

    def commands(self) -> list[Command]:
        return [decode_command(body) for _kiosk, body in self.sent]


@dataclass
class Control:
    """The control plane: database, settings, document service, HTTP on 127.0.0.1."""

    db: Database
    settings: Settings
    service: DocumentService
    transport: LoopbackTransport
    url: str
    secrets: dict[str, str]
    app: Any = None  # the Flask application, for extensions set after start

    def answer(self, kiosk: str) -> Callable[[Answer], None]:
        """What the ESL side does with a kiosk's answer MESSAGE."""

        def record(answer: Answer) -> None:
            self.service.record_answer(answer, kiosk)

        return record


def start_call(
    db: Database,
    kiosk: str = KIOSK,
    counsellor: str = COUNSELLOR,
    citizen: str | None = CITIZEN,
    call_id: str = "call-0001",
) -> str:
    """A call record as the dispatcher writes it once the counsellor answered."""
    now = datetime.now(UTC)
    with db.session() as session:
        appointment_id = None
        if citizen is not None:
            appointment = Appointment(
                site_id=kiosk.split("-")[1],
                service_code="anpe",
                counsellor_id=counsellor,
                start=now - timedelta(minutes=5),
                minutes=30,
                citizen_ref=citizen,
                status="checked_in",
                created_at=now - timedelta(days=3),
            )
            session.add(appointment)
            session.flush()
            appointment_id = appointment.id
        session.add(
            CallRecord(
                id=call_id,
                kiosk_id=kiosk,
                site_id=kiosk.split("-")[1],
                service_code="anpe",
                counsellor_id=counsellor,
                appointment_id=appointment_id,
                mode="appointment" if citizen else "walk_in",
                decision="appointment" if citizen else "walk_in",
                pressed_at=now - timedelta(minutes=1),
                offered_at=now - timedelta(seconds=50),
                answered_at=now - timedelta(seconds=45),
                reason="",
            )
        )
    return call_id


def end_call(db: Database, call_id: str) -> None:
    with db.session() as session:
        record = session.get(CallRecord, call_id)
        assert record is not None
        record.ended_at = datetime.now(UTC)


@pytest.fixture
def control(db: Database, settings: Settings) -> Iterator[Control]:
    transport = LoopbackTransport()
    app = create_app(settings, db)
    service: DocumentService = app.extensions["pvp.documents"]
    service.transport = transport
    server = ThreadedServer(app, "127.0.0.1", 0, threads=4)
    settings.public_url = f"http://127.0.0.1:{server.port}"
    server.start()
    with db.session() as session:
        secrets = {
            user: rotate_secret(session, user, settings.sip_domain)
            for user in (KIOSK, OTHER_KIOSK, COUNSELLOR, OTHER_COUNSELLOR)
        }
    yield Control(db, settings, service, transport, settings.public_url, secrets, app)
    server.stop()


def text_pdf(*texts: str) -> bytes:
    """A PDF with one A4 page per text, the text large enough to be seen on a render."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for text in texts:
        pdf.setFont("Helvetica", 28)
        pdf.drawString(60, 700, text)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def fax_received(tiff: Path, recipient: str = COUNSELLOR) -> dict[str, str]:
    """The headers of mod_spandsp's event for a one-page fax received for ``recipient``
    (what ``sendevent CUSTOM`` fires as if a fax call had ended)."""
    return {
        "Event-Subclass": RX_EVENT,
        "fax_filename": str(tiff),
        "pvp_fax_to": recipient,
        "Caller-Caller-ID-Number": "0471000000",
        "fax-success": "1",
        "fax-document-transferred-pages": "1",
        "fax-document-total-pages": "1",
    }
