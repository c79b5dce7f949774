"""The counsellor's document actions over HTTP, and the kiosk's downloads and uploads.

Given / when / then: each bad input is answered with a clear French reason and leaves
no file, no document row and no command behind.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import requests
from requests.auth import HTTPDigestAuth

from pvp.common.pdf import DocumentError
from pvp.kiosk.uplink import ControlPlaneClient, UplinkError
from pvp.model import Document, DocumentLink, DocumentTransfer
from pvp.wire import transfer
from pvp.wire.messages import Answer, Status
from testkit.documents import (
    CITIZEN,
    COUNSELLOR,
    KIOSK,
    OTHER_COUNSELLOR,
    OTHER_KIOSK,
    Control,
    end_call,
    start_call,
    text_pdf,
)


def auth(control: Control, user: str) -> HTTPDigestAuth:
    return HTTPDigestAuth(user, control.secrets[user])


def post_pdf(control: Control, call: str, pdf: bytes, user: str = COUNSELLOR, **params: str):  # type: ignore[no-untyped-def]
    params.setdefault("action", "display")
    return requests.post(
        f"{control.url}/api/v1/calls/{call}/documents",
        params=params,
        data=pdf,
        headers={"Content-Type": "application/pdf"},
        auth=auth(control, user),
        timeout=10,
    )


def kiosk_client(control: Control, kiosk: str = KIOSK) -> ControlPlaneClient:
    return ControlPlaneClient(control.url, kiosk, control.secrets[kiosk])


def nothing_stored(control: Control) -> None:
    with control.db.sessions() as session:
        assert session.query(Document).count() == 0
        assert session.query(DocumentTransfer).count() == 0
        assert session.query(DocumentLink).count() == 0
    assert not any(control.settings.documents_dir().rglob("*.pdf"))
    assert control.transport.sent == []


def test_a_small_pdf_goes_inline_and_its_answer_is_recorded(control: Control) -> None:
    call = start_call(control.db)
    pdf = text_pdf("Attestation", "Annexe")
    got = post_pdf(control, call, pdf, title="Attestation")
    assert got.status_code == 202, got.text
    row = got.json()
    assert (row["kind"], row["status"], row["citizen"]) == ("shown", "pending", CITIZEN)
    assert (row["from"], row["to"], row["call"]) == (COUNSELLOR, KIOSK, call)
    [command] = control.transport.commands()
    assert (command.name, command.call, command.sender) == ("display", call, COUNSELLOR)
    document = command.args["document"]
    assert "data" in document and document["sha256"] == hashlib.sha256(pdf).hexdigest()
    got_pdf = transfer.obtain(document, kiosk_client(control).fetch, datetime.now(UTC), 10**7)
    assert got_pdf == pdf

    control.service.record_answer(Answer(command.id, Status.ACCEPTED), KIOSK)
    control.service.record_answer(Answer(command.id, Status.DONE, details={"pages": 2}), KIOSK)
    # A late retransmission changes nothing once final.
    control.service.record_answer(Answer(command.id, Status.FAILED, "trop tard"), KIOSK)
    # Nor does an answer from another kiosk.
    listed = requests.get(
        f"{control.url}/api/v1/calls/{call}/documents", auth=auth(control, COUNSELLOR), timeout=5
    ).json()
    assert [(t["status"], t["details"]["pages"]) for t in listed] == [("done", 2)]


def test_a_large_pdf_goes_by_single_use_link_for_that_kiosk_only(control: Control) -> None:
    control.settings.document_inline_max_bytes = 2048
    call = start_call(control.db)
    pdf = text_pdf(*(f"Page {n}" for n in range(1, 9)))
    assert post_pdf(control, call, pdf, action="print").status_code == 202
    [command] = control.transport.commands()
    document = command.args["document"]
    assert document["access_type"] == "URL" and "data" not in document
    assert document["url"].startswith(f"{control.url}/api/v1/documents/")
    assert len(control.transport.sent[0][1]) < 2048
    token = document["url"].rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 random bits, URL-safe base64
    with control.db.sessions() as session:
        [link] = session.query(DocumentLink).all()
        assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()

    # Another kiosk cannot use it (and does not consume it).
    with pytest.raises(DocumentError, match="autre borne"):
        kiosk_client(control, OTHER_KIOSK).fetch(document["url"], 10**7)
    # Without credentials: a Digest challenge.
    assert requests.get(document["url"], timeout=5).status_code == 401
    got = transfer.obtain(document, kiosk_client(control).fetch, datetime.now(UTC), 10**7)
    assert got == pdf
    with pytest.raises(DocumentError, match="déjà utilisé"):
        kiosk_client(control).fetch(document["url"], 10**7)


def test_an_expired_link_is_refused_by_both_sides(control: Control) -> None:
    control.settings.document_inline_max_bytes = 1024
    control.settings.document_link_seconds = 1
    call = start_call(control.db)
    assert post_pdf(control, call, text_pdf("Contrat", "Suite")).status_code == 202
    [command] = control.transport.commands()
    document = command.args["document"]
    later = datetime.now(UTC) + timedelta(seconds=2)
    with pytest.raises(DocumentError, match="expiré"):
        transfer.obtain(document, kiosk_client(control).fetch, later, 10**7)
    control.service.clock = lambda: later
    with pytest.raises(DocumentError, match="expiré"):
        kiosk_client(control).fetch(document["url"], 10**7)


def test_the_receiver_checks_the_announced_hash_and_size(control: Control) -> None:
    pdf = text_pdf("Original")
    forged = dict(transfer.inline_document(pdf, hashlib.sha256(b"other").hexdigest()))
    with pytest.raises(DocumentError, match="SHA-256"):
        transfer.obtain(forged, kiosk_client(control).fetch, datetime.now(UTC), 10**7)
    short = {**transfer.inline_document(pdf, hashlib.sha256(pdf).hexdigest()), "size": 3}
    with pytest.raises(DocumentError, match="taille"):
        transfer.obtain(short, kiosk_client(control).fetch, datetime.now(UTC), 10**7)
    far = transfer.reference_document(
        "0" * 64, 10, "https://evil.example/x", datetime.now(UTC) + timedelta(minutes=1)
    )
    with pytest.raises(DocumentError, match="non autorisé"):
        transfer.obtain(far, kiosk_client(control).fetch, datetime.now(UTC), 10**7)


@pytest.mark.parametrize(
    ("body", "params", "status", "reason"),
    [
        (b"Bonjour, ceci n'est pas un PDF", {}, 400, "n'est pas un PDF"),
        (b"%PDF-1.4\n%%broken\n1 0 obj <<", {}, 400, "PDF illisible"),
        (None, {"sha256": "ab" * 32}, 400, "SHA-256"),
        (None, {"action": "fax"}, 400, "action inconnue"),
        (b"", {}, 400, "aucun document"),
    ],
)
def test_bad_documents_are_refused_and_nothing_is_stored_or_sent(
    control: Control, body: bytes | None, params: dict[str, str], status: int, reason: str
) -> None:
    call = start_call(control.db)
    got = post_pdf(control, call, text_pdf("Formulaire") if body is None else body, **params)
    assert got.status_code == status
    assert reason in got.json()["error"]
    nothing_stored(control)


def test_a_document_over_the_size_limit_is_refused(control: Control) -> None:
    call = start_call(control.db)
    pdf = text_pdf("Formulaire")
    control.settings.document_max_bytes = len(pdf) - 1
    control.service.store.max_bytes = len(pdf) - 1
    got = post_pdf(control, call, pdf)
    assert got.status_code == 413 and "trop volumineux" in got.json()["error"]
    assert got.json()["code"] == "document_refused"  # the store's error, passed on
    nothing_stored(control)


def test_a_counsellor_not_in_the_call_is_refused(control: Control) -> None:
    call = start_call(control.db)
    got = post_pdf(control, call, text_pdf("Formulaire"), user=OTHER_COUNSELLOR)
    assert got.status_code == 403
    assert got.json() == {
        "error": "la borne n'est pas en communication avec ce conseiller",
        "code": "refused",
        "status": 403,
    }
    scan = requests.post(
        f"{control.url}/api/v1/calls/{call}/scans",
        json={"pages": 1},
        auth=auth(control, OTHER_COUNSELLOR),
        timeout=5,
    )
    assert scan.status_code == 403
    end_call(control.db, call)
    assert post_pdf(control, call, text_pdf("Formulaire")).status_code == 403
    assert post_pdf(control, "no-such-call", text_pdf("Formulaire")).status_code == 403
    nothing_stored(control)


def test_a_kiosk_is_not_a_counsellor_and_anonymous_is_challenged(control: Control) -> None:
    call = start_call(control.db)
    assert post_pdf(control, call, text_pdf("x"), user=KIOSK).status_code == 401
    anonymous = requests.post(
        f"{control.url}/api/v1/calls/{call}/documents", data=text_pdf("x"), timeout=5
    )
    assert anonymous.status_code == 401
    nothing_stored(control)


def test_an_unreachable_kiosk_fails_the_transfer(control: Control) -> None:
    call = start_call(control.db)
    control.transport.down = True
    got = post_pdf(control, call, text_pdf("Formulaire"))
    assert got.status_code == 502 and "borne injoignable" in got.json()["error"]
    with control.db.sessions() as session:
        [row] = session.query(DocumentTransfer).all()
        assert row.status == "failed" and "injoignable" in row.reason


def test_a_scan_upload_is_tied_to_its_command_and_idempotent(control: Control) -> None:
    call = start_call(control.db)
    asked = requests.post(
        f"{control.url}/api/v1/calls/{call}/scans",
        json={"pages": 2},
        auth=auth(control, COUNSELLOR),
        timeout=5,
    )
    assert asked.status_code == 202, asked.text
    [command] = control.transport.commands()
    assert (command.name, command.args) == ("scan", {"pages": 2})
    scanned = text_pdf("Avis d'imposition", "page 2")
    digest = hashlib.sha256(scanned).hexdigest()
    client = kiosk_client(control)

    with pytest.raises(UplinkError, match="aucune numérisation"):
        client.upload("s-unknown", scanned, digest)
    with pytest.raises(UplinkError, match="aucune numérisation"):
        kiosk_client(control, OTHER_KIOSK).upload(command.id, scanned, digest)
    with pytest.raises(UplinkError, match="n'est pas un PDF"):
        client.upload(command.id, b"JUNK" * 100, hashlib.sha256(b"JUNK" * 100).hexdigest())
    with pytest.raises(UplinkError, match="SHA-256"):
        client.upload(command.id, scanned, "0" * 64)
    assert not any(control.settings.documents_dir().rglob("*.pdf"))

    first = client.upload(command.id, scanned, digest)
    again = client.upload(command.id, scanned, digest)
    assert first["sha256"] == again["sha256"] == digest
    assert first["details"] == {"pages": 2, "size": len(scanned)}
    with pytest.raises(UplinkError, match="autre document"):
        other = text_pdf("autre")
        client.upload(command.id, other, hashlib.sha256(other).hexdigest())
    control.service.record_answer(
        Answer(command.id, Status.DONE, details={"pages": 2, "document": digest}), KIOSK
    )
    listed = requests.get(
        f"{control.url}/api/v1/calls/{call}/documents", auth=auth(control, COUNSELLOR), timeout=5
    ).json()
    assert [(t["kind"], t["status"], t["from"], t["to"]) for t in listed] == [
        ("scanned", "done", KIOSK, COUNSELLOR)
    ]
    pdf = requests.get(
        f"{control.url}/api/v1/transfers/{listed[0]['id']}/pdf",
        auth=auth(control, COUNSELLOR),
        timeout=5,
    )
    assert pdf.status_code == 200 and pdf.content == scanned
    assert (
        requests.get(
            f"{control.url}/api/v1/transfers/{listed[0]['id']}/pdf",
            auth=auth(control, OTHER_COUNSELLOR),
            timeout=5,
        ).status_code
        == 404
    )


def test_done_for_a_scan_never_uploaded_is_recorded_as_failed(control: Control) -> None:
    call = start_call(control.db)
    row = control.service.request_scan(COUNSELLOR, call, 1)
    result = control.service.record_answer(Answer(row["command"], Status.DONE), KIOSK)
    assert result is not None
    assert (result["status"], result["reason"]) == ("failed", "document non reçu")


def test_bad_scan_requests(control: Control) -> None:
    call = start_call(control.db)
    for body in ({"pages": 0}, {"pages": 21}, {"pages": "deux"}):
        got = requests.post(
            f"{control.url}/api/v1/calls/{call}/scans",
            json=body,
            auth=auth(control, COUNSELLOR),
            timeout=5,
        )
        assert got.status_code == 400, body
    nothing_stored(control)


def test_without_the_switch_commands_answer_503(control: Control) -> None:
    call = start_call(control.db)
    control.service.transport = None
    got = post_pdf(control, call, text_pdf("Formulaire"))
    assert got.status_code == 503 and "commutateur" in got.json()["error"]
    nothing_stored(control)


def test_retention_takes_old_links_with_the_files(control: Control) -> None:
    control.settings.document_inline_max_bytes = 1024
    call = start_call(control.db)
    assert post_pdf(control, call, text_pdf("Contrat", "Suite")).status_code == 202
    control.service.clock = lambda: datetime.now(UTC) + timedelta(days=31)
    report = control.service.purge()
    assert report.purged == 1
    with control.db.sessions() as session:
        assert session.query(DocumentLink).count() == 0
        [row] = session.query(DocumentTransfer).all()  # the audit row stays
        assert row.citizen_ref == CITIZEN
    assert not any(control.settings.documents_dir().rglob("*.pdf"))
