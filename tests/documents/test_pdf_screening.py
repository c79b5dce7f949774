"""Hostile PDFs (issue 10): a 1 GB Flate stream and /OpenAction JavaScript were stored and
served; the page count was read only by reading every page."""

from __future__ import annotations

import io
import time
import zlib
from pathlib import Path
from typing import Any

import pypdf
import pytest
from click.testing import CliRunner
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    RectangleObject,
    StreamObject,
    TextStringObject,
)
from test_document_api import nothing_stored, post_pdf

from pvp.cli import main
from pvp.common.pdf import DocumentError, validate_pdf
from pvp.config import Settings
from pvp.db import Database
from testkit.documents import Control, start_call, text_pdf

GIB = 1024**3


def _written(writer: pypdf.PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def inflates_to_1_gib() -> bytes:
    """One page whose content stream is 1 MB of Flate data standing for 1 GiB of zeros."""
    deflater = zlib.compressobj(9)
    chunk = bytes(64 * 1024 * 1024)
    data = b"".join(deflater.compress(chunk) for _ in range(GIB // len(chunk)))
    data += deflater.flush()
    writer = pypdf.PdfWriter()
    page = writer.add_blank_page(595, 842)
    stream = StreamObject()
    stream._data = data
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    page[NameObject("/Contents")] = writer._add_object(stream)
    return _written(writer)


def with_javascript(where: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(text_pdf("Formulaire"))))
    action = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('gagné')"),
        }
    )
    if where == "open":
        writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    elif where == "page":
        writer.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): action})
    else:
        launch = DictionaryObject(
            {NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("x")}
        )
        annotation = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/Link"),
                NameObject("/Rect"): ArrayObject([NumberObject(0)] * 4),
                NameObject("/A"): launch,
            }
        )
        writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(annotation)])
    return _written(writer)


def test_a_1_gib_flate_stream_is_refused_without_inflating_it_all(
    inflates_to_1_gib: bytes,
) -> None:
    assert len(inflates_to_1_gib) < 2 * 1024 * 1024
    started = time.perf_counter()
    with pytest.raises(DocumentError, match="une fois décompressé il dépasserait 64 Mio"):
        validate_pdf(inflates_to_1_gib)
    assert time.perf_counter() - started < 5  # 64 MiB inflated, not 1 GiB


@pytest.mark.parametrize(
    ("where", "what"), [("open", "/OpenAction"), ("page", "/AA"), ("link", "/Launch")]
)
def test_javascript_and_automatic_actions_are_refused(where: str, what: str) -> None:
    with pytest.raises(DocumentError, match=f"JavaScript ou des actions automatiques .*{what}"):
        validate_pdf(with_javascript(where))


def test_a_plain_link_stays_allowed() -> None:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(text_pdf("Formulaire"))))
    writer.add_uri(0, "https://www.service-public.fr/", RectangleObject((0, 0, 100, 20)))
    assert validate_pdf(_written(writer)).pages == 1


def test_the_page_count_is_checked_before_any_page_is_read() -> None:
    # A page tree that says a billion pages: refused on its word, at once.
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(text_pdf("a", "b"))))
    pages: Any = writer._root_object["/Pages"]
    pages[NameObject("/Count")] = NumberObject(10**9)
    started = time.perf_counter()
    with pytest.raises(DocumentError, match="PDF trop long : 1000000000 pages"):
        validate_pdf(_written(writer))
    with pytest.raises(DocumentError, match="PDF trop long : 2 pages .au plus 1."):
        validate_pdf(text_pdf("a", "b"), max_pages=1)
    assert time.perf_counter() - started < 1


def test_the_api_answers_a_clear_4xx_and_stores_nothing(
    control: Control, inflates_to_1_gib: bytes
) -> None:
    call = start_call(control.db)
    for pdf, reason in [
        (with_javascript("open"), "JavaScript"),
        (inflates_to_1_gib, "décompressé"),
    ]:
        got = post_pdf(control, call, pdf)
        assert got.status_code == 400 and reason in got.json()["error"]
    nothing_stored(control)


def test_pvp_doc_send_says_why_before_connecting_anywhere(
    db: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PVP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PVP_ESL_PORT", "9")  # nothing listens there: never reached
    pdf = tmp_path / "piege.pdf"
    pdf.write_bytes(with_javascript("open"))
    call = start_call(db)
    done = CliRunner().invoke(
        main, ["doc", "send", "--counsellor", "anpe-le-puy-c1", "--call", call, str(pdf)]
    )
    assert done.exit_code == 2
    assert "piege.pdf: PDF refusé : il contient du JavaScript" in done.output
