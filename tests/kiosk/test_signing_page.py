"""Signing at the kiosk, end to end without the switch: the counsellor's request over HTTP
(the real control plane and document store), the kiosk's sign view in Chromium, strokes
drawn with Playwright's mouse (pointer events), "Valider", and the sealed PDF checked with
pyHanko's validator and on a render; every refusal leaves no document behind."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.auth import HTTPDigestAuth

from pvp.common.signature import SignatureField
from pvp.documents.signing import create_signing_key
from pvp.kiosk.screen import Screen, View
from pvp.kiosk.screen.app import create_screen_app
from pvp.kiosk.signing import SigningPad, signing_blueprint
from pvp.kiosk.uplink import ControlPlaneClient
from pvp.model import AuditEntry, Document, DocumentTransfer
from pvp.wire import transfer
from pvp.wire.messages import Answer, Command, Status, decode_command
from testkit.documents import (  # noqa: F401 - control is a fixture
    COUNSELLOR,
    KIOSK,
    Control,
    control,
    end_call,
    start_call,
    text_pdf,
)
from testkit.signing import assert_stamped_in, validate

from .test_screen_layout import DOCS_IMG, FAKE_CALL, SMALLEST_TEXT

pytestmark = pytest.mark.browser

FIELD = SignatureField(page=2, x=320, y=110, width=220, height=70)
ONE_FIELD = (FIELD.json(),)
KIOSK_INFO = {"id": KIOSK, "commune": "Vorey", "buttons": [], "site_agent_phone": ""}


@dataclass
class Desk:
    control: Control
    call: str
    screen: Screen
    pad: SigningPad
    page: Any
    current: dict[str, str | None]
    pages_dir: Path

    def ask(self, pdf: bytes, fields: Any = ONE_FIELD, **data: str) -> requests.Response:
        form = {"title": "Demande d'allocation", **data}
        if fields is not None:
            form["fields"] = json.dumps(list(fields))
        return requests.post(
            f"{self.control.url}/api/v1/calls/{self.call}/signatures",
            files={"file": ("demande.pdf", pdf, "application/pdf")},
            data=form,
            auth=HTTPDigestAuth(COUNSELLOR, self.control.secrets[COUNSELLOR]),
            timeout=30,
        )

    def transfers(self) -> list[dict[str, Any]]:
        return requests.get(
            f"{self.control.url}/api/v1/calls/{self.call}/documents",
            auth=HTTPDigestAuth(COUNSELLOR, self.control.secrets[COUNSELLOR]),
            timeout=10,
        ).json()

    def wait_final(self) -> dict[str, Any]:
        """The counsellor's console view of the signature, once it is final."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows = [t for t in self.transfers() if t["kind"] == "signed"]
            if rows and rows[-1]["status"] in ("done", "failed"):
                return rows[-1]
            time.sleep(0.05)
        raise AssertionError(f"no final signature: {self.transfers()}")

    def draw(self, strokes: int = 3, touch: bool = False) -> None:
        """Strokes across the drawing area, with the mouse or a finger (touch events through
        the DevTools protocol, which Chromium turns into pointer events of type touch)."""
        box = self.page.locator("canvas.sign-pad").bounding_box()
        assert box is not None
        cdp = self.page.context.new_cdp_session(self.page) if touch else None

        def at(kind: str, x: float, y: float) -> None:
            if cdp is not None:
                points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
                cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})
            elif kind == "touchStart":
                self.page.mouse.move(x, y)
                self.page.mouse.down()
            elif kind == "touchMove":
                self.page.mouse.move(x, y)
            else:
                self.page.mouse.up()

        for n in range(strokes):
            y0 = box["y"] + box["height"] * (0.3 + 0.2 * n)
            x, y = box["x"] + box["width"] * 0.1, y0
            at("touchStart", x, y)
            for step in range(1, 21):
                x = box["x"] + box["width"] * (0.1 + 0.8 * step / 20)
                y = y0 + box["height"] * 0.15 * (1 if step % 4 < 2 else -1)
                at("touchMove", x, y)
            at("touchEnd", x, y)

    def signing(self) -> None:
        """Asked to sign a two-page PDF; the citizen has drawn, not validated yet."""
        assert self.ask(text_pdf("un", "deux")).status_code == 202
        self.page.wait_for_selector("body[data-view=sign] canvas.sign-pad")
        self.draw(2)

    def nothing_behind(self) -> None:
        with self.control.db.sessions() as session:
            assert session.query(Document).count() == 0
            for row in session.query(DocumentTransfer):
                assert row.sha256 is None and row.status == "failed"
        assert not any(self.control.settings.documents_dir().rglob("*.pdf"))
        assert not any(self.pages_dir.rglob("*.png"))
        assert not [c for c in self.control.transport.commands() if c.name == "print"]


