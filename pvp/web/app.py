"""The control plane's HTTP application: one Flask application, one blueprint per area."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from pvp.clock import Clock, clock_from_settings
from pvp.common import headers
from pvp.config import Settings
from pvp.db import Database
from pvp.dispatcher.http import dispatcher
from pvp.documents.http import documents_api
from pvp.documents.service import DocumentService
from pvp.freeswitch.authguard import AuthGuard
from pvp.freeswitch.xml_curl import xml_curl
from pvp.panel.app import init_panel
from pvp.plan_view import PlanCache
from pvp.web import limits
from pvp.web.api import api


def create_app(
    settings: Settings,
    db: Database,
    test_config: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> Flask:
    app = Flask(__name__)
    if settings.trusted_proxies:
        # Only behind configured proxies does X-Forwarded-For name the client (the sign-in
        # limits count per address); otherwise anyone could write it.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    if test_config:
        app.config.update(test_config)
    app.extensions["pvp.settings"] = settings
    headers.install(app)
    limits.install(app, settings)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep documented field order
    app.extensions["pvp.db"] = db
    app.extensions["pvp.clock"] = clock = clock or clock_from_settings(settings)
    app.extensions["pvp.plans"] = PlanCache(db, settings, clock)
    app.extensions["pvp.sip_guard"] = AuthGuard.from_settings(settings)

    app.register_blueprint(api)
    app.register_blueprint(xml_curl)
    # The command transport (FreeSWITCH's chat over ESL) is set by whoever runs the switch
    # connection; without it, document commands answer 503.
    app.extensions["pvp.documents"] = DocumentService.create(db, settings)
    app.register_blueprint(documents_api)
    app.register_blueprint(dispatcher)

    init_panel(app, settings, db, test_config)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        # Machines read this API: answer every error as JSON, never an HTML page.
        return jsonify(error=exc.description, status=exc.code), exc.code

    return app
