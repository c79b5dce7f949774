"""The kiosk scanner: SANE through python-sane; pages come back as PIL images.

SANE is initialised once per process and never closed. Each ``sane_init``/``sane_exit``
pair leaks the libusb contexts (an eventfd and a timerfd each) of every USB backend that
Debian's default ``dll.conf`` lists: ~74 descriptors per cycle, which killed the agent within
minutes of 30 s heartbeats. The backends rescan the bus on each ``sane_get_devices``, so a
scanner unplugged and plugged back is still found without a fresh ``sane_init``.
"""

from __future__ import annotations

import ctypes
import enum
import logging
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import _sane
import sane
from PIL import Image

from pvp.common.errors import PvpError

log = logging.getLogger(__name__)

A4_MM = (210.0, 297.0)
# SANE is not thread-safe, and sane_init is process-wide.
_SANE_LOCK = threading.Lock()
_sane_ready = False


class ScanProblem(enum.StrEnum):
    ABSENT = "absent"
    JAMMED = "jammed"
    NO_DOCUMENT = "no_document"
    COVER_OPEN = "cover_open"
    BUSY = "busy"
    MISSING_PAGES = "missing_pages"
    CANCELLED = "cancelled"
    ERROR = "error"

    @property
    def reason(self) -> str:
        """French, for the counsellor and the site agent."""
        return _REASONS[self]


_REASONS: Mapping[ScanProblem, str] = {
    ScanProblem.ABSENT: "scanner absent",
    ScanProblem.JAMMED: "bourrage papier dans le scanner",
    ScanProblem.NO_DOCUMENT: "aucun document dans le chargeur",
    ScanProblem.COVER_OPEN: "capot du scanner ouvert",
    ScanProblem.BUSY: "scanner occupé",
    ScanProblem.MISSING_PAGES: "pages manquantes dans le chargeur",
    ScanProblem.CANCELLED: "numérisation annulée",
    ScanProblem.ERROR: "erreur du scanner",
}

# python-sane reports a SANE status only as sane_strstatus() text, which libsane never
# translates (SANE_I18N is a no-op marker there).
_STATUS_TEXT: Mapping[str, ScanProblem] = {
    "Document feeder jammed": ScanProblem.JAMMED,
    "Document feeder out of documents": ScanProblem.NO_DOCUMENT,
    "Scanner cover is open": ScanProblem.COVER_OPEN,
    "Device busy": ScanProblem.BUSY,
    "Operation was canceled": ScanProblem.CANCELLED,
}


class ScanError(PvpError, code="scan_failed"):
    """A scan that did not give the pages asked for; ``str()`` is the French reason."""

    def __init__(
        self, problem: ScanProblem, reason: str | None = None, images: Sequence[Any] = ()
    ) -> None:
        self.problem = problem
        self.reason = reason or problem.reason
        self.images: list[Image.Image] = list(images)  # pages scanned before the failure
        super().__init__(self.reason)


class Source(enum.StrEnum):
    FEEDER = "feeder"
    FLATBED = "flatbed"


@dataclass(frozen=True, slots=True)
class ScannedPages:
    images: tuple[Image.Image, ...]
    dpi: int  # as the scanner applied it, which may differ from the one asked
    colour: bool


@dataclass(frozen=True, slots=True)
class ScannerStatus:
    """The scanner as the kiosk's health report shows it."""

    present: bool
    device: str | None = None
    model: str = ""
    problem: ScanProblem | None = field(default=None)

    @property
    def reason(self) -> str | None:
        return self.problem.reason if self.problem else None


def _problem(exc: BaseException) -> ScanProblem:
    return _STATUS_TEXT.get(str(exc), ScanProblem.ERROR)


