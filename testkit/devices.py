"""Real device services for tests and benchmarks: a private cupsd, a SANE test backend.

Plain Python (no pytest) so that ``benchmarks/`` can use it too. Nothing here touches the
machine's own CUPS or SANE configuration: every file lives in a temporary directory.
"""

from __future__ import annotations

import glob
import io
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit.ports import free_port

CUPSD_CANDIDATES = ("/usr/sbin/cupsd", "/usr/local/sbin/cupsd")
CUPS_DAEMON_DIRS = ("/usr/lib/cups/daemon", "/usr/libexec/cups/daemon")
SANE_TEST_BACKEND_GLOBS = ("/usr/lib/*/sane/libsane-test.so*", "/usr/lib/sane/libsane-test.so*")

# A PostScript Printer Description whose only filter copies the PDF as it is: the file:
# device then holds exactly what the kiosk sent. (A raw queue cannot write to file:.)
PASS_THROUGH_PPD = """*PPD-Adobe: "4.3"
*FormatVersion: "4.3"
*FileVersion: "1.0"
*LanguageVersion: English
*LanguageEncoding: ISOLatin1
*PCFileName: "PVPPASS.PPD"
*Manufacturer: "PVP"
*Product: "(PVP test printer)"
*ModelName: "PVP PDF pass-through"
*ShortNickName: "PVP PDF pass-through"
*NickName: "PVP PDF pass-through"
*PSVersion: "(3010.000) 0"
*LanguageLevel: "3"
*ColorDevice: True
*DefaultColorSpace: RGB
*FileSystem: False
*Throughput: "1"
*cupsFilter: "application/pdf 0 pvp-pdf-pass"
*OpenUI *PageSize/Page Size: PickOne
*OrderDependency: 10 AnySetup *PageSize
*DefaultPageSize: A4
*PageSize A4/A4: "<</PageSize[595 842]>>setpagedevice"
*CloseUI: *PageSize
*DefaultImageableArea: A4
*ImageableArea A4/A4: "0 0 595 842"
*DefaultPaperDimension: A4
*PaperDimension A4/A4: "595 842"
"""

PASS_THROUGH_FILTER = """#!/bin/sh
# CUPS filter: job-id user title copies options [file]; copy the PDF unchanged.
if [ -n "$6" ]; then exec cat "$6"; else exec cat; fi
"""

# The same, slowly: a job stays "processing" long enough to kill the agent in the middle.
SLOW_FILTER_SECONDS = 3
SLOW_FILTER = f"""#!/bin/sh
sleep {SLOW_FILTER_SECONDS}
if [ -n "$6" ]; then exec cat "$6"; else exec cat; fi
"""

# A backend for a printer whose tray is empty: it says so and asks CUPS to stop the queue
# (exit 4 = CUPS_BACKEND_STOP), as a real USB or IPP backend does.
EMPTY_TRAY_BACKEND = """#!/bin/sh
if [ $# -eq 0 ]; then echo 'direct pvp-empty-tray "PVP" "PVP empty tray"'; exit 0; fi
cat > /dev/null
echo "STATE: +media-empty-error" >&2
echo "ERROR: tray empty" >&2
exit 4
"""


class DeviceMissing(RuntimeError):
    """A system component the harness needs is not installed."""


def _find(candidates: tuple[str, ...], name: str, package: str) -> str:
    for path in candidates:
        if os.path.exists(path):
            return path
    found = shutil.which(name)
    if found:
        return found
    raise DeviceMissing(f"{name} not installed (Debian package {package})")


@dataclass(frozen=True)
class FileQueue:
    name: str
    server: str  # host:port of its cupsd
    output: Path  # where the file: device writes each job


