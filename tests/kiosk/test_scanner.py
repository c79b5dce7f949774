"""The SANE adapter against SANE's test scanner: pages, one lossless PDF, feeder failures."""

from __future__ import annotations

import io

import pypdf
import pytest

from pvp.common.pdf import images_to_pdf, validate_pdf
from pvp.kiosk.scanner import ScanError, ScannedPages, Scanner, ScanProblem, Source

A4_PT = (595.28, 841.89)


def test_given_three_sheets_when_scanned_at_300_dpi_then_one_lossless_a4_pdf(
    sane_device: str,
) -> None:
    scan = Scanner(sane_device).scan(pages=3, dpi=300)

    assert scan.dpi == 300 and len(scan.images) == 3
    assert all(image.size == (2480, 3507) and image.mode == "L" for image in scan.images)
    pdf = images_to_pdf(scan.images, scan.dpi)
    info = validate_pdf(pdf)
    assert info.pages == 3
    for width, height in info.page_sizes:
        assert width == pytest.approx(A4_PT[0], abs=1.5)
        assert height == pytest.approx(A4_PT[1], abs=1.5)
    # Lossless: each page holds the scanned pixels exactly, Flate-compressed (no JPEG).
    for page, scanned in zip(pypdf.PdfReader(io.BytesIO(pdf)).pages, scan.images, strict=True):
        (embedded,) = page.images
        assert embedded.image is not None
        assert embedded.image.tobytes() == scanned.tobytes()
    assert b"/DCTDecode" not in pdf and b"/FlateDecode" in pdf
    assert len(pdf) < 1024 * 1024


def test_colour_scan_gives_rgb_pages_at_the_asked_resolution(sane_device: str) -> None:
    scan = Scanner(sane_device).scan(pages=1, dpi=150, colour=True, source=Source.FLATBED)

    (image,) = scan.images
    assert image.mode == "RGB" and image.size == (1240, 1753)
    assert image.info["dpi"] == (150, 150)


def test_without_a_page_count_the_feeder_is_scanned_until_empty(sane_device: str) -> None:
    # SANE's test feeder holds 10 sheets.
    scan = Scanner(sane_device).scan(pages=None, dpi=75)

    assert len(scan.images) == 10


@pytest.mark.parametrize(
    ("status", "problem", "reason"),
    [
        ("SANE_STATUS_JAMMED", ScanProblem.JAMMED, "bourrage papier dans le scanner"),
        ("SANE_STATUS_NO_DOCS", ScanProblem.NO_DOCUMENT, "aucun document dans le chargeur"),
        ("SANE_STATUS_COVER_OPEN", ScanProblem.COVER_OPEN, "capot du scanner ouvert"),
        ("SANE_STATUS_IO_ERROR", ScanProblem.ERROR, "erreur du scanner"),
    ],
)
def test_feeder_failures_have_a_french_reason(
    sane_device: str, status: str, problem: ScanProblem, reason: str
) -> None:
    scanner = Scanner(sane_device, options={"read-return-value": status})

    with pytest.raises(ScanError) as failure:
        scanner.scan(pages=2, dpi=75)

    assert failure.value.problem is problem
    assert str(failure.value) == reason


def test_when_the_feeder_holds_fewer_pages_than_asked_then_the_scanned_ones_are_kept(
    sane_device: str,
) -> None:
    with pytest.raises(ScanError) as failure:
        Scanner(sane_device).scan(pages=12, dpi=50)

    assert failure.value.problem is ScanProblem.MISSING_PAGES
    assert str(failure.value) == "10 page(s) sur 12 dans le chargeur"
    assert len(failure.value.images) == 10


def test_given_no_such_scanner_then_it_is_reported_absent(sane_test_config: object) -> None:
    scanner = Scanner("test:9")

    status = scanner.status()
    assert not status.present and status.reason == "scanner absent"
    with pytest.raises(ScanError, match="^scanner absent$"):
        scanner.scan()


def test_the_test_scanner_is_present_for_the_health_report(sane_device: str) -> None:
    status = Scanner(sane_device).status()

    assert status.present and status.device == sane_device and status.problem is None
    assert Scanner().status().present  # the first scanner found, when none is named


def test_an_option_the_scanner_lacks_is_refused_not_ignored(sane_device: str) -> None:
    with pytest.raises(ValueError, match="no option 'brightnes'"):
        Scanner(sane_device, options={"brightnes": 10}).scan()


def test_a_flatbed_gives_one_page_per_call(sane_device: str) -> None:
    with pytest.raises(ValueError):
        Scanner(sane_device).scan(pages=2, source=Source.FLATBED)
    assert isinstance(Scanner(sane_device).scan(dpi=50, source=Source.FLATBED), ScannedPages)


def test_a_scan_leaves_sigpipe_ignored(sane_device: str) -> None:
    """libsane's reader thread resets SIGPIPE; a later write to a closed socket must not kill
    the agent (it did, in the test run, before the adapter restored it)."""
    import socket

    from pvp.kiosk.scanner import Scanner

    Scanner(sane_device).scan(pages=1, dpi=75)
    with open("/proc/self/status") as status:
        ignored = int(next(ln for ln in status if ln.startswith("SigIgn:")).split()[1], 16)
    assert ignored & (1 << (13 - 1)), "SIGPIPE is no longer ignored"
    a, b = socket.socketpair()
    b.close()
    try:
        a.sendall(b"x" * 100000)
    except OSError:
        pass  # EPIPE, as Python expects; a default SIGPIPE would have killed pytest here
    finally:
        a.close()
