"""Fax bookkeeping without the switch: refusals before any call, received faxes filed.

The fax itself crossing FreeSWITCH is tests/live/test_fax.py; here, what the control plane
does around it, with the real store, database and command channel.
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import pytest

from pvp.common.pdf import pdf_to_fax_tiff
from pvp.documents.fax import FaxService, originate_command, parse_result
from pvp.documents.service import Refused
from pvp.model import Document, DocumentTransfer
from pvp.wire.messages import Answer, Status
from testkit.documents import COUNSELLOR, KIOSK, Control, text_pdf

OK_EVENT = {
    "Event-Subclass": "spandsp::rxfaxresult",
    "fax-success": "1",
    "fax-result-code": "0",
    "fax-result-text": "OK",
    "fax-document-transferred-pages": "2",
    "fax-document-total-pages": "2",
    "fax-t38-status": "negotiated",
    "Caller-Caller-ID-Number": "0471000000",
}


class NoSwitch:
    """A switch that must not be reached: each refusal happens before any call."""

    def api(self, command: str) -> str:
        raise AssertionError(f"the switch was called: {command}")

    def bgapi(self, command: str) -> Future[str]:
        raise AssertionError(f"the switch was called: {command}")


@pytest.fixture
def fax(control: Control) -> FaxService:
    return FaxService(control.service, NoSwitch(), dial_prefix="sofia/gateway/fax/")


@pytest.mark.parametrize(
    ("number", "pdf", "reason"),
    [
        ("04 71 00 00 00", None, "numéro de fax invalide"),
        ("0471}&hangup", None, "numéro de fax invalide"),
        ("0471000000", b"not a pdf", "n'est pas un PDF"),
    ],
)
def test_bad_faxes_are_refused_before_anything(
    control: Control, fax: FaxService, number: str, pdf: bytes | None, reason: str
) -> None:
    with pytest.raises(Refused, match=reason):
        fax.send(COUNSELLOR, number, pdf or text_pdf("Fax"))
    with control.db.sessions() as session:
        assert session.query(DocumentTransfer).count() == 0
        assert session.query(Document).count() == 0


def test_a_fax_for_a_kiosk_is_stored_and_printed_there(
    control: Control, fax: FaxService, tmp_path: Path
) -> None:
    tiff = tmp_path / "in.tif"
    tiff.write_bytes(pdf_to_fax_tiff(text_pdf("Fax page 1", "Fax page 2")))
    row = fax.received(tiff, KIOSK, "0471000000", OK_EVENT)
    assert (row["kind"], row["status"], row["from"], row["to"]) == (
        "fax_in",
        "done",
        "0471000000",
        KIOSK,
    )
    assert row["details"]["pages"] == 2 and row["details"]["t38"] is True
    assert not tiff.exists()
    [command] = control.transport.commands()
    assert (command.name, command.call, command.sender) == ("print", None, "pvp")
    assert command.args["document"]["sha256"] == row["sha256"]
    # The kiosk's answer closes the print row like any other.
    control.service.record_answer(
        Answer(command.id, Status.DONE, details={"job": 7, "pages": 2}), KIOSK
    )
    with control.db.sessions() as session:
        printed = session.query(DocumentTransfer).filter_by(command_id=command.id).one()
        assert (printed.kind, printed.status, printed.sender) == ("printed", "done", "fax")


def test_a_fax_for_a_counsellor_waits_in_their_list(
    control: Control, fax: FaxService, tmp_path: Path
) -> None:
    tiff = tmp_path / "in.tif"
    tiff.write_bytes(pdf_to_fax_tiff(text_pdf("Pour vous")))
    row = fax.received(
        tiff, COUNSELLOR, "0471000000", {**OK_EVENT, "fax-document-transferred-pages": "1"}
    )
    assert row["status"] == "done" and control.transport.sent == []
    assert control.service.transfer_pdf(COUNSELLOR, row["id"]).startswith(b"%PDF")


def test_a_failed_reception_is_recorded_with_its_reason(
    control: Control, fax: FaxService, tmp_path: Path
) -> None:
    event = {
        **OK_EVENT,
        "fax-success": "0",
        "fax-result-text": "The call dropped prematurely",
        "fax-document-transferred-pages": "0",
    }
    row = fax.received(tmp_path / "missing.tif", KIOSK, "0471000000", event)
    assert (row["status"], row["reason"], row["sha256"]) == (
        "failed",
        "fax mal reçu : The call dropped prematurely",
        None,
    )
    assert control.transport.sent == []


def test_results_and_originate_strings() -> None:
    result = parse_result(
        {"variable_fax_success": "1", "variable_fax_document_transferred_pages": "3"}
    )
    assert result.success and result.pages == 3
    command = originate_command(
        "sofia/gateway/fax/0471000000", Path("/s/f.tif"), "u-1", "PVP", "PVP"
    )
    assert command.startswith("originate {origination_uuid='u-1',fax_enable_t38='true',")
    assert "fax_enable_t38_request='true'" in command
    assert command.endswith("}sofia/gateway/fax/0471000000 &txfax(/s/f.tif)")


class BusyLine:
    """A switch whose far fax never answers: originate fails as FreeSWITCH says it."""

    def api(self, command: str) -> str:
        raise AssertionError("originate goes through bgapi")

    def bgapi(self, command: str) -> Future[str]:
        future: Future[str] = Future()
        future.set_result("-ERR NO_ANSWER\n")
        return future


def test_the_console_faxes_over_http_and_the_result_lands_in_the_row(
    control: Control,
) -> None:
    import time

    import requests
    from requests.auth import HTTPDigestAuth

    url = f"{control.url}/api/v1/faxes"
    auth = HTTPDigestAuth(COUNSELLOR, control.secrets[COUNSELLOR])
    pdf = text_pdf("Fax")
    no_switch = requests.post(url, params={"to": "0471000000"}, data=pdf, auth=auth, timeout=10)
    assert no_switch.status_code == 503
    app_fax = FaxService(control.service, BusyLine(), dial_prefix="sofia/gateway/fax/")
    control.app.extensions["pvp.fax"] = app_fax
    bad = requests.post(url, params={"to": "jamais"}, data=pdf, auth=auth, timeout=10)
    assert bad.status_code == 400 and "numéro de fax invalide" in bad.json()["error"]
    got = requests.post(url, params={"to": "0471000000"}, data=pdf, auth=auth, timeout=10)
    assert got.status_code == 202, got.text
    assert (got.json()["kind"], got.json()["to"]) == ("fax_out", "0471000000")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with control.db.sessions() as session:
            row = session.query(DocumentTransfer).filter_by(command_id=got.json()["command"]).one()
            if row.status != "pending":
                break
        time.sleep(0.05)
    assert (row.status, row.reason) == ("failed", "appel du fax impossible : -ERR NO_ANSWER")
