"""HTTP side of documents: kiosk downloads and uploads, and the counsellor console's actions.

Thin resources: authenticate, read the request, call one :class:`DocumentService` method,
answer JSON (or the PDF). Kiosks authenticate with HTTP Digest and their SIP secret;
until the panel's console sessions carry these actions, counsellors do the same with theirs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from pvp.db import Database
from pvp.documents import signatures
from pvp.documents.service import DocumentService, Refused, kiosk_ha1
from pvp.model import Counsellor
from pvp.web.device_auth import digest_required

documents_api = Blueprint("documents_api", __name__, url_prefix="/api/v1")


def service() -> DocumentService:
    return current_app.extensions["pvp.documents"]


def _db() -> Database:
    return current_app.extensions["pvp.db"]


def _kiosk_ha1(user: str) -> str | None:
    return kiosk_ha1(_db(), user)


def _counsellor_ha1(user: str) -> str | None:
    with _db().sessions() as session:
        counsellor = session.get(Counsellor, user)
        return counsellor.a1_hash if counsellor else None


def answers_refusals(view: Callable[..., Any]) -> Callable[..., Any]:
    """A service's Refused becomes ``{"error": <French reason>, "code": c, "status": n}``."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except Refused as exc:
            return jsonify(error=exc.message, code=exc.code, status=exc.status), exc.status

    return wrapped


def _pdf_body() -> bytes:
    """The request's PDF: a raw ``application/pdf`` body or a multipart ``file`` field."""
    limit = service().settings.document_max_bytes
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise Refused(f"document trop volumineux (au plus {limit // 1048576} Mio)", 413)
    upload = request.files.get("file")
    data = upload.read(limit + 1) if upload is not None else request.get_data(cache=False)
    if not data:
        raise Refused("aucun document dans la requête")
    return data


def _expected_sha() -> str | None:
    value = request.headers.get("X-Content-SHA256") or request.values.get("sha256")
    return value.strip().lower() if value else None


def _pdf_response(data: bytes, name: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return response


# ---- kiosks ---------------------------------------------------------------------------


@documents_api.get("/documents/<token>")
@digest_required(_kiosk_ha1)
@answers_refusals
def download(token: str) -> Any:
    """A document sent by reference: only the addressed kiosk, only once, only in time."""
    return _pdf_response(service().download(token, g.device), "document.pdf")


@documents_api.post("/kiosks/<kiosk_id>/documents")
@digest_required(_kiosk_ha1)
@answers_refusals
def upload(kiosk_id: str) -> Any:
    """A scan's PDF; ``?command=<scan command id>`` ties it to the counsellor's request."""
    if g.device != kiosk_id:
        raise Refused("une borne ne peut déposer que ses propres documents", 403)
    command_id = request.args.get("command", "")
    if not command_id:
        raise Refused("paramètre command manquant")
    result = service().receive_upload(kiosk_id, command_id, _pdf_body(), _expected_sha())
    return jsonify(result), 201


# ---- the counsellor's console -----------------------------------------------------------


@documents_api.post("/calls/<call_id>/documents")
@digest_required(_counsellor_ha1)
@answers_refusals
def send(call_id: str) -> Any:
    """Show or print a PDF on the kiosk of the call: ``?action=display|print&title=…``."""
    result = service().send_document(
        g.device,
        call_id,
        request.values.get("action", ""),
        _pdf_body(),
        request.values.get("title", ""),
        _expected_sha(),
    )
    return jsonify(result), 202


@documents_api.post("/calls/<call_id>/signatures")
@digest_required(_counsellor_ha1)
@answers_refusals
def ask_signature(call_id: str) -> Any:
    """The citizen signs a PDF at the kiosk: multipart ``file``, ``fields`` (JSON list of
    ``{page, x, y, width, height}`` in PDF points; absent: the PDF's own signature fields),
    ``title``, ``print=1`` for a printed copy of the sealed PDF at the kiosk."""
    raw = request.values.get("fields")
    try:
        fields = json.loads(raw) if raw else None
    except ValueError:
        raise Refused("champs de signature illisibles (JSON attendu)") from None
    result = signatures.request_signature(
        service(),
        g.device,
        call_id,
        _pdf_body(),
        fields,
        request.values.get("title", ""),
        request.values.get("print") in ("1", "true", "on"),
    )
    return jsonify(result), 202


@documents_api.get("/calls/<call_id>/documents")
@digest_required(_counsellor_ha1)
@answers_refusals
def call_documents(call_id: str) -> Any:
    return jsonify(service().call_transfers(g.device, call_id))


def _int_field(name: str, default: int | None = None) -> int:
    body = request.get_json(silent=True)
    value = body.get(name, default) if isinstance(body, dict) else request.values.get(name, default)
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise Refused(f"{name} : un nombre entier est attendu") from None


@documents_api.post("/calls/<call_id>/scans")
@digest_required(_counsellor_ha1)
@answers_refusals
def scan(call_id: str) -> Any:
    """Ask the kiosk to scan ``{"pages": n}`` pages; the PDF arrives as the call's document."""
    return jsonify(service().request_scan(g.device, call_id, _int_field("pages", 1))), 202


@documents_api.post("/calls/<call_id>/page")
@digest_required(_counsellor_ha1)
@answers_refusals
def turn_page(call_id: str) -> Any:
    command = service().turn_page(g.device, call_id, _int_field("page"))
    return jsonify(command=command), 202


@documents_api.get("/transfers/<int:transfer_id>/pdf")
@digest_required(_counsellor_ha1)
@answers_refusals
def transfer_pdf(transfer_id: int) -> Any:
    return _pdf_response(
        service().transfer_pdf(g.device, transfer_id), f"document-{transfer_id}.pdf"
    )


@documents_api.post("/faxes")
@digest_required(_counsellor_ha1)
@answers_refusals
def fax() -> Any:
    """Fax a PDF: ``?to=<number>[&call=<call>]``; 202 with the pending row, then its result."""
    faxes = current_app.extensions.get("pvp.fax")
    if faxes is None:
        raise Refused("liaison avec le commutateur indisponible", 503)
    row = faxes.send(
        g.device,
        request.values.get("to", ""),
        _pdf_body(),
        call_id=request.values.get("call") or None,
        background=True,
    )
    return jsonify(row), 202
