"""The kiosk printer: one CUPS queue driven through pycups.

A print is a CUPS job named after the PVP command that asked for it, so a repeated command
(a retransmitted SIP MESSAGE, a command replayed after an agent restart) finds the job it
already made in CUPS's job history instead of printing twice. A print is reported done only
when CUPS says the job completed.
"""

from __future__ import annotations

import enum
import logging
import re
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cups

from pvp.common.errors import PvpError
from pvp.common.pdf import validate_pdf

log = logging.getLogger(__name__)

# Command ids become job titles and file names: keep them to a safe alphabet.
COMMAND_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
TITLE_PREFIX = "PVP "
DEFAULT_TIMEOUT_S = 120.0
_JOB_ATTRIBUTES = [
    "job-id",
    "job-name",
    "document-name-supplied",
    "job-state",
    "job-printer-uri",
]


class JobState(enum.IntEnum):
    """IPP ``job-state`` (RFC 8011 §5.3.7)."""

    PENDING = 3
    HELD = 4
    PROCESSING = 5
    STOPPED = 6
    CANCELED = 7
    ABORTED = 8
    COMPLETED = 9

    @property
    def terminal(self) -> bool:
        return self >= JobState.CANCELED


class PrinterState(enum.IntEnum):
    """IPP ``printer-state``; UNKNOWN when CUPS or the queue cannot be reached."""

    UNKNOWN = 0
    IDLE = 3
    PROCESSING = 4
    STOPPED = 5


class PrinterProblem(enum.StrEnum):
    """What keeps the printer from printing, most actionable first (the order is used)."""

    UNREACHABLE = "unreachable"
    ABSENT = "absent"
    MEDIA_EMPTY = "media_empty"
    MEDIA_JAM = "media_jam"
    DOOR_OPEN = "door_open"
    TONER_EMPTY = "toner_empty"
    OFFLINE = "offline"
    PAUSED = "paused"
    REJECTING = "rejecting"
    ERROR = "error"
    MEDIA_LOW = "media_low"
    TONER_LOW = "toner_low"

    @property
    def reason(self) -> str:
        """French, for the counsellor and the site agent."""
        return _REASONS[self]

    @property
    def blocking(self) -> bool:
        return self not in (PrinterProblem.MEDIA_LOW, PrinterProblem.TONER_LOW)


_REASONS: Mapping[PrinterProblem, str] = {
    PrinterProblem.UNREACHABLE: "service d'impression indisponible",
    PrinterProblem.ABSENT: "imprimante absente",
    PrinterProblem.MEDIA_EMPTY: "plus de papier",
    PrinterProblem.MEDIA_JAM: "bourrage papier",
    PrinterProblem.DOOR_OPEN: "capot de l'imprimante ouvert",
    PrinterProblem.TONER_EMPTY: "plus d'encre ou de toner",
    PrinterProblem.OFFLINE: "imprimante hors ligne",
    PrinterProblem.PAUSED: "imprimante en pause",
    PrinterProblem.REJECTING: "l'imprimante refuse les impressions",
    PrinterProblem.ERROR: "imprimante en erreur",
    PrinterProblem.MEDIA_LOW: "bientôt plus de papier",
    PrinterProblem.TONER_LOW: "encre ou toner bientôt épuisé",
}

# printer-state-reasons keywords (RFC 8011 §5.4.12, PWG 5100.9), without severity suffix.
_KEYWORDS: Mapping[str, PrinterProblem] = {
    "media-empty": PrinterProblem.MEDIA_EMPTY,
    "media-needed": PrinterProblem.MEDIA_EMPTY,
    "input-tray-missing": PrinterProblem.MEDIA_EMPTY,
    "media-jam": PrinterProblem.MEDIA_JAM,
    "door-open": PrinterProblem.DOOR_OPEN,
    "cover-open": PrinterProblem.DOOR_OPEN,
    "interlock-open": PrinterProblem.DOOR_OPEN,
    "toner-empty": PrinterProblem.TONER_EMPTY,
    "marker-supply-empty": PrinterProblem.TONER_EMPTY,
    "offline": PrinterProblem.OFFLINE,
    "shutdown": PrinterProblem.OFFLINE,
    "paused": PrinterProblem.PAUSED,
    "moving-to-paused": PrinterProblem.PAUSED,
    "media-low": PrinterProblem.MEDIA_LOW,
    "toner-low": PrinterProblem.TONER_LOW,
    "marker-supply-low": PrinterProblem.TONER_LOW,
}
# A "-warning" on an exhausted supply means "soon exhausted".
_WARNING_OF = {
    PrinterProblem.MEDIA_EMPTY: PrinterProblem.MEDIA_LOW,
    PrinterProblem.TONER_EMPTY: PrinterProblem.TONER_LOW,
}


