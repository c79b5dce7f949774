"""The console's document actions on the counsellor's own current call, with the session."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask
from pypdf import PdfWriter
from test_panel_console import _call

from pvp.db import Database
from pvp.model import CallRecord, DocumentTransfer


def pdf(pages: int = 2) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class Sent:
    """The switch's place, one layer up: keeps each encoded command handed to it.

    The full path through FreeSWITCH to a kiosk is proven in tests/live/test_document_messages.
    """

    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []

    def send(self, kiosk_id: str, body: str) -> None:
        self.commands.append((kiosk_id, json.loads(body)))


@pytest.fixture
def sent(app: Flask) -> Sent:
    app.extensions["pvp.documents"].transport = recorder = Sent()
    return recorder


def transfers(pdb: Database) -> list[DocumentTransfer]:
    with pdb.sessions() as session:
        return list(session.query(DocumentTransfer).order_by(DocumentTransfer.id))


def send(c: Any, call: str, content: bytes, action: str = "display") -> Any:
    return c.post(
        f"/console/calls/{call}/documents",
        {"action": action, "title": "Attestation", "file": (io.BytesIO(content), "a.pdf")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def test_a_document_shown_on_the_current_call_appears_in_the_console(
    as_role: Any, pdb: Database, sent: Sent
) -> None:
    _call(pdb, "call-current", answered=True)
    c = as_role("conseillere")
    page = send(c, "call-current", pdf()).get_data(as_text=True)
    assert "Document affiché sur la borne." in page
    (row,) = transfers(pdb)
    assert (row.kind, row.call_id, row.kiosk_id, row.title) == (
        "shown",
        "call-current",
        "kiosk-vorey-1",
        "Attestation",
    )
    state = c.get("/console/state.json").get_json()
    assert [d["kind"] for d in state["documents"]] == ["shown"]
    ((kiosk, command),) = sent.commands
    assert kiosk == "kiosk-vorey-1"
    assert (command["name"], command["call"], command["from"]) == (
        "display",
        "call-current",
        "anpe-le-puy-c1",
    )
    page = c.post("/console/calls/call-current/scans", {"pages": "2"}, follow_redirects=True)
    assert "Numérisation demandée" in page.get_data(as_text=True)
    assert sent.commands[-1][1]["name"] == "scan" and sent.commands[-1][1]["args"]["pages"] == 2


def test_refusals_are_explained_and_store_nothing(as_role: Any, pdb: Database, sent: Sent) -> None:
    _call(pdb, "call-current", answered=True)
    c = as_role("conseillere")
    page = send(c, "call-current", b"%PDF-1.4 broken").get_data(as_text=True)
    assert "PDF" in page and "illisible" in page
    page = send(c, "call-nowhere", pdf()).get_data(as_text=True)
    assert "appel" in page
    page = send(c, "call-current", pdf(), action="shred").get_data(as_text=True)
    assert "« Action »" in page
    page = c.post(
        "/console/calls/call-current/scans", {"pages": "beaucoup"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "nombre entier" in page
    # The call is another counsellor's now: nothing may be sent to its kiosk.
    with pdb.session() as session:
        session.get(CallRecord, "call-current").counsellor_id = "anpe-le-puy-c2"
    page = send(c, "call-current", pdf()).get_data(as_text=True)
    assert "appel" in page
    assert transfers(pdb) == [] and sent.commands == []


def test_without_the_csrf_token_nothing_is_sent(as_role: Any, pdb: Database, sent: Sent) -> None:
    _call(pdb, "call-current", answered=True)
    c = as_role("conseillere")
    answer = c.post(
        "/console/calls/call-current/documents",
        {"action": "display", "file": (io.BytesIO(pdf()), "a.pdf")},
        csrf=False,
        content_type="multipart/form-data",
    )
    assert answer.status_code == 400
    assert transfers(pdb) == [] and sent.commands == []


def test_a_signature_asked_from_the_console_places_the_field_in_points_or_is_refused(
    as_role: Any, pdb: Database, sent: Sent, app: Flask
) -> None:
    from pvp.documents.signing import create_signing_key

    create_signing_key(app.extensions["pvp.documents"].settings.resolved_signing_dir(), "PVP")
    _call(pdb, "call-current", answered=True)
    c = as_role("conseillere")
    form = {"title": "Contrat", "page": "2", "left": "110", "bottom": "30"}
    form |= {"width": "70", "height": "25", "print": "1"}
    off_page = c.post(
        "/console/calls/call-current/signatures",
        {**form, "left": "190", "file": (io.BytesIO(pdf()), "a.pdf")},
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "le champ de signature sort de la page 2" in off_page
    assert transfers(pdb) == [] and sent.commands == []

    page = c.post(
        "/console/calls/call-current/signatures",
        {**form, "file": (io.BytesIO(pdf()), "a.pdf")},
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "envoyé à la borne pour signature" in page
    ((kiosk, command),) = sent.commands
    assert (kiosk, command["name"]) == ("kiosk-vorey-1", "sign")
    (field,) = command["args"]["fields"]
    assert field == {"page": 2, "x": 311.81, "y": 85.04, "width": 198.43, "height": 70.87}
    (row,) = transfers(pdb)
    assert (row.kind, row.status, row.details["print_copy"]) == ("signed", "pending", True)
    state = c.get("/console/state.json").get_json()
    assert [(d["kind"], d["status"]) for d in state["documents"]] == [("signed", "pending")]
