"""Commands with documents cross a real FreeSWITCH as SIP MESSAGE (`chat`), over TLS and TCP.

The receiving end registers as the kiosk with Digest authentication, like the agent's
messaging endpoint, and answers 200. Inline documents arrive inside the MESSAGE body;
larger ones as an RFC 4483 reference that the kiosk then fetches, once, from the control
plane with its own credentials. The size sweep is how the inline threshold was chosen
(docs/documents.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pvp.common.pdf import DocumentError
from pvp.config import Settings
from pvp.documents import switch
from pvp.documents.chat import ChatTransport
from pvp.documents.service import DocumentService, Refused
from pvp.documents.switch import attach
from pvp.freeswitch.esl import ESLClient
from pvp.kiosk.documents import DocumentCommands
from pvp.kiosk.journal import Journal
from pvp.kiosk.printer import Printer
from pvp.kiosk.scanner import Scanner
from pvp.kiosk.screen import Screen, View
from pvp.kiosk.uplink import ControlPlaneClient
from pvp.wire import transfer
from pvp.wire.messages import (
    ANSWER_TYPE,
    COMMAND_TYPE,
    MAX_BODY,
    SEAL_OVERHEAD,
    Sealer,
    decode_command,
    encode_answer,
    unseal,
)
from testkit.documents import COUNSELLOR, KIOSK, start_call, text_pdf
from testkit.esl import Esl
from testkit.live_switch import Switch, started
from testkit.sip_inbox import SipInbox

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def own_switch(freeswitch_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Switch]:
    sw = started(freeswitch_bin, tmp_path_factory.mktemp("own-switch"), None)
    yield sw
    sw.stop()


@pytest.fixture
def fresh(own_switch: Switch) -> Iterator[Switch]:
    """This module's own switch: FreeSWITCH's chat reaches only a user's latest contact, so a
    kiosk contact left by another module's test must not take this module's messages."""
    yield own_switch
    own_switch.reset()


@pytest.fixture(params=["tls", "tcp"])
def inbox(request: pytest.FixtureRequest, fresh: Switch) -> Iterator[SipInbox]:
    s = fresh.settings
    port = s.sip_tls_port if request.param == "tls" else s.sip_port
    for attempt in (1, 2):
        box = SipInbox(
            KIOSK, fresh.passwords[KIOSK], s.sip_domain, s.sip_host, port, request.param, fresh.ca
        )
        try:
            box.register()
            break
        except queue.Empty:
            # Seen under a loaded full run: a fresh TLS connection left unanswered. A kiosk's
            # endpoint reconnects and registers again; so does this stand-in, once.
            box.close()
            if attempt == 2:
                raise
    yield box
    box.close()


@pytest.fixture
def chat(fresh: Switch) -> Iterator[ChatTransport]:
    """What the control plane sends commands with: FreeSWITCH's chat API over ESL."""
    s = fresh.settings
    esl = Esl("127.0.0.1", s.esl_port, s.secret("esl_password"), timeout=60)
    yield ChatTransport(esl.api, s.sip_domain, Sealer(s.secret("kiosk_command_key")))
    esl.close()


def body_of(size: int) -> str:
    """A command-shaped JSON body of exactly ``size`` bytes."""
    head = '{"v":1,"type":"command","id":"size-test","name":"text","args":{"text":"'
    tail = '"}}'
    return head + "x" * (size - len(head) - len(tail)) + tail


# The inline threshold, and the codec's own 2 MiB cap (8x above it) less the room the seal
# takes: both must cross.
# PVP_MESSAGE_SIZES=… sweeps other sizes (how the figures in docs/documents.md were made).
SIZES = [int(v) for v in os.environ.get("PVP_MESSAGE_SIZES", "").split(",") if v] or [
    Settings().document_inline_max_bytes,
    MAX_BODY - SEAL_OVERHEAD,
]


@pytest.mark.parametrize("size", SIZES)
def test_message_bodies_cross_the_switch_intact(
    chat: ChatTransport, inbox: SipInbox, size: int
) -> None:
    body = body_of(size)
    started = time.monotonic()
    chat.send(KIOSK, body)
    message = inbox.messages.get(timeout=30)
    elapsed = time.monotonic() - started
    assert message.header("content-type") == COMMAND_TYPE
    # What left is the body plus its seal (pvp/wire/messages.py), byte for byte.
    sealed = unseal(message.body, chat.sealer.key(KIOSK), time.time())
    assert {k: v for k, v in sealed.items() if k not in ("ts", "mac")} == json.loads(body)
    print(f"\n{inbox.transport} {size} bytes intact in {elapsed * 1000:.0f} ms")


