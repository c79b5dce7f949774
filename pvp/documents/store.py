"""The control plane's document store: every PDF once, by SHA-256, with its audit trail.

Files are content-addressed under ``<data_dir>/documents/ab/<sha256>.pdf`` and written
atomically (temporary file, fsync, rename, fsync of the directory), so a crash leaves either
the whole file or none. The database says who sent which document to whom, when, for which
call and which citizen (:class:`pvp.model.DocumentTransfer`). Retention deletes files, never
audit rows: a purged document keeps its row with ``purged_at``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvp.common.fsutil import write_atomically
from pvp.common.pdf import DocumentError, validate_pdf
from pvp.model import Appointment, CallRecord, Document, DocumentTransfer

log = logging.getLogger(__name__)

PDF = "application/pdf"
TOO_LARGE = "document trop volumineux"
PURGED = "document supprimé (durée de conservation écoulée ou effacement demandé)"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def too_large(size: int, limit: int) -> str:
    return f"{TOO_LARGE} : {size / 1048576:.1f} Mio (au plus {limit / 1048576:.0f} Mio)"


@dataclass(frozen=True, slots=True)
class PurgeReport:
    purged: int
    bytes_freed: int


class DocumentStore:
    """PDF files by hash under ``root``; database rows through the caller's session."""

    def __init__(self, root: Path, max_bytes: int, max_pages: int | None = None) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_pages = max_pages

    # ---- files ----------------------------------------------------------------------

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self.root / sha256[:2] / f"{sha256}.pdf"

    def check(self, pdf: bytes, expected_sha256: str | None = None) -> tuple[str, int]:
        """Refuse what must not be stored (DocumentError, French); give (sha256, pages)."""
        if len(pdf) > self.max_bytes:
            raise DocumentError(too_large(len(pdf), self.max_bytes))
        digest = sha256_hex(pdf)
        if expected_sha256 is not None and digest != expected_sha256.lower():
            raise DocumentError("empreinte SHA-256 différente de celle annoncée")
        info = validate_pdf(pdf, self.max_pages)
        return digest, info.pages

    def _write(self, sha256: str, pdf: bytes) -> None:
        target = self.path(sha256)
        if target.exists() and target.stat().st_size == len(pdf):
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, pdf)

    def read(self, sha256: str) -> bytes:
        """The stored bytes, checked against their name; LookupError when purged or lost."""
        path = self.path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise LookupError(PURGED) from None
        if sha256_hex(data) != sha256:
            # Disk corruption or a hand edit: never hand such a file to a kiosk.
            log.error("stored document %s does not match its hash", sha256)
            raise LookupError("document endommagé dans le stockage")
        return data

    # ---- rows -----------------------------------------------------------------------

    def put(
        self, session: Session, pdf: bytes, now: datetime, expected_sha256: str | None = None
    ) -> Document:
        """Check and store ``pdf`` (once per content); its row, created or refreshed."""
        digest, pages = self.check(pdf, expected_sha256)
        self._write(digest, pdf)
        row = session.get(Document, digest)
        if row is None:
            row = Document(
                sha256=digest,
                size=len(pdf),
                pages=pages,
                content_type=PDF,
                created_at=now,
                last_used_at=now,
                purge_reason="",
            )
            session.add(row)
        else:
            # A purged document sent again is stored again and kept for a new period.
            row.last_used_at, row.purged_at, row.purge_reason = now, None, ""
        session.flush()
        return row

    def purge(self, session: Session, now: datetime, retention: timedelta) -> PurgeReport:
        """Delete the files of documents unused for ``retention``; their rows stay."""
        cutoff = now - retention
        rows = session.scalars(
            select(Document).where(Document.purged_at.is_(None), Document.last_used_at < cutoff)
        ).all()
        freed = sum(self._delete(row, now, "retention") for row in rows)
        if rows:
            log.info("purged %d document(s), %d bytes", len(rows), freed)
        return PurgeReport(len(rows), freed)

    def discard(self, session: Session, digest: str, keep_for: int) -> None:
        """Delete a document (file and row) that only transfer ``keep_for`` uses: what a
        refused signature leaves behind is its audit row, not the document."""
        used = session.scalars(
            select(DocumentTransfer.id).where(
                DocumentTransfer.sha256 == digest, DocumentTransfer.id != keep_for
            )
        ).first()
        row = session.get(Document, digest)
        if used is None and row is not None:
            self.path(digest).unlink(missing_ok=True)
            session.delete(row)
            session.flush()

    def _delete(self, row: Document, now: datetime, reason: str) -> int:
        path = self.path(row.sha256)
        size = path.stat().st_size if path.exists() else 0
        path.unlink(missing_ok=True)
        row.purged_at, row.purge_reason = now, reason
        return size

    # ---- per citizen ----------------------------------------------------------------

    def citizen_transfers(self, session: Session, citizen_ref: str) -> list[DocumentTransfer]:
        if not citizen_ref.strip():
            raise ValueError("référence du citoyen vide")
        return list(
            session.scalars(
                select(DocumentTransfer)
                .where(DocumentTransfer.citizen_ref == citizen_ref)
                .order_by(DocumentTransfer.created_at, DocumentTransfer.id)
            )
        )

    def export_citizen(self, session: Session, citizen_ref: str, out: Path) -> list[Path]:
        """Copy a citizen's documents into ``out`` with a ``transfers.json`` index."""
        transfers = self.citizen_transfers(session, citizen_ref)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        index: list[dict[str, Any]] = []
        for transfer in transfers:
            entry = transfer_json(transfer)
            entry["file"] = None
            if transfer.sha256:
                try:
                    data = self.read(transfer.sha256)
                except LookupError as exc:
                    entry["file_missing"] = str(exc)
                else:
                    name = f"{transfer.created_at:%Y%m%dT%H%M%S}-{transfer.kind}-{transfer.id}.pdf"
                    (out / name).write_bytes(data)
                    written.append(out / name)
                    entry["file"] = name
            index.append(entry)
        (out / "transfers.json").write_text(
            json.dumps({"citizen": citizen_ref, "transfers": index}, ensure_ascii=False, indent=2)
        )
        return written

    def forget_citizen(self, session: Session, citizen_ref: str, now: datetime) -> int:
        """Erase a citizen: their documents' files go, their rows lose the reference.

        A document also used for other citizens (a blank form printed for many) is kept for
        them. The rows stay, anonymous, so the counts of the evaluation do not change.
        """
        transfers = self.citizen_transfers(session, citizen_ref)
        hashes = {t.sha256 for t in transfers if t.sha256}
        others = set(
            session.scalars(
                select(DocumentTransfer.sha256).where(
                    DocumentTransfer.sha256.in_(hashes),
                    DocumentTransfer.citizen_ref != citizen_ref,
                )
            )
        )
        for digest in sorted(hashes - others):
            row = session.get(Document, digest)
            if row is not None:
                self._delete(row, now, "forgotten")
        for transfer in transfers:
            transfer.citizen_ref, transfer.title = "", ""
        session.flush()
        return len(transfers)


def citizen_of_call(session: Session, call_id: str | None) -> str:
    """The citizen reference of a call's appointment, or "" for a walk-in."""
    if call_id is None:
        return ""
    record = session.get(CallRecord, call_id)
    if record is None or record.appointment_id is None:
        return ""
    appointment = session.get(Appointment, record.appointment_id)
    return appointment.citizen_ref if appointment else ""


def transfer_json(transfer: DocumentTransfer) -> dict[str, Any]:
    return {
        "id": transfer.id,
        "command": transfer.command_id,
        "kind": transfer.kind,
        "status": transfer.status,
        "reason": transfer.reason or None,
        "details": transfer.details or {},
        "sha256": transfer.sha256,
        "from": transfer.sender,
        "to": transfer.recipient,
        "kiosk": transfer.kiosk_id,
        "call": transfer.call_id,
        "citizen": transfer.citizen_ref or None,
        "title": transfer.title,
        "created_at": transfer.created_at.isoformat(),
        "finished_at": transfer.finished_at.isoformat() if transfer.finished_at else None,
    }


def transfers_json(rows: Iterable[DocumentTransfer]) -> list[dict[str, Any]]:
    return [transfer_json(row) for row in rows]
