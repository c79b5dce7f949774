"""Sign-in and sign-out, and the home page that sends each role to its area."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from pvp.model import Role
from pvp.panel import audit, console_phone
from pvp.panel.forms import PanelForm
from pvp.panel.security import PanelUser, Throttled, authenticate, db, me, panel_blueprint, settings

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


@bp.get("/")
def home() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOMES[me().role]))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        try:
            with db().session() as session:
                user = authenticate(
                    session,
                    settings(),
                    form.login.data or "",
                    form.password.data or "",
                    request.remote_addr or "?",
                )
                if user is not None:
                    panel_user = PanelUser(user.id, user.login, Role(user.role), user.scope)
                    audit.record(session, user.login, "login", "users", user.id)
        except Throttled as exc:
            abort(429, f"Trop d'essais de connexion : réessayez dans {exc.minutes} minutes.")
        if user is None:
            flash("Identifiant ou mot de passe incorrect.", "error")
            return render_template("login.html", form=form), 401
        login_user(panel_user)
        return redirect(url_for(HOMES[panel_user.role]))
    return render_template("login.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
def logout() -> Any:
    if current_user.is_authenticated and me().role is Role.COUNSELLOR:
        console_phone.revoke_mine()
    logout_user()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"))
