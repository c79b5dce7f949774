"""PDF checks and fax conversions, with the real Ghostscript."""

from __future__ import annotations

import io
import shutil

import pypdf
import pytest
from PIL import Image, ImageDraw

from pvp.common.pdf import (
    DocumentError,
    images_to_pdf,
    pdf_to_fax_tiff,
    tiff_to_pdf,
    validate_pdf,
)
from testkit.devices import SAMPLE_TEXTS, page_texts

needs_gs = pytest.mark.skipif(
    shutil.which("gs") is None, reason="Ghostscript not installed (Debian package ghostscript)"
)


def test_a_valid_pdf_gives_its_pages(three_page_pdf: bytes) -> None:
    info = validate_pdf(three_page_pdf)

    assert info.pages == 3
    assert info.page_sizes[1][0] > info.page_sizes[1][1]  # the landscape page
    assert page_texts(three_page_pdf) == list(SAMPLE_TEXTS)


@pytest.mark.parametrize("data", [b"", b"bonjour", b"\x89PNG\r\n\x1a\n" + bytes(64)])
def test_what_is_not_a_pdf_is_refused(data: bytes) -> None:
    with pytest.raises(DocumentError, match="^le fichier n'est pas un PDF$"):
        validate_pdf(data)


def test_a_truncated_pdf_is_unreadable(three_page_pdf: bytes) -> None:
    with pytest.raises(DocumentError, match="^PDF illisible$"):
        validate_pdf(three_page_pdf[: len(three_page_pdf) // 2])


def test_a_pdf_header_over_garbage_is_unreadable() -> None:
    with pytest.raises(DocumentError, match="^PDF illisible$"):
        validate_pdf(b"%PDF-1.7\n" + bytes(range(256)) * 8)


def encrypted(pdf: bytes, user_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(pdf))
    writer.encrypt(user_password, owner_password="owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_password_protected_pdf_is_refused(three_page_pdf: bytes) -> None:
    with pytest.raises(DocumentError, match="^PDF protégé par un mot de passe$"):
        validate_pdf(encrypted(three_page_pdf, "secret"))


def test_a_pdf_restricted_only_by_an_owner_password_is_accepted(three_page_pdf: bytes) -> None:
    # Many official forms are AES-encrypted with an empty user password: they open freely.
    assert validate_pdf(encrypted(three_page_pdf, "")).pages == 3


def test_a_pdf_longer_than_allowed_is_refused(three_page_pdf: bytes) -> None:
    with pytest.raises(DocumentError, match="^PDF trop long : 3 pages"):
        validate_pdf(three_page_pdf, max_pages=2)


def test_no_scanned_page_makes_no_pdf() -> None:
    with pytest.raises(DocumentError, match="^aucune page numérisée$"):
        images_to_pdf([], dpi=300)


def test_an_image_with_alpha_is_flattened_losslessly() -> None:
    image = Image.new("RGBA", (200, 100), (10, 20, 30, 255))

    pdf = images_to_pdf([image], dpi=100)

    (embedded,) = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].images
    assert embedded.image is not None
    assert embedded.image.convert("RGB").tobytes() == image.convert("RGB").tobytes()


@needs_gs
def test_pdf_to_fax_tiff_and_back_keeps_the_page_count(three_page_pdf: bytes) -> None:
    tiff = pdf_to_fax_tiff(three_page_pdf)

    with Image.open(io.BytesIO(tiff)) as fax:
        assert fax.n_frames == 3
        for frame in range(3):
            fax.seek(frame)
            # TIFF Class F: bilevel, 1728 px across, G3, fax resolution.
            assert fax.mode == "1" and fax.size == (1728, 2292)
            assert fax.info["compression"] == "group3"
            assert fax.info["dpi"] == (204, 196)
    back = validate_pdf(tiff_to_pdf(tiff))
    assert back.pages == 3
    for width, height in back.page_sizes:  # 215 × 297 mm, the fax page
        assert width == pytest.approx(1728 / 204 * 72, abs=0.5)
        assert height == pytest.approx(2292 / 196 * 72, abs=0.5)


@needs_gs
def test_a_corrupt_pdf_is_not_sent_to_ghostscript() -> None:
    with pytest.raises(DocumentError, match="^le fichier n'est pas un PDF$"):
        pdf_to_fax_tiff(b"bonjour")


def test_a_normal_resolution_fax_keeps_its_proportions() -> None:
    # "Normal" faxes are 204 × 98 dpi: pixels twice as tall as wide.
    page = Image.new("1", (1728, 1145), 1)
    ImageDraw.Draw(page).rectangle((100, 100, 800, 400), fill=0)
    out = io.BytesIO()
    page.save(out, format="TIFF", compression="group3", dpi=(204, 98))

    info = validate_pdf(tiff_to_pdf(out.getvalue()))

    assert info.pages == 1
    width, height = info.page_sizes[0]
    assert height / width == pytest.approx((1145 / 98) / (1728 / 204), rel=0.01)


@pytest.mark.parametrize("data", [b"", b"II*\x00garbage", b"%PDF-1.4\n"])
def test_an_unreadable_fax_is_refused(data: bytes) -> None:
    with pytest.raises(DocumentError, match="^fax reçu illisible$"):
        tiff_to_pdf(data)
