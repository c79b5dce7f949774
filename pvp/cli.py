"""The ``pvp`` command: provisioning, routing questions, appointments and the servers."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from pvp import inventory
from pvp.appointments import BookingRefused
from pvp.bundle import write_bundle
from pvp.clock import clock_from_settings
from pvp.command_line import Context, pass_ctx
from pvp.common.cli import Commands
from pvp.common.errors import Refused
from pvp.deploy.cli import backup, deploy, doctor
from pvp.documents.cli import doc
from pvp.freeswitch.certs import write_demo_certs, write_test_certs
from pvp.freeswitch.render import RenderError, render
from pvp.kiosk import cli as kiosk_cli
from pvp.model import AppointmentStatus, ConsoleStatus
from pvp.panel.cli import alerts, convocations, user
from pvp.plan import PlanError, load_plan
from pvp.plan_view import load_routing_plan
from pvp.routing import RoutingError, decide
from pvp.server import FreeSwitchUnavailable, run
from pvp.services import appointments, console_status, sip_secrets
from pvp.services import plan as plan_service
from pvp.timeparse import parse_instant


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _instant(ctx: Context, text: str) -> Any:
    try:
        return parse_instant(text, ctx.tz)
    except ValueError as exc:
        raise Refused(str(exc)) from None


@click.group(cls=Commands)
def main() -> None:
    """Point Visio Public control plane."""


@main.group()
def provision() -> None:
    """Load deployment plans and issue device credentials."""


@provision.command("import")
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--secrets-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the new devices' SIP secrets here (mode 0600); they are shown only once.",
)
@pass_ctx
def provision_import(ctx: Context, plan_file: Path, secrets_out: Path | None) -> None:
    """Import a deployment plan (idempotent; nothing changes if any entry is wrong)."""
    try:
        plan = load_plan(plan_file)
    except PlanError as exc:
        click.echo(str(exc), err=True)
        raise Refused(
            f"{plan_file}: {len(exc.problems)} problem(s), nothing imported", code=exc.code
        ) from None
    with ctx.db.session() as session:
        report = plan_service.import_plan(
            session, plan, ctx.settings.sip_domain, str(plan_file), actor=ctx.actor
        )
    if not report.changed:
        click.echo(f"{plan_file}: already up to date, nothing changed")
        return
    parts = [f"{n} {kind} created" for kind, n in sorted(report.created.items())]
    parts += [f"{n} {kind} updated" for kind, n in sorted(report.updated.items())]
    click.echo(f"{plan_file}: " + ", ".join(parts))
    if report.secrets:
        if secrets_out:
            secrets_out.touch(mode=0o600, exist_ok=True)
            secrets_out.chmod(0o600)
            secrets_out.write_text(json.dumps(report.secrets, indent=2) + "\n")
            click.echo(f"{len(report.secrets)} new SIP secrets written to {secrets_out}")
        else:
            click.echo(
                f"{len(report.secrets)} new devices got random SIP secrets; issue them with "
                "`pvp provision bundle KIOSK --out DIR` or `pvp provision credentials ID`"
            )


@provision.command("credentials")
@click.argument("device")
@pass_ctx
def provision_credentials(ctx: Context, device: str) -> None:
    """Give a kiosk or counsellor a new SIP secret and print it (once)."""
    try:
        with ctx.db.session() as session:
            secret = sip_secrets.rotate(session, device, ctx.settings.sip_domain, actor=ctx.actor)
    except LookupError as exc:
        raise Refused(str(exc).strip("'\"")) from None
    _print_json({"user": device, "domain": ctx.settings.sip_domain, "password": secret})


@provision.command("bundle")
@click.argument("kiosk")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@pass_ctx
def provision_bundle(ctx: Context, kiosk: str, out: Path) -> None:
    """Write KIOSK's bundle (identity, new SIP secret, control plane, CA, buttons) to OUT."""
    try:
        with ctx.db.session() as session:
            path = write_bundle(session, ctx.settings, kiosk, out)
            sip_secrets.record_rotated(session, kiosk, actor=ctx.actor)
    except (LookupError, FileNotFoundError) as exc:
        raise Refused(str(exc).strip("'\"")) from None
    click.echo(f"{path} (new SIP secret inside; the previous one no longer works)")