def _ignore_sigpipe() -> None:
    """Undo what libsane's reader thread does: it sets SIGPIPE back to "terminate".

    Python ignores SIGPIPE (a write to a closed socket raises instead), and the agent relies
    on that; after a scan, the next write to a peer that hung up would kill the whole process.
    ``signal.signal`` works only from the main thread and scans run elsewhere: call libc.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.signal.restype = ctypes.c_void_p
    libc.signal.argtypes = (ctypes.c_int, ctypes.c_void_p)
    libc.signal(signal.SIGPIPE, ctypes.c_void_p(1))  # SIG_IGN


@contextmanager
def _sane_session() -> Iterator[None]:
    """SANE to oneself, initialised on first use and kept for the process's life."""
    global _sane_ready
    with _SANE_LOCK:
        try:
            if not _sane_ready:
                sane.init()
                _sane_ready = True
            yield
        finally:
            _ignore_sigpipe()


class Scanner:
    """A SANE device, by name (``test:0``, ``fujitsu:…``) or the first one found.

    ``options`` are extra SANE options set before each scan, by SANE name
    (e.g. ``{"page-width": 215.9}`` for a feeder that needs it).
    """

    def __init__(
        self, device: str | None = None, options: Mapping[str, object] | None = None
    ) -> None:
        self.device = device
        self.options = dict(options or {})

    def status(self) -> ScannerStatus:
        """Is the scanner there? Never raises."""
        try:
            with _sane_session():
                devices = sane.get_devices(localOnly=True)
        except _sane.error as exc:
            log.warning("SANE cannot list devices: %s", exc)
            return ScannerStatus(False, self.device, problem=ScanProblem.ABSENT)
        for name, vendor, model, _kind in devices:
            if self.device in (None, name):
                return ScannerStatus(True, name, f"{vendor} {model}".strip())
        return ScannerStatus(False, self.device, problem=ScanProblem.ABSENT)

    def scan(
        self,
        pages: int | None = 1,
        dpi: int = 300,
        colour: bool = False,
        source: Source | None = None,
    ) -> ScannedPages:
        """Scan ``pages`` pages, or with ``pages=None`` until the feeder is empty.

        ``source=None`` takes the feeder when the scanner has one. A flatbed gives one
        page per call.
        """
        if pages is not None and pages < 1:
            raise ValueError("pages must be at least 1")
        with _sane_session():
            device = self._open()
            # SANE stays initialised, and some backends keep option values across opens:
            # this scanner's extra options must not outlive its scan.
            defaults = _values(device, self.options)
            try:
                chosen = self._configure(device, dpi, colour, source)
                actual_dpi = round(float(device.resolution))
                if chosen is Source.FLATBED:
                    if pages not in (None, 1):
                        raise ValueError("a flatbed scans one page per call")
                    images = [self._flatbed_page(device)]
                else:
                    images = self._feed(device, pages)
            finally:
                _restore(device, defaults)
                device.close()
        for image in images:
            image.info["dpi"] = (actual_dpi, actual_dpi)
        return ScannedPages(tuple(images), actual_dpi, colour)

    def _open(self) -> Any:
        name = self.device
        try:
            if name is None:
                devices = sane.get_devices(localOnly=True)
                if not devices:
                    raise ScanError(ScanProblem.ABSENT)
                name = devices[0][0]
            return sane.open(name)
        except (_sane.error, RuntimeError) as exc:
            # python-sane raises RuntimeError for a device no backend lists.
            problem = ScanProblem.BUSY if _problem(exc) is ScanProblem.BUSY else ScanProblem.ABSENT
            log.warning("cannot open scanner %s: %s", name, exc)
            raise ScanError(problem) from exc

    def _configure(self, device: Any, dpi: int, colour: bool, source: Source | None) -> Source:
        sources = _choices(device, "source")
        feeder = _pick(sources, ("adf", "feeder"), avoid="duplex")
        flatbed = _pick(sources, ("flatbed",))
        if source is None:
            source = Source.FEEDER if feeder else Source.FLATBED
        wanted = feeder if source is Source.FEEDER else flatbed
        if sources and wanted is None:
            raise ValueError(f"scanner {self.device or ''} has no {source} source")
        settings: dict[str, object] = {}
        if wanted is not None:
            settings["source"] = wanted
        mode = _pick(_choices(device, "mode"), ("color", "colour") if colour else ("gray", "grey"))
        if mode is None:
            raise ValueError(
                f"scanner {self.device or ''} has no {'colour' if colour else 'grey'} mode"
            )
        settings["mode"] = mode
        if 8 in _choices(device, "depth"):
            settings["depth"] = 8  # PIL reads 8-bit samples; 1-bit grey would be line art
        settings["resolution"] = dpi
        settings.update(_a4_geometry(device))
        settings.update(self.options)
        for name, value in settings.items():
            _set(device, name, value)
        return source

    def _flatbed_page(self, device: Any) -> Image.Image:
        try:
            device.start()
            image: Image.Image = device.snap()
        except (_sane.error, RuntimeError) as exc:
            raise ScanError(_problem(exc)) from exc
        return image

    def _feed(self, device: Any, pages: int | None) -> list[Image.Image]:
        images: list[Image.Image] = []
        try:
            while pages is None or len(images) < pages:
                try:
                    device.start()
                    images.append(device.snap(no_cancel=True))
                except (_sane.error, RuntimeError) as exc:
                    problem = _problem(exc)
                    if problem is not ScanProblem.NO_DOCUMENT:
                        raise ScanError(problem, images=images) from exc
                    if not images:
                        raise ScanError(problem) from exc
                    if pages is not None:
                        raise ScanError(
                            ScanProblem.MISSING_PAGES,
                            f"{len(images)} page(s) sur {pages} dans le chargeur",
                            images,
                        ) from exc
                    break  # feeder empty: that was the last page
        finally:
            device.cancel()  # ends the batch; the feeder may still hold sheets
        return images


