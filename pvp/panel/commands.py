"""``pvp user …`` and ``pvp alerts check``: the panel's command-line side."""

from __future__ import annotations

import getpass
import sys

import click
from sqlalchemy import select

from pvp.model import Role, User
from pvp.panel import audit
from pvp.panel.alerts import check_alerts
from pvp.panel.security import AccountError, create_user


def _ctx() -> object:
    from pvp.cli import Context

    return click.get_current_context().ensure_object(Context)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@click.group()
def user() -> None:
    """Panel accounts."""


@user.command("add")
@click.argument("login")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option(
    "--scope",
    default=None,
    help="service code (manager), counsellor id (counsellor), site id (site agent)",
)
@click.option("--email", default="", help="where a site agent's alerts go")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def user_add(login: str, role: str, scope: str | None, email: str, password_stdin: bool) -> None:
    """Create a panel account (the first region admin, for instance)."""
    from pvp.cli import Refused

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    ctx = _ctx()
    try:
        with ctx.db.session() as session:  # type: ignore[attr-defined]
            made = create_user(session, login, password, Role(role), scope, email)
            audit.record(session, _actor(), "create", "users", made.id, None, audit.snapshot(made))
    except AccountError as exc:
        raise Refused(f"compte refusé : {exc}") from None
    click.echo(f"compte {login} créé ({role}{' · ' + scope if scope else ''})")


@user.command("list")
def user_list() -> None:
    """List the panel accounts."""
    ctx = _ctx()
    with ctx.db.sessions() as session:  # type: ignore[attr-defined]
        for u in session.scalars(select(User).order_by(User.login)):
            state = "" if u.active else " (désactivé)"
            click.echo(f"{u.login:24} {u.role:16} {u.scope or '':24}{state}")


@click.group()
def alerts() -> None:
    """Kiosk supervision alerts."""


@alerts.command("check")
def alerts_check() -> None:
    """Look at the heartbeats once: open, raise (and mail) or clear alerts."""
    ctx = _ctx()
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        raised = check_alerts(session, ctx.settings)  # type: ignore[attr-defined]
        for a in raised:
            click.echo(f"{a.kiosk_id} {a.kind} {a.notify_error or 'envoyé à ' + a.notified_to}")
    click.echo(f"{len(raised)} alerte(s) levée(s)")


@click.group()
def convocations() -> None:
    """Citizens convoked to appointments: e-mails and purge (docs/convocations.md)."""


@convocations.command("send")
def convocations_send() -> None:
    """One round of what `pvp serve` does every few minutes: send the convocations,
    reminders, changes and cancellations owed (each once), then purge expired contacts."""
    from pvp.convocations import run_round

    ctx = _ctx()
    done = run_round(ctx.db, ctx.settings)  # type: ignore[attr-defined]
    for n in done:
        state = f"erreur : {n.error}" if n.error else "envoyé"
        click.echo(f"rendez-vous {n.appointment_id} {n.kind} {n.recipient} {state}")
    click.echo(f"{len(done)} envoi(s)")
