"""The kiosk's ``sign`` command: the page to sign on screen, the citizen draws, "Valider".

The command carries the PDF (inline or by link, like ``display``) and the signature fields.
The screen shows the first field's page with the field outlined and a drawing area
(``sign.html``, ``signing.js``); the page posts the drawing as a PNG to this module's
blueprint. The answer is ``done`` with the drawing (``details.signature``, base64 PNG) — the
control plane stamps and seals — or ``failed`` when the citizen cancels or the call ends
first. Nothing stays on the kiosk: the page images go with the answer.
"""

from __future__ import annotations

import base64
import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, request, send_file

from pvp.common.pdf import DocumentError, validate_pdf
from pvp.common.signature import check_fields, signature_image
from pvp.kiosk.documents import NOT_IN_CALL, render_pages
from pvp.kiosk.screen import Screen, View
from pvp.wire.messages import Answer, Command, Status

log = logging.getLogger(__name__)

Reply = Callable[[Answer], None]
CANCELLED = "signature refusée par l'usager"
CALL_ENDED = "appel terminé avant la signature"
REPLACED = "une autre signature a été demandée"
MAX_SIGNATURE_BYTES = 512 * 1024
KEPT_ANSWERS = 32  # final answers kept to repeat for a retransmitted command


@dataclass
class PendingSignature:
    command_id: str
    reply: Reply
    page: int
    directory: Path


class SigningPad:
    """At most one signature asked at a time; the agent forwards ``call_ended``."""

    def __init__(
        self,
        *,
        screen: Screen,
        current_call: Callable[[], str | None],
        obtain: Callable[[Command], bytes],
        pages_dir: Path,
    ) -> None:
        self.screen = screen
        self.current_call = current_call
        self.obtain = obtain
        self.pages_dir = pages_dir
        self.pending: PendingSignature | None = None
        self._finals: dict[str, Answer] = {}
        self._lock = threading.Lock()

    def handle(self, command: Command, reply: Reply) -> None:
        """The router's handler for ``sign``."""
        # A retransmitted MESSAGE must neither restart nor replace the signature under way.
        with self._lock:
            final = self._finals.get(command.id)
            under_way = self.pending is not None and self.pending.command_id == command.id
        if final is not None or under_way:
            reply(final or Answer(command.id, Status.ACCEPTED))
            return
        if command.call is None or command.call != self.current_call():
            reply(Answer(command.id, Status.FAILED, NOT_IN_CALL))
            return
        directory = self.pages_dir / f"sign-{command.id}"
        try:
            pdf = self.obtain(command)
            fields = check_fields(command.args.get("fields"), validate_pdf(pdf))
            pages = render_pages(pdf, directory)
        except DocumentError as exc:
            shutil.rmtree(directory, ignore_errors=True)
            reply(Answer(command.id, Status.FAILED, str(exc)))
            return
        field = fields[0]
        width, height = validate_pdf(pdf).page_sizes[field.page - 1]
        self._end(REPLACED)
        with self._lock:
            self.pending = PendingSignature(command.id, reply, field.page, directory)
        reply(Answer(command.id, Status.ACCEPTED))
        self.screen.show(
            View.SIGN,
            command=command.id,
            title=str(command.args.get("title") or "")[:200],
            page=field.page,
            pages=pages,
            page_url=f"/sign/{command.id}/page.png",
            # The field as percentages of the page image, from its top-left corner.
            field={
                "left": 100 * field.x / width,
                "top": 100 * (height - field.y - field.height) / height,
                "width": 100 * field.width / width,
                "height": 100 * field.height / height,
            },
            ratio=field.width / field.height,
        )

    def submit(self, command_id: str, png: bytes) -> str | None:
        """The citizen pressed "Valider": None when sent, else the French reason shown."""
        with self._lock:
            pending = self.pending
            if pending is None or pending.command_id != command_id:
                return "aucune signature demandée"
        if len(png) > MAX_SIGNATURE_BYTES:
            return "signature trop volumineuse"
        try:
            signature_image(png)
        except DocumentError as exc:
            return str(exc)
        encoded = base64.b64encode(png).decode("ascii")
        self._end(None, details={"signature": encoded})
        return None

    def cancel(self, command_id: str) -> bool:
        with self._lock:
            if self.pending is None or self.pending.command_id != command_id:
                return False
        self._end(CANCELLED)
        return True

    def call_ended(self) -> None:
        self._end(CALL_ENDED)

    def page_file(self, command_id: str) -> Path | None:
        pending = self.pending
        if pending is None or pending.command_id != command_id:
            return None
        path = pending.directory / f"page-{pending.page}.png"
        return path if path.is_file() else None

    def _end(self, reason: str | None, details: dict[str, Any] | None = None) -> None:
        """Answer the pending signature (done without reason), clear the screen and disk."""
        with self._lock:
            pending, self.pending = self.pending, None
        if pending is None:
            return
        shutil.rmtree(pending.directory, ignore_errors=True)
        if self.screen.current().view is View.SIGN:
            self.screen.show(View.IN_CALL if reason != CALL_ENDED else View.IDLE)
        status = Status.DONE if reason is None else Status.FAILED
        answer = Answer(pending.command_id, status, reason, details or {})
        with self._lock:
            self._finals[answer.id] = answer
            while len(self._finals) > KEPT_ANSWERS:
                del self._finals[next(iter(self._finals))]
        try:
            pending.reply(answer)
        except Exception:
            log.exception("answer to signature %s not sent", pending.command_id)


def signing_blueprint(pad: SigningPad) -> Blueprint:
    """The page's side: the page image, "Valider" (the PNG) and "Annuler"."""
    pages = Blueprint("signing", __name__)

    def same_origin() -> None:
        origin = request.headers.get("Origin")
        if origin and origin != request.host_url.rstrip("/"):
            abort(403)

    @pages.get("/sign/<command_id>/page.png")
    def page_image(command_id: str) -> Any:
        path = pad.page_file(command_id)
        if path is None:
            abort(404)
        response = send_file(path, mimetype="image/png", max_age=0)
        response.headers["Cache-Control"] = "no-store"
        return response

    @pages.post("/sign/<command_id>")
    def submit(command_id: str) -> Any:
        same_origin()
        problem = pad.submit(command_id, request.get_data(cache=False))
        if problem is not None:
            return {"error": problem}, 400
        return {"signed": command_id}

    @pages.post("/sign/<command_id>/cancel")
    def cancel(command_id: str) -> Any:
        same_origin()
        if not pad.cancel(command_id):
            abort(404)
        return {"cancelled": command_id}

    return pages
