"""Accounts: password hashing, sign-in with throttling, roles and scopes, guarded blueprints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.security import check_password_hash, generate_password_hash

from pvp.common.errors import PvpError
from pvp.config import Settings
from pvp.db import Database
from pvp.model import LoginFailure, Role, User

# create_user and check_scope are imported from here by existing callers.
from pvp.services.accounts import (  # noqa: F401
    ROLE_LABELS,
    AccountError,
    check_new_password,
    check_scope,
    create_user,
)

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Connectez-vous pour accéder à cette page."
login_manager.session_protection = "strong"

# Compared against when the login is unknown, so a wrong login costs as much as a wrong password.
_DUMMY_HASH = generate_password_hash("pvp-no-such-user")


def db() -> Database:
    return current_app.extensions["pvp.db"]


def settings() -> Settings:
    return current_app.extensions["pvp.settings"]


@dataclass(frozen=True)
class PanelUser(UserMixin):
    id: int
    login: str
    role: Role
    scope: str | None
    epoch: int = 0
    must_change_password: bool = False

    @classmethod
    def of(cls, row: User) -> PanelUser:
        return cls(
            row.id,
            row.login,
            Role(row.role),
            row.scope,
            row.session_epoch,
            row.must_change_password,
        )

    def get_id(self) -> str:
        # The session carries the epoch: raising it in the database ends this session.
        return f"{self.id}.{self.epoch}"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


@login_manager.user_loader
def _load_user(session_id: str) -> PanelUser | None:
    # Read on every request, so a deactivated account or an ended session stops at once.
    user_id, _, epoch = session_id.partition(".")
    if not user_id.isdigit() or not epoch.isdigit() or len(session_id) > 40:
        return None
    with db().sessions() as session:
        row = session.get(User, int(user_id))
        if row is None or not row.active or row.session_epoch != int(epoch):
            return None
        return PanelUser.of(row)


def session_alive(session: Session, person: PanelUser) -> bool:
    """Is ``person``'s session still valid (for long answers such as an event stream)?"""
    row = session.get(User, person.id)
    return row is not None and row.active and row.session_epoch == person.epoch


def me() -> PanelUser:
    return current_user._get_current_object()  # type: ignore[no-any-return]


class Throttled(PvpError, code="throttled"):
    def __init__(self, minutes: int) -> None:
        super().__init__(minutes)
        self.minutes = minutes


def authenticate(
    session: Session, cfg: Settings, login: str, password: str, remote_addr: str
) -> User | None:
    """The user if the password matches; raises :class:`Throttled` after too many failures."""
    now, remote_addr = datetime.now(UTC), remote_addr[:64]
    window = timedelta(minutes=cfg.login_window_minutes)
    recent = LoginFailure.at > now - window
    # Counted per login *and* address: failures from elsewhere cannot lock the person out.
    by_login = session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.login == login, LoginFailure.remote_addr == remote_addr, recent)
    )
    # An address may try a few logins (a shared town-hall PC), not hundreds.
    by_addr = session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.remote_addr == remote_addr, recent)
    )
    if (by_login or 0) >= cfg.login_max_failures or (by_addr or 0) >= 4 * cfg.login_max_failures:
        raise Throttled(cfg.login_window_minutes)
    user = session.scalars(select(User).where(User.login == login)).first()
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok or not user.active:
        session.add(LoginFailure(login=login[:64], remote_addr=remote_addr, at=now))
        session.execute(delete(LoginFailure).where(LoginFailure.at < now - 2 * window))
        return None
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.login == login, LoginFailure.remote_addr == remote_addr
        )
    )
    return user


# --- guarded blueprints ---

ERROR_TITLES = {
    400: "Requête invalide",
    403: "Accès refusé",
    404: "Page introuvable",
    405: "Méthode non permise",
    413: "Requête trop volumineuse",
    429: "Trop de tentatives",
}


def _render_error(exc: HTTPException) -> Any:
    if isinstance(exc, CSRFError):
        message = (
            "Jeton de sécurité (CSRF) manquant ou invalide : rechargez la page et recommencez."
        )
    elif exc.code == 403:
        message = "Votre rôle ne permet pas cette action."
    elif exc.code == 404:
        message = "Cet élément n'existe pas."
    else:
        message = exc.description if exc.description and exc.code in (413, 429) else ""
    code = exc.code or 500
    title = ERROR_TITLES.get(code, "Erreur")
    return render_template("error.html", title=title, message=message, code=code), code


def panel_blueprint(name: str, url_prefix: str, roles: tuple[Role, ...] | None) -> Blueprint:
    """A blueprint whose every view needs a signed-in user of ``roles`` and a CSRF token."""
    bp = Blueprint(name, __name__, url_prefix=url_prefix, template_folder="templates")

    @bp.before_request
    def _guard() -> Any:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        if roles is None:
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if me().must_change_password:
            return redirect(url_for("auth.change_password"))
        if me().role not in roles:
            abort(403)
        return None

    bp.register_error_handler(HTTPException, _render_error)
    return bp


def require(allowed: bool) -> None:
    """Refuse with 403 unless ``allowed``: the scope checks inside views."""
    if not allowed:
        abort(403)


def service_scope() -> str | None:
    """The service a manager may act on; ``None`` for the region admin (every service)."""
    user = me()
    return user.scope if user.role is Role.SERVICE_MANAGER else None


def site_scope() -> str | None:
    user = me()
    return user.scope if user.role is Role.SITE_AGENT else None
