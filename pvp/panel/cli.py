"""``pvp user …`` and ``pvp alerts check``: the panel's command-line side."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from pvp.command_line import Context
from pvp.common.errors import Refused
from pvp.convocations import run_round
from pvp.model import Role, User
from pvp.panel.alerts import check_alerts
from pvp.services import accounts


def _ctx() -> Context:
    return click.get_current_context().ensure_object(Context)


def _actor() -> str:
    return _ctx().actor


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
@click.option("--temporary", is_flag=True, help="the password must be changed at the first sign-in")
def user_add(
    login: str, role: str, scope: str | None, email: str, password_stdin: bool, temporary: bool
) -> None:
    """Create a panel account (the first region admin, for instance)."""
    password = _read_password(password_stdin)
    ctx = _ctx()
    try:
        with ctx.db.session() as session:
            accounts.create_user(
                session, login, password, Role(role), scope, email, temporary, actor=_actor()
            )
    except accounts.AccountError as exc:
        raise Refused(f"compte refusé : {exc}") from None
    click.echo(f"compte {login} créé ({role}{' · ' + scope if scope else ''})")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Mot de passe", hide_input=True, confirmation_prompt=True))


def _change(login: str, change: Callable[[Session, User, str], object]) -> None:
    """Run one :mod:`pvp.services.accounts` change on ``login``'s account (it audits)."""
    ctx = _ctx()
    try:
        with ctx.db.session() as session:
            change(session, accounts.find(session, login), _actor())
    except accounts.AccountError as exc:
        raise Refused(f"compte {login} : {exc}") from None


@user.command("passwd")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="read the new password from standard input")
@click.option("--temporary", is_flag=True, help="to be changed at the next sign-in")
def user_passwd(login: str, password_stdin: bool, temporary: bool) -> None:
    """Set an account's password (its open sessions end)."""
    password = _read_password(password_stdin)

    def change(session: Session, row: User, actor: str) -> None:
        accounts.change_password(session, row, password, actor)
        row.must_change_password = temporary

    _change(login, change)
    click.echo(f"mot de passe de {login} changé{' (provisoire)' if temporary else ''}")


@user.command("disable")
@click.argument("login")
def user_disable(login: str) -> None:
    """Deactivate an account: it can no longer sign in, its sessions end."""
    _change(login, lambda s, row, actor: accounts.set_active(s, row, False, actor))
    click.echo(f"compte {login} désactivé")


@user.command("enable")
@click.argument("login")
def user_enable(login: str) -> None:
    """Reactivate an account."""
    _change(login, lambda s, row, actor: accounts.set_active(s, row, True, actor))
    click.echo(f"compte {login} réactivé")


@user.command("list")
def user_list() -> None:
    """List the panel accounts."""
    ctx = _ctx()
    with ctx.db.sessions() as session:
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
    with ctx.db.session() as session:
        raised = check_alerts(session, ctx.settings)
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
    ctx = _ctx()
    done = run_round(ctx.db, ctx.settings)
    for n in done:
        state = f"erreur : {n.error}" if n.error else "envoyé"
        click.echo(f"rendez-vous {n.appointment_id} {n.kind} {n.recipient} {state}")
    click.echo(f"{len(done)} envoi(s)")