@main.command("route")
@click.option("--kiosk", required=True)
@click.option("--service", required=True)
@click.option(
    "--at", "at_text", default=None, help="ISO date-time; Paris time without offset (default: now)"
)
@pass_ctx
def route(ctx: Context, kiosk: str, service: str, at_text: str | None) -> None:
    """Print the routing decision for a press of SERVICE at KIOSK at an instant (now)."""
    at = _instant(ctx, at_text) if at_text else clock_from_settings(ctx.settings).now()
    with ctx.db.sessions() as session:
        plan = load_routing_plan(session, ctx.settings)
    try:
        decision = decide(plan, kiosk, service, at)
    except RoutingError as exc:
        raise Refused(str(exc), code=exc.code) from None
    click.echo(json.dumps(decision.to_json(), ensure_ascii=False))


@main.command("kiosks")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@pass_ctx
def kiosks(ctx: Context, as_json: bool) -> None:
    """List the kiosks."""
    with ctx.db.sessions() as session:
        rows = inventory.kiosks(session)
    if as_json:
        _print_json(rows)
        return
    for k in rows:
        state = "en ligne" if k["online"] else "hors ligne"
        click.echo(
            f"{k['id']:32} {k['commune']:24} {k['department']:3} {state:10} "
            f"{','.join(k['services'])}"
        )


@main.command("counsellors")
@click.option("--json", "as_json", is_flag=True, help="JSON output")
@pass_ctx
def counsellors(ctx: Context, as_json: bool) -> None:
    """List the counsellors and their queues."""
    with ctx.db.sessions() as session:
        rows = inventory.counsellors(session)
    if as_json:
        _print_json(rows)
        return
    for c in rows:
        queues = ",".join(f"{q['queue']}:{q['priority']}" for q in c["queues"])
        click.echo(f"{c['id']:24} {c['service']:7} {c['agency']:20} {queues}")


@main.group()
def appointment() -> None:
    """Book and cancel appointments."""


@appointment.command("add")
@click.option("--site", required=True)
@click.option("--service", required=True)
@click.option("--counsellor", required=True)
@click.option("--at", "at_text", required=True, help="ISO date-time; Paris time without offset")
@click.option("--minutes", default=30, show_default=True, type=int)
@click.option("--citizen", default="", help="A minimal reference of the citizen")
@pass_ctx
def appointment_add(
    ctx: Context,
    site: str,
    service: str,
    counsellor: str,
    at_text: str,
    minutes: int,
    citizen: str,
) -> None:
    """Book an appointment and print its id."""
    start = _instant(ctx, at_text)
    try:
        with ctx.db.session() as session:
            plan = load_routing_plan(session, ctx.settings, since=start - timedelta(days=1))
            booking = appointments.Booking(site, service, counsellor, start, minutes, citizen)
            booked = appointments.book(session, plan, booking, actor=ctx.actor)
            ident = booked.id
    except BookingRefused as exc:
        raise Refused(f"rendez-vous refusé : {exc}", code=exc.code) from None
    click.echo(ident)


@appointment.command("cancel")
@click.argument("appointment_id", type=int)
@pass_ctx
def appointment_cancel(ctx: Context, appointment_id: int) -> None:
    """Cancel an appointment."""
    try:
        with ctx.db.session() as session:
            appointments.set_status(
                session, appointment_id, AppointmentStatus.CANCELLED, actor=ctx.actor
            )
    except (LookupError, BookingRefused) as exc:
        raise Refused(str(exc).strip("'\"")) from None
    click.echo(f"rendez-vous n°{appointment_id} annulé")


@main.group()
def freeswitch() -> None:
    """FreeSWITCH configuration."""


