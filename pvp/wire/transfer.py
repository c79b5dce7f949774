"""A document inside a command: inline (base64) when small, else by reference (RFC 4483).

The sender puts the document inline when the whole encoded command stays under the inline
threshold (measured through FreeSWITCH, see docs/documents.md), else a single-use link.
The receiver checks size and SHA-256 whichever way it came, and refuses an expired link
before even trying it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pvp.common.pdf import DocumentError
from pvp.wire.messages import SEAL_OVERHEAD, Command, encode_command

PDF = "application/pdf"
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

BAD_DOCUMENT = "description du document invalide"
HASH_MISMATCH = "empreinte SHA-256 du document incorrecte"
SIZE_MISMATCH = "taille du document différente de celle annoncée"
LINK_EXPIRED = "lien de document expiré"


@dataclass(frozen=True, slots=True)
class Encoded:
    command: Command
    body: str
    inline: bool


def inline_document(pdf: bytes, sha256: str) -> dict[str, Any]:
    return {
        "content_type": PDF,
        "sha256": sha256,
        "size": len(pdf),
        "data": base64.b64encode(pdf).decode("ascii"),
    }


def reference_document(sha256: str, size: int, url: str, expires: datetime) -> dict[str, Any]:
    return {
        "content_type": PDF,
        "sha256": sha256,
        "size": size,
        "access_type": "URL",
        "url": url,
        "expiration": expires.isoformat(),
    }


def encode_with_document(
    command: Command,
    pdf: bytes,
    sha256: str,
    inline_max_bytes: int,
    make_link: Callable[[], tuple[str, datetime]],
) -> Encoded:
    """``command`` with ``args["document"]`` set, inline if the body fits, else a link.

    The link is made only when needed: an unused link would be a live credential for nothing.
    """
    # Base64 makes 4 bytes of 3: skip the encoding attempt when it cannot fit anyway.
    if len(pdf) * 4 // 3 < inline_max_bytes:
        inline = replace(command, args={**command.args, "document": inline_document(pdf, sha256)})
        body = encode_command(inline)
        # The transport seals the body on its way out (pvp/wire/messages.py): leave it room.
        if len(body.encode()) + SEAL_OVERHEAD <= inline_max_bytes:
            return Encoded(inline, body, True)
    url, expires = make_link()
    document = reference_document(sha256, len(pdf), url, expires)
    by_ref = replace(command, args={**command.args, "document": document})
    return Encoded(by_ref, encode_command(by_ref), False)


def describe(document: object, max_bytes: int) -> dict[str, Any]:
    """Check the form of a ``document`` argument; raise DocumentError (French)."""
    if not isinstance(document, dict):
        raise DocumentError(BAD_DOCUMENT)
    if document.get("content_type") != PDF:
        raise DocumentError("le document n'est pas un PDF")
    sha, size = document.get("sha256"), document.get("size")
    if not isinstance(sha, str) or not SHA256_RE.match(sha):
        raise DocumentError(BAD_DOCUMENT + " (sha256)")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise DocumentError(BAD_DOCUMENT + " (size)")
    if size > max_bytes:
        raise DocumentError(f"document trop volumineux : {size} octets (au plus {max_bytes})")
    if "data" in document:
        if not isinstance(document["data"], str):
            raise DocumentError(BAD_DOCUMENT + " (data)")
    elif document.get("access_type") == "URL":
        if not isinstance(document.get("url"), str) or not isinstance(
            document.get("expiration"), str
        ):
            raise DocumentError(BAD_DOCUMENT + " (url)")
    else:
        raise DocumentError(BAD_DOCUMENT + " (ni data ni url)")
    return document


def obtain(
    document: object,
    fetch: Callable[[str, int], bytes],
    now: datetime,
    max_bytes: int,
) -> bytes:
    """The document's bytes, checked; ``fetch(url, max_bytes)`` downloads a reference."""
    described = describe(document, max_bytes)
    if "data" in described:
        try:
            data = base64.b64decode(described["data"], validate=True)
        except (binascii.Error, ValueError):
            raise DocumentError(BAD_DOCUMENT + " (base64)") from None
    else:
        try:
            expires = datetime.fromisoformat(described["expiration"])
        except ValueError:
            raise DocumentError(BAD_DOCUMENT + " (expiration)") from None
        if expires.tzinfo is None or now >= expires:
            raise DocumentError(LINK_EXPIRED)
        data = fetch(described["url"], described["size"])
    if len(data) != described["size"]:
        raise DocumentError(SIZE_MISMATCH)
    if hashlib.sha256(data).hexdigest() != described["sha256"]:
        raise DocumentError(HASH_MISMATCH)
    return data
