"""``pvp doc``: the counsellor's document actions and the store's housekeeping.

Until the console has buttons for them, every action of the console is here too: show or
print a PDF on the kiosk of a call, turn its pages, ask for a scan, send a fax.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from pvp.command_line import Context, pass_ctx
from pvp.common.errors import Refused
from pvp.common.pdf import DocumentError, validate_pdf
from pvp.documents.fax import FaxService
from pvp.documents.service import DocumentService
from pvp.documents.switch import attach, connect_esl


def _service(ctx: Context) -> DocumentService:
    return DocumentService.create(ctx.db, ctx.settings)


def _attach(ctx: Context, service: DocumentService) -> FaxService:
    try:
        return attach(connect_esl(ctx.settings), service)
    except RuntimeError as exc:
        raise Refused(str(exc)) from None


def _echo(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _read_pdf(path: Path, max_pages: int) -> bytes:
    """The file, screened before anything connects to the switch (pvp/common/pdf.py)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise Refused(f"{path}: {exc.strerror}") from None
    try:
        validate_pdf(data, max_pages)
    except DocumentError as exc:
        raise Refused(f"{path}: {exc}", code=exc.code) from None
    return data


CALL_HELP = (
    "The call: the kiosk the console shows (e.g. kiosk-vorey-1) or the call's id;"
    " default: the counsellor's current call"
)


def _call(service: DocumentService, counsellor: str, ref: str | None) -> str:
    return service.find_call(counsellor, ref)


@click.group("doc")
def doc() -> None:
    """Documents: show, print, scan, fax; retention, export and erasure."""


@doc.command("send")
@click.option("--counsellor", required=True)
@click.option("--call", "call_ref", default=None, help=CALL_HELP)
@click.option("--action", type=click.Choice(["display", "print"]), default="display")
@click.option("--title", default="")
@click.argument("pdf", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def send(
    ctx: Context, counsellor: str, call_ref: str | None, action: str, title: str, pdf: Path
) -> None:
    """Show (display) or print PDF on the kiosk of the counsellor's current call."""
    data = _read_pdf(pdf, ctx.settings.document_max_pages)
    service = _service(ctx)
    call_id = _call(service, counsellor, call_ref)
    _attach(ctx, service)
    _echo(service.send_document(counsellor, call_id, action, data, title or pdf.stem))


@doc.command("page")
@click.option("--counsellor", required=True)
@click.option("--call", "call_ref", default=None, help=CALL_HELP)
@click.argument("page", type=int)
@pass_ctx
def page(ctx: Context, counsellor: str, call_ref: str | None, page: int) -> None:
    """Show page PAGE of the document on the kiosk screen."""
    service = _service(ctx)
    call_id = _call(service, counsellor, call_ref)
    _attach(ctx, service)
    click.echo(service.turn_page(counsellor, call_id, page))


@doc.command("scan")
@click.option("--counsellor", required=True)
@click.option("--call", "call_ref", default=None, help=CALL_HELP)
@click.option("--pages", default=1, show_default=True, type=int)
@pass_ctx
def scan(ctx: Context, counsellor: str, call_ref: str | None, pages: int) -> None:
    """Ask the kiosk of the call to scan PAGES pages into one PDF."""
    service = _service(ctx)
    call_id = _call(service, counsellor, call_ref)
    _attach(ctx, service)
    _echo(service.request_scan(counsellor, call_id, pages))


@doc.command("fax")
@click.option("--to", "number", required=True, help="The fax number")
@click.option("--counsellor", required=True, help="Who sends it (audit)")
@click.option(
    "--call",
    "call_ref",
    default=None,
    help="The call it belongs to, if any: the kiosk the console shows or the call's id",
)
@click.argument("pdf", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def fax(ctx: Context, number: str, counsellor: str, call_ref: str | None, pdf: Path) -> None:
    """Send PDF as a T.38 fax through FreeSWITCH and wait for the result."""
    data = _read_pdf(pdf, ctx.settings.document_max_pages)
    service = _service(ctx)
    call_id = _call(service, counsellor, call_ref) if call_ref else None
    _echo(_attach(ctx, service).send(counsellor, number, data, call_id=call_id))


@doc.command("purge")
@pass_ctx
def purge(ctx: Context) -> None:
    """Delete the files of documents older than the retention period (rows stay)."""
    report = _service(ctx).purge()
    click.echo(f"{report.purged} document(s) supprimé(s), {report.bytes_freed} octets libérés")


@doc.command("export")
@click.option("--citizen", required=True, help="The citizen reference")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@pass_ctx
def export(ctx: Context, citizen: str, out: Path) -> None:
    """Copy every document of a citizen into OUT, with transfers.json."""
    service = _service(ctx)
    try:
        with ctx.db.sessions() as session:
            files = service.store.export_citizen(session, citizen, out)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    click.echo(f"{len(files)} document(s) exporté(s) dans {out}")


@doc.command("forget")
@click.option("--citizen", required=True, help="The citizen reference")
@pass_ctx
def forget(ctx: Context, citizen: str) -> None:
    """Erase a citizen's documents; the audit rows stay, without the reference."""
    service = _service(ctx)
    try:
        with ctx.db.session() as session:
            count = service.store.forget_citizen(session, citizen, service.clock())
    except ValueError as exc:
        raise Refused(str(exc)) from None
    click.echo(f"{count} envoi(s) anonymisé(s), documents de {citizen} supprimés")


@doc.command("signing-key")
@click.option("--name", "common_name", required=True, help="The certificate's common name")
@click.option("--organisation", default="", help="The certificate's organisation")
@click.option("--days", default=3 * 365, show_default=True, type=int)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write it (default: the configured signing_dir)",
)
@click.option("--ca-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--ca-key", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@pass_ctx
def signing_key(
    ctx: Context,
    common_name: str,
    organisation: str,
    days: int,
    out: Path | None,
    ca_cert: Path | None,
    ca_key: Path | None,
) -> None:
    """Create the deployment's document-signing key and certificate (self-signed, or issued
    by the deployment's CA with --ca-cert and --ca-key)."""
    # pyhanko (behind signing) takes about half a second to import: only this command needs it.
    from pvp.documents.signing import create_signing_key

    if (ca_cert is None) != (ca_key is None):
        raise Refused("--ca-cert et --ca-key vont ensemble")
    directory = out or ctx.settings.resolved_signing_dir()
    try:
        key_file, cert_file = create_signing_key(
            directory, common_name, organisation, days, ca_cert, ca_key
        )
    except (FileExistsError, ValueError) as exc:
        raise Refused(str(exc)) from None
    click.echo(f"clé : {key_file}\ncertificat : {cert_file}")