class CupsServer:
    """A cupsd of our own on 127.0.0.1, every directory under ``root``.

    Run as root it starts its filters and backends as ``lp`` (cupsd's default ``User``),
    so ``root`` is made world-traversable. No systemd: cupsd runs in the foreground (-f).
    """

    def __init__(self, root: Path | None = None, port: int | None = None) -> None:
        self.cupsd = _find(CUPSD_CANDIDATES, "cupsd", "cups-daemon")
        self.daemon_dir = _find(CUPS_DAEMON_DIRS, "cups-exec", "cups-daemon")
        self.root = root or Path(tempfile.mkdtemp(prefix="pvp-cupsd-"))
        self._owns_root = root is None
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._write_config()

    @property
    def server(self) -> str:
        """``host:port``, as ``CUPS_SERVER`` and :class:`pvp.kiosk.printer.Printer` take it."""
        return f"127.0.0.1:{self.port}"

    @property
    def output_dir(self) -> Path:
        return self.root / "out"

    @property
    def error_log(self) -> Path:
        return self.root / "log" / "error_log"

    def _write_config(self) -> None:
        root = self.root
        root.chmod(0o755)
        for sub in ("conf", "spool/tmp", "cache", "state", "log", "bin/filter", "bin/backend"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.output_dir.mkdir(exist_ok=True)
        (root / "bin" / "daemon").symlink_to(self.daemon_dir)
        _executable(root / "bin" / "filter" / "pvp-pdf-pass", PASS_THROUGH_FILTER)
        _executable(root / "bin" / "filter" / "pvp-pdf-slow", SLOW_FILTER)
        _executable(root / "bin" / "backend" / "pvp-empty-tray", EMPTY_TRAY_BACKEND)
        (root / "pass-through.ppd").write_text(PASS_THROUGH_PPD)
        (root / "slow.ppd").write_text(PASS_THROUGH_PPD.replace("pvp-pdf-pass", "pvp-pdf-slow"))
        (root / "cups-files.conf").write_text(
            f"ServerRoot {root}/conf\n"
            f"RequestRoot {root}/spool\n"
            f"TempDir {root}/spool/tmp\n"
            f"CacheDir {root}/cache\n"
            f"StateDir {root}/state\n"
            f"ServerBin {root}/bin\n"
            f"AccessLog {root}/log/access_log\n"
            f"ErrorLog {root}/log/error_log\n"
            f"PageLog {root}/log/page_log\n"
            f"Printcap {root}/printcap\n"
            "FileDevice Yes\n"
        )
        # No authentication (nothing but this test talks to it), yet the stock privacy
        # defaults: like Debian's cupsd, it hides job names from unauthenticated clients.
        (root / "cupsd.conf").write_text(
            f"Listen 127.0.0.1:{self.port}\n"
            "LogLevel info\n"
            "Browsing No\n"
            "WebInterface No\n"
            "DefaultAuthType None\n"
            "<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
            "<Policy default>\n"
            "  JobPrivateAccess default\n  JobPrivateValues default\n"
            "  SubscriptionPrivateAccess default\n  SubscriptionPrivateValues default\n"
            "  <Limit All>\n    Order deny,allow\n  </Limit>\n"
            "</Policy>\n"
        )

    def start(self, timeout_s: float = 10.0) -> CupsServer:
        import cups

        command = [
            self.cupsd,
            "-f",
            "-c",
            str(self.root / "cupsd.conf"),
            "-s",
            str(self.root / "cups-files.conf"),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"cupsd exited at start: {stderr}{self._log_tail()}")
            try:
                cups.Connection(host="127.0.0.1", port=self.port).getPrinters()
                return self
            except RuntimeError as exc:
                if time.monotonic() > deadline:
                    self.stop()
                    tail = self._log_tail()
                    raise RuntimeError(f"cupsd not ready in {timeout_s} s{tail}") from exc
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port and directories (job history kept)."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> CupsServer:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def connection(self) -> Any:  # cups.Connection; pycups has no type stubs
        import cups

        return cups.Connection(host="127.0.0.1", port=self.port)

    def add_queue(
        self, name: str, device_uri: str, ppd: bool = True, ppd_name: str = "pass-through.ppd"
    ) -> None:
        conn = self.connection()
        if ppd:
            conn.addPrinter(name, filename=str(self.root / ppd_name), device=device_uri)
        else:
            conn.addPrinter(name, device=device_uri)
        conn.enablePrinter(name)
        conn.acceptJobs(name)

    def add_file_queue(self, name: str) -> Path:
        """A queue that writes each job's PDF to the returned path (overwritten per job)."""
        output = self.output_dir / f"{name}.pdf"
        self.add_queue(name, f"file://{output}")
        return output

    def add_slow_file_queue(self, name: str) -> Path:
        """Like :meth:`add_file_queue`, each job taking ``SLOW_FILTER_SECONDS`` to print."""
        output = self.output_dir / f"{name}.pdf"
        self.add_queue(name, f"file://{output}", ppd_name="slow.ppd")
        return output

    def add_empty_tray_queue(self, name: str) -> None:
        self.add_queue(name, "pvp-empty-tray:/tray1")

    def _log_tail(self, lines: int = 20) -> str:
        if not self.error_log.exists():
            return ""
        tail = self.error_log.read_text(errors="replace").splitlines()[-lines:]
        return "\n" + "\n".join(tail)


def _executable(path: Path, text: str) -> None:
    # cupsd refuses filters and backends that are not root-owned and writable by others.
    path.write_text(text)
    path.chmod(0o755)


def sane_test_backend_installed() -> bool:
    return any(glob.glob(pattern) for pattern in SANE_TEST_BACKEND_GLOBS)


def write_sane_test_config(directory: Path) -> Path:
    """A SANE_CONFIG_DIR holding only the ``test`` backend, able to scan a whole A4.

    libsane reads SANE_CONFIG_DIR once per process: set it before the first SANE call.
    """
    if not sane_test_backend_installed():
        raise DeviceMissing("SANE test backend not installed (Debian package libsane1)")
    directory.mkdir(parents=True, exist_ok=True)
    # Only "test": the stock dll.conf also loads the network backends, which probe the
    # LAN for seconds on every device listing.
    (directory / "dll.conf").write_text("test\n")
    # geometry_max defaults to 200 mm, which silently crops an A4 page (210 × 297 mm).
    (directory / "test.conf").write_text(
        "number_of_devices 2\n"
        "mode Gray\n"
        "depth 8\n"
        'test-picture "Grid"\n'
        "geometry_min 0.0\n"
        "geometry_max 300.0\n"
        "geometry_quant 1.0\n"
    )
    return directory


SAMPLE_TEXTS = ("PVP page 1 : formulaire CAF", "PVP page 2 : annexe", "PVP page 3 : fin")


def sample_pdf() -> bytes:
    """A 3-page PDF with a line of text on each page, the second page in landscape."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for number, text in enumerate(SAMPLE_TEXTS, start=1):
        pdf.setPageSize(landscape(A4) if number == 2 else A4)
        pdf.setFont("Helvetica", 24)
        pdf.drawString(72, 400, text)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def page_texts(pdf: bytes) -> list[str]:
    import pypdf

    return [page.extract_text().strip() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]
