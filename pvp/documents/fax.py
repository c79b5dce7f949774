"""Fax (T.38) through FreeSWITCH mod_spandsp: send a PDF, receive into the store.

Sending: the PDF is checked and stored, turned into a TIFF Class F (Ghostscript ``tiffg3``)
in a spool directory FreeSWITCH reads, and a call is originated straight into ``txfax``
with T.38 enabled and requested (the far end may still fall back to audio fax). Receiving:
the dialplan answers fax calls with ``rxfax`` into the same spool; mod_spandsp's
``spandsp::rxfaxresult`` event tells the file, which becomes a PDF in the store, printed on
the kiosk or listed in the counsellor's console. Either way the result — success, pages,
the T.30 reason — goes into the transfer's audit row.

The switch is reached through a small :class:`FaxSwitch` protocol (the control plane's ESL
client): ``api`` to originate, and fax events handed to :meth:`FaxService.on_event`.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pvp.common.fsutil import write_atomically
from pvp.common.pdf import DocumentError, pdf_to_fax_tiff, tiff_to_pdf
from pvp.documents.chat import switch_unreachable
from pvp.documents.service import DocumentService, Refused, new_command_id
from pvp.model import DocumentKind, DocumentTransfer, Kiosk, TransferStatus
from pvp.wire.messages import Command
from pvp.wire.transfer import encode_with_document

log = logging.getLogger(__name__)

TX_EVENT = "spandsp::txfaxresult"
RX_EVENT = "spandsp::rxfaxresult"
# A dialable fax destination: digits (with an optional +), or a SIP user@host for tests
# and SIP fax gateways. Nothing that could close the originate string's braces or quotes.
NUMBER_RE = re.compile(r"^(\+?[0-9]{2,20}|[A-Za-z0-9._+-]{1,64}@[A-Za-z0-9.:-]{1,100})$")
DEFAULT_TIMEOUT_S = 300.0  # a 10-page fax at 9600 bit/s takes a few minutes
ORIGINATE_TIMEOUT_S = 90.0  # originate_timeout (60 s of ringing) and some margin


class FaxSwitch(Protocol):
    def api(self, command: str) -> str: ...

    def bgapi(self, command: str) -> Future[str]: ...


@dataclass(frozen=True, slots=True)
class FaxResult:
    success: bool
    pages: int
    total_pages: int
    code: str
    reason: str  # spandsp's T.30 text, e.g. "OK", "The call dropped prematurely"
    t38: bool  # the fax went as T.38 (not audio)

    def details(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "pages": self.pages,
            "total_pages": self.total_pages,
            "result_code": self.code,
            "result_text": self.reason,
            "t38": self.t38,
        }


def _header(event: Mapping[str, str], name: str) -> str:
    """An event header by any of its spellings (header, Header, variable_header)."""
    lowered = {k.lower(): v for k, v in event.items()}
    for key in (name, name.replace("_", "-"), "variable_" + name.replace("-", "_")):
        if key.lower() in lowered:
            return lowered[key.lower()]
    return ""


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def parse_result(event: Mapping[str, str]) -> FaxResult:
    t38 = _header(event, "fax_t38_status") or _header(event, "t38_status")
    return FaxResult(
        success=_header(event, "fax-success") in ("1", "true"),
        pages=_int(_header(event, "fax-document-transferred-pages")),
        total_pages=_int(_header(event, "fax-document-total-pages")),
        code=_header(event, "fax-result-code"),
        reason=_header(event, "fax-result-text") or "résultat du fax inconnu",
        t38=t38.lower() in ("negotiated", "on", "true", "requested", "reinvited"),
    )


def originate_command(dial: str, tiff: Path, call_uuid: str, ident: str, header: str) -> str:
    variables = {
        "origination_uuid": call_uuid,
        "fax_enable_t38": "true",
        "fax_enable_t38_request": "true",
        "fax_use_ecm": "true",
        "fax_ident": ident,
        "fax_header": header,
        "ignore_early_media": "true",
        "originate_timeout": "60",
    }
    # Values go between single quotes: spaces are fine there, commas too.
    spec = ",".join(f"{k}='{v}'" for k, v in variables.items())
    return f"originate {{{spec}}}{dial} &txfax({tiff})"


class FaxService:
    """Faxes out and in, recorded in the same audit rows as every document."""

    def __init__(
        self,
        documents: DocumentService,
        switch: FaxSwitch,
        spool: Path | None = None,
        dial_prefix: str | None = None,
        ident: str = "Point Visio Public",
        header: str = "Point Visio Public",
    ) -> None:
        self.documents = documents
        self.switch = switch
        settings = documents.settings
        self.spool = spool or settings.data_dir / "fax"
        self.dial_prefix = settings.fax_dial_prefix if dial_prefix is None else dial_prefix
        self.ident = ident
        self.header = header
        self._waiting: dict[str, tuple[threading.Event, list[FaxResult]]] = {}
        self._lock = threading.Lock()

    # ---- sending ----------------------------------------------------------------------

    def send(
        self,
        counsellor: str,
        number: str,
        pdf: bytes,
        call_id: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        background: bool = False,
    ) -> dict[str, Any]:
        """Fax ``pdf`` to ``number``; the audit row says how it went.

        Everything is checked first (Refused, nothing stored). Then it waits for the fax's
        result, or with ``background`` returns the pending row at once (the HTTP API).
        """
        command_id, call_uuid, path = self._prepare(counsellor, number, pdf, call_id)
        run = functools.partial(self._call, command_id, number, call_uuid, path, timeout_s)
        if background:
            threading.Thread(target=run, name=f"fax-{call_uuid}", daemon=True).start()
        else:
            run()
        return self._row(command_id)

    def _prepare(
        self, counsellor: str, number: str, pdf: bytes, call_id: str | None
    ) -> tuple[str, str, Path]:
        if not NUMBER_RE.match(number):
            raise Refused(f"numéro de fax invalide : {number!r}")
        if not self.dial_prefix:
            raise Refused("aucune passerelle de fax configurée (fax_dial_prefix)", 503)
        documents = self.documents
        if call_id is not None:
            with documents.db.sessions() as session:
                documents.active_call(session, call_id, counsellor)
        try:
            digest, pages = documents.store.check(pdf)
            tiff = pdf_to_fax_tiff(pdf)
        except DocumentError as exc:
            raise Refused(str(exc), 413 if "volumineux" in str(exc) else 400) from None
        call_uuid = str(uuid.uuid4())
        command_id = new_command_id("f")
        self.spool.mkdir(parents=True, exist_ok=True)
        path = self.spool / f"out-{call_uuid}.tif"
        write_atomically(path, tiff)
        now = documents.clock()
        with documents.db.session() as session:
            documents.store.put(session, pdf, now, digest)
            session.add(
                DocumentTransfer(
                    command_id=command_id,
                    kind=DocumentKind.FAX_OUT.value,
                    sha256=digest,
                    sender=counsellor,
                    recipient=number,
                    call_id=call_id,
                    citizen_ref=_citizen(session, call_id),
                    title="",
                    status=TransferStatus.PENDING.value,
                    reason="",
                    details={"pages": pages, "call_uuid": call_uuid},
                    created_at=now,
                )
            )
        return command_id, call_uuid, path

    def _call(
        self, command_id: str, number: str, call_uuid: str, path: Path, timeout_s: float
    ) -> None:
        """Originate into txfax and wait for spandsp's result event."""
        done = threading.Event()
        results: list[FaxResult] = []
        with self._lock:
            self._waiting[call_uuid] = (done, results)
        command = originate_command(
            self.dial_prefix + number, path, call_uuid, self.ident, self.header
        )
        try:
            # bgapi: originate waits for the far fax to answer, longer than an api reply may.
            reply = self.switch.bgapi(command).result(ORIGINATE_TIMEOUT_S)
            if not reply.startswith("+OK"):
                reason = f"appel du fax impossible : {reply.strip()[:120]}"
                self._finish(command_id, TransferStatus.FAILED, reason, {})
            elif not done.wait(timeout_s):
                self._finish(command_id, TransferStatus.FAILED, "pas de résultat du fax", {})
            else:
                result = results[0]
                status = TransferStatus.DONE if result.success else TransferStatus.FAILED
                reason = "" if result.success else f"fax non transmis : {result.reason}"
                self._finish(command_id, status, reason, result.details())
        except Exception as exc:  # the switch went away mid-way: say so in the audit row
            self._finish(command_id, TransferStatus.FAILED, switch_unreachable(exc), {})
        finally:
            with self._lock:
                self._waiting.pop(call_uuid, None)
            path.unlink(missing_ok=True)

    # ---- events -----------------------------------------------------------------------

    def on_event(self, event: Mapping[str, str]) -> dict[str, Any] | None:
        """Hand every ``CUSTOM spandsp::*faxresult`` event here."""
        subclass = _header(event, "Event-Subclass")
        call_uuid = _header(event, "uuid") or _header(event, "Unique-ID")
        if subclass == TX_EVENT:
            with self._lock:
                waiting = self._waiting.get(call_uuid)
            if waiting is not None:
                waiting[1].append(parse_result(event))
                waiting[0].set()
            return None
        if subclass == RX_EVENT:
            recipient = _header(event, "pvp_fax_to")
            sender = _header(event, "Caller-Caller-ID-Number") or "inconnu"
            return self.received(Path(_header(event, "fax_filename")), recipient, sender, event)
        return None

    # ---- receiving --------------------------------------------------------------------

    def received(
        self, tiff_path: Path, recipient: str, sender: str, event: Mapping[str, str]
    ) -> dict[str, Any]:
        """A fax that arrived for ``recipient`` (a kiosk or a counsellor): into the store.

        For a kiosk it is then printed there (a print command outside any call); for a
        counsellor it waits in the console's list.
        """
        result = parse_result(event)
        documents = self.documents
        now = documents.clock()
        command_id = new_command_id("r")
        pdf: bytes | None = None
        reason = "" if result.success else f"fax mal reçu : {result.reason}"
        try:
            if tiff_path.is_file() and result.pages > 0:
                pdf = tiff_to_pdf(tiff_path.read_bytes())
                documents.store.check(pdf)
        except DocumentError as exc:
            pdf, reason = None, str(exc)
        with documents.db.session() as session:
            is_kiosk = session.get(Kiosk, recipient) is not None
            digest = documents.store.put(session, pdf, now).sha256 if pdf else None
            session.add(
                DocumentTransfer(
                    command_id=command_id,
                    kind=DocumentKind.FAX_IN.value,
                    sha256=digest,
                    sender=sender[:80],
                    recipient=recipient[:80],
                    kiosk_id=recipient if is_kiosk else None,
                    citizen_ref="",
                    title="Fax reçu",
                    status=(TransferStatus.DONE if digest else TransferStatus.FAILED).value,
                    reason=reason,
                    details=result.details(),
                    created_at=now,
                    finished_at=now,
                )
            )
        if digest and pdf and is_kiosk:
            self._print_on_kiosk(recipient, pdf, digest)
        tiff_path.unlink(missing_ok=True)
        return self._row(command_id)

    def _print_on_kiosk(self, kiosk: str, pdf: bytes, digest: str) -> None:
        """Print a received fax on its kiosk: a print command of its own, outside any call."""
        documents = self.documents
        if documents.transport is None:
            log.warning("fax for %s stored but not printed: no command transport", kiosk)
            return
        command_id = new_command_id("p")
        now = documents.clock()
        command = Command(command_id, "print", {"title": "Fax reçu"}, call=None, sender="pvp")
        with documents.db.session() as session:
            session.add(
                DocumentTransfer(
                    command_id=command_id,
                    kind=DocumentKind.PRINTED.value,
                    sha256=digest,
                    sender="fax",
                    recipient=kiosk,
                    kiosk_id=kiosk,
                    citizen_ref="",
                    title="Fax reçu",
                    status=TransferStatus.PENDING.value,
                    reason="",
                    details={},
                    created_at=now,
                )
            )
            encoded = encode_with_document(
                command,
                pdf,
                digest,
                documents.settings.document_inline_max_bytes,
                lambda: documents.link_for(session, digest, kiosk, command_id, now),
            )
        try:
            documents.deliver(documents.transport, kiosk, command_id, encoded.body)
        except Refused as exc:
            log.warning("received fax for %s not printed: %s", kiosk, exc.reason)

    # ---- rows -------------------------------------------------------------------------

    def _finish(
        self, command_id: str, status: TransferStatus, reason: str, details: dict[str, Any]
    ) -> None:
        with self.documents.db.session() as session:
            self.documents.finish(session, command_id, status, reason, details)

    def _row(self, command_id: str) -> dict[str, Any]:
        from pvp.documents.store import transfer_json

        with self.documents.db.sessions() as session:
            return transfer_json(self.documents.transfer_by_command(session, command_id))


def _citizen(session: Any, call_id: str | None) -> str:
    from pvp.documents.store import citizen_of_call

    return citizen_of_call(session, call_id)


def receive_extension(spool: Path, recipient_re: str = r"^fax-(.+)$") -> str:
    """Dialplan XML answering fax calls for ``fax-<kiosk or counsellor id>`` with rxfax.

    For the FreeSWITCH configuration (pvp/freeswitch renders the dialplan): the recipient
    is kept in ``pvp_fax_to`` so the rxfaxresult event carries it to the control plane.
    """
    return (
        '<extension name="pvp-fax-in">'
        f'<condition field="destination_number" expression="{recipient_re}">'
        '<action application="set" data="pvp_fax_to=$1"/>'
        '<action application="set" data="fax_enable_t38=true"/>'
        '<action application="set" data="fax_enable_t38_request=false"/>'
        '<action application="set" data="fax_use_ecm=true"/>'
        '<action application="answer"/>'
        f'<action application="rxfax" data="{spool}/in-${{uuid}}.tif"/>'
        '<action application="hangup"/>'
        "</condition></extension>"
    )
