"""PDF tools: scanned pages to one PDF, checks on incoming PDFs, fax TIFF-F both ways.

Scans stay lossless: each page goes into the PDF as the PNG it was encoded to (img2pdf
copies PNG data without re-encoding; Pillow's PDF writer would store JPEG). Fax pages are
made by Ghostscript's ``tiffg3`` device, whose output is strict TIFF Class F.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import img2pdf
import pypdf
from PIL import Image

from pvp.common.errors import PvpError
from pvp.common.pdfscreen import MAX_PAGES, ScreeningError, declared_pages, screen_objects

# Every failure below reaches a counsellor as it is: French, short, actionable.
NOT_A_PDF = "le fichier n'est pas un PDF"
UNREADABLE_PDF = "PDF illisible"
ENCRYPTED_PDF = "PDF protégé par un mot de passe"
EMPTY_PDF = "PDF sans aucune page"
NO_PAGES = "aucune page numérisée"
FAX_CONVERSION_FAILED = "conversion du document pour le fax impossible"
UNREADABLE_FAX = "fax reçu illisible"

# Fax geometry: 1728 pixels across (ITU-T T.4, 215 mm), A4 height at 196 lines per inch.
FAX_DPI = (204, 196)
FAX_SIZE_PX = (1728, 2292)
GHOSTSCRIPT_TIMEOUT_S = 120.0


class DocumentError(PvpError, ValueError, code="document_refused"):
    """A document PVP cannot use; ``str()`` is the French reason shown to a person."""


@dataclass(frozen=True, slots=True)
class PdfInfo:
    pages: int
    # (width, height) of each page's media box, in PostScript points.
    page_sizes: tuple[tuple[float, float], ...]


def images_to_pdf(images: Sequence[Image.Image], dpi: int) -> bytes:
    """One PDF page per image, each page exactly its scanned size at ``dpi``, lossless."""
    if not images:
        raise DocumentError(NO_PAGES)
    pngs = [_png(image) for image in images]
    layout = img2pdf.get_fixed_dpi_layout_fun((dpi, dpi))
    pdf = img2pdf.convert(pngs, layout_fun=layout)
    assert isinstance(pdf, bytes)
    return pdf


def _png(image: Image.Image) -> bytes:
    # img2pdf refuses alpha channels (a PDF image has none); scanners never produce one,
    # but an image from elsewhere might. Palette and CMYK images are flattened for the same reason.
    if image.mode not in ("1", "L", "RGB"):
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def validate_pdf(data: bytes, max_pages: int | None = None) -> PdfInfo:
    """Check that ``data`` is a PDF whose every page parses; raise :class:`DocumentError`.

    Screened first (pvp/common/pdfscreen.py): page count before any page is read, size
    once inflated, no JavaScript nor automatic action.
    """
    # PDF readers accept junk before the header within the first KiB (ISO 32000-1, annex H).
    if b"%PDF-" not in data[:1024]:
        raise DocumentError(NOT_A_PDF)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(ENCRYPTED_PDF)
        declared_pages(reader, max_pages if max_pages is not None else MAX_PAGES)
        screen_objects(reader)
        sizes = tuple((float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages)
    except DocumentError:
        raise
    except ScreeningError as exc:
        raise DocumentError(str(exc)) from None
    except Exception as exc:  # pypdf raises many types on broken files; all mean the same here
        raise DocumentError(UNREADABLE_PDF) from exc
    if not sizes:
        raise DocumentError(EMPTY_PDF)
    if max_pages is not None and len(sizes) > max_pages:
        raise DocumentError(f"PDF trop long : {len(sizes)} pages (au plus {max_pages})")
    return PdfInfo(pages=len(sizes), page_sizes=sizes)


def pdf_to_fax_tiff(pdf: bytes) -> bytes:
    """A multi-page TIFF Class F (G3, 204×196 dpi, 1728 px wide) of a valid PDF."""
    validate_pdf(pdf)
    gs = shutil.which("gs")
    if gs is None:
        raise DocumentError(f"{FAX_CONVERSION_FAILED} : Ghostscript absent")
    with tempfile.TemporaryDirectory(prefix="pvp-fax-") as tmp:
        source, target = Path(tmp) / "in.pdf", Path(tmp) / "out.tif"
        source.write_bytes(pdf)
        command = [
            gs,
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-sDEVICE=tiffg3",
            f"-r{FAX_DPI[0]}x{FAX_DPI[1]}",
            f"-g{FAX_SIZE_PX[0]}x{FAX_SIZE_PX[1]}",
            # Fixed fax media: every page (A4, Letter, landscape) is scaled into it.
            "-dFIXEDMEDIA",
            "-dPDFFitPage",
            f"-sOutputFile={target}",
            str(source),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=GHOSTSCRIPT_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise DocumentError(f"{FAX_CONVERSION_FAILED} : délai dépassé") from exc
        if done.returncode != 0 or not target.is_file():
            raise DocumentError(FAX_CONVERSION_FAILED)
        return target.read_bytes()


def tiff_to_pdf(tiff: bytes) -> bytes:
    """A received fax (multi-page TIFF, any fax resolution) as a PDF with true page sizes."""
    try:
        with Image.open(io.BytesIO(tiff)) as image:
            if image.format != "TIFF":
                raise DocumentError(UNREADABLE_FAX)
        # img2pdf reads each page's own x/y resolution, so 204×98 "normal" faxes keep
        # their proportions.
        pdf = img2pdf.convert(tiff)
    except DocumentError:
        raise
    except Exception as exc:  # Pillow and img2pdf raise many types on broken images
        raise DocumentError(UNREADABLE_FAX) from exc
    assert isinstance(pdf, bytes)
    return pdf
