"""Stamping the citizen's signature into its field and sealing the PDF (pyHanko, PAdES).

The seal is checked with pyHanko's own validator against the deployment's certificate; the
stamp is found on a render of the field's page (poppler), inside the field's box and nowhere
else; any byte changed in the sealed file breaks the seal.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from pyhanko.pdf_utils.reader import PdfFileReader

from pvp.common import signature
from pvp.common.pdf import DocumentError, validate_pdf
from pvp.common.signature import SignatureField
from pvp.documents import signing
from pvp.documents.signing import Seal, SigningKey
from testkit.documents import text_pdf
from testkit.signing import assert_stamped_in, validate

SEAL = Seal("anpe-le-puy-c1", "Signé à la borne kiosk-vorey-1", "Vorey")


def drawn_signature(width: int = 600, height: int = 200) -> bytes:
    """What the kiosk page sends: strokes of dark ink on a transparent canvas."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.line([(20, 150), (200, 30), (380, 170), (580, 40)], fill=(10, 10, 60, 255), width=10)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    directory = tmp_path_factory.mktemp("signing")
    key_file, cert_file = signing.create_signing_key(directory, "PVP Auvergne documents")
    return SigningKey(key_file, cert_file)


def seal(pdf: bytes, key: SigningKey, *fields: SignatureField) -> signing.SealedDocument:
    info = validate_pdf(pdf)
    checked = signature.check_fields([f.json() for f in fields], info)
    image = signature.signature_image(drawn_signature())
    return signing.stamp_and_seal(pdf, checked, image, key, SEAL)


def test_given_a_field_on_page_2_when_sealed_then_pyhanko_validates_and_the_stamp_is_in_the_field(
    key: SigningKey, tmp_path: Path
) -> None:
    pdf = text_pdf("Demande d'allocation", "Signature du demandeur")
    field = SignatureField(page=2, x=300, y=120, width=220, height=80)

    sealed = seal(pdf, key, field)

    status = validate(sealed.pdf, key.cert_file)
    assert status.bottom_line and status.intact and status.valid and status.trusted
    assert status.coverage.name == "ENTIRE_FILE"
    assert sealed.pdf.startswith(pdf)  # incremental: the original is kept byte for byte
    assert sealed.sha256_before == signing.sha256(pdf) != sealed.sha256_after
    assert sealed.sha256_after == signing.sha256(sealed.pdf)
    assert_stamped_in(pdf, sealed.pdf, field, tmp_path)


@pytest.mark.parametrize("where", [0.2, 0.5, 0.999])
def test_given_a_sealed_pdf_when_any_byte_changes_then_the_seal_breaks(
    key: SigningKey, where: float
) -> None:
    sealed = seal(text_pdf("Contrat"), key, SignatureField(1, 60, 60, 200, 60)).pdf
    reader = PdfFileReader(io.BytesIO(sealed), strict=False)
    signature = reader.embedded_signatures[0]
    start, length, second, second_length = signature.byte_range
    # A byte the seal covers, in the first or the second signed range.
    covered = [i for i in range(len(sealed)) if i < start + length or i >= second]
    position = covered[int(where * (len(covered) - 1))]
    tampered = bytearray(sealed)
    tampered[position] ^= 0x01
    try:
        status = validate(bytes(tampered), key.cert_file)
    except Exception:  # noqa: BLE001 - an unreadable file is a broken seal too
        return
    assert not (status.intact and status.valid)


def test_given_a_pdf_with_its_own_signature_field_then_that_field_is_used(
    key: SigningKey, tmp_path: Path
) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields

    writer = IncrementalPdfFileWriter(io.BytesIO(text_pdf("Formulaire CAF")))
    fields.append_signature_field(
        writer, fields.SigFieldSpec("Demandeur", on_page=0, box=(100, 200, 300, 260))
    )
    out = io.BytesIO()
    writer.write(out)
    pdf = out.getvalue()

    found = signing.form_fields(pdf)

    assert found == (SignatureField(1, 100.0, 200.0, 200.0, 60.0),)
    sealed = seal(pdf, key, *found)
    assert validate(sealed.pdf, key.cert_file).bottom_line


