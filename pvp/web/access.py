"""Who may call the JSON API: a signed-in panel user (by role), or a kiosk (HTTP Digest).

Machines (kiosks) authenticate with their SIP credentials; people with their panel session,
whose POSTs also carry the CSRF token. Refusals are JSON, never a redirect to a login page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, jsonify, request
from flask_login import current_user

from pvp.db import Database
from pvp.model import Kiosk, Role
from pvp.web.device_auth import verified_device

PEOPLE = frozenset(Role)


def kiosk_ha1(user: str) -> str | None:
    db: Database = current_app.extensions["pvp.db"]
    with db.sessions() as session:
        kiosk = session.get(Kiosk, user)
        return kiosk.a1_hash if kiosk else None


def _refused(status: int, message: str) -> Any:
    return jsonify(error=message, status=status), status


def allow(
    roles: frozenset[Role] = PEOPLE, kiosks: bool = False, own_kiosk_arg: str | None = None
) -> Callable[..., Any]:
    """Let in panel users of ``roles`` and, if ``kiosks``, kiosks by Digest.

    With ``own_kiosk_arg``, a kiosk may only reach the URL naming itself.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.is_authenticated:
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    current_app.extensions["csrf"].protect()
                if current_user.must_change_password:
                    return _refused(403, "changez d'abord votre mot de passe provisoire")
                if Role(current_user.role) not in roles:
                    return _refused(403, "votre rôle ne permet pas cette action")
                g.person = current_user
                return view(*args, **kwargs)
            if not kiosks:
                return _refused(401, "connexion au panneau requise")
            device = verified_device(kiosk_ha1)
            if not isinstance(device, str):
                return device
            if own_kiosk_arg and kwargs.get(own_kiosk_arg) != device:
                return _refused(403, "une borne ne peut consulter que ce qui la concerne")
            g.device = device
            return view(*args, **kwargs)

        return wrapped

    return decorate
