"""Single-use, short-lived download links for documents sent by reference (RFC 4483).

The token is 256 random bits; only its SHA-256 is stored, so a copy of the database gives no
usable link. A link names the one kiosk that may fetch it and is consumed by the first
download that succeeds.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from pvp.common.errors import PvpError
from pvp.model import Document, DocumentLink

TOKEN_BYTES = 32


class LinkError(PvpError, LookupError, code="document_link_refused"):
    """A link that cannot be used; ``status`` is the HTTP status, ``str()`` French."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    session: Session,
    sha256: str,
    kiosk_id: str,
    command_id: str,
    now: datetime,
    lifetime: timedelta,
) -> tuple[str, datetime]:
    """A new link for ``kiosk_id`` to fetch ``sha256``: (token, expiry)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires = now + lifetime
    session.add(
        DocumentLink(
            token_hash=_hash(token),
            sha256=sha256,
            kiosk_id=kiosk_id,
            command_id=command_id,
            created_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    return token, expires


def redeem(session: Session, token: str, kiosk_id: str, now: datetime) -> Document:
    """Consume the link for ``kiosk_id``; the caller commits only once the body is ready.

    The consuming UPDATE is conditional on ``used_at IS NULL``, so two concurrent downloads
    cannot both win.
    """
    row = session.get(DocumentLink, _hash(token)) if len(token) < 200 else None
    if row is None:
        raise LinkError("lien de document inconnu", 404)
    if row.kiosk_id != kiosk_id:
        raise LinkError("ce document est destiné à une autre borne", 403)
    if row.used_at is not None:
        raise LinkError("lien de document déjà utilisé", 410)
    if now >= row.expires_at:
        raise LinkError("lien de document expiré", 410)
    document = session.get(Document, row.sha256)
    if document is None or document.purged_at is not None:
        raise LinkError("document supprimé", 410)
    done = session.execute(
        update(DocumentLink)
        .where(DocumentLink.token_hash == row.token_hash, DocumentLink.used_at.is_(None))
        .values(used_at=now)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkError("lien de document déjà utilisé", 410)
    return document
