"""Account changes shared by the panel and ``pvp user``: each checks, changes and audits.

Every change that must end the account's sessions raises ``session_epoch``: the epoch is part
of the user id a session carries, so cookies issued before (copied ones too) stop working.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session
from werkzeug.security import check_password_hash, generate_password_hash

from pvp.common.errors import PvpError
from pvp.freeswitch import console_users
from pvp.model import Counsellor, Role, Service, Site, User
from pvp.services import audit, console_credentials
from pvp.wire.identities import reserved_reason

MIN_PASSWORD = 10

ROLE_LABELS = {
    Role.REGION_ADMIN: "administrateur régional",
    Role.SERVICE_MANAGER: "responsable de service",
    Role.COUNSELLOR: "conseiller",
    Role.SITE_AGENT: "agent d'accueil",
}


class AccountError(PvpError, ValueError, code="account_refused"):
    """An account change refused as asked; the message is French."""


def find(session: Session, login: str) -> User:
    user = session.scalars(select(User).where(User.login == login)).first()
    if user is None:
        raise AccountError(f"compte inconnu : {login!r}")
    return user


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"mot de passe trop court : au moins {MIN_PASSWORD} caractères")
    if len(password) > 256:
        raise AccountError("mot de passe trop long : au plus 256 caractères")


def end_sessions(user: User) -> None:
    user.session_epoch = (user.session_epoch or 0) + 1
    # A counsellor's console phone credential ends with the sessions that obtained it.
    session = object_session(user)
    if user.role == Role.COUNSELLOR and user.scope and session is not None:
        console_users.revoke(session, user.scope)


def signed_in(session: Session, user: User) -> None:
    audit.record(session, user.login, "login", "users", user.id)


def signed_out(session: Session, user: User) -> None:
    """Sign-out: every session of the account ends, a counsellor's console phone with them."""
    if user.role == Role.COUNSELLOR and user.scope:
        console_credentials.revoke(session, user.scope, actor=user.login)
    end_sessions(user)
    audit.record(session, user.login, "logout", "users", user.id)


def change_password(
    session: Session, user: User, new: str, actor: str, current: str | None = None
) -> None:
    """Set ``user``'s password; ``current`` is checked when the person changes their own."""
    if current is not None and not check_password_hash(user.password_hash, current):
        raise AccountError("mot de passe actuel incorrect")
    check_new_password(new)
    if check_password_hash(user.password_hash, new):
        raise AccountError("le nouveau mot de passe doit différer de l'ancien")
    user.password_hash = generate_password_hash(new)
    user.must_change_password = False
    end_sessions(user)
    audit.record(session, actor, "change_password", "users", user.id)


def reset_password(session: Session, user: User, actor: str) -> str:
    """A one-time password to give the person, who must change it at sign-in."""
    password = secrets.token_urlsafe(12)
    user.password_hash = generate_password_hash(password)
    user.must_change_password = True
    end_sessions(user)
    audit.record(session, actor, "reset_password", "users", user.id)
    return password


def set_active(session: Session, user: User, active: bool, actor: str) -> bool:
    """Deactivate or reactivate; False when it already was so (nothing changed)."""
    if user.active == active:
        return False
    before = audit.snapshot(user)
    user.active = active
    end_sessions(user)
    session.flush()
    action = "reactivate" if active else "deactivate"
    audit.record(session, actor, action, "users", user.id, before, audit.snapshot(user))
    return True


def check_scope(session: Session, role: Role, scope: str | None) -> str | None:
    """The scope a role needs, checked to exist; the region admin has none."""
    needs: dict[Role, tuple[type[Any], str]] = {
        Role.SERVICE_MANAGER: (Service, "service"),
        Role.COUNSELLOR: (Counsellor, "conseiller"),
        Role.SITE_AGENT: (Site, "site"),
    }
    if role is Role.REGION_ADMIN:
        if scope:
            raise AccountError("un administrateur régional n'a pas de périmètre")
        return None
    model, label = needs[role]
    if not scope:
        raise AccountError(f"le rôle {ROLE_LABELS[role]} demande un périmètre ({label})")
    if session.get(model, scope) is None:
        raise AccountError(f"périmètre inconnu : {label} {scope!r}")
    return scope


def create_user(
    session: Session,
    login: str,
    password: str,
    role: Role,
    scope: str | None,
    email: str = "",
    must_change_password: bool = False,
    *,
    actor: str | None = None,
) -> User:
    """Create an account; ``actor`` is who did, for the audit log (None: a test or benchmark
    seeding its database, not audited)."""
    login = login.strip()
    if (
        not login
        or len(login) > 64
        or not login.replace(".", "").replace("-", "").replace("_", "").isalnum()
    ):
        raise AccountError("identifiant invalide : lettres, chiffres, point, tiret, souligné")
    if reason := reserved_reason(login):
        raise AccountError(reason)
    check_new_password(password)
    if session.scalars(select(User).where(User.login == login)).first() is not None:
        raise AccountError(f"l'identifiant {login!r} existe déjà")
    user = User(
        login=login,
        password_hash=generate_password_hash(password),
        role=role.value,
        scope=check_scope(session, role, scope),
        email=email,
        active=True,
        created_at=datetime.now(UTC),
        session_epoch=0,
        must_change_password=must_change_password,
    )
    session.add(user)
    session.flush()
    if actor is not None:
        audit.record(session, actor, "create", "users", user.id, None, audit.snapshot(user))
    return user
