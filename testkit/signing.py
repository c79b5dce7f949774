"""Checks on sealed PDFs shared by the signing tests: pyHanko's own validator, and where the
stamp landed on a render of the page (poppler)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from pvp.common.signature import SignatureField
from pvp.documents.signing import outside_event_loop

RENDER_DPI = 36  # half a pixel per point: 1 px = 2 pt


def validate(pdf: bytes, cert_file: Path) -> Any:
    """pyHanko's status of the PDF's one signature, trusting ``cert_file``."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    assert len(reader.embedded_signatures) == 1
    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(cert_file))])
    signature = reader.embedded_signatures[0]
    return outside_event_loop(lambda: validate_pdf_signature(signature, context))


def render(pdf: bytes, page: int, tmp_path: Path) -> Image.Image:
    source = tmp_path / "in.pdf"
    source.write_bytes(pdf)
    prefix = tmp_path / "page"
    subprocess.run(
        ["pdftoppm", "-r", str(RENDER_DPI), "-f", str(page), "-l", str(page), "-png"]
        + ["-singlefile", str(source), str(prefix)],
        check=True,
    )
    with Image.open(prefix.with_suffix(".png")) as image:
        return image.convert("L")


def assert_stamped_in(before: bytes, after: bytes, field: SignatureField, tmp_path: Path) -> None:
    """Ink appeared on the field's page, all of it inside the field's box (1 px of rounding),
    as wide as most of the field; other pages unchanged."""
    old, new = render(before, field.page, tmp_path), render(after, field.page, tmp_path)
    changed = ImageChops.difference(old, new).point(lambda v: 255 if v > 60 else 0)
    box = changed.getbbox()
    assert box is not None, "no stamp on the field's page"
    scale = RENDER_DPI / 72
    left, right = field.x * scale, (field.x + field.width) * scale
    top = new.height - (field.y + field.height) * scale
    bottom = new.height - field.y * scale
    assert left - 1 <= box[0] and box[2] <= right + 1, (box, (left, right))
    assert top - 1 <= box[1] and box[3] <= bottom + 1, (box, (top, bottom))
    assert box[2] - box[0] > 0.5 * (right - left) or box[3] - box[1] > 0.5 * (bottom - top)
    pages = PdfFileReader(io.BytesIO(before), strict=False).root["/Pages"]["/Count"]
    for other in range(1, int(pages) + 1):
        if other != field.page:
            diff = ImageChops.difference(
                render(before, other, tmp_path), render(after, other, tmp_path)
            )
            assert diff.getbbox() is None, f"page {other} changed"
