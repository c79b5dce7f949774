"""Signatures at the kiosk, control plane side: the request and the sealed result.

``request_signature`` checks everything first (the counsellor's current call, the PDF, the
fields, the deployment's signing key), stores the PDF with a ``signed`` audit row and sends
the ``sign`` command. When the kiosk answers ``done`` with the citizen's drawing,
``seal_answer`` stamps it into the field(s) and seals the PDF (pvp/documents/signing.py);
the row then holds the sealed PDF's SHA-256, the original's, who asked, the call, the kiosk
and the time, and the audit log has the same. A refusal (cancelled, call over, bad drawing)
leaves the row ``failed`` with its reason and removes the document it had brought.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvp.common.pdf import DocumentError, validate_pdf
from pvp.common.signature import NO_FIELD, check_fields, signature_image
from pvp.documents.signing import Seal, SigningKey, form_fields, stamp_and_seal
from pvp.documents.store import transfer_json
from pvp.model import CallRecord, DocumentKind, DocumentTransfer, TransferStatus
from pvp.services import audit
from pvp.wire.messages import Answer, Command
from pvp.wire.transfer import encode_with_document

if TYPE_CHECKING:
    from pvp.documents.service import DocumentService

log = logging.getLogger(__name__)

NO_KEY = "clé de signature des documents non configurée (pvp doc signing-key)"
CALL_ENDED = "appel terminé avant la signature"
NO_SIGNATURE = "signature absente de la réponse de la borne"


def signing_key(service: DocumentService) -> SigningKey:
    from pvp.documents.service import Refused

    try:
        return SigningKey.from_dir(service.settings.resolved_signing_dir())
    except DocumentError:
        raise Refused(NO_KEY, 503) from None


def request_signature(
    service: DocumentService,
    counsellor: str,
    call_id: str,
    pdf: bytes,
    fields: Any = None,
    title: str = "",
    print_copy: bool = False,
) -> dict[str, Any]:
    """Send ``pdf`` to the kiosk of the call for the citizen to sign in ``fields`` (a list of
    ``{page, x, y, width, height}``), or in the PDF's own empty signature fields if None."""
    from pvp.documents.service import Refused, new_command_id

    transport = service._transport()
    with service.db.sessions() as session:
        record = service.active_call(session, call_id, counsellor)
    try:
        digest, _pages = service.store.check(pdf)
        checked = check_fields(fields, validate_pdf(pdf)) if fields else form_fields(pdf)
        if not checked:
            raise DocumentError(NO_FIELD)
    except DocumentError as exc:
        raise Refused(str(exc), 413 if "volumineux" in str(exc) else 400) from None
    signing_key(service)  # refused now, not after the citizen signed
    title = title.strip()[:200]
    now = service.clock()
    command_id = new_command_id("k")
    args = {"title": title, "fields": [f.json() for f in checked]}
    command = Command(command_id, "sign", args, call=call_id, sender=counsellor)
    with service.db.session() as session:
        service.store.put(session, pdf, now, digest)
        transfer = service._transfer(
            session, command_id, DocumentKind.SIGNED, digest, counsellor, record, title, now
        )
        encoded = encode_with_document(
            command,
            pdf,
            digest,
            service.settings.document_inline_max_bytes,
            lambda: service.link_for(session, digest, record.kiosk_id, command_id, now),
        )
        transfer.details = {
            "fields": args["fields"],
            "print_copy": print_copy,
            "sha256_before": digest,
            "inline": encoded.inline,
        }
        result = transfer_json(transfer)
    service.deliver(transport, record.kiosk_id, command_id, encoded.body)
    return result


def seal_answer(
    service: DocumentService, session: Session, transfer: DocumentTransfer, answer: Answer
) -> bytes | None:
    """Apply a ``done`` answer: the sealed PDF, or None when refused (row ``failed``)."""
    record = session.get(CallRecord, transfer.call_id)
    original = transfer.sha256
    reason = None
    sealed = None
    if record is None or record.ended_at is not None:
        reason = CALL_ENDED
    else:
        try:
            png = base64.b64decode(str(answer.details.get("signature") or ""), validate=True)
            if not png:
                raise DocumentError(NO_SIGNATURE)
            pdf = service.store.read(original or "")
            fields = check_fields(transfer.details.get("fields"), validate_pdf(pdf))
            seal = Seal(
                name=transfer.sender,
                reason=f"Signé par l'usager à la borne {transfer.kiosk_id}",
                location=record.site_id,
            )
            sealed = stamp_and_seal(pdf, fields, signature_image(png), signing_key(service), seal)
        except (DocumentError, LookupError, binascii.Error) as exc:
            reason = str(exc) if isinstance(exc, DocumentError) else NO_SIGNATURE
        except Exception as exc:  # the key: Refused; kept as the row's reason
            reason = getattr(exc, "reason", None) or f"scellement impossible : {exc}"
    if sealed is None:
        refuse(service, session, transfer, reason or NO_SIGNATURE)
        return None
    now = service.clock()
    service.store.put(session, sealed.pdf, now, sealed.sha256_after)
    transfer.sha256 = sealed.sha256_after
    details = {
        "sha256_before": sealed.sha256_before,
        "sha256_after": sealed.sha256_after,
        "asked_by": transfer.sender,
        "kiosk": transfer.kiosk_id,
        "call": transfer.call_id,
        "signed_at": now.isoformat(),
    }
    service.finish(session, transfer.command_id, TransferStatus.DONE, "", details)
    audit.record(
        session,
        transfer.sender,
        "document.signed",
        "document_transfer",
        transfer.id,
        after=details,
    )
    log.info(
        "document %s signed at %s, sealed as %s",
        sealed.sha256_before,
        transfer.kiosk_id,
        sealed.sha256_after,
    )
    return sealed.pdf


def refuse(
    service: DocumentService, session: Session, transfer: DocumentTransfer, reason: str
) -> None:
    """The signature did not happen: the row says why, the document it brought goes."""
    service.finish(session, transfer.command_id, TransferStatus.FAILED, reason)
    if transfer.sha256 is not None:
        digest, transfer.sha256 = transfer.sha256, None
        session.flush()
        service.store.discard(session, digest, transfer.id)
    audit.record(
        session,
        transfer.sender,
        "document.signature_refused",
        "document_transfer",
        transfer.id,
        after={"reason": reason, "kiosk": transfer.kiosk_id, "call": transfer.call_id},
    )


def abandon_ended(service: DocumentService, session: Session) -> int:
    """Refuse the signatures whose call ended with no answer from the kiosk (restarted or
    unreachable at that moment): their documents go like any refusal's. The count."""
    rows = session.scalars(
        select(DocumentTransfer)
        .join(CallRecord, CallRecord.id == DocumentTransfer.call_id)
        .where(
            DocumentTransfer.kind == DocumentKind.SIGNED.value,
            DocumentTransfer.status.in_(
                [TransferStatus.PENDING.value, TransferStatus.ACCEPTED.value]
            ),
            CallRecord.ended_at.is_not(None),
        )
    ).all()
    for transfer in rows:
        refuse(service, session, transfer, CALL_ENDED)
    return len(rows)
