"""Benchmark of sealing: the citizen's drawing stamped into a field and the PDF sealed
(pyHanko, PAdES) with a P-256 key, as the control plane does on the kiosk's ``done``.

    .venv/bin/python -m benchmarks.bench_signing [--runs N]

Prints the median time and the sizes for a 2-page form and a 20-page file, one field each,
and the size of a drawn signature (640×240 canvas, three strokes) as the answer carries it.
Not a test: it measures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from pvp.common import signature
from pvp.common.pdf import validate_pdf
from pvp.documents import signing


def form(pages: int) -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for n in range(pages):
        pdf.setFont("Helvetica", 12)
        for line in range(50):
            pdf.drawString(60, 780 - 14 * line, f"Page {n + 1}, ligne {line + 1} du formulaire")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def drawing() -> bytes:
    image = Image.new("RGBA", (640, 240), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for n in range(3):
        points = [(64 + 26 * i, 70 + 50 * n + (18 if i % 4 < 2 else -18)) for i in range(21)]
        draw.line(points, fill=(11, 31, 74, 255), width=6, joint="curve")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        key = signing.SigningKey(*signing.create_signing_key(Path(tmp), "bench"))
        png = drawing()
        print(f"drawing: {len(png)} B PNG, {len(base64.b64encode(png))} B in the answer")
        seal = signing.Seal("bench", "Signé à la borne", "Vorey")
        for pages in (2, 20):
            pdf = form(pages)
            fields = signature.check_fields(
                [{"page": pages, "x": 320, "y": 100, "width": 220, "height": 70}],
                validate_pdf(pdf),
            )
            times, size = [], 0
            for _ in range(runs):
                start = time.perf_counter()
                sealed = signing.stamp_and_seal(
                    pdf, fields, signature.signature_image(png), key, seal
                )
                times.append(time.perf_counter() - start)
                size = len(sealed.pdf)
            median = statistics.median(times) * 1000
            print(f"{pages} pages ({len(pdf)} B -> {size} B): stamp + seal median {median:.0f} ms")


if __name__ == "__main__":
    main()