@pytest.fixture
def desk(
    control: Control,  # noqa: F811 - the fixture imported above
    chromium: Any,
    serve: Callable[[Any], str],
    tmp_path: Path,
) -> Any:
    create_signing_key(control.settings.resolved_signing_dir(), "PVP Auvergne documents")
    call = start_call(control.db)
    current: dict[str, str | None] = {"call": call}
    uplink = ControlPlaneClient(control.url, KIOSK, control.secrets[KIOSK])

    def obtain(command: Command) -> bytes:
        now = datetime.now(UTC)
        return transfer.obtain(command.args.get("document"), uplink.fetch, now, 32 << 20)

    screen = Screen()
    screen.show(View.IN_CALL, service_label="ANPE")
    pages_dir = tmp_path / "pages"
    pad = SigningPad(
        screen=screen, current_call=lambda: current["call"], obtain=obtain, pages_dir=pages_dir
    )

    def deliver(kiosk: str, command: Command) -> None:
        if command.name == "sign":
            pad.handle(command, control.answer(kiosk))

    control.transport.deliver = deliver
    app = create_screen_app(screen, KIOSK_INFO)
    app.register_blueprint(signing_blueprint(pad))
    url = serve(app)
    context = chromium.new_context(
        viewport={"width": 1280, "height": 1024}, locale="fr-FR", has_touch=True
    )
    page = context.new_page()
    page.goto(url)
    page.evaluate(FAKE_CALL)
    yield Desk(control, call, screen, pad, page, current, pages_dir)
    context.close()


def test_the_citizen_signs_on_the_screen_and_the_counsellor_gets_the_sealed_pdf(
    desk: Desk, tmp_path: Path
) -> None:
    pdf = text_pdf("Demande d'allocation", "Signature du demandeur")
    asked = desk.ask(pdf, print="1")
    assert asked.status_code == 202, asked.text
    page = desk.page
    page.wait_for_selector("body[data-view=sign] canvas.sign-pad")
    page.wait_for_function("document.querySelector('.sign-image').complete")

    # The page is large, its field outlined where the counsellor put it, the picture stays.
    image = page.locator(".sign-image").bounding_box()
    field = page.locator(".sign-field").bounding_box()
    assert image is not None and field is not None
    assert image["height"] >= 0.38 * 1024
    assert field["x"] == pytest.approx(image["x"] + image["width"] * FIELD.x / 595.28, abs=3)
    assert field["width"] == pytest.approx(image["width"] * FIELD.width / 595.28, abs=3)
    remote = page.locator("#remote").bounding_box()
    assert remote is not None and remote["width"] >= 0.4 * 1280
    smallest, where = page.evaluate(SMALLEST_TEXT)
    assert smallest >= 32, where
    for label in ("Effacer", "Annuler", "Valider"):
        button = page.get_by_role("button", name=label).bounding_box()
        assert button is not None and button["x"] >= 0.45 * 1280 - 1
        assert button["x"] + button["width"] <= 1280 and button["y"] + button["height"] <= 1024

    # "Valider" on an empty area asks to sign first; "Effacer" clears a first attempt.
    page.get_by_role("button", name="Valider").click()
    assert page.locator(".sign-error").inner_text() == "Signez d'abord dans le cadre."
    desk.draw(1)
    page.get_by_role("button", name="Effacer").click()
    blank = page.evaluate(
        "() => { const c = document.querySelector('canvas.sign-pad');"
        " return !c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v) => v); }"
    )
    assert blank
    desk.draw(3)
    page.screenshot(path=DOCS_IMG / "kiosk-sign-1280x1024.png")
    page.get_by_role("button", name="Valider").click()

    row = desk.wait_final()
    assert row["status"] == "done", row
    page.wait_for_selector("body[data-view=in_call]")
    sealed = requests.get(
        f"{desk.control.url}/api/v1/transfers/{row['id']}/pdf",
        auth=HTTPDigestAuth(COUNSELLOR, desk.control.secrets[COUNSELLOR]),
        timeout=10,
    ).content
    key_dir = desk.control.settings.resolved_signing_dir()
    status = validate(sealed, key_dir / "signing-cert.pem")
    assert status.bottom_line and status.intact and status.valid
    assert_stamped_in(pdf, sealed, FIELD, tmp_path)
    details = row["details"]
    assert details["sha256_before"] == hashlib.sha256(pdf).hexdigest()
    assert details["sha256_after"] == row["sha256"] == hashlib.sha256(sealed).hexdigest()
    assert (details["asked_by"], details["kiosk"], details["call"]) == (
        COUNSELLOR,
        KIOSK,
        desk.call,
    )
    assert "signature" not in details  # the drawing is in the PDF, not in the audit row
    with desk.control.db.sessions() as session:
        entry = session.query(AuditEntry).filter_by(action="document.signed").one()
        assert entry.actor == COUNSELLOR and entry.after["sha256_after"] == row["sha256"]
    # The copy asked for goes to the kiosk's printer: the sealed PDF itself.
    prints = [c for c in desk.control.transport.commands() if c.name == "print"]
    assert len(prints) == 1 and prints[0].args["document"]["sha256"] == row["sha256"]
    assert not any(desk.pages_dir.rglob("*.png"))


