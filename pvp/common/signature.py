"""What a citizen signs at the kiosk: the fields a counsellor placed and the drawn signature.

Checked at both ends: the kiosk before it shows the document, the control plane before it stamps.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from pvp.common.pdf import DocumentError, PdfInfo

MAX_FIELDS = 10
MIN_FIELD_POINTS = 20.0  # a field smaller than 7 mm cannot hold a signature
MAX_SIGNATURE_PX = 4000

FIELD_OUTSIDE = "le champ de signature sort de la page {page}"
FIELD_BAD_PAGE = "le champ de signature est sur la page {page}, le document a {pages} pages"
FIELD_TOO_SMALL = "le champ de signature est trop petit (au moins 20 points de côté)"
FIELD_INVALID = "champ de signature invalide"
NO_FIELD = "aucun champ de signature : placez-en un ou envoyez un PDF qui en contient"
TOO_MANY_FIELDS = f"trop de champs de signature (au plus {MAX_FIELDS})"
BAD_SIGNATURE_IMAGE = "image de signature illisible"
EMPTY_SIGNATURE = "signature vide"


@dataclass(frozen=True, slots=True)
class SignatureField:
    """Where the citizen signs: a page (from 1) and a box in PDF points from the page's
    lower-left corner, as PDF coordinates go."""

    page: int
    x: float
    y: float
    width: float
    height: float

    def json(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "x": self.x,
            "y": self.y,
            "width": self.width,
            "height": self.height,
        }


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DocumentError(FIELD_INVALID)
    return float(value)


def check_fields(raw: Any, info: PdfInfo) -> tuple[SignatureField, ...]:
    """The fields a counsellor placed, each on an existing page and wholly inside it."""
    if not isinstance(raw, list) or not raw:
        raise DocumentError(NO_FIELD)
    if len(raw) > MAX_FIELDS:
        raise DocumentError(TOO_MANY_FIELDS)
    result = []
    for item in raw:
        if not isinstance(item, dict):
            raise DocumentError(FIELD_INVALID)
        page = item.get("page")
        if isinstance(page, bool) or not isinstance(page, int):
            raise DocumentError(FIELD_INVALID)
        if not 1 <= page <= info.pages:
            raise DocumentError(FIELD_BAD_PAGE.format(page=page, pages=info.pages))
        values = [_number(item.get(k)) for k in ("x", "y", "width", "height")]
        field = SignatureField(page, *values)
        if field.width < MIN_FIELD_POINTS or field.height < MIN_FIELD_POINTS:
            raise DocumentError(FIELD_TOO_SMALL)
        width, height = info.page_sizes[page - 1]
        if field.x < 0 or field.y < 0 or field.x + field.width > width:
            raise DocumentError(FIELD_OUTSIDE.format(page=page))
        if field.y + field.height > height:
            raise DocumentError(FIELD_OUTSIDE.format(page=page))
        result.append(field)
    return tuple(result)


def signature_image(png: bytes) -> Image.Image:
    """The drawn signature: a PNG with some ink on it, within a sane size."""
    try:
        image = Image.open(io.BytesIO(png))
        if image.format != "PNG":
            raise DocumentError(BAD_SIGNATURE_IMAGE)
        if max(image.size) > MAX_SIGNATURE_PX:
            raise DocumentError(BAD_SIGNATURE_IMAGE)
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        if isinstance(exc, DocumentError):
            raise
        raise DocumentError(BAD_SIGNATURE_IMAGE) from None
    rgba = image.convert("RGBA")
    # Ink is any pixel both opaque and darker than paper.
    alpha = rgba.getchannel("A").point(lambda a: 255 if a > 128 else 0)
    dark = rgba.convert("L").point(lambda v: 255 if v < 160 else 0)
    ink = Image.new("L", rgba.size, 0)
    ink.paste(dark, mask=alpha)
    if ink.getbbox() is None:
        raise DocumentError(EMPTY_SIGNATURE)
    return rgba
