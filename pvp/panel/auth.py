"""Sign-in and sign-out, one's own password, and the home page that sends each role to its area."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from pvp.model import Role, User
from pvp.panel.forms import PanelForm
from pvp.panel.security import PanelUser, Throttled, authenticate, db, me, panel_blueprint, settings
from pvp.services import accounts

bp = panel_blueprint("auth", "", roles=None)

HOMES = {
    Role.REGION_ADMIN: "admin.index",
    Role.SERVICE_MANAGER: "manager.index",
    Role.COUNSELLOR: "console.index",
    Role.SITE_AGENT: "supervision.index",
}


class LoginForm(PanelForm):
    login = StringField("Identifiant", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Mot de passe", validators=[DataRequired(), Length(max=256)])


class PasswordForm(PanelForm):
    current = PasswordField("Mot de passe actuel", validators=[DataRequired(), Length(max=256)])
    new = PasswordField(
        "Nouveau mot de passe",
        validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD, max=256)],
    )
    confirm = PasswordField(
        "Nouveau mot de passe (confirmation)",
        validators=[DataRequired(), EqualTo("new", "les deux saisies diffèrent")],
    )


def safe_next(target: str | None) -> str | None:
    """``?next=`` when it names a page of this site; never another host (open redirect)."""
    if not target or len(target) > 2000 or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _sign_in(user: User) -> PanelUser:
    # A fresh session: nothing planted before sign-in (a CSRF token, a flash) survives.
    session.clear()
    panel_user = PanelUser.of(user)
    login_user(panel_user)
    return panel_user


@bp.get("/")
def home() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOMES[me().role]))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    target = safe_next(request.args.get("next"))
    action = url_for("auth.login", next=target) if target else url_for("auth.login")
    if form.validate_on_submit():
        try:
            with db().session() as dbs:
                user = authenticate(
                    dbs,
                    settings(),
                    form.login.data or "",
                    form.password.data or "",
                    request.remote_addr or "?",
                )
                if user is not None:
                    accounts.signed_in(dbs, user)
                    dbs.flush()
                    panel_user = _sign_in(user)
        except Throttled as exc:
            abort(429, f"Trop d'essais de connexion : réessayez dans {exc.minutes} minutes.")
        if user is None:
            flash("Identifiant ou mot de passe incorrect.", "error")
            return render_template("login.html", form=form, action=action), 401
        if panel_user.must_change_password:
            flash("Choisissez un nouveau mot de passe avant de continuer.", "info")
            return redirect(url_for("auth.change_password"))
        return redirect(target or url_for(HOMES[panel_user.role]))
    return render_template("login.html", form=form, action=action), 400 if form.errors else 200


@bp.post("/logout")
def logout() -> Any:
    if current_user.is_authenticated:
        # Server side: the session's epoch is spent, so a copy of this cookie is worthless.
        with db().session() as dbs:
            user = dbs.get(User, me().id)
            if user is not None:
                accounts.signed_out(dbs, user)
    logout_user()
    session.clear()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password() -> Any:
    """One's own password; forced at the first sign-in of an account made with a temporary one."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.path))
    form = PasswordForm()
    if form.validate_on_submit():
        with db().session() as dbs:
            user = dbs.get(User, me().id)
            assert user is not None  # the loader just read it
            try:
                accounts.change_password(
                    dbs, user, form.new.data or "", user.login, current=form.current.data or ""
                )
            except accounts.AccountError as exc:
                dbs.rollback()
                form.fail(form.new if "nouveau" in str(exc) else form.current, str(exc))
            else:
                dbs.flush()
                # Every other session of the account ended; this one goes on, renewed.
                panel_user = _sign_in(user)
                flash("Mot de passe changé. Vos autres sessions sont fermées.", "success")
                return redirect(url_for(HOMES[panel_user.role]))
    status = 400 if form.errors else 200
    return render_template("password.html", form=form), status