def test_given_a_key_issued_by_the_deployment_ca_then_the_seal_chains_to_that_ca(
    tmp_path: Path,
) -> None:
    ca_key, ca_cert = make_ca(tmp_path / "ca")
    key_file, cert_file = signing.create_signing_key(
        tmp_path / "site", "PVP documents", "Région Auvergne", ca_cert=ca_cert, ca_key=ca_key
    )
    key = SigningKey(key_file, cert_file, [ca_cert])
    sealed = seal(text_pdf("Attestation"), key, SignatureField(1, 60, 60, 200, 60))

    assert validate(sealed.pdf, ca_cert).bottom_line
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(FileExistsError):
        signing.create_signing_key(tmp_path / "site", "again")


def make_ca(directory: Path) -> tuple[Path, Path]:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Région Auvergne CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "ca-key.pem", directory / "ca-cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ([{"page": 1, "x": 500, "y": 100, "width": 200, "height": 60}], "sort de la page 1"),
        ([{"page": 1, "x": 10, "y": 800, "width": 200, "height": 60}], "sort de la page 1"),
        ([{"page": 1, "x": -5, "y": 100, "width": 200, "height": 60}], "sort de la page 1"),
        ([{"page": 3, "x": 10, "y": 10, "width": 200, "height": 60}], "le document a 2 pages"),
        ([{"page": 0, "x": 10, "y": 10, "width": 200, "height": 60}], "le document a 2 pages"),
        ([{"page": 1, "x": 10, "y": 10, "width": 5, "height": 60}], "trop petit"),
        ([{"page": 1, "x": "10", "y": 10, "width": 200, "height": 60}], "invalide"),
        ([], "aucun champ"),
        (None, "aucun champ"),
    ],
)
def test_given_a_field_off_the_page_or_malformed_then_it_is_refused(
    raw: object, reason: str
) -> None:
    info = validate_pdf(text_pdf("un", "deux"))
    with pytest.raises(DocumentError, match=reason):
        signature.check_fields(raw, info)


def test_given_a_blank_or_foreign_signature_image_then_it_is_refused() -> None:
    blank = io.BytesIO()
    Image.new("RGBA", (600, 200), (255, 255, 255, 255)).save(blank, "PNG")
    with pytest.raises(DocumentError, match="signature vide"):
        signature.signature_image(blank.getvalue())
    jpeg = io.BytesIO()
    Image.new("RGB", (60, 20)).save(jpeg, "JPEG")
    with pytest.raises(DocumentError, match="illisible"):
        signature.signature_image(jpeg.getvalue())
    with pytest.raises(DocumentError, match="illisible"):
        signature.signature_image(b"not a png")


def test_the_cli_creates_the_key_where_the_control_plane_looks_and_never_overwrites_it(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from pvp.cli import main

    env = {"PVP_DATA_DIR": str(tmp_path)}
    args = ["doc", "signing-key", "--name", "PVP Auvergne documents"]
    first = CliRunner().invoke(main, args, env=env)
    assert first.exit_code == 0, first.output
    key = SigningKey.from_dir(tmp_path / "signing")
    sealed = seal(text_pdf("x"), key, SignatureField(1, 60, 60, 200, 60)).pdf
    assert validate(sealed, key.cert_file).bottom_line
    before = (tmp_path / "signing" / "signing-key.pem").read_bytes()
    again = CliRunner().invoke(main, args, env=env)
    assert again.exit_code != 0 and "existe déjà" in again.output
    assert (tmp_path / "signing" / "signing-key.pem").read_bytes() == before


def test_a_signature_the_kiosk_never_answered_is_refused_by_the_purge_once_the_call_ended(
    control: Any,
) -> None:
    from pvp.documents.signatures import request_signature
    from pvp.model import Document, DocumentTransfer
    from testkit.documents import COUNSELLOR, end_call, start_call

    signing.create_signing_key(control.settings.resolved_signing_dir(), "PVP")
    call = start_call(control.db)
    field = SignatureField(1, 60, 60, 200, 60).json()
    request_signature(control.service, COUNSELLOR, call, text_pdf("Contrat"), [field])
    control.service.purge()  # the call is still on: nothing changes
    assert [t["status"] for t in control.service.call_transfers(COUNSELLOR, call)] == ["pending"]

    end_call(control.db, call)  # the kiosk restarted meanwhile: no answer will come
    control.service.purge()

    (row,) = control.service.call_transfers(COUNSELLOR, call)
    assert (row["status"], row["reason"], row["sha256"]) == (
        "failed",
        "appel terminé avant la signature",
        None,
    )
    with control.db.sessions() as session:
        assert session.query(Document).count() == 0
        assert session.query(DocumentTransfer).count() == 1
    assert not any(control.settings.documents_dir().rglob("*.pdf"))