@freeswitch.command("render")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--test-certs",
    is_flag=True,
    help="Also write a self-signed CA and server "
    "certificate into OUT/certs (tests and demos; a site installs its own).",
)
@click.option(
    "--control-plane",
    "control_planes",
    multiple=True,
    help="A control plane's URL FreeSWITCH asks (xml_curl), in order; repeat for several "
    "(default: the setting control_plane_urls, else public_url)",
)
@click.option(
    "--behind-proxy",
    metavar="IP:PORT",
    help="Kamailio in front of a pool of switches: trust its authentication "
    "(setting sip_proxy; docs/deployment.md).",
)
@pass_ctx
def freeswitch_render(
    ctx: Context,
    out: Path,
    test_certs: bool,
    control_planes: tuple[str, ...],
    behind_proxy: str | None,
) -> None:
    """Write FreeSWITCH's configuration tree, with the static directory and dialplan."""
    today = clock_from_settings(ctx.settings).now().astimezone(ctx.tz).date()
    settings = ctx.settings
    if control_planes:
        settings = settings.model_copy(update={"control_plane_urls": ",".join(control_planes)})
    if behind_proxy is not None:
        settings = settings.model_copy(update={"sip_proxy": behind_proxy})
    try:
        rendered = render(settings, ctx.db, out, today)
    except RenderError as exc:
        raise Refused(str(exc), code=exc.code) from None
    click.echo(f"{len(rendered.files)} files written to {out} (fallback as of {today})")
    if test_certs:
        write_test_certs(out / "certs", [ctx.settings.sip_host, ctx.settings.sip_domain])
        click.echo(f"test certificates written to {out / 'certs'} (start FreeSWITCH with -certs)")


@freeswitch.command("demo-certs")
@pass_ctx
def freeswitch_demo_certs(ctx: Context) -> None:
    """Make the self-signed demo CA and switch certificate `pvp serve` uses (once)."""
    if ctx.settings.freeswitch_certs_dir:
        raise Refused(
            f"freeswitch_certs_dir is set ({ctx.settings.freeswitch_certs_dir}):"
            " the site's own certificates are used, no demo ones"
        )
    ca = write_demo_certs(ctx.settings)
    click.echo(f"demo CA: {ca} (`pvp provision bundle` puts it in kiosk bundles)")


@main.group()
def counsellor() -> None:
    """Counsellors' presence for the expert-queue dispatcher."""


@counsellor.command("status")
@click.argument("counsellor_id")
@click.argument("status", type=click.Choice([s.value for s in ConsoleStatus]))
@pass_ctx
def counsellor_status(ctx: Context, counsellor_id: str, status: str) -> None:
    """Set a counsellor's console status: available, paused or offline."""
    try:
        with ctx.db.session() as session:
            console_status.set_status(
                session, counsellor_id, ConsoleStatus(status), datetime.now(UTC), actor=ctx.actor
            )
    except console_status.UnknownCounsellor:
        raise Refused(f"conseiller inconnu : {counsellor_id}") from None
    french = {"available": "disponible", "paused": "en pause", "offline": "hors ligne"}
    click.echo(f"{counsellor_id} : {french[status]}")


@main.command("serve")
@click.option("--host", default=None, help="Listen address (default from configuration)")
@click.option("--port", default=None, type=int)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Import this deployment plan before serving",
)
@click.option(
    "--freeswitch",
    "run_freeswitch",
    type=click.Choice(["auto", "on", "off"]),
    default=None,
    help="Start FreeSWITCH as a child: where found (auto, the default setting "
    "run_freeswitch), always (on), never (off: a switch run as its own service)",
)
@click.pass_context
def serve(
    click_ctx: click.Context,
    host: str | None,
    port: int | None,
    plan_file: Path | None,
    run_freeswitch: str | None,
) -> None:
    """Run the control plane (HTTP, dispatcher, FreeSWITCH where present) until interrupted."""
    ctx = click_ctx.ensure_object(Context)
    if plan_file:
        click_ctx.invoke(provision_import, plan_file=plan_file, secrets_out=None)
    settings = ctx.settings
    if run_freeswitch:
        settings = settings.model_copy(update={"run_freeswitch": run_freeswitch})
    try:
        run(settings, ctx.db, host or settings.http_host, port or settings.http_port)
    except FreeSwitchUnavailable as exc:
        raise Refused(str(exc), code=exc.code) from None


# The kiosk PC's own commands (pvp-kiosk run / browser), under their historical names here.
main.add_command(kiosk_cli.run, "kiosk")
main.add_command(kiosk_cli.browser, "kiosk-browser")


# The command groups of the other areas, each defined beside the code it drives.
for _group in (user, alerts, convocations, doc, deploy, backup, doctor):
    main.add_command(_group)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
