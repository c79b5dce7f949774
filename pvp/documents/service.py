"""The control plane's document service: commands to the kiosk of a counsellor's call.

Whole on purpose: one class whose entry points share the call check, the transfer rows and
the transport; the storage and the links are apart (:mod:`pvp.documents.store`, ``links``).

Every entry point checks everything before it writes anything: a counsellor may address only
the kiosk of a call they are in now (answered, not ended), and a document must be a valid
PDF within the size limit (and match the SHA-256 announced, when one is). Only then is the
document stored, the audit row written and the command sent. Answers from kiosks
(:meth:`DocumentService.record_answer`) and scan uploads update the same audit rows.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pvp.clock import utc_now
from pvp.common.errors import PvpError, Refused
from pvp.common.pdf import DocumentError
from pvp.config import Settings
from pvp.db import Database
from pvp.documents import links
from pvp.documents.store import (
    DocumentStore,
    PurgeReport,
    citizen_of_call,
    transfer_json,
    transfers_json,
)
from pvp.model import (
    CallRecord,
    DocumentKind,
    DocumentLink,
    DocumentTransfer,
    Kiosk,
    TransferStatus,
)
from pvp.wire.messages import Answer, Command, Status, encode_command
from pvp.wire.transfer import encode_with_document

log = logging.getLogger(__name__)

NOT_IN_CALL = "la borne n'est pas en communication avec ce conseiller"
MAX_SCAN_PAGES = 20


class TransportError(PvpError, RuntimeError, code="kiosk_unreachable", summary="borne injoignable"):
    """The command could not be handed to the kiosk (switch down, kiosk unregistered)."""


class CommandTransport(Protocol):
    def send(self, kiosk_id: str, body: str) -> None:
        """Deliver one encoded command to the kiosk, or raise TransportError."""


def new_command_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


def _document_refused(exc: DocumentError) -> Refused:
    """A PDF the store refused: 413 when it is too large (its reason says so), else 400."""
    return Refused(str(exc), 413 if "volumineux" in str(exc) else 400, code=exc.code)


@dataclass
class DocumentService:
    db: Database
    settings: Settings
    store: DocumentStore
    transport: CommandTransport | None = None
    clock: Callable[[], datetime] = utc_now

    @classmethod
    def create(
        cls, db: Database, settings: Settings, transport: CommandTransport | None = None
    ) -> DocumentService:
        store = DocumentStore(
            settings.documents_dir(), settings.document_max_bytes, settings.document_max_pages
        )
        return cls(db, settings, store, transport)

    # ---- checks ---------------------------------------------------------------------

    def active_call(self, session: Session, call_id: str, counsellor: str) -> CallRecord:
        """The call ``call_id`` if ``counsellor`` is in it now, else Refused (403)."""
        record = session.get(CallRecord, call_id)
        if (
            record is None
            or record.counsellor_id != counsellor
            or record.answered_at is None
            or record.ended_at is not None
        ):
            raise Refused(NOT_IN_CALL, 403)
        return record

    def find_call(self, counsellor: str, ref: str | None = None) -> str:
        """The id of ``counsellor``'s call now, named as the console shows it.

        ``ref`` is the kiosk of the call (the console says "borne kiosk-vorey-1"), the call's
        own id, or None for the counsellor's one current call.
        """
        with self.db.sessions() as session:
            if ref is not None and session.get(CallRecord, ref) is not None:
                return ref
            query = select(CallRecord.id).where(
                CallRecord.counsellor_id == counsellor,
                CallRecord.answered_at.is_not(None),
                CallRecord.ended_at.is_(None),
            )
            if ref is not None:
                query = query.where(CallRecord.kiosk_id == ref)
            calls = session.scalars(query).all()
        if len(calls) == 1:
            return calls[0]
        if not calls:
            where = f" avec la borne {ref}" if ref else ""
            raise Refused(f"{counsellor} n'a pas d'appel en cours{where}", 403)
        raise Refused(f"{counsellor} a {len(calls)} appels en cours : nommez la borne", 409)

    def _transport(self) -> CommandTransport:
        if self.transport is None:
            raise Refused("liaison avec le commutateur indisponible", 503)
        return self.transport

    # ---- counsellor -> kiosk --------------------------------------------------------

    def send_document(
        self,
        counsellor: str,
        call_id: str,
        action: str,
        pdf: bytes,
        title: str = "",
        expected_sha256: str | None = None,
    ) -> dict[str, Any]:
        """Show (``display``) or print (``print``) ``pdf`` on the kiosk of the call."""
        kind = {"display": DocumentKind.SHOWN, "print": DocumentKind.PRINTED}.get(action)
        if kind is None:
            raise Refused(f"action inconnue : {action!r} (display ou print)")
        title = title.strip()[:200]
        transport = self._transport()
        with self.db.sessions() as session:
            record = self.active_call(session, call_id, counsellor)
        try:
            digest, _pages = self.store.check(pdf, expected_sha256)
        except DocumentError as exc:
            raise _document_refused(exc) from None
        now = self.clock()
        command_id = new_command_id("d" if action == "display" else "p")
        command = Command(command_id, action, {"title": title}, call=call_id, sender=counsellor)
        with self.db.session() as session:
            self.store.put(session, pdf, now, digest)
            transfer = self._transfer(
                session, command_id, kind, digest, counsellor, record, title, now
            )

            encoded = encode_with_document(
                command,
                pdf,
                digest,
                self.settings.document_inline_max_bytes,
                lambda: self.link_for(session, digest, record.kiosk_id, command_id, now),
            )
            transfer.details = {"inline": encoded.inline, "body_bytes": len(encoded.body)}
            result = transfer_json(transfer)
        self.deliver(transport, record.kiosk_id, command_id, encoded.body)
        return result

    def link_for(
        self, session: Session, digest: str, kiosk: str, command_id: str, now: datetime
    ) -> tuple[str, datetime]:
        """A single-use download link for ``kiosk``: (URL, expiry)."""
        lifetime = timedelta(seconds=self.settings.document_link_seconds)
        token, expires = links.issue(session, digest, kiosk, command_id, now, lifetime)
        return f"{self.settings.base_url()}/api/v1/documents/{token}", expires

    def request_scan(self, counsellor: str, call_id: str, pages: int = 1) -> dict[str, Any]:
        """Ask the kiosk of the call to scan ``pages`` pages and upload them as one PDF."""
        if not 1 <= pages <= MAX_SCAN_PAGES:
            raise Refused(f"nombre de pages invalide : {pages} (de 1 à {MAX_SCAN_PAGES})")
        transport = self._transport()
        now = self.clock()
        command_id = new_command_id("s")
        with self.db.session() as session:
            record = self.active_call(session, call_id, counsellor)
            transfer = self._transfer(
                session, command_id, DocumentKind.SCANNED, None, record.kiosk_id, record, "", now
            )
            transfer.recipient = counsellor
            result = transfer_json(transfer)
        command = Command(command_id, "scan", {"pages": pages}, call=call_id, sender=counsellor)
        self.deliver(transport, record.kiosk_id, command_id, encode_command(command))
        return result

    def turn_page(self, counsellor: str, call_id: str, page: int) -> str:
        """Show page ``page`` of the document on the kiosk screen; no new audit row."""
        if page < 1:
            raise Refused("numéro de page invalide")
        transport = self._transport()
        with self.db.sessions() as session:
            record = self.active_call(session, call_id, counsellor)
        command_id = new_command_id("g")
        command = Command(command_id, "display", {"page": page}, call=call_id, sender=counsellor)
        try:
            transport.send(record.kiosk_id, encode_command(command))
        except TransportError as exc:
            raise Refused(f"borne injoignable : {exc}", 502, code=exc.code) from None
        return command_id

    def _transfer(
        self,
        session: Session,
        command_id: str,
        kind: DocumentKind,
        digest: str | None,
        sender: str,
        record: CallRecord,
        title: str,
        now: datetime,
    ) -> DocumentTransfer:
        transfer = DocumentTransfer(
            command_id=command_id,
            kind=kind.value,
            sha256=digest,
            sender=sender,
            recipient=record.kiosk_id,
            kiosk_id=record.kiosk_id,
            call_id=record.id,
            citizen_ref=citizen_of_call(session, record.id),
            title=title,
            status=TransferStatus.PENDING.value,
            reason="",
            details={},
            created_at=now,
        )
        session.add(transfer)
        session.flush()
        return transfer

    def deliver(self, transport: CommandTransport, kiosk: str, command_id: str, body: str) -> None:
        try:
            transport.send(kiosk, body)
        except TransportError as exc:
            log.warning("command %s to %s not delivered: %s", command_id, kiosk, exc)
            with self.db.session() as session:
                self.finish(
                    session, command_id, TransferStatus.FAILED, f"borne injoignable : {exc}"
                )
            raise Refused(f"borne injoignable : {exc}", 502, code=exc.code) from None

    # ---- kiosk -> control plane -----------------------------------------------------

    def record_answer(self, answer: Answer, kiosk: str) -> dict[str, Any] | None:
        """Apply a kiosk's answer to its command's audit row; None for unknown commands.

        A final status is never overwritten: a retransmitted or late answer changes nothing.
        """
        with self.db.session() as session:
            transfer = self._by_command(session, answer.id)
            if transfer is None or transfer.kiosk_id != kiosk:
                log.info("answer %s from %s matches no document command", answer.id, kiosk)
                return None
            if transfer.status in (TransferStatus.DONE, TransferStatus.FAILED):
                return transfer_json(transfer)
            if answer.status is Status.ACCEPTED:
                transfer.status = TransferStatus.ACCEPTED.value
            elif transfer.kind == DocumentKind.SIGNED:
                return self._signature_answer(session, transfer, answer)
            elif (
                answer.status is Status.DONE
                and transfer.kind == DocumentKind.SCANNED
                and transfer.sha256 is None
            ):
                # "done" for a scan whose PDF never arrived would be a lie to the counsellor.
                self.finish(session, answer.id, TransferStatus.FAILED, "document non reçu")
            else:
                status = TransferStatus(answer.status.value)
                self.finish(session, answer.id, status, answer.reason or "", answer.details)
            return transfer_json(transfer)

    def _signature_answer(
        self, session: Session, transfer: DocumentTransfer, answer: Answer
    ) -> dict[str, Any]:
        from pvp.documents import signatures

        if answer.status is Status.FAILED:
            signatures.refuse(self, session, transfer, answer.reason or "")
            return transfer_json(transfer)
        sealed = signatures.seal_answer(self, session, transfer, answer)
        result = transfer_json(transfer)
        if sealed is not None and (transfer.details or {}).get("print_copy"):
            session.commit()  # the sealed PDF is recorded before its copy is printed
            try:
                self.send_document(
                    transfer.sender, transfer.call_id or "", "print", sealed, transfer.title
                )
            except Refused as exc:
                log.warning("copy of signed %s not printed: %s", transfer.command_id, exc)
        return result

    def receive_upload(
        self, kiosk: str, command_id: str, pdf: bytes, expected_sha256: str | None = None
    ) -> dict[str, Any]:
        """A scanned PDF uploaded by ``kiosk`` for its scan command; idempotent."""
        with self.db.sessions() as session:
            transfer = self._by_command(session, command_id)
            if (
                transfer is None
                or transfer.kind != DocumentKind.SCANNED
                or transfer.kiosk_id != kiosk
            ):
                raise Refused("aucune numérisation demandée à cette borne sous ce numéro", 404)
            if transfer.status == TransferStatus.FAILED:
                raise Refused("cette numérisation a déjà échoué", 409)
            already = transfer.sha256
        try:
            digest, pages = self.store.check(pdf, expected_sha256)
        except DocumentError as exc:
            raise _document_refused(exc) from None
        if already is not None:
            if already != digest:
                raise Refused("un autre document a déjà été reçu pour cette numérisation", 409)
            with self.db.sessions() as session:
                return transfer_json(self.transfer_by_command(session, command_id))
        now = self.clock()
        with self.db.session() as session:
            self.store.put(session, pdf, now, digest)
            transfer = self.transfer_by_command(session, command_id)
            transfer.sha256 = digest
            transfer.details = {**(transfer.details or {}), "pages": pages, "size": len(pdf)}
            return transfer_json(transfer)

    def download(self, token: str, kiosk: str) -> bytes:
        """The document behind a single-use link, for the kiosk it was made for."""
        with self.db.session() as session:
            try:
                document = links.redeem(session, token, kiosk, self.clock())
                data = self.store.read(document.sha256)
            except links.LinkError as exc:
                session.rollback()
                raise Refused(str(exc), exc.status, code=exc.code) from None
            except LookupError as exc:  # the document itself is gone (purged)
                session.rollback()
                raise Refused(str(exc), 410) from None
        return data

    # ---- the console's views --------------------------------------------------------

    def call_transfers(self, counsellor: str, call_id: str) -> list[dict[str, Any]]:
        with self.db.sessions() as session:
            record = session.get(CallRecord, call_id)
            if record is None or record.counsellor_id != counsellor:
                raise Refused("appel inconnu pour ce conseiller", 404)
            rows = session.scalars(
                select(DocumentTransfer)
                .where(DocumentTransfer.call_id == call_id)
                .order_by(DocumentTransfer.id)
            )
            return transfers_json(rows)

    def transfer_pdf(self, counsellor: str, transfer_id: int) -> bytes:
        """The PDF of one of the counsellor's own transfers (a scan they asked for…)."""
        with self.db.sessions() as session:
            transfer = session.get(DocumentTransfer, transfer_id)
            if transfer is None or counsellor not in (transfer.sender, transfer.recipient):
                raise Refused("document inconnu pour ce conseiller", 404)
            if transfer.sha256 is None:
                raise Refused("document pas encore reçu", 404)
            try:
                return self.store.read(transfer.sha256)
            except LookupError as exc:
                raise Refused(str(exc), 410) from None

    # ---- retention and citizens -----------------------------------------------------

    def purge(self) -> PurgeReport:
        """Files past retention go; so do links expired for as long (used or not), and the
        documents of signatures whose call ended unanswered."""
        from pvp.documents.signatures import abandon_ended

        retention = timedelta(days=self.settings.document_retention_days)
        now = self.clock()
        with self.db.session() as session:
            abandon_ended(self, session)
            session.execute(delete(DocumentLink).where(DocumentLink.expires_at < now - retention))
            return self.store.purge(session, now, retention)

    # ---- helpers --------------------------------------------------------------------

    @staticmethod
    def _by_command(session: Session, command_id: str) -> DocumentTransfer | None:
        return session.scalars(
            select(DocumentTransfer).where(DocumentTransfer.command_id == command_id)
        ).first()

    def transfer_by_command(self, session: Session, command_id: str) -> DocumentTransfer:
        transfer = self._by_command(session, command_id)
        if transfer is None:
            raise LookupError(command_id)
        return transfer

    def finish(
        self,
        session: Session,
        command_id: str,
        status: TransferStatus,
        reason: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        transfer = self.transfer_by_command(session, command_id)
        transfer.status, transfer.reason = status.value, reason[:200]
        if details:
            transfer.details = {**(transfer.details or {}), **details}
        transfer.finished_at = self.clock()


def kiosk_ha1(db: Database, user: str) -> str | None:
    with db.sessions() as session:
        kiosk = session.get(Kiosk, user)
        return kiosk.a1_hash if kiosk else None