def service(sw: Switch, chat: ChatTransport) -> DocumentService:
    documents: DocumentService = sw.control_plane.app.extensions["pvp.documents"]
    documents.transport = chat
    return documents


def test_an_inline_document_crosses_the_switch(
    fresh: Switch, inbox: SipInbox, chat: ChatTransport
) -> None:
    call = start_call(fresh.db, call_id=f"live-{time.monotonic_ns()}")
    pdf = text_pdf("Attestation", "Annexe")
    sent = service(fresh, chat).send_document(COUNSELLOR, call, "display", pdf, "Attestation")
    command = decode_command(inbox.messages.get(timeout=30).body)
    assert (command.id, command.call, command.name) == (sent["command"], call, "display")
    assert "data" in command.args["document"]
    kiosk = ControlPlaneClient(fresh.settings.base_url(), KIOSK, fresh.passwords[KIOSK])
    assert transfer.obtain(command.args["document"], kiosk.fetch, datetime.now(UTC), 10**7) == pdf


def test_a_document_by_reference_crosses_the_switch_and_is_fetched_once(
    fresh: Switch, inbox: SipInbox, chat: ChatTransport
) -> None:
    documents = service(fresh, chat)
    documents.settings.document_inline_max_bytes = 1024
    try:
        call = start_call(fresh.db, call_id=f"live-{time.monotonic_ns()}")
        pdf = text_pdf(*(f"Contrat page {n}" for n in range(1, 6)))
        documents.send_document(COUNSELLOR, call, "print", pdf, "Contrat")
    finally:
        documents.settings.document_inline_max_bytes = fresh.settings.document_inline_max_bytes
    message = inbox.messages.get(timeout=30)
    command = decode_command(message.body)
    reference = command.args["document"]
    assert reference["access_type"] == "URL" and "data" not in reference
    assert json.loads(message.body)["args"]["document"]["sha256"] == hashlib.sha256(pdf).hexdigest()
    kiosk = ControlPlaneClient(fresh.settings.base_url(), KIOSK, fresh.passwords[KIOSK])
    assert transfer.obtain(reference, kiosk.fetch, datetime.now(UTC), 10**7) == pdf
    with pytest.raises(DocumentError, match="déjà utilisé"):
        transfer.obtain(reference, kiosk.fetch, datetime.now(UTC), 10**7)


def wired_control_plane(sw: Switch) -> tuple[DocumentService, ESLClient]:
    """The document service with its own Event Socket client, as ``pvp serve`` wires them
    (:func:`pvp.documents.switch.attach`); the caller stops the client."""
    s = sw.settings
    documents: DocumentService = sw.control_plane.app.extensions["pvp.documents"]
    esl = ESLClient(s.esl_host, s.esl_port, s.secret("esl_password"), events=switch.EVENTS)
    attach(esl, documents)
    esl.start()
    assert esl.wait_connected(10)
    return documents, esl


def test_a_display_command_and_its_answers_make_the_round_trip(
    fresh: Switch, inbox: SipInbox, tmp_path: Path
) -> None:
    """Counsellor -> switch -> kiosk handlers -> screen; answer kiosk -> switch -> ESL -> row.

    The control plane side is wired as ``pvp serve`` wires it (:func:`wired_control_plane`).
    """
    s = fresh.settings
    documents, esl = wired_control_plane(fresh)
    call = start_call(fresh.db, call_id=f"live-{time.monotonic_ns()}")
    screen = Screen()
    kiosk = DocumentCommands(
        journal=Journal(tmp_path / "journal"),
        printer=Printer("absent", "127.0.0.1:9"),  # display needs neither device
        scanner=Scanner("absent"),
        screen=screen,
        uplink=ControlPlaneClient(s.base_url(), KIOSK, fresh.passwords[KIOSK]),
        current_call=lambda: call,
        pages_dir=tmp_path / "pages",
        answers=lambda a: _raise_unless_2xx(
            inbox.send_message("pvp", encode_answer(a), ANSWER_TYPE)
        ),
    )
    kiosk.start()
    try:
        sent = documents.send_document(
            COUNSELLOR, call, "display", text_pdf("Vos droits"), "Droits"
        )
        command = decode_command(inbox.messages.get(timeout=30).body)
        kiosk.handle(command, kiosk.answers)
        assert kiosk.wait_idle()
        assert screen.current().view is View.DOCUMENT
        deadline = time.monotonic() + 10
        row = documents.call_transfers(COUNSELLOR, call)[0]
        while row["status"] != "done" and time.monotonic() < deadline:
            time.sleep(0.05)
            row = documents.call_transfers(COUNSELLOR, call)[0]
        assert (row["command"], row["status"]) == (sent["command"], "done")
        assert row["details"]["pages"] == 1
    finally:
        kiosk.stop()
        kiosk.journal.close()
        esl.stop()


