"""The panel on the application: its configuration, blueprints and template helpers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

from pvp.config import Settings
from pvp.db import Database
from pvp.model import Counsellor, Role, Service, Site
from pvp.panel import (
    admin,
    auth,
    console,
    console_documents,
    console_phone,
    convocation_view,
    evaluation,
    evaluation_staffing,
    feeds,
    french,
    manager,
    routing_view,
    supervision,
    users,
)
from pvp.panel.security import csrf, db, login_manager

BLUEPRINTS = (auth, admin, users, manager, feeds, console, supervision, evaluation, routing_view)
# These add their views to the console, evaluation and manager blueprints: imported (above)
# before any blueprint is registered.
VIEWS_ON_OTHER_BLUEPRINTS = (
    console_documents,
    console_phone,
    convocation_view,
    evaluation_staffing,
)


def init_panel(
    app: Flask, settings: Settings, db: Database, overrides: dict[str, Any] | None = None
) -> None:
    """Configure and register the panel; ``overrides`` (a test's config) win over defaults."""
    defaults = {
        "SECRET_KEY": settings.secret("panel_secret_key"),
        "SESSION_COOKIE_SECURE": settings.session_cookie_secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": settings.session_cookie_secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=settings.session_hours),
        # Checked per panel blueprint only: FreeSWITCH and the kiosks POST to other areas.
        "WTF_CSRF_CHECK_DEFAULT": False,
        # A console page stays open all day; its token lives as long as the session.
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_I18N_ENABLED": False,
        "PANEL_SSE_SECONDS": 300,  # a console's event stream reconnects after this
    }
    app.config.update(defaults)
    app.config.update(overrides or {})
    csrf.init_app(app)
    login_manager.init_app(app)
    french.register_filters(app)
    app.add_template_global(scope_name)

    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)


def scope_name(role: Role, scope: str | None) -> str:
    """A scope as people name it: the service's name, the site's commune, the counsellor's."""
    if not scope:
        return ""
    model: Any = {Role.SERVICE_MANAGER: Service, Role.SITE_AGENT: Site, Role.COUNSELLOR: Counsellor}
    with db().sessions() as session:
        row = session.get(model[role], scope) if role in model else None
        if row is None:
            return scope
        return str(getattr(row, "display_name", None) or getattr(row, "commune", None) or row.name)
