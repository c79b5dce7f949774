"""A T.38 fax crosses a real FreeSWITCH (mod_spandsp) and lands, as a PDF, in the store.

The switch runs on 127.0.0.1 with two SIP profiles, as a fax gateway and a remote fax
machine would be: the control plane originates from one into ``txfax``, the other answers
with the ``rxfax`` extension PVP renders (T.38 passthrough does not work over loopback/
channels, NOTES.md, hence real SIP legs). The received fax goes through the same
FaxService as in production; its PDF must have the pages sent, each looking the same.

It adds to the tests' minimal FreeSWITCH (testkit/minimal_switch.py) two profiles and the fax
extension; no control plane needed.
"""

from __future__ import annotations

import io
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pypdf
import pytest
from PIL import Image, ImageChops

from pvp.common.pdf import pdf_to_fax_tiff
from pvp.config import Settings
from pvp.db import Database
from pvp.documents import switch
from pvp.documents.fax import receive_extension
from pvp.documents.service import DocumentService
from pvp.documents.store import transfers_json
from pvp.documents.switch import attach
from pvp.freeswitch.esl import ESLClient
from pvp.freeswitch.process import WHERE, find_binary
from pvp.model import DocumentTransfer
from testkit.esl import Esl
from testkit.minimal_switch import MinimalSwitch, sip_profile, sofia_conf
from testkit.ports import free_udp_tcp_port

pytestmark = pytest.mark.live

SPANDSP = """<configuration name="spandsp.conf">
  <modem-settings><param name="total-modems" value="0"/></modem-settings>
  <fax-settings>
    <param name="use-ecm" value="true"/>
    <param name="spool-dir" value="{spool}"/>
  </fax-settings>
</configuration>"""


# Two fax machines' lines: no authentication, G.711 only.
FAX_LINE = {
    "auth-calls": "false",
    "inbound-codec-prefs": "PCMA,PCMU",
    "outbound-codec-prefs": "PCMA,PCMU",
    # Without a timer, each fax leg reads before it writes and both wait forever.
    "rtp-timer-name": "soft",
}


class FaxSwitch:
    """The tests' minimal FreeSWITCH with mod_spandsp, two SIP profiles and the rxfax
    extension PVP renders."""

    def __init__(self, root: Path, binary: Path) -> None:
        self.port_a, self.port_b = free_udp_tcp_port(), free_udp_tcp_port()
        self.spool = root / "spool"
        self.spool.mkdir(parents=True, exist_ok=True)
        profiles = sofia_conf(
            sip_profile("faxa", self.port_a, "fax", FAX_LINE),
            sip_profile("faxb", self.port_b, "fax", FAX_LINE),
        )
        self.fs = MinimalSwitch(
            str(binary),
            root,
            modules=("mod_sofia", "mod_spandsp"),
            configuration=SPANDSP.format(spool=self.spool) + profiles,
            dialplan=f'<context name="fax">{receive_extension(self.spool)}</context>',
        )
        self.esl_port, self.password = self.fs.esl_port, self.fs.password
        self.log = root / "log" / "freeswitch.log"

    def start(self) -> None:
        """Started, and both SIP profiles running."""
        self.fs.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            esl = Esl("127.0.0.1", self.esl_port, self.password)
            try:
                if esl.api("sofia status").count("RUNNING") >= 2:
                    return
            finally:
                esl.close()
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("FreeSWITCH's SIP profiles did not start:\n" + self.log_tail())

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        self.fs.stop()


@pytest.fixture(scope="module")
def fax_switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaxSwitch]:
    binary = find_binary(Settings(freeswitch_bin=os.environ.get("PVP_FREESWITCH_BIN", "")))
    if binary is None:
        pytest.skip(f"FreeSWITCH not found: {WHERE}")
    fs = FaxSwitch(tmp_path_factory.mktemp("faxfs"), binary)
    fs.start()
    yield fs
    fs.stop()


def rasterise(pdf: bytes, dpi: int = 100) -> list[Image.Image]:
    """Each page as a grey image (pdftoppm), for a look-alike comparison."""
    out = []
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    for number in range(1, len(reader.pages) + 1):
        png = subprocess.run(
            [
                "pdftoppm",
                "-gray",
                "-r",
                str(dpi),
                "-f",
                str(number),
                "-l",
                str(number),
                "-png",
                "-",
            ],
            input=pdf,
            capture_output=True,
            check=True,
        ).stdout
        out.append(Image.open(io.BytesIO(png)).convert("L"))
    return out