def _raise_unless_2xx(status: int) -> None:
    if not 200 <= status < 300:
        raise RuntimeError(f"answer MESSAGE refused: {status}")


def test_a_command_to_an_unregistered_kiosk_fails_its_transfer(
    fresh: Switch, chat: ChatTransport
) -> None:
    documents = service(fresh, chat)
    call = start_call(fresh.db, kiosk="kiosk-cunlhat-1", call_id=f"live-{time.monotonic_ns()}")
    with pytest.raises(Refused, match="borne injoignable") as refused:
        documents.send_document(COUNSELLOR, call, "print", text_pdf("Formulaire"))
    assert refused.value.status == 502
    [row] = documents.call_transfers(COUNSELLOR, call)
    assert row["status"] == "failed" and "Not Sent" in row["reason"]


def test_a_signature_crosses_the_switch_both_ways_and_comes_back_sealed(
    fresh: Switch, inbox: SipInbox, tmp_path: Path
) -> None:
    """The ``sign`` command to the kiosk through ``chat``; the citizen's drawing back inside
    the answer MESSAGE, through the switch and the Event Socket, into the sealed PDF."""
    import io

    from PIL import Image, ImageDraw

    from pvp.documents.signatures import request_signature
    from pvp.documents.signing import create_signing_key
    from pvp.kiosk.signing import SigningPad
    from testkit.signing import validate

    s = fresh.settings
    if not (s.resolved_signing_dir() / "signing-cert.pem").exists():
        create_signing_key(s.resolved_signing_dir(), "PVP live", days=1)
    documents, esl = wired_control_plane(fresh)
    call = start_call(fresh.db, call_id=f"live-{time.monotonic_ns()}")
    kiosk = ControlPlaneClient(s.base_url(), KIOSK, fresh.passwords[KIOSK])
    pad = SigningPad(
        screen=Screen(),
        current_call=lambda: call,
        obtain=lambda c: transfer.obtain(c.args["document"], kiosk.fetch, datetime.now(UTC), 10**7),
        pages_dir=tmp_path / "pages",
    )
    field = {"page": 1, "x": 300, "y": 100, "width": 220, "height": 70}
    try:
        sent = request_signature(documents, COUNSELLOR, call, text_pdf("Contrat"), [field])
        command = decode_command(inbox.messages.get(timeout=30).body)
        assert command.name == "sign" and command.args["fields"] == [field]
        pad.handle(
            command,
            lambda a: _raise_unless_2xx(inbox.send_message("pvp", encode_answer(a), ANSWER_TYPE)),
        )
        drawing = Image.new("RGBA", (640, 200), (0, 0, 0, 0))
        ImageDraw.Draw(drawing).line([(20, 150), (300, 30), (620, 170)], fill="black", width=8)
        png = io.BytesIO()
        drawing.save(png, "PNG")
        assert pad.submit(command.id, png.getvalue()) is None
        deadline = time.monotonic() + 15
        row = documents.call_transfers(COUNSELLOR, call)[0]
        while row["status"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.05)
            row = documents.call_transfers(COUNSELLOR, call)[0]
        assert (row["command"], row["status"]) == (sent["command"], "done"), row
        sealed = documents.transfer_pdf(COUNSELLOR, row["id"])
        assert validate(sealed, s.resolved_signing_dir() / "signing-cert.pem").bottom_line
    finally:
        esl.stop()