def problems_from_reasons(keywords: list[str] | tuple[str, ...]) -> list[PrinterProblem]:
    """Map IPP ``printer-state-reasons`` to problems; unknown keywords count only as errors."""
    found: list[PrinterProblem] = []
    for keyword in keywords:
        base, _, severity = keyword.rpartition("-")
        if severity not in ("error", "warning", "report"):
            base, severity = keyword, ""
        problem = _KEYWORDS.get(base)
        if problem is not None and severity == "warning":
            problem = _WARNING_OF.get(problem, problem)
        if problem is None and severity == "error":
            problem = PrinterProblem.ERROR
        if problem is not None:
            found.append(problem)
    return found


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """The printer as the kiosk's health report shows it."""

    queue: str
    state: PrinterState
    accepting: bool
    problems: tuple[PrinterProblem, ...]  # most actionable first
    keywords: tuple[str, ...] = ()  # raw printer-state-reasons, for the logs
    message: str = ""  # printer-state-message as CUPS or the backend wrote it

    @property
    def ready(self) -> bool:
        return not any(problem.blocking for problem in self.problems)

    @property
    def reason(self) -> str | None:
        """The French reason a person can act on, or None when all is well."""
        return self.problems[0].reason if self.problems else None


def _ordered(problems: set[PrinterProblem] | list[PrinterProblem]) -> tuple[PrinterProblem, ...]:
    return tuple(p for p in PrinterProblem if p in problems)


def _status(
    queue: str, state: PrinterState, accepting: bool, keywords: list[str], message: str
) -> PrinterStatus:
    problems = set(problems_from_reasons(keywords))
    if state is PrinterState.STOPPED:
        problems.add(PrinterProblem.PAUSED)  # CUPS says "paused" too, but be sure
    if not accepting:
        problems.add(PrinterProblem.REJECTING)
    return PrinterStatus(queue, state, accepting, _ordered(problems), tuple(keywords), message)


@dataclass(frozen=True, slots=True)
class PrintJob:
    id: int
    command_id: str
    state: JobState


