"""Benchmark of the kiosk devices: a private cupsd printing, SANE's test scanner scanning.

    .venv/bin/python -m benchmarks.bench_devices [--prints N] [--scans N]

Prints medians of: cupsd completing a 3-page PDF job on loopback (polled every 2 ms), the
same through ``Printer.print_pdf`` (its own polling), an A4 300 dpi grey scan of SANE's test
picture, its PDF (time and size), and for comparison the PDF of a rendered text page, clean
and with the sensor noise a real scanner adds; then the fax conversions. Not a test: it
measures, it asserts nothing. Needs root (cupsd runs its filters as lp), cups-daemon,
libsane1 and ghostscript.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from PIL import Image, ImageChops

from pvp.common.pdf import images_to_pdf, pdf_to_fax_tiff, tiff_to_pdf
from pvp.kiosk.printer import JobState, Printer
from pvp.kiosk.scanner import Scanner
from testkit.devices import CupsServer, sample_pdf, write_sane_test_config

T = TypeVar("T")


def median_ms(samples: list[float]) -> str:
    median, least = statistics.median(samples) * 1000, min(samples) * 1000
    return f"{median:.1f} ms (min {least:.1f}, n={len(samples)})"


def timed(action: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def bench_print(runs: int) -> None:
    pdf = sample_pdf()
    with CupsServer() as server:
        server.add_file_queue("bench")
        printer = Printer("bench", server.server)
        conn = server.connection()
        printer.print_pdf("warm-up", pdf)
        raw: list[float] = []
        for run in range(runs):
            start = time.perf_counter()
            job_id = printer._submit(f"raw-{run}", pdf)
            while conn.getJobAttributes(job_id, requested_attributes=["job-state"])[
                "job-state"
            ] != int(JobState.COMPLETED):
                time.sleep(0.002)
            raw.append(time.perf_counter() - start)
        adapter = []
        for run in range(runs):
            start = time.perf_counter()
            printer.print_pdf(f"cmd-{run}", pdf)
            adapter.append(time.perf_counter() - start)
    print(f"cupsd, 3-page PDF ({len(pdf)} B) submitted to completed: {median_ms(raw)}")
    print(f"Printer.print_pdf, same job, end to end:            {median_ms(adapter)}")


def text_page(dpi: int) -> Image.Image:
    """The sample PDF's first page as Ghostscript renders it: clean grey text on white."""
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.pdf", Path(tmp) / "page.png"
        source.write_bytes(sample_pdf())
        subprocess.run(
            ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pnggray", f"-r{dpi}",
             "-dFirstPage=1", "-dLastPage=1", f"-sOutputFile={target}", str(source)],
            check=True,
        )  # fmt: skip
        with Image.open(target) as page:
            return page.convert("L")


def with_noise(page: Image.Image, sigma: float) -> Image.Image:
    """Gaussian sensor noise of ``sigma`` grey levels, as a real scanner adds."""
    return ImageChops.add(page, Image.effect_noise(page.size, sigma), scale=1.0, offset=-128)


def bench_scan(runs: int) -> None:
    scanner = Scanner("test:0")
    scans: list[float] = []
    pdfs: list[float] = []
    size = 0
    for _ in range(runs):
        seconds, scan = timed(lambda: scanner.scan(pages=1, dpi=300))
        scans.append(seconds)
        seconds, pdf = timed(partial(images_to_pdf, scan.images, scan.dpi))
        pdfs.append(seconds)
        size = len(pdf)
    print(f"SANE test scanner, A4 300 dpi grey, one page:        {median_ms(scans)}")
    print(f"  its PDF (img2pdf, PNG lossless): {median_ms(pdfs)}, {size / 1024:.0f} KiB")
    clean = text_page(300)
    for sigma in (0.0, 1.0, 3.0):
        page = with_noise(clean, sigma) if sigma else clean
        noisy: list[float] = []
        for _ in range(runs):
            seconds, pdf = timed(partial(images_to_pdf, [page], 300))
            noisy.append(seconds)
        label = f"text page {page.size}, noise sigma {sigma:.0f}"
        print(f"  {label} to PDF: {median_ms(noisy)}, {len(pdf) / 1024:.0f} KiB")


def bench_fax(runs: int) -> None:
    pdf = sample_pdf()
    to_tiff = [timed(partial(pdf_to_fax_tiff, pdf))[0] for _ in range(runs)]
    tiff = pdf_to_fax_tiff(pdf)
    to_pdf = [timed(partial(tiff_to_pdf, tiff))[0] for _ in range(runs)]
    print(f"3-page PDF to TIFF-F (gs tiffg3): {median_ms(to_tiff)}, {len(tiff) / 1024:.0f} KiB")
    print(f"  and back to PDF (img2pdf):      {median_ms(to_pdf)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prints", type=int, default=20)
    parser.add_argument("--scans", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as sane_dir:
        # libsane reads SANE_CONFIG_DIR once per process, before anything else.
        os.environ["SANE_CONFIG_DIR"] = str(write_sane_test_config(Path(sane_dir)))
        bench_print(args.prints)
        bench_scan(args.scans)
    bench_fax(args.scans)


if __name__ == "__main__":
    main()