def ink(image: Image.Image) -> Image.Image:
    """The page's marks below the fax header band, cropped to their bounding box.

    The sending fax writes its header line (date, ident) at the top of each page, pushing
    the page down a few rows: comparing the marks' own box makes that shift irrelevant.
    """
    top = image.height * 4 // 100
    marks = image.crop((0, top, image.width, image.height)).point(lambda v: 255 if v < 128 else 0)
    box = marks.getbbox()
    assert box is not None, "a blank page"
    return marks.crop(box)


def ink_overlap(a: Image.Image, b: Image.Image) -> float:
    """Intersection over union of two pages' marks (1.0: the same marks at the same places).

    Pages are mostly white, so counting agreeing pixels would call a blank page similar;
    only the ink counts.
    """
    marks_a = ink(a)
    marks_b = ink(b).resize(marks_a.size)
    ink_a, ink_b = (
        marks_a.convert("1"),
        marks_b.point(lambda v: 255 if v >= 128 else 0).convert("1"),
    )
    union = ImageChops.logical_or(ink_a, ink_b).histogram()[255]
    both = ImageChops.logical_and(ink_a, ink_b).histogram()[255]
    return both / union


def test_a_t38_fax_crosses_freeswitch_and_the_received_pdf_matches(
    fax_switch: FaxSwitch, db: Database, settings: Settings
) -> None:
    from testkit.documents import COUNSELLOR, KIOSK, text_pdf

    settings.fax_dial_prefix = "sofia/faxa/"
    documents = DocumentService.create(db, settings)
    sent_pdf = text_pdf("FAX page 1 : demande d'aide", "FAX page 2 : justificatifs")
    # Wired as `pvp serve` wires it: the documents' own ESL client, attached.
    esl = ESLClient("127.0.0.1", fax_switch.esl_port, fax_switch.password, events=switch.EVENTS)
    fax = attach(esl, documents)
    esl.start()
    assert esl.wait_connected(10)
    started = time.monotonic()
    try:
        sent = fax.send(
            COUNSELLOR, f"fax-{KIOSK}@127.0.0.1:{fax_switch.port_b}", sent_pdf, timeout_s=180
        )
        elapsed = time.monotonic() - started
        deadline = time.monotonic() + 30
        while not (received := _rows(db, "fax_in")) and time.monotonic() < deadline:
            time.sleep(0.1)
        while _rows(db, "printed", "pending") and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        esl.stop()

    assert sent["status"] == "done", (sent, fax_switch.log_tail())
    assert sent["details"]["success"] is True and sent["details"]["pages"] == 2
    assert sent["details"]["t38"] is True, sent["details"]
    [row] = received
    assert (row["kind"], row["status"], row["to"]) == ("fax_in", "done", KIOSK)
    assert row["details"]["pages"] == 2
    got_pdf = documents.store.read(row["sha256"])
    sent_pages = rasterise(sent_pdf)
    got_pages = rasterise(got_pdf)
    assert len(got_pages) == len(sent_pages) == 2
    # What was faxed is the TIFF-F of the PDF: compare against it, page by page.
    faxed = rasterise(_tiff_pdf(pdf_to_fax_tiff(sent_pdf)))
    if os.environ.get("PVP_FAX_DEBUG"):
        for n, (want, got) in enumerate(zip(faxed, got_pages, strict=True)):
            want.save(f"/tmp/fax-want-{n}.png")
            got.save(f"/tmp/fax-got-{n}.png")
    overlaps = [ink_overlap(want, got) for want, got in zip(faxed, got_pages, strict=True)]
    assert all(overlap > 0.75 for overlap in overlaps), overlaps
    # And each page is its own: page 1 does not look like page 2.
    assert ink_overlap(faxed[0], got_pages[1]) < 0.5, ink_overlap(faxed[0], got_pages[1])
    # Received for a kiosk, it was sent to print there; no kiosk is registered on this
    # switch, so that print is recorded as failed rather than lost.
    [printed] = _rows(db, "printed")
    assert (printed["to"], printed["status"], printed["sha256"]) == (KIOSK, "failed", row["sha256"])
    print(f"fax of 2 pages through FreeSWITCH T.38: {elapsed:.1f} s, ink overlap {overlaps}")


def _tiff_pdf(tiff: bytes) -> bytes:
    from pvp.common.pdf import tiff_to_pdf

    return tiff_to_pdf(tiff)


def _rows(db: Database, kind: str, status: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    with db.sessions() as session:
        rows = session.query(DocumentTransfer).filter_by(kind=kind)
        if status is not None:
            rows = rows.filter_by(status=status)
        return transfers_json(rows)