def test_a_finger_signs_and_a_retransmitted_command_neither_restarts_nor_fails_it(
    desk: Desk, tmp_path: Path
) -> None:
    pdf = text_pdf("un", "deux")
    assert desk.ask(pdf).status_code == 202
    desk.page.wait_for_selector("body[data-view=sign] canvas.sign-pad")
    desk.draw(2, touch=True)
    (_kiosk, body) = desk.control.transport.sent[-1]
    command = decode_command(body)
    again: list[Answer] = []
    desk.pad.handle(command, again.append)  # the same MESSAGE once more
    assert [a.status for a in again] == [Status.ACCEPTED]
    assert desk.screen.current().view is View.SIGN
    desk.page.get_by_role("button", name="Valider").click()

    row = desk.wait_final()
    assert row["status"] == "done", row
    sealed = desk.control.service.transfer_pdf(COUNSELLOR, row["id"])
    assert_stamped_in(pdf, sealed, FIELD, tmp_path)
    desk.pad.handle(command, again.append)  # and once more after "Valider"
    assert again[-1].status is Status.DONE and again[-1].details["signature"]
    assert desk.screen.current().view is View.IN_CALL


def test_the_sign_view_has_no_serious_accessibility_problem(
    desk: Desk, axe_serious: Callable[[Any], list[str]]
) -> None:
    desk.signing()
    assert axe_serious(desk.page) == []


def test_the_citizen_cancels_and_nothing_is_kept(desk: Desk) -> None:
    desk.signing()
    desk.page.get_by_role("button", name="Annuler").click()

    row = desk.wait_final()
    assert (row["status"], row["reason"]) == ("failed", "signature refusée par l'usager")
    desk.page.wait_for_selector("body[data-view=in_call]")
    desk.nothing_behind()


def test_the_call_ends_before_valider_and_nothing_is_kept(desk: Desk) -> None:
    desk.signing()
    end_call(desk.control.db, desk.call)
    desk.current["call"] = None
    desk.pad.call_ended()  # what the agent does when the page reports the call ended

    row = desk.wait_final()
    assert (row["status"], row["reason"]) == ("failed", "appel terminé avant la signature")
    desk.page.wait_for_selector("body[data-view=idle]")
    desk.nothing_behind()


def test_a_signature_arriving_after_the_call_ended_is_refused(desk: Desk) -> None:
    """The kiosk had not heard of the end yet: the control plane refuses the late drawing."""
    desk.signing()
    end_call(desk.control.db, desk.call)
    desk.page.get_by_role("button", name="Valider").click()

    row = desk.wait_final()
    assert (row["status"], row["reason"]) == ("failed", "appel terminé avant la signature")
    desk.nothing_behind()


@pytest.mark.parametrize(
    ("pdf", "fields", "reason"),
    [
        (b"%PDF-1.4 not really a pdf", (FIELD.json(),), "PDF illisible"),
        (b"GIF89a", (FIELD.json(),), "n'est pas un PDF"),
        (
            None,
            ({"page": 1, "x": 500, "y": 100, "width": 200, "height": 60},),
            "le champ de signature sort de la page 1",
        ),
        (None, ({"page": 3, "x": 10, "y": 10, "width": 200, "height": 60},), "a 2 pages"),
        (None, None, "aucun champ de signature"),
    ],
)
def test_a_bad_request_is_refused_and_changes_nothing(
    desk: Desk, pdf: bytes | None, fields: Any, reason: str
) -> None:
    answer = desk.ask(pdf or text_pdf("un", "deux"), fields)
    assert answer.status_code == 400
    assert reason in answer.json()["error"]
    assert desk.screen.current().view is View.IN_CALL
    assert desk.control.transport.sent == []
    with desk.control.db.sessions() as session:
        assert session.query(DocumentTransfer).count() == 0
    desk.nothing_behind()
