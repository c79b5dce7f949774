"""The kiosk's document commands: display, print, scan (contract: sip/messages.md).

Whole on purpose: display, print and scan share one journal, one worker thread and the
recovery after a restart.

Handlers plug into the agent's command router (``router.register(name, handler)``, with
``handler(command, reply)``). Each one checks the command at once (the call it belongs to,
its arguments), journals it, and hands the work to one worker thread: the kiosk has one
printer, one scanner and one screen, and a print that waits for CUPS must not hold up the
SIP endpoint. Every command gets exactly one final answer, journaled before it is sent, so
a kill at any point is followed, after restart, by the job finished once or failed — never
dropped, never printed twice (CUPS's own job history guards the printer too).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from flask import Blueprint, abort, send_file

from pvp.common.pdf import DocumentError, images_to_pdf, validate_pdf
from pvp.kiosk.journal import Entry, Journal
from pvp.kiosk.printer import Printer, PrintError
from pvp.kiosk.scanner import ScanError, Scanner, ScanProblem
from pvp.kiosk.screen import Screen, View
from pvp.kiosk.uplink import ControlPlaneClient, UplinkError
from pvp.wire import transfer
from pvp.wire.messages import Answer, Command, Status

log = logging.getLogger(__name__)

Reply = Callable[[Answer], None]
NAMES = ("display", "print", "scan")

NOT_IN_CALL = "pas d'appel en cours avec ce conseiller"
INTERRUPTED = "interrompu par un redémarrage de la borne"
SCAN_INTERRUPTED = "numérisation interrompue par un redémarrage de la borne ; recommencez"
NO_DOCUMENT_SHOWN = "aucun document affiché"
MAX_SCAN_PAGES = 20
RENDER_LONG_SIDE_PX = 1600  # the kiosk screen's long side; pages are shown whole


class CommandRouter(Protocol):
    def register(self, name: str, handler: Callable[[Command, Reply], None]) -> None: ...


@dataclass
class ShownDocument:
    command_id: str
    title: str
    pages: int
    directory: Path  # page-1.png … page-N.png


def render_pages(pdf: bytes, directory: Path) -> int:
    """Each page as ``page-N.png`` (pdftoppm, poppler-utils); the number of pages."""
    pages = validate_pdf(pdf).pages
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise DocumentError("affichage impossible : pdftoppm absent (poppler-utils)")
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".pdf") as source:
        source.write(pdf)
        source.flush()
        done = subprocess.run(
            [pdftoppm, "-png", "-scale-to", str(RENDER_LONG_SIDE_PX), source.name, "page"],
            cwd=directory,
            capture_output=True,
            timeout=120,
            check=False,
        )
    if done.returncode != 0:
        raise DocumentError("affichage impossible : PDF illisible")
    # pdftoppm pads page numbers to the width of the last one (page-01.png…): normalise.
    for path in directory.glob("page-*.png"):
        number = int(path.stem.split("-")[1])
        path.rename(directory / f"page-{number}.png")
    return pages


class DocumentCommands:
    """The display, print and scan commands of one kiosk, with their journal."""

    def __init__(
        self,
        *,
        journal: Journal,
        printer: Printer,
        scanner: Scanner,
        screen: Screen,
        uplink: ControlPlaneClient,
        current_call: Callable[[], str | None],
        pages_dir: Path,
        answers: Reply,
        max_bytes: int = 32 * 1024 * 1024,
        print_timeout_s: float = 120.0,
        place_timeout_s: float = 60.0,
        scan_dpi: int = 300,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.journal = journal
        self.printer = printer
        self.scanner = scanner
        self.screen = screen
        self.uplink = uplink
        self.current_call = current_call
        self.pages_dir = pages_dir
        self.answers = answers  # where answers go when no command's reply is at hand
        self.max_bytes = max_bytes
        self.print_timeout_s = print_timeout_s
        self.place_timeout_s = place_timeout_s
        self.scan_dpi = scan_dpi
        self.clock = clock
        self.shown: ShownDocument | None = None
        self.last_problem: str | None = None  # the last device failure, for health
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="kiosk-documents", daemon=True)
        self._shown_lock = threading.Lock()

    # ---- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Resume what the journal left unfinished, then take new commands."""
        # A document on screen when the agent died belongs to a call that is over.
        shutil.rmtree(self.pages_dir, ignore_errors=True)
        self.journal.compact()
        self._worker.start()
        for entry in self.journal.unfinished():
            self._jobs.put(functools.partial(self._resume, entry))

    def _resume(self, entry: Entry) -> None:
        self._guarded(entry.id, self.answers, functools.partial(self._recover, entry))

    def stop(self) -> None:
        self._jobs.put(None)
        self._worker.join(timeout=10)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """True once every queued job ran (tests, benchmarks, orderly shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._jobs.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                job()
            except Exception:  # one broken job must not stop the kiosk's documents
                log.exception("document job failed")
            finally:
                self._jobs.task_done()

    # ---- entry point ------------------------------------------------------------------

    def handle(self, command: Command, reply: Reply) -> None:
        """The router's handler for display, print and scan."""
        known = self.journal.get(command.id)
        if known is not None:
            # A retransmitted MESSAGE or a replayed command: never run twice.
            if known.final is not None:
                self._send(command.id, known.final, reply, journal=False)
            else:
                reply(Answer(command.id, Status.ACCEPTED))
            return
        problem = self._refusal(command)
        args = {k: v for k, v in command.args.items() if k != "document"}
        self.journal.record(
            command.id,
            "received",
            name=command.name,
            call=command.call,
            **{"from": command.sender},
            args=args,
        )
        if problem is not None:
            self._final(command.id, Status.FAILED, reply, reason=problem)
            return
        job = {"display": self._display, "print": self._print, "scan": self._scan}[command.name]
        self._jobs.put(lambda: self._guarded(command.id, reply, lambda: job(command, reply)))

    def _guarded(self, command_id: str, reply: Reply, job: Callable[[], None]) -> None:
        """Run a job; a bug or an unforeseen device error still gets its final answer."""
        try:
            job()
        except Exception as exc:
            log.exception("command %s failed unexpectedly", command_id)
            entry = self.journal.get(command_id)
            if entry is not None and entry.final is None:
                reason = f"erreur de la borne : {exc}"[:200]
                self._final(command_id, Status.FAILED, reply, reason=reason)

    def _refusal(self, command: Command) -> str | None:
        if command.name not in NAMES:
            return f"commande inconnue : {command.name}"
        # A received fax is printed by the control plane outside any call (call = null).
        outside_call_ok = command.name == "print" and command.call is None
        if not outside_call_ok and (command.call is None or command.call != self.current_call()):
            return NOT_IN_CALL
        if command.name == "scan":
            pages = command.args.get("pages", 1)
            if not isinstance(pages, int) or isinstance(pages, bool):
                return "nombre de pages invalide"
            if not 1 <= pages <= MAX_SCAN_PAGES:
                return f"nombre de pages invalide : {pages} (de 1 à {MAX_SCAN_PAGES})"
        elif command.name == "display" and "document" not in command.args:
            page = command.args.get("page")
            if not isinstance(page, int) or isinstance(page, bool) or page < 1:
                return "numéro de page invalide"
        elif "document" not in command.args:
            return "document absent de la commande"
        return None

    # ---- answers ----------------------------------------------------------------------

    def _final(
        self,
        command_id: str,
        status: Status,
        reply: Reply,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        final = {"status": status.value, "reason": reason, "details": details or {}}
        self.journal.record(command_id, "final", **final)  # durable before it is said
        self._send(command_id, final, reply, journal=True)
        self.journal.drop_spool(command_id)

    def _send(self, command_id: str, final: dict[str, Any], reply: Reply, journal: bool) -> None:
        answer = Answer(
            command_id, Status(final["status"]), final.get("reason"), final.get("details") or {}
        )
        try:
            reply(answer)
        except Exception:
            log.exception("answer to %s not sent; it will be sent again at restart", command_id)
            return
        if journal:
            self.journal.record(command_id, "answered")

    def obtain(self, command: Command) -> bytes:
        """The command's document, inline or by its single-use link, checked."""
        now = self.clock()
        return transfer.obtain(command.args.get("document"), self.uplink.fetch, now, self.max_bytes)

    # ---- display ----------------------------------------------------------------------

    def _display(self, command: Command, reply: Reply) -> None:
        if "document" not in command.args:
            self._turn_page(command, reply)
            return
        try:
            pdf = self.obtain(command)
            directory = self.pages_dir / command.id
            pages = render_pages(pdf, directory)
        except DocumentError as exc:
            self._final(command.id, Status.FAILED, reply, reason=str(exc))
            return
        if command.call != self.current_call():  # the call ended while rendering
            shutil.rmtree(directory, ignore_errors=True)
            self._final(command.id, Status.FAILED, reply, reason=NOT_IN_CALL)
            return
        title = str(command.args.get("title") or "")[:200]
        with self._shown_lock:
            previous, self.shown = self.shown, ShownDocument(command.id, title, pages, directory)
        if previous is not None:
            shutil.rmtree(previous.directory, ignore_errors=True)
        self._show_page(1)
        self._final(command.id, Status.DONE, reply, details={"pages": pages, "page": 1})

    def _turn_page(self, command: Command, reply: Reply) -> None:
        page = int(command.args["page"])
        with self._shown_lock:
            shown = self.shown
        if shown is None:
            self._final(command.id, Status.FAILED, reply, reason=NO_DOCUMENT_SHOWN)
        elif page > shown.pages:
            reason = f"page {page} inexistante (le document a {shown.pages} pages)"
            self._final(command.id, Status.FAILED, reply, reason=reason)
        else:
            self._show_page(page)
            self._final(
                command.id, Status.DONE, reply, details={"pages": shown.pages, "page": page}
            )

    def _show_page(self, page: int) -> None:
        shown = self.shown
        if shown is None:
            return
        self.screen.show(
            View.DOCUMENT,
            title=shown.title,
            page=page,
            pages=shown.pages,
            page_url=f"/document/{shown.command_id}/{page}.png",
        )

    def call_ended(self) -> None:
        """The call is over: the document leaves the screen and the disk."""
        with self._shown_lock:
            shown, self.shown = self.shown, None
        if shown is not None:
            shutil.rmtree(shown.directory, ignore_errors=True)
            if self.screen.current().view is View.DOCUMENT:
                self.screen.show(View.IDLE)

    def page_file(self, command_id: str, page: int) -> Path | None:
        """The image of a page of the document on screen now, for the screen app."""
        shown = self.shown
        if shown is None or shown.command_id != command_id or not 1 <= page <= shown.pages:
            return None
        path = shown.directory / f"page-{page}.png"
        return path if path.is_file() else None

    # ---- print ------------------------------------------------------------------------

    def _print(self, command: Command, reply: Reply) -> None:
        try:
            pdf = self.obtain(command)
            pages = validate_pdf(pdf).pages
        except DocumentError as exc:
            self._final(command.id, Status.FAILED, reply, reason=str(exc))
            return
        # A printer known to be stopped (no paper, jam, paused) fails the command now rather
        # than after the print timeout; and no job is left to come out later.
        status = self.printer.status()
        if not status.ready:
            self.last_problem = status.reason
            self._final(command.id, Status.FAILED, reply, reason=status.reason)
            return
        self.journal.put_spool(command.id, "print", pdf)
        self.journal.record(command.id, "accepted")
        reply(Answer(command.id, Status.ACCEPTED))
        self._print_spooled(command.id, pages, reply)

    def _print_spooled(self, command_id: str, pages: int | None, reply: Reply) -> None:
        path = self.journal.spool_path(command_id, "print")
        if not path.exists():
            self._final(command_id, Status.FAILED, reply, reason=INTERRUPTED)
            return
        pdf = path.read_bytes()
        restore = self._screen_during(View.PRINTING, pages=pages or validate_pdf(pdf).pages)
        try:
            job = self.printer.print_pdf(command_id, pdf, timeout_s=self.print_timeout_s)
        except PrintError as exc:
            self.last_problem = exc.reason
            details = {"job": exc.job_id} if exc.job_id else {}
            self._final(command_id, Status.FAILED, reply, reason=exc.reason, details=details)
            return
        finally:
            restore()
        self.last_problem = None
        details = {"job": job.id, "pages": pages or validate_pdf(pdf).pages}
        self._final(command_id, Status.DONE, reply, details=details)

    # ---- scan -------------------------------------------------------------------------

    def _scan(self, command: Command, reply: Reply) -> None:
        pages = int(command.args.get("pages", 1))
        self.journal.record(command.id, "accepted")
        reply(Answer(command.id, Status.ACCEPTED))
        restore = self._screen_during(View.SCAN, pages=pages)
        try:
            scanned = self._scan_pages(pages)
            pdf = images_to_pdf(list(scanned.images), scanned.dpi)
        except ScanError as exc:
            # Pages scanned before a jam are dropped: nothing half-sent.
            self.last_problem = exc.reason
            self._final(command.id, Status.FAILED, reply, reason=exc.reason)
            return
        except DocumentError as exc:
            self._final(command.id, Status.FAILED, reply, reason=str(exc))
            return
        finally:
            restore()
        self.last_problem = None
        self.journal.put_spool(command.id, "scan", pdf)
        self.journal.record(command.id, "scanned", pages=pages)
        self._upload_spooled(command.id, reply)

    def _scan_pages(self, pages: int) -> Any:
        """Scan, waiting up to ``place_timeout_s`` for the citizen to place the paper."""
        deadline = time.monotonic() + self.place_timeout_s
        while True:
            try:
                return self.scanner.scan(pages=pages, dpi=self.scan_dpi)
            except ScanError as exc:
                if exc.problem is not ScanProblem.NO_DOCUMENT or time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)

    def _upload_spooled(self, command_id: str, reply: Reply) -> None:
        path = self.journal.spool_path(command_id, "scan")
        if not path.exists():
            self._final(command_id, Status.FAILED, reply, reason=SCAN_INTERRUPTED)
            return
        pdf = path.read_bytes()
        digest = hashlib.sha256(pdf).hexdigest()
        try:
            self.uplink.upload(command_id, pdf, digest)
        except UplinkError as exc:
            self._final(command_id, Status.FAILED, reply, reason=f"envoi impossible : {exc}")
            return
        pages = validate_pdf(pdf).pages
        details = {"pages": pages, "document": digest, "size": len(pdf)}
        self._final(command_id, Status.DONE, reply, details=details)

    # ---- restart ----------------------------------------------------------------------

    def _recover(self, entry: Entry) -> None:
        """Finish or fail a command the previous run left; its answer goes to ``answers``."""
        reply = self.answers
        if entry.final is not None:
            log.info("command %s: sending its final answer again", entry.id)
            self._send(entry.id, entry.final, reply, journal=True)
            self.journal.drop_spool(entry.id)
        elif entry.name == "print" and "accepted" in entry.events:
            log.info("command %s: resuming the print (CUPS keeps it single)", entry.id)
            self._print_spooled(entry.id, None, reply)
        elif entry.name == "scan" and "scanned" in entry.events:
            log.info("command %s: uploading the scan again (idempotent)", entry.id)
            self._upload_spooled(entry.id, reply)
        else:
            reason = SCAN_INTERRUPTED if entry.name == "scan" else INTERRUPTED
            log.info("command %s (%s) failed by the restart", entry.id, entry.name)
            self._final(entry.id, Status.FAILED, reply, reason=reason)

    # ---- screen -----------------------------------------------------------------------

    def _screen_during(self, view: View, **data: Any) -> Callable[[], None]:
        """Show ``view`` and return how to put back what was on screen."""
        before = self.screen.current()
        self.screen.show(view, **data)

        def restore() -> None:
            if self.screen.current().view is view:
                self.screen.show(before.view, **dict(before.data))

        return restore


def screen_pages_blueprint(commands: DocumentCommands) -> Blueprint:
    """``/document/<command>/<page>.png`` for the kiosk screen app (127.0.0.1 only)."""
    pages = Blueprint("document_pages", __name__)

    @pages.get("/document/<command_id>/<int:page>.png")
    def page_image(command_id: str, page: int) -> Any:
        path = commands.page_file(command_id, page)
        if path is None:
            abort(404)
        response = send_file(path, mimetype="image/png", max_age=0)
        response.headers["Cache-Control"] = "no-store"
        return response

    return pages


def register_document_commands(router: CommandRouter, commands: DocumentCommands) -> None:
    """Plug display, print and scan into the agent's command router."""
    for name in NAMES:
        router.register(name, commands.handle)