def _choices(device: Any, name: str) -> list[Any]:
    option = device.opt.get(name.replace("-", "_"))
    constraint = option.constraint if option is not None else None
    return list(constraint) if isinstance(constraint, list) else []


def _pick(choices: list[Any], words: tuple[str, ...], avoid: str | None = None) -> str | None:
    # Backends name the same thing differently: "ADF", "ADF Front", "Automatic Document
    # Feeder"; "Gray", "Grayscale"; "Color", "24bit Color".
    found = [c for c in choices if isinstance(c, str) and any(w in c.lower() for w in words)]
    preferred = [c for c in found if avoid is None or avoid not in c.lower()]
    return next(iter(preferred or found), None)


def _a4_geometry(device: Any) -> dict[str, float]:
    """The scan area as A4, as far as the device reaches (SANE geometry is in mm)."""
    settings: dict[str, float] = {}
    for corner, size in (("br_x", A4_MM[0]), ("br_y", A4_MM[1])):
        option = device.opt.get(corner)
        if option is None or not isinstance(option.constraint, tuple):
            continue
        reach = float(option.constraint[1])
        if reach < size - 1:
            log.warning("scanner reaches only %.0f mm of A4's %.0f mm (%s)", reach, size, corner)
        settings[corner] = min(size, reach)
    if settings:
        settings.update(tl_x=0.0, tl_y=0.0)
    return settings


def _set(device: Any, name: str, value: object) -> None:
    key = name.replace("-", "_")
    # python-sane silently stores an unknown name as a plain attribute: refuse it instead.
    if key not in device.opt:
        raise ValueError(f"scanner has no option {name!r}")
    try:
        setattr(device, key, value)
    except (_sane.error, AttributeError) as exc:
        raise ValueError(f"scanner refuses {name}={value!r}: {exc}") from exc


def _values(device: Any, names: Mapping[str, object]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name in names:
        try:
            values[name] = getattr(device, name.replace("-", "_"))
        except (_sane.error, AttributeError):
            continue  # unknown or inactive: _set refuses or sets it, nothing to restore
    return values


def _restore(device: Any, values: Mapping[str, object]) -> None:
    for name, value in values.items():
        try:
            _set(device, name, value)
        except ValueError as exc:
            log.warning("scanner option %s not restored: %s", name, exc)
