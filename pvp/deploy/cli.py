"""The ``pvp deploy`` and ``pvp backup`` commands (docs/deployment.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pvp.command_line import Context, pass_ctx
from pvp.common.errors import Refused


@click.group()
def deploy() -> None:
    """Production deployment on one machine: service units."""


@deploy.command("render")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--bin-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where `pvp` is installed (default: this one's directory)",
)
@click.option("--config", "config_file", default="/etc/pvp/pvp.toml", show_default=True)
@click.option("--user", default="pvp", show_default=True, help="Account of the servers")
@click.option("--kiosk-bundle", default="/etc/pvp/kiosk", show_default=True)
@click.option("--kiosk-user", default="kiosk", show_default=True)
@pass_ctx
def deploy_render(
    ctx: Context,
    out: Path,
    bin_dir: Path | None,
    config_file: str,
    user: str,
    kiosk_bundle: str,
    kiosk_user: str,
) -> None:
    """Write the systemd units of FreeSWITCH, the control plane and the kiosk to OUT."""
    from pvp.deploy.units import Layout, render_units

    layout = Layout(
        bin_dir=(bin_dir or Path(sys.executable).parent).absolute(),
        config_file=Path(config_file),
        user=user,
        kiosk_bundle=Path(kiosk_bundle),
        kiosk_user=kiosk_user,
    )
    for path in render_units(ctx.settings, layout, out):
        click.echo(path)


@click.group()
def backup() -> None:
    """Back up and restore the database and the document store."""


@backup.command("create")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def backup_create(ctx: Context, archive: Path) -> None:
    """Write ARCHIVE (.tar.gz, mode 0600: it holds the generated secrets)."""
    from pvp.deploy.backup import BackupError, create

    try:
        report = create(ctx.settings, ctx.db, archive)
    except BackupError as exc:
        raise Refused(str(exc)) from None
    click.echo(f"{archive}: {report.summary()}")


@backup.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@pass_ctx
def backup_restore(ctx: Context, archive: Path) -> None:
    """Restore ARCHIVE into an empty database and document store."""
    from pvp.deploy.backup import BackupError, restore

    try:
        report = restore(ctx.settings, ctx.db, archive)
    except BackupError as exc:
        raise Refused(str(exc)) from None
    click.echo(f"{archive} restored: {report.summary()}")


@deploy.command("reload-certs")
@pass_ctx
def deploy_reload_certs(ctx: Context) -> None:
    """Make FreeSWITCH load its renewed TLS certificates, keeping registrations and calls."""
    from pvp.deploy.doctor import ask_switch

    try:
        (answer,) = ask_switch(ctx.settings, ["reloadcert"])
    except OSError as exc:
        raise Refused(f"FreeSWITCH event socket: {exc}") from None
    if not answer.startswith("+OK"):
        raise Refused(f"FreeSWITCH refused reloadcert: {answer.strip()}")
    click.echo("certificats rechargés par FreeSWITCH / certificates reloaded")


@click.command("doctor")
@pass_ctx
def doctor(ctx: Context) -> None:
    """Check this deployment; say what to fix (French), log it (English); exit 1 on a problem."""
    import logging

    from pvp.deploy.doctor import examine

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    findings = examine(ctx.settings)
    for finding in findings:
        click.echo(f"{'OK     ' if finding.ok else 'À FAIRE'} {finding.french}")
    problems = sum(not f.ok for f in findings)
    if problems:
        click.echo(f"{problems} problème(s) à corriger.")
        sys.exit(1)
    click.echo("Tout va bien.")


@deploy.command("kamailio")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--listen", default="127.0.0.1:5060", show_default=True, help="HOST:PORT")
@click.option(
    "--switch", "switches", multiple=True, required=True, help="HOST:PORT of a pool's FreeSWITCH"
)
@click.option("--ctl-socket", default="/run/kamailio/kamailio_ctl", show_default=True)
@click.option("--probe-seconds", default=2, show_default=True, type=click.IntRange(min=1))
@pass_ctx
def deploy_kamailio(
    ctx: Context,
    out: Path,
    listen: str,
    switches: tuple[str, ...],
    ctl_socket: str,
    probe_seconds: int,
) -> None:
    """Write kamailio.cfg and dispatcher.list (Kamailio in front of a FreeSWITCH pool)."""
    from pvp.deploy.kamailio import KamailioSite, render_kamailio

    def address(text: str) -> tuple[str, int]:
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit():
            raise Refused(f"not a HOST:PORT address: {text!r}")
        return host, int(port)

    host, port = address(listen)
    site = KamailioSite(
        host,
        port,
        ctx.settings.sip_domain,
        ctx.settings.resolved_database_url(),
        [address(s) for s in switches],
        Path(ctl_socket),
        probe_seconds,
    )
    try:
        click.echo(render_kamailio(site, out))
    except ValueError as exc:
        raise Refused(str(exc)) from None
