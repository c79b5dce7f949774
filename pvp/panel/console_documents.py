"""The console's document actions on the current call: show, print, scan, fax.

Same rules as the document API (pvp/documents/service.py decides; a counsellor acts only on
their own call), reached with the panel session: forms with the CSRF token, a French message
after each action, and the results arriving in the console's live state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, current_app, flash, redirect, request, url_for

from pvp.documents import signatures
from pvp.documents.service import DocumentService, Refused
from pvp.panel.console import bp
from pvp.panel.security import me

ACTIONS = {"display": "affiché sur la borne", "print": "envoyé à l'imprimante de la borne"}


def _service() -> DocumentService:
    return current_app.extensions["pvp.documents"]


def _back() -> Response:
    return redirect(url_for("console.index"), 303)  # type: ignore[return-value]


def _uploaded_pdf() -> bytes:
    upload = request.files.get("file")
    data = upload.read(_service().settings.document_max_bytes + 1) if upload else b""
    if not data:
        raise Refused("« Document » : choisissez un fichier PDF")
    return data


def _attempt(action: Callable[[], str]) -> Response:
    """Run one action; its refusal, in French, is shown and nothing has changed."""
    try:
        flash(action(), "success")
    except Refused as exc:
        flash(exc.reason, "error")
    return _back()


def _int(name: str) -> int:
    try:
        return int(request.form.get(name, ""))
    except ValueError:
        raise Refused(f"« {name} » : un nombre entier est attendu") from None


@bp.post("/calls/<call_id>/documents")
def send_document(call_id: str) -> Response:
    def act() -> str:
        action = request.form.get("action", "")
        if action not in ACTIONS:
            raise Refused("« Action » : afficher ou imprimer")
        title = request.form.get("title", "").strip()[:120]
        _service().send_document(me().scope or "", call_id, action, _uploaded_pdf(), title)
        return f"Document {ACTIONS[action]}."

    return _attempt(act)


@bp.post("/calls/<call_id>/scans")
def scan(call_id: str) -> Response:
    def act() -> str:
        _service().request_scan(me().scope or "", call_id, _int("pages"))
        return "Numérisation demandée : la borne invite l'usager à poser son document."

    return _attempt(act)


@bp.post("/calls/<call_id>/page")
def turn_page(call_id: str) -> Response:
    def act() -> str:
        page = _int("page")
        _service().turn_page(me().scope or "", call_id, page)
        return f"Page {page} affichée sur la borne."

    return _attempt(act)


MM = 72 / 25.4  # PDF points per millimetre


def _field_in_mm() -> list[dict[str, Any]] | None:
    """The field the counsellor placed (page, then left/bottom/width/height in mm from the
    page's lower-left corner); None when the page is left empty: the PDF's own fields."""
    if not request.form.get("page", "").strip():
        return None
    values = {}
    for name, label in (
        ("left", "Gauche"),
        ("bottom", "Bas"),
        ("width", "Largeur"),
        ("height", "Hauteur"),
    ):
        try:
            values[name] = float(request.form.get(name, "").replace(",", "."))
        except ValueError:
            raise Refused(f"« {label} » : un nombre de millimètres est attendu") from None
    return [
        {
            "page": _int("page"),
            "x": round(values["left"] * MM, 2),
            "y": round(values["bottom"] * MM, 2),
            "width": round(values["width"] * MM, 2),
            "height": round(values["height"] * MM, 2),
        }
    ]


@bp.post("/calls/<call_id>/signatures")
def ask_signature(call_id: str) -> Response:
    def act() -> str:
        title = request.form.get("title", "").strip()[:120]
        copy = request.form.get("print") == "1"
        signatures.request_signature(
            _service(), me().scope or "", call_id, _uploaded_pdf(), _field_in_mm(), title, copy
        )
        return "Document envoyé à la borne pour signature : l'usager signe à l'écran."

    return _attempt(act)


@bp.post("/faxes")
def fax() -> Response:
    def act() -> str:
        faxes = current_app.extensions.get("pvp.fax")
        if faxes is None:
            raise Refused("télécopie indisponible : pas de liaison avec le commutateur", 503)
        number = request.form.get("to", "").strip()
        call = request.form.get("call") or None
        faxes.send(me().scope or "", number, _uploaded_pdf(), call_id=call, background=True)
        return f"Télécopie vers {number} en cours d'envoi."

    return _attempt(act)


@bp.get("/transfers/<int:transfer_id>.pdf")
def transfer_pdf(transfer_id: int) -> Any:
    try:
        data = _service().transfer_pdf(me().scope or "", transfer_id)
    except Refused as exc:
        flash(exc.reason, "error")
        return _back()
    response = Response(data, mimetype="application/pdf")
    response.headers["Cache-Control"] = "no-store"
    return response
