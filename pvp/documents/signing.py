"""Signing at the kiosk: the citizen's drawn signature stamped into its field(s), the PDF
sealed with the deployment's document-signing key (PAdES baseline, pyHanko).

Pure functions over bytes: check the fields a counsellor placed (or read the empty signature
fields the PDF already has), check the drawn signature, stamp and seal. Both the stamp and
the seal are incremental updates, so the original PDF's bytes are the sealed PDF's prefix.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pypdf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image
from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.stamp.static import StaticContentStamp, StaticStampStyle

from pvp.certificates import certificate, pem_private_key
from pvp.common.pdf import DocumentError
from pvp.common.signature import SignatureField

T = TypeVar("T")
SEAL_FIELD = "PVP-scellement"
ALREADY_SIGNED = "ce PDF porte déjà une signature électronique : il ne peut pas être modifié"


@dataclass(frozen=True, slots=True)
class Seal:
    """Who and what the seal says (the signature's /Name, /Reason, /Location)."""

    name: str
    reason: str
    location: str


@dataclass(frozen=True, slots=True)
class SealedDocument:
    pdf: bytes
    sha256_before: str
    sha256_after: str


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def form_fields(pdf: bytes) -> tuple[SignatureField, ...]:
    """The PDF's own empty signature fields (/FT /Sig without /V), relative to each page's
    media box; a PDF already signed is refused (stamping would break that signature)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    found = []
    for number, page in enumerate(reader.pages, start=1):
        left, bottom = float(page.mediabox.left), float(page.mediabox.bottom)
        for ref in page.get("/Annots") or []:
            widget = ref.get_object()
            parent = widget.get("/Parent")
            field = parent.get_object() if parent is not None and "/FT" not in widget else widget
            if field.get("/FT") != "/Sig":
                continue
            if field.get("/V") is not None:
                raise DocumentError(ALREADY_SIGNED)
            x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
            x, y = min(x1, x2) - left, min(y1, y2) - bottom
            found.append(SignatureField(number, x, y, abs(x2 - x1), abs(y2 - y1)))
    return tuple(found)


class SigningKey:
    """The deployment's document-signing key and certificate (PEM files)."""

    def __init__(self, key_file: Path, cert_file: Path, chain: Sequence[Path] = ()) -> None:
        for path in (key_file, cert_file, *chain):
            if not path.is_file():
                raise DocumentError(f"clé de signature des documents introuvable : {path}")
        signer = signers.SimpleSigner.load(
            str(key_file), str(cert_file), ca_chain_files=[str(p) for p in chain] or None
        )
        if signer is None:
            raise DocumentError("clé de signature des documents illisible")
        self.signer = signer
        self.cert_file = cert_file

    @classmethod
    def from_dir(cls, directory: Path) -> SigningKey:
        """The key made by ``pvp doc signing-key`` in ``directory`` (with its CA chain)."""
        chain = directory / "ca-chain.pem"
        return cls(
            directory / "signing-key.pem",
            directory / "signing-cert.pem",
            [chain] if chain.is_file() else [],
        )


def stamp_and_seal(
    pdf: bytes,
    fields_: Sequence[SignatureField],
    signature: Image.Image,
    key: SigningKey,
    seal: Seal,
) -> SealedDocument:
    """Stamp ``signature`` into every field (keeping its proportions) and seal the result."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    image = PdfImage(signature, writer=writer)
    style = StaticStampStyle(
        background=image,
        border_width=0,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(0),
        ),
    )
    for field in fields_:
        box = layout.BoxConstraints(width=field.width, height=field.height)
        left, bottom = _page_origin(pdf, field.page)
        stamp = StaticContentStamp(writer, style, box)
        stamp.apply(field.page - 1, int(round(left + field.x)), int(round(bottom + field.y)))
    meta = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        name=seal.name,
        reason=seal.reason,
        location=seal.location,
    )
    out = outside_event_loop(lambda: signers.sign_pdf(writer, meta, signer=key.signer))
    sealed = out.getvalue()
    return SealedDocument(sealed, sha256(pdf), sha256(sealed))


def outside_event_loop(work: Callable[[], T]) -> T:
    """Run ``work`` here, or on a short-lived thread when this thread runs an asyncio loop:
    pyHanko's synchronous API calls ``asyncio.run``, which a running loop refuses."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def _page_origin(pdf: bytes, page: int) -> tuple[float, float]:
    box = pypdf.PdfReader(io.BytesIO(pdf)).pages[page - 1].mediabox
    return float(box.left), float(box.bottom)


def create_signing_key(
    out_dir: Path,
    common_name: str,
    organisation: str = "",
    days: int = 3 * 365,
    ca_cert: Path | None = None,
    ca_key: Path | None = None,
) -> tuple[Path, Path]:
    """Write ``signing-key.pem`` (mode 600) and ``signing-cert.pem`` into ``out_dir``:
    self-signed, or issued by the deployment's CA when ``ca_cert`` and ``ca_key`` are given.
    Existing files are never overwritten (rotation writes to a new directory)."""
    key_path, cert_path = out_dir / "signing-key.pem", out_dir / "signing-cert.pem"
    if key_path.exists() or cert_path.exists():
        raise FileExistsError(f"une clé de signature existe déjà dans {out_dir}")
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    subject = x509.Name(attributes)
    issuer, issuer_key = subject, key
    if ca_cert is not None and ca_key is not None:
        ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError("la clé de l'autorité doit être une clé EC")
        issuer, issuer_key = ca.subject, loaded
    now = datetime.now(UTC)
    cert = (
        certificate(
            subject,
            issuer,
            key.public_key(),
            now - timedelta(minutes=5),
            now + timedelta(days=days),
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(issuer_key, hashes.SHA256())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    key_path.touch(mode=0o600)
    key_path.write_bytes(pem_private_key(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if ca_cert is not None:
        (out_dir / "ca-chain.pem").write_bytes(ca_cert.read_bytes())
    return key_path, cert_path
