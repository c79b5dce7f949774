"""Screening of an incoming PDF before anything else reads it: size once inflated, active
content, page count.

A PDF is mostly compressed streams: 1 MB of Flate data can inflate to 1 GB in whoever renders
it (the kiosk's printer filters, a counsellor's viewer). Each stream is inflated here in
bounded steps, never past the bound. A PDF may also carry JavaScript and actions that run
when it opens; PVP moves forms and letters, which need none, so such a PDF is refused (rather
than rewritten: the citizen's document must stay byte for byte what was sent).
"""

from __future__ import annotations

import zlib
from typing import Any

import pypdf
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, StreamObject

from pvp.common.errors import PvpError

MAX_STREAM_INFLATED = 64 * 1024 * 1024  # one A4 page scanned at 400 dpi in colour is ~45 MiB
MAX_TOTAL_INFLATED = 512 * 1024 * 1024
MAX_PAGES = 1000  # when the caller gives no bound of its own
STEP = 1024 * 1024

TOO_BIG_INFLATED = "PDF refusé : une fois décompressé il dépasserait {mib} Mio"
ACTIVE_CONTENT = "PDF refusé : il contient du JavaScript ou des actions automatiques ({what})"
BAD_PAGE_COUNT = "PDF illisible : nombre de pages absent ou invalide"

# Keys whose mere presence means code or an action run without the reader's click on a link.
ACTIVE_KEYS = frozenset({"/JS", "/JavaScript", "/OpenAction", "/AA", "/XFA"})
# Action types (/S) that run code, launch programs or send data; plain links stay allowed.
ACTIVE_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/SubmitForm",
        "/ImportData",
        "/ResetForm",
        "/Rendition",
        "/GoToE",
        "/GoToR",
        "/Sound",
        "/Movie",
        "/RichMediaExecute",
    }
)
FLATE = frozenset({"/FlateDecode", "/Fl"})


class ScreeningError(PvpError, ValueError, code="pdf_refused"):
    """Why the PDF is refused (French, shown as it is)."""


def declared_pages(reader: pypdf.PdfReader, max_pages: int) -> int:
    """The page tree's /Count, checked before any page is read."""
    try:
        root: Any = reader.trailer["/Root"]
        count = root["/Pages"]["/Count"]
    except (KeyError, TypeError) as exc:
        raise ScreeningError(BAD_PAGE_COUNT) from exc
    if not isinstance(count, int) or count < 0:
        raise ScreeningError(BAD_PAGE_COUNT)
    if count > max_pages:
        raise ScreeningError(f"PDF trop long : {count} pages (au plus {max_pages})")
    return int(count)


def screen_objects(reader: pypdf.PdfReader) -> None:
    """Every object: streams inflated within the bounds, no active content anywhere."""
    budget = MAX_TOTAL_INFLATED
    # Objects stored plainly come first: the object streams (which pypdf inflates itself to
    # read the objects they hold) are among them and get measured before being opened.
    plain = [(num, gen) for gen, nums in reader.xref.items() for num in nums]
    packed = [(num, 0) for num in reader.xref_objStm]
    for num, gen in plain + packed:
        obj = reader.get_object(IndirectObject(num, gen, reader))
        if isinstance(obj, StreamObject):
            budget -= _inflated_size(obj, budget)
        _refuse_active(obj)
    _refuse_active(reader.trailer)


def _filters(stream: StreamObject) -> list[str]:
    value = stream.get("/Filter")
    if isinstance(value, IndirectObject):
        value = value.get_object()
    if isinstance(value, ArrayObject):
        return [str(v) for v in value]
    return [str(value)] if value is not None else []


def _inflated_size(stream: StreamObject, budget: int) -> int:
    """The stream's size after its first filter, inflated step by step within the bounds."""
    data: bytes = stream._data  # the encoded bytes, as stored (pypdf has no public name)
    filters = _filters(stream)
    if not filters or filters[0] not in FLATE:
        return len(data)  # other filters expand little, or are images decoded by size
    limit = min(MAX_STREAM_INFLATED, budget)
    inflater = zlib.decompressobj()
    size, pending = 0, data
    try:
        while pending and not inflater.eof:
            size += len(inflater.decompress(pending, STEP))
            if size > limit:
                bound = MAX_STREAM_INFLATED if size > MAX_STREAM_INFLATED else MAX_TOTAL_INFLATED
                raise ScreeningError(TOO_BIG_INFLATED.format(mib=bound // (1024 * 1024)))
            pending = inflater.unconsumed_tail
    except zlib.error:
        pass  # a damaged stream: readers show what inflated; it is counted as such
    return size


def _refuse_active(obj: Any) -> None:
    """Refuse active keys in ``obj`` and the direct objects inside it (references are
    visited on their own by :func:`screen_objects`)."""
    pending = [obj]
    while pending:
        item = pending.pop()
        if isinstance(item, DictionaryObject):  # streams are dictionaries too
            for key, value in item.items():
                if key in ACTIVE_KEYS:
                    raise ScreeningError(ACTIVE_CONTENT.format(what=key))
                if key == "/S" and isinstance(value, NameObject) and value in ACTIVE_ACTIONS:
                    raise ScreeningError(ACTIVE_CONTENT.format(what=value))
                if isinstance(value, DictionaryObject | ArrayObject):
                    pending.append(value)
        elif isinstance(item, ArrayObject):
            pending.extend(v for v in item if isinstance(v, DictionaryObject | ArrayObject))