class PrintError(PvpError, code="print_failed"):
    """A print that did not happen; ``str()`` is the French reason."""

    def __init__(
        self, reason: str, problem: PrinterProblem | None = None, job_id: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.problem = problem
        self.job_id = job_id


def job_title(command_id: str) -> str:
    return TITLE_PREFIX + command_id


def _document_name(command_id: str) -> str:
    return command_id + ".pdf"


def _check_command_id(command_id: str) -> None:
    if not COMMAND_ID.fullmatch(command_id):
        raise ValueError(f"invalid command id {command_id!r}")


class Printer:
    """One CUPS queue. ``server`` is ``host:port``; None means libcups' default."""

    def __init__(self, queue: str, server: str | None = None, poll_interval_s: float = 0.5) -> None:
        self.queue = queue
        self._server = server
        self._max_poll_s = poll_interval_s
        # Serialises look-up-then-submit, so two copies of one command in this process
        # cannot both miss each other's job.
        self._submit_lock = threading.Lock()

    # ---- status -------------------------------------------------------------------

    def status(self) -> PrinterStatus:
        """Never raises: an unreachable CUPS or a missing queue is itself a status."""
        try:
            with self._connection() as conn:
                attrs = conn.getPrinterAttributes(
                    self.queue,
                    requested_attributes=[
                        "printer-state",
                        "printer-state-reasons",
                        "printer-state-message",
                        "printer-is-accepting-jobs",
                    ],
                )
        except PrintError as exc:
            problem = exc.problem or PrinterProblem.UNREACHABLE
            return PrinterStatus(self.queue, PrinterState.UNKNOWN, False, (problem,))
        keywords = [k for k in _as_list(attrs.get("printer-state-reasons")) if k != "none"]
        return _status(
            self.queue,
            PrinterState(attrs.get("printer-state", PrinterState.UNKNOWN)),
            bool(attrs.get("printer-is-accepting-jobs", False)),
            keywords,
            str(attrs.get("printer-state-message", "")),
        )

    # ---- jobs ---------------------------------------------------------------------

    def find_job(self, command_id: str) -> PrintJob | None:
        """The newest job of this queue made for ``command_id``, finished ones included."""
        _check_command_id(command_id)
        with self._connection() as conn:
            jobs = conn.getJobs(which_jobs="all", requested_attributes=_JOB_ATTRIBUTES)
        suffix = "/printers/" + self.queue
        title, document = job_title(command_id), _document_name(command_id)
        matches = [
            job_id
            for job_id, attrs in jobs.items()
            if str(attrs.get("job-printer-uri", "")).endswith(suffix)
            # CUPS hides job-name from unauthenticated clients (JobPrivateValues
            # default), not the document name: both carry the command id.
            and (attrs.get("job-name") == title or attrs.get("document-name-supplied") == document)
        ]
        if not matches:
            return None
        newest = max(matches)
        return PrintJob(newest, command_id, JobState(jobs[newest]["job-state"]))

    def print_pdf(
        self, command_id: str, pdf: bytes, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> PrintJob:
        """Print once and wait until CUPS says the job completed; raise PrintError if not.

        A command whose job completed before returns that job without printing; one whose
        job is still queued waits for it; one whose job was cancelled or aborted prints anew.
        """
        _check_command_id(command_id)
        validate_pdf(pdf)
        # libcups reports a missing queue at submission only as "No such file or directory".
        problem = _first(self.status().problems)
        if problem in (PrinterProblem.UNREACHABLE, PrinterProblem.ABSENT):
            raise PrintError(problem.reason, problem)
        with self._submit_lock:
            existing = self.find_job(command_id)
            if existing is not None and existing.state is JobState.COMPLETED:
                log.info("command %s already printed as job %d", command_id, existing.id)
                return existing
            if existing is not None and not existing.state.terminal:
                job_id = existing.id
            else:
                job_id = self._submit(command_id, pdf)
        return self.wait(job_id, command_id, timeout_s)

    def _submit(self, command_id: str, pdf: bytes) -> int:
        # Print-Job (one request) rather than Create-Job + Send-Document: a crash half-way
        # cannot leave a job without its document.
        with tempfile.TemporaryDirectory(prefix="pvp-print-") as tmp:
            path = Path(tmp) / _document_name(command_id)  # CUPS keeps its base name
            path.write_bytes(pdf)
            with self._connection() as conn:
                job_id = int(conn.printFile(self.queue, str(path), job_title(command_id), {}))
        log.info("command %s submitted as job %d on %s", command_id, job_id, self.queue)
        return job_id

    def wait(self, job_id: int, command_id: str, timeout_s: float) -> PrintJob:
        """Poll the job until it completes; on failure or timeout raise PrintError.

        A job still waiting at the timeout is cancelled: printed later, a citizen's form
        would come out in front of whoever sits at the kiosk then.
        """
        deadline = time.monotonic() + timeout_s
        pause = 0.02
        with self._connection() as conn:
            while True:
                attrs = conn.getJobAttributes(
                    job_id, requested_attributes=["job-state", "job-printer-state-reasons"]
                )
                state = JobState(attrs["job-state"])
                if state is JobState.COMPLETED:
                    return PrintJob(job_id, command_id, state)
                if state.terminal:
                    raise self._failure(job_id, state, attrs)
                if time.monotonic() >= deadline:
                    break
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                pause = min(pause * 1.5, self._max_poll_s)
        status = self.status()
        self.cancel(job_id)
        cause = status.reason or "délai dépassé"
        raise PrintError(f"impression non terminée : {cause}", _first(status.problems), job_id)

    def _failure(self, job_id: int, state: JobState, attrs: Mapping[str, Any]) -> PrintError:
        what = "impression annulée" if state is JobState.CANCELED else "impression abandonnée"
        problems = _ordered(problems_from_reasons(_as_list(attrs.get("job-printer-state-reasons"))))
        problem = _first(problems)
        reason = f"{what} : {problem.reason}" if problem else what
        return PrintError(reason, problem, job_id)

    def cancel(self, job_id: int) -> None:
        """Cancel a job; one that already ended is left as it is."""
        try:
            with self._connection() as conn:
                conn.cancelJob(job_id)
        except PrintError as exc:
            log.warning("could not cancel job %d: %s", job_id, exc)

    # ---- CUPS connection ----------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A pycups connection; its errors come out as PrintError with a French reason."""
        try:
            if self._server is not None:
                # Not Connection(host=, port=): libcups 2.4 trusts a connection only to the
                # server cupsServer() names, and Print-Job elsewhere looks the queue up
                # under its device URI and fails. cupsSetServer is per thread.
                cups.setServer(self._server)
            yield cups.Connection()
        except cups.IPPError as exc:
            code, text = exc.args
            raise _ipp_error(code, text) from exc
        except (cups.HTTPError, RuntimeError) as exc:
            raise PrintError(PrinterProblem.UNREACHABLE.reason, PrinterProblem.UNREACHABLE) from exc


def _ipp_error(code: int, text: str) -> PrintError:
    if code == cups.IPP_NOT_FOUND:
        problem = PrinterProblem.ABSENT
    elif code == cups.IPP_NOT_ACCEPTING:
        problem = PrinterProblem.REJECTING
    elif code == cups.IPP_SERVICE_UNAVAILABLE:
        problem = PrinterProblem.UNREACHABLE
    else:
        log.warning("CUPS error %#x: %s", code, text)
        problem = PrinterProblem.ERROR
    return PrintError(problem.reason, problem)


def _as_list(value: object) -> list[str]:
    # pycups gives a one-valued attribute as a plain string, a multi-valued one as a list.
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _first(problems: tuple[PrinterProblem, ...]) -> PrinterProblem | None:
    return problems[0] if problems else None
