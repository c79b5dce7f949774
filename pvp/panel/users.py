"""The region admin's account page: every account, deactivate or reactivate, reset a password."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from sqlalchemy import select

from pvp.model import Role, User
from pvp.panel.once import show_once
from pvp.panel.security import ROLE_LABELS, db, me, panel_blueprint
from pvp.services import accounts

bp = panel_blueprint("users", "/admin/users", roles=(Role.REGION_ADMIN,))


@bp.get("/")
def index() -> Any:
    with db().sessions() as session:
        rows = session.scalars(select(User).order_by(User.login)).all()
        return render_template(
            "admin/users.html", rows=rows, labels={r.value: t for r, t in ROLE_LABELS.items()}
        )


@bp.post("/<int:user_id>/<any(deactivate, reactivate, reset):action>")
def change(user_id: int, action: str) -> Any:
    back = url_for("users.index")
    with db().session() as session:
        user = session.get(User, user_id)
        if user is None:
            abort(404)
        if user.id == me().id:
            # Changing oneself here could leave the region without an admin who can sign in.
            flash("Votre propre compte se gère depuis « Mon mot de passe ».", "error")
            return redirect(back, 303)
        if action == "reset":
            password = accounts.reset_password(session, user, me().login)
            return show_once(
                f"Mot de passe provisoire de {user.login}",
                "Mot de passe provisoire",
                password,
                back,
                "À transmettre à la personne : il devra être changé à la connexion.",
            )
        changed = accounts.set_active(session, user, action == "reactivate", me().login)
    if changed:
        done = "réactivé" if action == "reactivate" else "désactivé (ses sessions sont fermées)"
        flash(f"Compte {user.login} {done}.", "success")
    return redirect(back, 303)
